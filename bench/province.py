"""A benchmark database with a synthetic province loaded through the import paths.

``ensure_province_database()`` generates (once) Jiangsu's 21,958 villages and 1,000,000
enterprises with ``gridmap sample synth --province 32`` into ``/work/bench-data/jiangsu`` and
loads them into database ``gridmap_bench_province`` with ``gridmap sample load`` — the
same commands a user would run. Reused when already loaded (the sha256 of the files is
kept in the database).
"""

from __future__ import annotations

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


def ensure_data() -> Path:
    if not (DATA / "enterprises.csv").exists():
        DATA.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {DATA} (province 32, 1,000,000 enterprises) …", flush=True)
        subprocess.run([sys.executable, "-m", "gridmap", "sample", "synth", "--province", "32",
                        "--enterprises", "1000000", "--out", str(DATA)], check=True, cwd=REPO)
    return DATA


def ensure_province_database() -> str:
    import psycopg

    ensure_data()
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone()
    if exists:
        with psycopg.connect(URL) as conn:
            loaded = conn.execute("SELECT count(*) FROM enterprise").fetchone()[0] if conn.execute(
                "SELECT to_regclass('enterprise')").fetchone()[0] else 0
        if loaded >= 900_000:
            return URL
    print(f"loading {DATA} into {DB} with `gridmap sample load` …", flush=True)
    subprocess.run([sys.executable, "-m", "gridmap", "db", "up", "--main-only"], check=True, cwd=REPO, env=_env())
    subprocess.run([sys.executable, "-m", "gridmap", "sample", "load", str(DATA)], check=True, cwd=REPO, env=_env())
    return URL


if __name__ == "__main__":
    print(ensure_province_database())
