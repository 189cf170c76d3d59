"""The app factory: ``create_app(settings)`` builds engine, routers and static files.

``gridmap serve`` runs it with uvicorn; tests build it with their own settings and
override the session dependency onto a rolled-back transaction.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from api.errors import add_exception_handlers
from api.forms import reject_unknown_form_fields
from api.middleware import BodyLimit
from api.routes import (
    audit,
    auth,
    coverage,
    enterprises,
    exports,
    grids,
    hazards,
    health,
    inspections,
    layers,
    ogc,
    patrols,
    stats,
)
from gridmap.audit import require_unprivileged_login
from gridmap.auth import ScopeCache
from gridmap.boundaries import SetCache
from gridmap.db import make_engine, make_sessionmaker
from gridmap.ratelimit import LoginLimiter, SlidingWindow
from gridmap.settings import Settings, load_settings

WEB_DIR = Path(__file__).resolve().parents[1] / "web"


def create_app(settings: Settings | None = None, *, check_login: bool = True) -> FastAPI:
    """The application. It connects as ``settings.db.app_login_url`` (``gridmap_app``, not the
    owner of the tables) and, with ``check_login``, refuses to be built when that login is
    refused or could rewrite the audit log (:func:`require_unprivileged_login`); building
    it only for its OpenAPI document needs no database (``check_login=False``)."""
    settings = settings or load_settings()
    engine = make_engine(settings.db.app_login_url, settings.db,
                         statement_timeout_ms=settings.db.statement_timeout_ms,
                         application_name="gridmap-api", idle_in_transaction_timeout_ms=60_000)
    if check_login:
        try:
            require_unprivileged_login(engine)
        except BaseException:
            engine.dispose()
            raise

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        engine.dispose()

    app = FastAPI(
        title="gridmap 安全生产网格化监管",
        description="Grid-based work-safety supervision: grids, people, enterprises, hazards.",
        version="0.1.0",
        lifespan=lifespan,
        # Form bodies reject unknown fields, like JSON bodies (api/forms.py).
        dependencies=[Depends(reject_unknown_form_fields)],
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.read_sessionmaker = make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
    app.state.login_limiter = LoginLimiter(settings.auth.login_max_failures, settings.auth.login_window_s)
    app.state.scope_cache = ScopeCache(ttl_s=30.0)
    app.state.set_cache = SetCache(ttl_s=5.0)
    app.state.tipoff_limiter = SlidingWindow(settings.hazards.tipoffs_per_hour, 3600)
    app.state.lookup_limiter = SlidingWindow(settings.hazards.tipoff_lookups_per_minute, 60)
    add_exception_handlers(app)
    # Uploads are capped by the import limit; a little slack for the multipart framing.
    app.add_middleware(BodyLimit, max_bytes=settings.imports.max_upload_bytes + 64 * 1024)
    # Tiles first: the busiest route is matched before the others are tried.
    for router in (layers.router, health.router, auth.router, grids.router, enterprises.router, hazards.router,
                   coverage.router, inspections.router, patrols.router, stats.router, audit.router, exports.router,
                   ogc.router):
        app.include_router(router)
    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    logging.getLogger("gridmap").setLevel(logging.INFO)
    return app
