"""The limits on anonymous endpoints come from the settings (README, "Settings")."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gridmap.settings import HazardSettings


@pytest.fixture
def strict_client(session, settings, tmp_path):
    """The app with 2 tip-offs per hour and 3 status look-ups per minute per client."""
    from api.deps import get_session
    from api.main import create_app

    strict = settings.model_copy(update={"hazards": HazardSettings(
        attachment_dir=str(tmp_path), tipoffs_per_hour=2, tipoff_lookups_per_minute=3)})
    app = create_app(strict)

    def _session():
        yield session
        session.flush()

    app.dependency_overrides[get_session] = _session
    with TestClient(app) as client:
        yield client


def test_tipoffs_and_their_lookups_are_limited_as_configured(strict_client, toy_district):
    tipoff = {"lon": "117.93", "lat": "34.35", "description": "仓库门口堆放油桶"}
    codes = [strict_client.post("/api/v1/reports", data=tipoff) for _ in range(3)]
    assert [r.status_code for r in codes] == [201, 201, 429]
    tracking = codes[0].json()["tracking_code"]
    lookups = [strict_client.get(f"/api/v1/reports/{tracking}").status_code for _ in range(4)]
    assert lookups == [200, 200, 200, 429]
    refused = strict_client.get(f"/api/v1/reports/{tracking}").json()
    assert refused["error"] == "rate_limited" and " / " in refused["message"]
