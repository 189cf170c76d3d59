"""Load test: 60 s of mixed reads and writes against the real server on loopback.

Builds a private database with the Pizhou sample (``gridmap_load``), creates accounts
(an admin; for a few villages a grid staff member and their township leader), starts
``gridmap serve`` (uvicorn, loopback), runs locust headless (``bench/locustfile.py``) for
the given time, then checks: zero failed requests, no connection-pool exhaustion in the
server log, no session idle in a transaction. Prints throughput and p50/p95/p99 per
request kind; with ``--record`` appends them to bench/RESULTS.md.

    python bench/load.py [--users 30] [--seconds 60] [--workers 1] [--record]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import append_results, machine, serve  # noqa: E402

DB_NAME = "gridmap_load"
URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"


def prepare_database() -> dict:
    from sqlalchemy import create_engine, select, text
    from sqlalchemy.orm import Session

    from gridmap.auth import create_user
    from gridmap.dbsetup import migrate
    from gridmap.models import Grid
    from gridmap.sample.load import load_sample
    from gridmap.settings import DatabaseSettings, Settings

    admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    engine = create_engine(URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION postgis"))
    migrate(URL)
    settings = Settings(db=DatabaseSettings(database_url=URL))

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


def server_env() -> dict:
    return {**os.environ, "DATABASE_URL": URL, "GRIDMAP_AUTH_SECRET_KEY": "load-test-secret-0123456789",
            # The load test measures the service, not the anti-guessing limits.
            "GRIDMAP_AUTH_LOGIN_MAX_FAILURES": "1000000", "GRIDMAP_HAZARD_TIPOFFS_PER_HOUR": "1000000"}


def idle_in_transaction() -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        count = conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"
                                 " AND state LIKE 'idle in transaction%'"), {"d": DB_NAME})
    engine.dispose()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    print("preparing the database (Pizhou sample) …", flush=True)
    accounts = prepare_database()
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "server.log"
        with serve("api.main:create_app", server_env(), workers=args.workers, log_path=log_path) as base:
            prefix = Path(tmp) / "locust"
            env = {**os.environ, "GRIDMAP_LOAD_ACCOUNTS": json.dumps(accounts)}
            print(f"locust: {args.users} users for {args.seconds} s against {base} …", flush=True)
            subprocess.run([sys.executable, "-m", "locust", "-f", str(REPO / "bench" / "locustfile.py"),
                            "--headless", "-u", str(args.users), "-r", str(max(1, args.users // 5)),
                            "--run-time", f"{args.seconds}s", "--host", base, "--csv", str(prefix),
                            "--only-summary", "--stop-timeout", "10"], env=env, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            lingering = idle_in_transaction()
        server_log = log_path.read_text(errors="replace")
        with open(f"{prefix}_stats.csv", encoding="utf-8") as fh:
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
        f"locust on the same 2 cores\n- failed requests: **{total['Failure Count']}**; connection-pool exhaustion "
        f"messages in the server log: **{pool_exhaustion}**; sessions idle in transaction after the run: "
        f"**{lingering}**\n")
    if failures:
        body += "\nFailures:\n" + "\n".join(f"- {f['Method']} {f['Name']}: {f['Error']} ×{f['Occurrences']}"
                                             for f in failures[:10]) + "\n"
    print(machine())
    print(body)
    if args.record:
        append_results("Load test: mixed reads and writes (bench/load.py)",
                       f"python bench/load.py --users {args.users} --seconds {args.seconds} --workers {args.workers} --record",
                       body)
    if int(total["Failure Count"]) or pool_exhaustion or lingering:
        sys.exit("the load test saw failures")


if __name__ == "__main__":
    main()
