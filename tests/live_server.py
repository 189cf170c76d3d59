"""Live-server fixtures: the Pizhou sample in a real database, the real app, headless Chromium.

Loaded as a pytest plugin (``pytest_plugins = [..., "tests.live_server"]`` in
``tests/conftest.py``), so any test file can ask for these fixtures:

``pizhou_template`` (session)
    URL of a database copied from the migrated empty template (``template_database``)
    with the sample district 邳州市 (``data/boundaries/pizhou``) loaded through
    :func:`gridmap.sample.load.load_sample` — exactly what ``gridmap sample load`` does —
    and the accounts of :data:`DEMO_USERS`. Built once per test session (a few seconds);
    never connect to it for writing: it is the template of every copy below.
``demo_users`` (session)
    ``{key: {"username", "password", "role", "scope"}}`` of the accounts in that database:
    ``admin``, ``yunhe_leader`` (township leader of 运河街道 320382002), ``guanhu_leader``
    (township leader of 官湖镇 320382103), ``authority`` (read-only, district 320382) and
    ``grid_staff`` (the first village of 运河街道 by code).
``pizhou_database`` (function)
    URL of a private copy of the template (``CREATE DATABASE … TEMPLATE``): the test may
    commit anything; the copy is dropped afterwards.
``live_server`` (function)
    Base URL (``http://127.0.0.1:PORT``) of the real app — ``uvicorn
    api.main:create_app --factory`` in a subprocess on a free loopback port, on the
    ``pizhou_database`` copy, with a fixed ``GRIDMAP_AUTH_SECRET_KEY``
    (:data:`AUTH_SECRET_KEY`). Ready when ``/healthz`` answers (at most
    :data:`STARTUP_TIMEOUT_S`); terminated after the test. The server's output is
    attached to the failure message when it does not come up.
``browser`` (session)
    A Playwright ``Browser``: Debian's Chromium (``/usr/bin/chromium``) launched headless.
    Playwright never downloads a browser here; when Chromium is missing the test fails
    (never skips) saying how to install it.

Everything binds and connects to 127.0.0.1 only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

REPO = Path(__file__).resolve().parents[1]
PIZHOU_DIR = REPO / "data" / "boundaries" / "pizhou"
#: Where browser tests put screenshots and other artifacts (git-ignored).
ARTIFACTS_DIR = REPO / "artifacts"
#: Token signing key of every live server (tests may mint tokens with it).
AUTH_SECRET_KEY = "live-server-secret-key-0123456789abcdef"
#: Longest wait for a starting server's /healthz.
STARTUP_TIMEOUT_S = 30.0
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

YUNHE = "320382002"   # 运河街道
GUANHU = "320382103"  # 官湖镇
PIZHOU = "320382"     # 邳州市

#: Accounts created in the template. ``grid_staff``'s scope is filled in at load time
#: (the first village of 运河街道 by code) — read it from the ``demo_users`` fixture.
DEMO_USERS: dict[str, dict[str, str | None]] = {
    "admin": {"username": "admin", "password": "admin-password", "role": "admin", "scope": None},
    "yunhe_leader": {"username": "yunhe-leader", "password": "yunhe-password",
                     "role": "township_leader", "scope": YUNHE},
    "guanhu_leader": {"username": "guanhu-leader", "password": "guanhu-password",
                      "role": "township_leader", "scope": GUANHU},
    "authority": {"username": "authority", "password": "authority-password",
                  "role": "authority", "scope": PIZHOU},
    "grid_staff": {"username": "grid-staff", "password": "grid-staff-password",
                   "role": "grid_staff", "scope": None},
}


def _admin_url(url: str) -> str:
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _worker_suffix() -> str:
    # Under pytest-xdist every worker builds its own template; names must not collide.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return f"_{worker}" if worker else ""


def _execute_autocommit(url: str, *statements: str) -> None:
    engine = create_engine(_admin_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _load_pizhou(url: str) -> dict[str, dict[str, str | None]]:
    """Load the sample and the demo accounts into ``url``; returns the accounts."""
    from gridmap.auth import create_user
    from gridmap.models import Grid
    from gridmap.sample.load import load_sample
    from gridmap.settings import AuthSettings, DatabaseSettings, Settings

    settings = Settings(db=DatabaseSettings(database_url=url, test_database_url=url),
                        auth=AuthSettings(secret_key=AUTH_SECRET_KEY))
    engine = create_engine(url, poolclass=NullPool)
    factory = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def unit_of_work() -> Iterator[Session]:
        with factory() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    users = {key: dict(account) for key, account in DEMO_USERS.items()}
    try:
        load_sample(unit_of_work, PIZHOU_DIR, settings=settings, log=lambda line: None)
        with unit_of_work() as session:
            village = session.scalar(
                select(Grid.code).where(Grid.level == "village", Grid.code.startswith(YUNHE))
                .order_by(Grid.code).limit(1))
            if village is None:
                raise RuntimeError(f"the sample in {PIZHOU_DIR} has no village under {YUNHE}")
            users["grid_staff"]["scope"] = village
            for account in users.values():
                create_user(session, account["username"], role=account["role"],
                            password=account["password"], scope=account["scope"],
                            settings=settings.auth)
    finally:
        engine.dispose()
    return users


@pytest.fixture(scope="session")
def _pizhou(template_database) -> Iterator[tuple[str, dict]]:
    if not (PIZHOU_DIR / "villages.geojson").exists():
        pytest.fail(f"The sample district is missing from {PIZHOU_DIR}: regenerate it with "
                    "`gridmap sample pizhou` (see README) before running live-server tests.",
                    pytrace=False)
    name = f"{make_url(template_database).database.removesuffix('_template')}_pizhou{_worker_suffix()}"
    template = make_url(template_database).database
    _execute_autocommit(template_database,
                        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                        f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = _with_database(template_database, name)
    try:
        users = _load_pizhou(url)
    except BaseException:
        _execute_autocommit(template_database, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        raise
    yield url, users
    _execute_autocommit(template_database, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pizhou_template(_pizhou) -> str:
    """URL of the database holding the loaded Pizhou sample and the demo accounts.

    It is the template of ``pizhou_database``: read it if you must, never write to it and
    close every connection you open (CREATE DATABASE … TEMPLATE needs it idle).
    """
    return _pizhou[0]


@pytest.fixture(scope="session")
def demo_users(_pizhou) -> dict[str, dict[str, str | None]]:
    """The accounts in ``pizhou_template``: key → username, password, role, scope."""
    return _pizhou[1]


@pytest.fixture
def pizhou_database(pizhou_template) -> Iterator[str]:
    """A private, writable copy of the Pizhou template, dropped after the test."""
    name = f"gridmap_p_{uuid.uuid4().hex[:10]}"
    template = make_url(pizhou_template).database
    _execute_autocommit(pizhou_template, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _with_database(pizhou_template, name)
    finally:
        _execute_autocommit(pizhou_template, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    env.update({
        "DATABASE_URL": database_url,
        "GRIDMAP_TEST_DATABASE_URL": database_url,
        "GRIDMAP_AUTH_SECRET_KEY": AUTH_SECRET_KEY,
        "PYTHONUNBUFFERED": "1",
    })
    # A proxy setting would send the test's own loopback requests elsewhere.
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(key, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def _healthy(base_url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{base_url}/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class ServerDidNotStart(RuntimeError):
    """The app exited or did not answer /healthz in time; the message holds its output."""


@contextmanager
def run_server(database_url: str, *, timeout_s: float = STARTUP_TIMEOUT_S) -> Iterator[str]:
    """Run the app with uvicorn on 127.0.0.1 against ``database_url``; yields the base URL.

    Usable outside pytest too (e.g. to look at the dashboard by hand on a copy).
    """
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = ARTIFACTS_DIR / f"live-server-{port}.log"
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=REPO, env=_server_env(database_url), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while not _healthy(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                output = log_path.read_text(errors="replace")[-3000:]
                what = (f"exited with status {process.returncode}" if process.poll() is not None
                        else f"did not answer /healthz within {timeout_s:.0f} s")
                raise ServerDidNotStart(f"the live server on {base_url} {what}; its output:\n{output}")
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        if log_path.exists() and log_path.stat().st_size == 0:
            log_path.unlink()


@pytest.fixture
def live_server(pizhou_database) -> Iterator[str]:
    """Base URL of the real app serving a private copy of the Pizhou sample."""
    server = run_server(pizhou_database)
    try:
        base_url = server.__enter__()
    except ServerDidNotStart as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield base_url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.fail(f"Browser tests need Debian's Chromium at {CHROMIUM}: run `make test` "
                    "(it installs it) or `apt-get install chromium`.", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Browser tests need Playwright for Python: run `make test` (it installs the "
                    "dev extras) or `.venv/bin/pip install -e '.[dev]'`.", pytrace=False)
    # Never fetch a browser build: the one we launch is the system's.
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                              headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


