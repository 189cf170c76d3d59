"""Load test: 60 s of mixed reads and writes against the real server on loopback.

Builds a private database with the Pizhou sample (``gridmap_load`` on the local
PostgreSQL, or ``--database NAME``; dropped again at the end unless ``--keep``), creates
accounts (an admin; for a few villages a grid staff member and their township leader),
starts the app (uvicorn on loopback, logged in as ``gridmap_app`` like ``gridmap serve``),
runs locust headless (``bench/locustfile.py``) for the given time, then checks: zero failed
requests, no connection-pool exhaustion in the server log, no session idle in a
transaction. Prints throughput and p50/p95/p99 per request kind; with ``--record`` appends
them to bench/RESULTS.md. Needs the bench extra (``pip install -e .[bench]``: locust).

    python bench/load.py [--users 30] [--seconds 60] [--workers 1] [--port N] [--database NAME] [--keep] [--record]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import publish, serve  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def database_url(name: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop_database(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def prepare_database(name: str) -> dict:
    from sqlalchemy import create_engine, select, text
    from sqlalchemy.orm import Session

    from gridmap.auth import create_user
    from gridmap.dbsetup import migrate
    from gridmap.models import Grid
    from gridmap.sample.load import load_sample
    from gridmap.settings import DatabaseSettings, Settings

    drop_database(name)
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = database_url(name)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION postgis"))
    migrate(url)
    settings = Settings(db=DatabaseSettings(database_url=url))

    from contextlib import contextmanager as cm

    @cm
    def unit():
        with Session(engine) as session:
            yield session
            session.commit()

    load_sample(unit, REPO / "data" / "boundaries" / "pizhou", settings=settings, log=lambda line: None)
    accounts: dict = {"admin": {"username": "load-admin", "password": "load-password"}, "teams": []}
    with unit() as session:
        create_user(session, "load-admin", role="admin", password="load-password")
        villages = session.execute(select(Grid.code, Grid.geom).where(Grid.level == "village").order_by(Grid.code)
                                   .limit(400)).all()
        for n, (code, geom) in enumerate(villages[::40]):
            from geoalchemy2.shape import to_shape

            point = to_shape(geom).representative_point()
            staff = {"username": f"load-staff-{n}", "password": "load-password"}
            leader = {"username": f"load-leader-{n}", "password": "load-password"}
            create_user(session, staff["username"], role="grid_staff", scope=code, password="load-password")
            create_user(session, leader["username"], role="township_leader", scope=code[:9], password="load-password")
            accounts["teams"].append({"village": code, "point": [point.x, point.y], "staff": staff, "leader": leader})
    engine.dispose()
    return accounts


def server_env(name: str, attachments: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_DB_")}
    return {**env, "DATABASE_URL": database_url(name), "GRIDMAP_AUTH_SECRET_KEY": "load-test-secret-0123456789",
            "GRIDMAP_HAZARD_ATTACHMENT_DIR": str(attachments),
            # The load test measures the service, not the anti-guessing limits.
            "GRIDMAP_AUTH_LOGIN_MAX_FAILURES": "1000000", "GRIDMAP_HAZARD_TIPOFFS_PER_HOUR": "1000000"}


def idle_in_transaction(name: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url(name).replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        count = conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"
                                 " AND state LIKE 'idle in transaction%'"), {"d": name})
    engine.dispose()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=None, help="loopback port of the server (default: a free one)")
    parser.add_argument("--database", default="gridmap_load", help="scratch database, dropped and rebuilt")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if importlib.util.find_spec("locust") is None:
        sys.exit("locust is missing: pip install -e '.[bench]'")
    print(f"preparing the database {args.database} (Pizhou sample) …", flush=True)
    try:
        accounts = prepare_database(args.database)
        result = run(args, accounts)
    finally:
        if not args.keep:
            drop_database(args.database)
    if result:
        sys.exit(result)


def run(args, accounts: dict) -> str | None:
    """Serve, load, report; the reason the run failed, if it did."""
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "server.log"
        with serve("api.main:create_app", server_env(args.database, Path(tmp) / "attachments"),
                   workers=args.workers, log_path=log_path,
                   port=args.port) as base:
            prefix = Path(tmp) / "locust"
            env = {**os.environ, "GRIDMAP_LOAD_ACCOUNTS": json.dumps(accounts)}
            print(f"locust: {args.users} users for {args.seconds} s against {base} …", flush=True)
            locust_log = Path(tmp) / "locust.log"
            with locust_log.open("w") as output:
                subprocess.run([sys.executable, "-m", "locust", "-f", str(REPO / "bench" / "locustfile.py"),
                                "--headless", "-u", str(args.users), "-r", str(max(1, args.users // 5)),
                                "--run-time", f"{args.seconds}s", "--host", base, "--csv", str(prefix),
                                "--only-summary", "--stop-timeout", "10"], env=env, check=False,
                               stdout=output, stderr=subprocess.STDOUT)
            lingering = idle_in_transaction(args.database)
        server_log = log_path.read_text(errors="replace")
        stats_path = Path(f"{prefix}_stats.csv")
        if not stats_path.exists():
            return "locust wrote no statistics:\n" + locust_log.read_text(errors="replace")[-3000:]
        with stats_path.open(encoding="utf-8") as fh:
            stats = list(csv.DictReader(fh))
        failures_path = Path(f"{prefix}_failures.csv")
        failures = list(csv.DictReader(failures_path.open(encoding="utf-8"))) if failures_path.exists() else []
    pool_exhaustion = server_log.count("QueuePool limit") + server_log.count("TimeoutError")
    rows = ["| request | count | failures | req/s | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|---|---|---|"]
    total = None
    for row in stats:
        line = (f"| {row['Name']} | {row['Request Count']} | {row['Failure Count']} | {float(row['Requests/s']):.1f} | "
                f"{row['50%']} | {row['95%']} | {row['99%']} |")
        if row["Name"] == "Aggregated":
            total = row
        else:
            rows.append(line)
    rows.append(f"| **all** | {total['Request Count']} | {total['Failure Count']} | {float(total['Requests/s']):.1f} | "
                f"{total['50%']} | {total['95%']} | {total['99%']} |")
    body = "\n".join(rows) + (
        f"\n\n- {args.users} locust users, {args.seconds} s, server `uvicorn --workers {args.workers}` on loopback, "
        f"locust on the same {os.cpu_count()} cores\n- failed requests: **{total['Failure Count']}**; connection-pool exhaustion "
        f"messages in the server log: **{pool_exhaustion}**; sessions idle in transaction after the run: "
        f"**{lingering}**\n")
    if failures:
        body += "\nFailures:\n" + "\n".join(f"- {f['Method']} {f['Name']}: {f['Error']} ×{f['Occurrences']}"
                                             for f in failures[:10]) + "\n"
    publish("Load test: mixed reads and writes (bench/load.py)", body, record=args.record)
    if int(total["Failure Count"]) or pool_exhaustion or lingering:
        return "the load test saw failures"
    return None


if __name__ == "__main__":
    main()
