"""The Pizhou sample loads through the import paths, idempotently, and every deliberate
case in its metadata is placed as expected (the address matcher on real names included)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from gridmap.models import BoundarySet, Enterprise, Grid, Person, RoleAssignment
from gridmap.sample.load import load_sample
from tests.conftest import _test_settings

PIZHOU = Path(__file__).resolve().parents[1] / "data" / "boundaries" / "pizhou"


@pytest.fixture(scope="module")
def loaded(template_database):
    """A private database with the sample loaded twice (the second time must change nothing)."""
    import uuid

    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    name = f"gridmap_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(template_database).set(database="postgres"), poolclass=NullPool,
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(template_database).database}"'))
    url = make_url(template_database).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)

    @contextmanager
    def session_scope():
        with Session(engine) as session:
            yield session
            session.commit()

    settings = _test_settings(url)
    first = load_sample(session_scope, PIZHOU, settings=settings, log=lambda line: None)
    second = load_sample(session_scope, PIZHOU, settings=settings, log=lambda line: None)
    yield engine, first, second
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_loads_everything_once(loaded):
    engine, first, second = loaded
    metadata = json.loads((PIZHOU / "metadata.json").read_text(encoding="utf-8"))
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(BoundarySet)) == 1
        levels = dict(session.execute(select(Grid.level, func.count()).group_by(Grid.level)).all())
        assert levels == {"district": 1, "township": 28, "village": 516}
        assert session.scalar(select(func.count()).select_from(Enterprise)) == 4000
        assert session.scalar(select(func.count()).select_from(RoleAssignment)) == metadata["files"]["persons.csv"]["rows"]
        assert session.scalar(select(func.count()).select_from(Person)) > 3000
    assert first["enterprises"]["added"] == 4000
    assert second["boundaries"] == "unchanged"
    assert (second["enterprises"]["added"], second["enterprises"]["updated"]) == (0, 0)
    assert second["persons"]["persons_added"] == 0 and second["persons"]["roles_added"] == 0


def test_every_deliberate_case_is_placed_as_the_metadata_says(loaded):
    engine, _, _ = loaded
    cases = json.loads((PIZHOU / "metadata.json").read_text(encoding="utf-8"))["enterprise_cases"]
    with Session(engine) as session:
        placed = {e.uscc: e for e in session.scalars(select(Enterprise))}
    wrong = []
    for case in cases["special"]:
        e = placed[case["uscc"]]
        if e.placement != case["expected"]:
            wrong.append((case["uscc"], case["kind"], case["expected"], e.placement))
            continue
        if case["expected"] in ("exact", "snapped", "conflict") and e.grid_code != case["village_code"]:
            wrong.append((case["uscc"], case["kind"], case["village_code"], e.grid_code))
        if case["expected"] == "conflict":
            assert e.placement_detail["address_village"]["code"] == case["address_village_code"]
        if case["expected"] == "ambiguous":
            assert sorted(c["code"] for c in e.placement_detail["candidates"]) == sorted(case["candidates"])
    for case in cases["address_only"]:
        e = placed[case["uscc"]]
        if (e.placement, e.grid_code) != ("address", case["village_code"]):
            wrong.append((case["uscc"], "address_only", case["village_code"], (e.placement, e.grid_code)))
    assert wrong == []
    kinds = {c["expected"] for c in cases["special"]}
    assert {"exact", "snapped", "unplaced", "conflict", "ambiguous"} <= kinds


def test_load_uses_the_configured_sector_taxonomy(fresh_database, tmp_path):
    """``gridmap sample load`` imports enterprises as ``gridmap import enterprises`` does,
    with the deployment's sector taxonomy: a custom sector is that sector, not "other"."""
    import random

    from shapely.geometry import box

    from gridmap.uscc import make_uscc
    from tests.vector_files import write_layer

    write_layer(tmp_path / "district.geojson",
                [{"code": "320382", "name": "邳州市", "geometry": box(117.90, 34.30, 118.00, 34.40)}])
    write_layer(tmp_path / "townships.geojson",
                [{"code": "320382102", "name": "邳城镇", "geometry": box(117.90, 34.30, 118.00, 34.40)}])
    uscc = make_uscc(random.Random(3), "320382")
    (tmp_path / "enterprises.csv").write_text(
        "uscc,name,address,lon,lat,coord_system,sector\n"
        f"{uscc},邳城水产养殖场,,117.95,34.35,wgs84,水产养殖\n", encoding="utf-8")
    sectors = tmp_path / "sectors.json"
    sectors.write_text(json.dumps([{"id": "aquaculture", "zh": "水产养殖", "en": "Aquaculture"}],
                                  ensure_ascii=False), encoding="utf-8")
    settings = _test_settings(fresh_database)
    settings.taxonomy.sectors_file = str(sectors)
    engine = create_engine(fresh_database)

    @contextmanager
    def session_scope():
        with Session(engine) as session:
            yield session
            session.commit()

    summary = load_sample(session_scope, tmp_path, settings=settings, log=lambda line: None)
    assert summary["enterprises"]["added"] == 1
    with Session(engine) as session:
        enterprise = session.scalar(select(Enterprise))
        assert (enterprise.sector, enterprise.sector_raw, enterprise.grid_code) == \
            ("aquaculture", None, "320382102")
    engine.dispose()
