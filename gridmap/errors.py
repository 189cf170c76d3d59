"""Errors a user can act on.

Every error raised on purpose by :mod:`gridmap` is a :class:`GridmapError`: it carries a
one-line message in Chinese and in English, which the CLI prints and the API returns as a
4xx. Anything else is a bug: the CLI and the API answer it with a generic message and
keep the details in the log.
"""

from __future__ import annotations


class GridmapError(Exception):
    """Base class: a user-facing, bilingual, one-line error.

    Parameters
    ----------
    zh, en
        The message in Chinese and English. Keep them to one line, no SQL, no PROJ text.
    detail
        Optional machine-readable extra (e.g. the list of rejected rows).
    """

    #: HTTP status the API maps this error to.
    status_code: int = 400
    #: Stable machine-readable code for clients.
    code: str = "bad_request"

    def __init__(self, zh: str, en: str, *, detail: object | None = None) -> None:
        self.zh = " ".join(str(zh).split())
        self.en = " ".join(str(en).split())
        self.detail = detail
        super().__init__(f"{self.zh} / {self.en}")

    @property
    def message(self) -> str:
        """The bilingual one-line message: ``中文 / English``."""
        return f"{self.zh} / {self.en}"


class InvalidInput(GridmapError):
    """A value the user supplied is malformed (bad code, bad number, unknown option)."""

    status_code = 422
    code = "invalid_input"


class InvalidFile(GridmapError):
    """An uploaded or imported file cannot be read (broken, wrong type, unsafe)."""

    status_code = 422
    code = "invalid_file"


class InvalidGeometry(GridmapError):
    """A geometry is empty, of the wrong type, or cannot be repaired."""

    status_code = 422
    code = "invalid_geometry"


class UnknownCRS(GridmapError):
    """A coordinate reference system that the platform does not accept."""

    status_code = 422
    code = "unknown_crs"


class OutsideChina(GridmapError):
    """Coordinates outside China's extent (or with longitude and latitude swapped)."""

    status_code = 422
    code = "outside_china"


class ImportRejected(GridmapError):
    """An import with rejected rows; ``detail`` lists every rejected row."""

    status_code = 422
    code = "import_rejected"


class NotFound(GridmapError):
    """The object does not exist (or is outside the caller's scope: same answer)."""

    status_code = 404
    code = "not_found"


class OutOfScope(NotFound):
    """The object exists but lies outside the caller's scope; answered like NotFound."""


class Forbidden(GridmapError):
    """The caller's role may not do this (e.g. a read-only role calling a write route)."""

    status_code = 403
    code = "forbidden"


class NotAuthenticated(GridmapError):
    """No valid credentials."""

    status_code = 401
    code = "not_authenticated"


class Conflict(GridmapError):
    """The request conflicts with the current state (duplicate, concurrent change)."""

    status_code = 409
    code = "conflict"


class IllegalTransition(Conflict):
    """A workflow transition that is not allowed from the current state."""

    code = "illegal_transition"


class TooLarge(GridmapError):
    """An upload, export or page beyond the configured limit."""

    status_code = 413
    code = "too_large"


class RateLimited(GridmapError):
    """Too many requests from one client."""

    status_code = 429
    code = "rate_limited"


class DatabaseUnavailable(GridmapError):
    """The database cannot be reached or went away mid-request."""

    status_code = 503
    code = "database_unavailable"


class SetupError(GridmapError):
    """The environment is not ready (PostGIS missing, server down, not root to install)."""

    status_code = 500
    code = "setup_error"
