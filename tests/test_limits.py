"""Resource limits: body size cap (declared and streamed), page size, bbox area."""

from __future__ import annotations

import pytest


@pytest.fixture
def small(session, settings):
    """A client of an app whose upload cap is 1,000 bytes."""
    from fastapi.testclient import TestClient

    from api.deps import get_session
    from api.main import create_app
    from gridmap.settings import ImportSettings

    app = create_app(settings.model_copy(update={"imports": ImportSettings(max_upload_bytes=1000)}))

    def _session():
        yield session

    app.dependency_overrides[get_session] = _session
    with TestClient(app) as client:
        yield client


def test_declared_length_over_the_cap_is_refused_unread(small, toy_district, login):
    client = small
    response = client.post("/api/v1/enterprises/import", headers=login(),
                           files={"file": ("big.csv", b"x" * 100_000, "text/csv")})
    assert response.status_code == 413 and "exceeds the limit" in response.json()["message"]


def test_streamed_body_over_the_cap_is_cut_off(small, toy_district, login):
    client = small
    def chunks():  # 100 KB, chunked: no Content-Length to refuse up front
        for _ in range(100):
            yield b"y" * 1024

    response = client.post("/api/v1/reports", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_page_size_is_capped(client, toy_district, login):
    assert client.get("/api/v1/grids", params={"limit": 1001}, headers=login()).status_code == 422
    assert client.get("/api/v1/grids", params={"limit": 1000}, headers=login()).status_code == 200


def test_upload_over_the_import_cap_but_under_the_body_cap(small, toy_district, login):
    response = small.post("/api/v1/enterprises/import", headers=login(),
                          files={"file": ("big.csv", b"x" * 5000, "text/csv")})
    assert response.status_code == 413 and "exceeds the limit of 1000 bytes" in response.json()["message"]
