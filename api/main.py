"""The app factory: ``create_app(settings)`` builds engine, routers and static files.

``gridmap serve`` runs it with uvicorn; tests build it with their own settings and
override the session dependency onto a rolled-back transaction.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.errors import add_exception_handlers
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
from gridmap.auth import ScopeCache
from gridmap.boundaries import SetCache
from gridmap.db import make_engine, make_sessionmaker
from gridmap.ratelimit import LoginLimiter, SlidingWindow
from gridmap.settings import Settings, load_settings

WEB_DIR = Path(__file__).resolve().parents[1] / "web"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    engine = make_engine(settings.db.url, settings.db,
                         statement_timeout_ms=settings.db.statement_timeout_ms,
                         application_name="gridmap-api", app_role=settings.db.app_role or None,
                         idle_in_transaction_timeout_ms=60_000)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        engine.dispose()

    app = FastAPI(
        title="gridmap 安全生产网格化监管",
        description="Grid-based work-safety supervision: grids, people, enterprises, hazards.",
        version="0.1.0",
        lifespan=lifespan,
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
    app.state.lookup_limiter = SlidingWindow(60, 60)
    add_exception_handlers(app)
    # Uploads are capped by the import limit; a little slack for the multipart framing.
    app.add_middleware(BodyLimit, max_bytes=settings.imports.max_upload_bytes + 64 * 1024)
    for router in (health.router, auth.router, grids.router, enterprises.router, hazards.router, coverage.router, layers.router, inspections.router, patrols.router, stats.router, audit.router, exports.router, ogc.router):
        app.include_router(router)
    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    logging.getLogger("gridmap").setLevel(logging.INFO)
    return app
