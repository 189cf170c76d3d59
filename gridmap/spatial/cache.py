"""Built grid indexes kept on disk, per boundary set (the cold and the warm path).

Building the :class:`~gridmap.spatial.pip.GridIndex` of a province (22,000 villages) takes
about a second; loading a saved one, a tenth of that. ``gridmap assign`` and the bulk path
of large imports therefore keep each built index in a cache directory and load it the
next time.

The key is the content, not the set's id: an md5 over every bottom-level grid's code and
geometry (WKB), computed by PostgreSQL (≈ 0.1 s for a province), plus the index format
(:data:`~gridmap.spatial.pip.INDEX_FORMAT`). A set whose grids change (a new set, or one
edited in place) gets a new key, so a stale index is never used; the same grids in
another database share the file. The few most recently used files are kept. The cache is
an optimisation only: an unreadable or foreign file is rebuilt, an unwritable directory
just means building every time.

Where: ``$GRIDMAP_PLACEMENT_INDEX_CACHE_DIR``, else ``~/.cache/gridmap/grid-index``.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from gridmap.errors import NotFound
from gridmap.spatial.pip import INDEX_FORMAT, GridIndex, leaf_grids

#: Saved indexes kept (most recently used first); a province's is about 60 MB.
KEEP = 4

_CHECKSUM = text(
    """
    SELECT count(*), md5(string_agg(code || ':' || md5(ST_AsBinary(geom)), ',' ORDER BY code COLLATE "C"))
    FROM grid WHERE set_id = :set_id AND is_leaf
    """)


def default_cache_dir() -> Path | None:
    """``$GRIDMAP_PLACEMENT_INDEX_CACHE_DIR``, else ``~/.cache/gridmap/grid-index`` (None,
    no cache, when there is no home directory)."""
    from gridmap.settings import PlacementSettings

    configured = PlacementSettings().index_cache_dir
    if configured:
        return Path(configured)
    try:
        return Path.home() / ".cache" / "gridmap" / "grid-index"
    except RuntimeError:
        return None


@dataclass
class PendingIndex:
    """An index whose database part is done: :meth:`get` loads or builds it without the
    database, so the caller may read other data meanwhile (``gridmap assign`` reads the
    enterprises' points while the index is loaded or built)."""

    set_id: int
    path: Path | None
    grids: tuple[list[str], object] | None

    def get(self) -> tuple[GridIndex, str]:
        """The index and how it came: ``"loaded"`` (from the cache) or ``"built"``.

        Raises :class:`StaleIndex` when the saved file cannot be read (then
        :meth:`rebuild`, once the database is free again).
        """
        if self.grids is None:
            try:
                index = GridIndex.load(self.path)
                os.utime(self.path)
                return index, "loaded"
            except (OSError, ValueError, KeyError, zipfile.BadZipFile):
                raise StaleIndex(self.path) from None
        index = GridIndex(*self.grids)
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                index.save(self.path)
                _prune(self.path.parent)
            except OSError:
                pass  # no cache this time; the index itself is fine
        return index, "built"

    def rebuild(self, session) -> tuple[GridIndex, str]:
        """Build from the database (and save over the unreadable file)."""
        return PendingIndex(self.set_id, self.path, leaf_grids(session, set_id=self.set_id)).get()


class StaleIndex(Exception):
    """A saved index could not be read (truncated, foreign, another format): rebuild."""


def prepare_index(session, *, set_id: int, cache_dir: Path | None) -> PendingIndex:
    """The database part of getting a set's index: its checksum, and its grids when no
    saved index matches (or ``cache_dir`` is None, for no caching).

    Raises
    ------
    NotFound
        The set has no bottom-level grids.
    """
    path = None
    if cache_dir is not None:
        count, checksum = session.execute(_CHECKSUM, {"set_id": int(set_id)}).one()
        if not count:
            raise NotFound(f"边界版本 {set_id} 没有末级网格", f"boundary set {set_id} has no bottom-level grids")
        path = Path(cache_dir) / f"grid-index-{checksum}-f{INDEX_FORMAT}.npz"
        if path.is_file():
            return PendingIndex(set_id, path, None)
    return PendingIndex(set_id, path, leaf_grids(session, set_id=set_id))


def grid_index(session, *, set_id: int, cache_dir: Path | None) -> tuple[GridIndex, str]:
    """A set's index, loaded from ``cache_dir`` when saved there, else built (and saved)."""
    pending = prepare_index(session, set_id=set_id, cache_dir=cache_dir)
    try:
        return pending.get()
    except StaleIndex:
        return pending.rebuild(session)


def _prune(directory: Path) -> None:
    saved = sorted(directory.glob("grid-index-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in saved[KEEP:]:
        old.unlink(missing_ok=True)


__all__ = ["KEEP", "PendingIndex", "StaleIndex", "default_cache_dir", "grid_index", "prepare_index"]
