"""A benchmark database with a synthetic province loaded through the import paths.

``ensure_province_database()`` generates (once) Jiangsu's 21,958 villages and 1,000,000
enterprises with ``gridmap sample synth --province 32`` into ``/work/bench-data/jiangsu`` and
loads them into database ``gridmap_bench_province`` with ``gridmap sample load`` — the
same commands a user would run. Data written by an older generator version
(``metadata.json``'s ``generator_version``) is generated again, and a database whose
active boundaries are not these files (their sha256, kept by the import) is loaded again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GRIDMAP_BENCH_DATA", "/work/bench-data/jiangsu"))
DB = "gridmap_bench_province"
URL = f"postgresql://postgres@127.0.0.1:5432/{DB}"


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDMAP_", "DATABASE_URL"))}
    env["DATABASE_URL"] = URL
    return env


def is_current(data: Path) -> bool:
    """Whether ``data`` is a complete region written by the current generator."""
    from gridmap.sample.synth import GENERATOR_VERSION

    try:
        metadata = json.loads((data / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (data / "enterprises.csv").exists() and metadata.get("generator_version") == GENERATOR_VERSION


def ensure_data(data: Path = DATA) -> Path:
    if not is_current(data):
        data.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {data} (province 32, 1,000,000 enterprises) …", flush=True)
        subprocess.run([sys.executable, "-m", "gridmap", "sample", "synth", "--province", "32",
                        "--enterprises", "1000000", "--out", str(data)], check=True, cwd=REPO)
    return data


def _loaded(conn) -> bool:
    """The database's active set was imported from these very boundary files."""
    from gridmap.boundaries import file_sha256

    if not conn.execute("SELECT to_regclass('enterprise')").fetchone()[0]:
        return False
    row = conn.execute("SELECT imports FROM boundary_set WHERE status = 'active'").fetchone()
    loaded = {(item.get("source"), item.get("sha256")) for item in (row[0] if row else [])}
    files = [DATA / name for name in ("district.geojson", "townships.geojson", "villages.geojson")]
    return (all((f.name, file_sha256(f)) in loaded for f in files)
            and conn.execute("SELECT count(*) FROM enterprise").fetchone()[0] >= 900_000)


def ensure_province_database() -> str:
    import psycopg

    ensure_data()
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone()
    if exists:
        with psycopg.connect(URL) as conn:
            if _loaded(conn):
                return URL
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{DB}" WITH (FORCE)')  # another generator's region
    print(f"loading {DATA} into {DB} with `gridmap sample load` …", flush=True)
    subprocess.run([sys.executable, "-m", "gridmap", "db", "up", "--main-only"], check=True, cwd=REPO, env=_env())
    subprocess.run([sys.executable, "-m", "gridmap", "sample", "load", str(DATA)], check=True, cwd=REPO, env=_env())
    return URL


if __name__ == "__main__":
    print(ensure_province_database())
