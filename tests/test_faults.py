"""Faults: backends killed under in-flight requests, a bulk import killed with SIGKILL,
and no session left idle in a transaction after errors or vanished clients."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from gridmap.uscc import make_uscc
from tests.live_server import REPO, _server_env


def _token(base: str, users: dict, key: str = "admin") -> dict:
    account = users[key]
    response = httpx.post(f"{base}/api/v1/auth/token",
                          data={"username": account["username"], "password": account["password"]})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _activity(url: str, application: str) -> list[tuple]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT pid, state, left(query, 60) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = :a AND pid <> pg_backend_pid()"),
                {"a": application}).all()
    finally:
        engine.dispose()


def test_killed_backends_answer_503_quickly_and_the_service_recovers(live_server, pizhou_database, demo_users):
    base = live_server
    admin = _token(base, demo_users)
    uscc = httpx.get(f"{base}/api/v1/enterprises", params={"limit": 1}, headers=admin).json()["data"][0]["uscc"]
    # Another session holds the enterprise's row, so the PATCH below waits in the database.
    holder = create_engine(pizhou_database, poolclass=NullPool).connect()
    holder.execute(text("SELECT 1 FROM enterprise WHERE uscc = :u FOR UPDATE"), {"u": uscc})
    answers: list[tuple[int, float]] = []

    def patch() -> None:
        started = time.perf_counter()
        response = httpx.patch(f"{base}/api/v1/enterprises/{uscc}", json={"name": "改名"}, headers=admin, timeout=30)
        answers.append((response.status_code, time.perf_counter() - started, response.json()))

    worker = threading.Thread(target=patch)
    worker.start()
    deadline = time.time() + 10
    while time.time() < deadline and not any(s == "active" for _, s, _ in _activity(pizhou_database, "gridmap-api")):
        time.sleep(0.05)
    killed = time.perf_counter()
    with create_engine(pizhou_database, poolclass=NullPool).connect() as admin_conn:
        admin_conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE datname = current_database() AND application_name = 'gridmap-api'"))
    worker.join(timeout=30)
    holder.rollback()
    holder.close()
    status, _, body = answers[0]
    assert status == 503 and "temporarily unavailable" in body["message"]
    assert time.perf_counter() - killed < 5, "answered quickly"
    # The service recovers by itself: the pool replaces the dead connections.
    for _ in range(3):
        assert httpx.get(f"{base}/api/v1/grids", params={"limit": 1}, headers=admin).status_code == 200
    renamed = httpx.patch(f"{base}/api/v1/enterprises/{uscc}", json={"name": "改名"}, headers=admin)
    assert renamed.status_code == 200 and renamed.json()["name"] == "改名"


def test_no_session_is_left_idle_in_transaction(live_server, pizhou_database, demo_users):
    base = live_server
    admin = _token(base, demo_users)
    leader = _token(base, demo_users, "yunhe_leader")
    # Errors after database work: not found, bad input, illegal transition, forbidden.
    hazard = httpx.get(f"{base}/api/v1/hazards", params={"status": "closed", "limit": 1}, headers=admin).json()["data"][0]
    responses = [
        httpx.get(f"{base}/api/v1/grids/999999999", headers=admin),
        httpx.get(f"{base}/api/v1/locate", params={"lon": 34.3, "lat": 117.9}, headers=admin),
        httpx.post(f"{base}/api/v1/hazards/{hazard['id']}/transition", json={"to": "filed"}, headers=admin),
        httpx.get(f"{base}/api/v1/grids/320382103", headers=leader),
        httpx.post(f"{base}/api/v1/enterprises", json={"uscc": "x", "name": "y", "extra": 1}, headers=admin),
    ]
    assert [r.status_code for r in responses] == [404, 422, 409, 404, 422]
    # Clients that vanish mid-request (a read timeout far shorter than the request).
    for _ in range(3):
        with pytest.raises(httpx.TimeoutException):
            httpx.get(f"{base}/api/v1/layers/enterprises", params={"bbox": "117.5,34.0,118.5,34.8", "zoom": 14},
                      headers=admin, timeout=0.005)
    time.sleep(2)
    states = [state for _, state, _ in _activity(pizhou_database, "gridmap-api")]
    assert "idle in transaction" not in states and "idle in transaction (aborted)" not in states, states


def _big_register(path, rows: int) -> None:
    rng = random.Random(7)
    seen: set[str] = set()
    with path.open("w", encoding="utf-8") as fh:
        fh.write("uscc,name,address,lon,lat,coord_system\n")
        while len(seen) < rows:
            uscc = make_uscc(rng, "320382")
            if uscc in seen:
                continue
            seen.add(uscc)
            fh.write(f"{uscc},测试企业{len(seen)},,{117.6 + rng.random() * 0.5:.6f},{34.1 + rng.random() * 0.6:.6f},wgs84\n")


def _count(url: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM enterprise"))
    finally:
        engine.dispose()


def test_import_killed_halfway_leaves_nothing_and_can_be_rerun(pizhou_database, tmp_path):
    register = tmp_path / "big.csv"
    _big_register(register, 60_000)
    before = _count(pizhou_database)
    env = _server_env(pizhou_database)
    command = [sys.executable, "-m", "gridmap", "import", "enterprises", str(register)]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    writing = False
    while time.time() < deadline and process.poll() is None:
        activity = _activity(pizhou_database, "gridmap-cli")
        if any(state == "active" and ("COPY" in query or "INSERT" in query or "place_points" in query)
               for _, state, query in activity):
            writing = True
            break
        time.sleep(0.02)
    assert writing, "the import never reached the database"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    # The server notices the vanished client and rolls its transaction back.
    for _ in range(100):
        if not _activity(pizhou_database, "gridmap-cli"):
            break
        time.sleep(0.1)
    assert _activity(pizhou_database, "gridmap-cli") == []
    assert _count(pizhou_database) == before, "no partial rows"
    rerun = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert _count(pizhou_database) == before + 60_000
