"""Schemathesis against the OpenAPI document: every operation, in process, as an admin
and as a township leader; no 5xx, every response as the schema says.

The app runs on a private database (a copy of the migrated template) holding the
authorization matrix's world (:func:`tests.test_authz_matrix.build_world`: two districts,
three townships, enterprises, hazards, inspections, plans, patrols). Each operation gets
a mix of

* schemathesis' own positive (schema-valid) and negative (schema-violating) cases;
* cases whose path parameters name objects that exist (:func:`real_path_parameters`), so
  the requests reach real rows and the code behind them;
* domain-shaped inputs (:func:`guided_inputs`: points in and around the district, real
  USCCs and person ids, naive and aware times, arbitrary Unicode text) for the writes,
  which random values would rarely get past validation.

Checks: ``not_a_server_error``, ``response_schema_conformance`` and
``status_code_conformance`` (every answer the app gives is declared, error bodies
included); and for every operation but the login, some request must get past
authentication and validation, so the fuzz cannot pass by reaching nothing. Bounded for
CI: :data:`MAX_EXAMPLES` per operation and role, derandomized, no deadline. Nothing is
excluded: multipart uploads (attachments, registers, tip-offs) are fuzzed too — a
generated register is sent under the name ``register.csv``, as the route refuses files
without a .csv/.xlsx name — and so is the login route (its rate limit answers 429, which
is declared).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from gridmap.settings import HazardSettings
from gridmap.uscc import make_uscc
from tests.conftest import _admin_url, _test_settings
from tests.test_authz_matrix import (
    DISTRICTS,
    PLACES,
    TOWNSHIPS,
    VILLAGES,
    World,
    build_world,
    tiles_covering,
)

MAX_EXAMPLES = 25
ROLES = ("admin", "township_leader")
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the OpenAPI document (no database needed)."""
    from api.main import create_app

    spec = create_app(_test_settings("postgresql://postgres@127.0.0.1:5432/unused"), check_login=False).openapi()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def fuzz_app(template_database, tmp_path_factory):
    """The real app (its own engine, commits, the ``gridmap_app`` role) on a private
    database holding the world; dropped afterwards."""
    from api.main import create_app
    from gridmap.ratelimit import SlidingWindow

    name = f"gridmap_fuzz_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_admin_url(template_database), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(template_database).database}"'))
    url = make_url(template_database).set(database=name).render_as_string(hide_password=False)
    settings = _test_settings(url)
    settings.hazards = HazardSettings(attachment_dir=str(tmp_path_factory.mktemp("fuzz-attachments")),
                                      tipoffs_per_hour=100_000)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with Session(engine, expire_on_commit=False) as session:
            world = build_world(session, settings)
            session.commit()
        engine.dispose()
        app = create_app(settings)
        app.state.tipoff_limiter = SlidingWindow(100_000, 3600)
        app.state.lookup_limiter = SlidingWindow(100_000, 60)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        with TestClient(app) as client:
            yield client, schema, world
        app.state.engine.dispose()
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def real_path_parameters(world: World) -> dict[str, st.SearchStrategy[dict]]:
    """Path parameters naming something in the world, by the parameter names of an operation."""
    grid_codes = [c for c, _, _ in VILLAGES.values()] + [c for c, _, _ in TOWNSHIPS.values()] + list(DISTRICTS)
    tiles = [(layer, z, x, y) for layer in ("grids", "enterprises", "hazards", "coverage", "density")
             for z in (8, 12) for x, y in tiles_covering(z)]
    features = ([("grids_village", c) for c, _, _ in VILLAGES.values()]
                + [("grids_township", c) for c, _, _ in TOWNSHIPS.values()]
                + [("grids_district", c) for c in DISTRICTS]
                + [("enterprises", u) for u in world.enterprises.values()]
                + [("hazards", str(i)) for i in world.hazards.values()])
    collections = ["grids_district", "grids_township", "grids_village", "enterprises", "hazards"]

    def one(name: str, values: list) -> st.SearchStrategy[dict]:
        return st.sampled_from(values).map(lambda value: {name: value})

    return {
        "code": one("code", grid_codes),
        "code,fmt": st.fixed_dictionaries({"code": st.sampled_from(grid_codes),
                                           "fmt": st.sampled_from(["gpkg", "shp", "geojson", "kml", "csv", "xlsx"])}),
        "uscc": one("uscc", list(world.enterprises.values())),
        "hazard_id": one("hazard_id", list(world.hazards.values()) + list(world.dispatched.values())),
        "attachment_id": one("attachment_id", list(world.attachments.values())),
        "inspection_id": one("inspection_id", list(world.inspections.values())),
        "plan_id": one("plan_id", list(world.plans.values())),
        "tracking_code": one("tracking_code", [world.tracking_code]),
        "name": one("name", [f"矩阵部门{tag}" for tag in PLACES]),
        "layer": one("layer", ["grids", "enterprises", "hazards", "coverage", "density"]),
        "layer,z,x,y": st.sampled_from(tiles).map(lambda t: dict(zip(("layer", "z", "x", "y"), t))),
        "collectionId": one("collectionId", collections),
        "collectionId,featureId": st.sampled_from(features).map(
            lambda pair: {"collectionId": pair[0], "featureId": pair[1]}),
    }


LON = st.floats(117.85, 118.25)  # the world and a little around it (points in no grid)
LAT = st.floats(34.25, 34.45)
CRS = st.sampled_from(["wgs84", "cgcs2000", "gcj02", "bd09"])
TEXT = st.text(max_size=40)  # any Unicode, NUL and control characters included
WORDS = st.text(min_size=1, max_size=40)
WHEN = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda moment: moment.isoformat())  # naive or not: the API reads naive times as Beijing time
#: A check-in time a phone would send: minutes before (or just after) now.
RECENTLY = st.integers(-8 * 24 * 60, 10).map(lambda minutes: (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat())
JPEG = b"\xff\xd8\xff\xe0"


def _csv(rows: list[tuple]) -> bytes:
    return ("统一社会信用代码,企业名称,经度,纬度,地址\n"
            + "".join(",".join(str(v).replace(",", " ").replace("\n", " ") for v in row) + "\n" for row in rows)
            ).encode("utf-8", errors="replace")


def guided_inputs(world: World) -> dict[tuple[str, str], st.SearchStrategy[dict]]:
    """Inputs shaped like real use (points in the world, existing ids, valid enums) with
    arbitrary text, so the fuzz also reaches the code behind validation: keyword
    arguments of ``operation.as_strategy``."""
    usccs = st.sampled_from(list(world.enterprises.values()))
    persons = st.sampled_from(sorted(i for pair in world.inspectors.values() for i in pair))
    townships = st.sampled_from([c for c, _, _ in TOWNSHIPS.values()] + ["320382102001", "320382"])
    hazards = st.sampled_from(list(world.hazards.values()) + list(world.dispatched.values()))
    new_uscc = st.integers(0, 10**6).map(lambda n: make_uscc(random.Random(n), "320382"))
    categories = st.sampled_from(["fire_other", "electrical_protection", "no_such_category"])
    body = lambda required, optional=None: st.fixed_dictionaries(
        required, optional=optional or {}).map(lambda value: {"body": value})
    return {
        ("GET", "/api/v1/locate"): st.fixed_dictionaries(
            {"query": st.fixed_dictionaries({"lon": LON, "lat": LAT}, optional={"crs": CRS})}),
        ("POST", "/api/v1/hazards"): body(
            {"category": categories, "description": WORDS},
            {"lon": LON, "lat": LAT, "crs": CRS, "enterprise_uscc": usccs, "grade": st.sampled_from(["general", "major"]),
             "deadline": WHEN, "supervising_official": TEXT, "rectification_plan": TEXT,
             "source": st.sampled_from(["inspection", "self_report", "patrol"])}),
        ("POST", "/api/v1/patrols"): body({"lon": LON, "lat": LAT}, {"crs": CRS, "note": TEXT, "at": RECENTLY}),
        ("POST", "/api/v1/enterprises"): body(
            {"uscc": st.one_of(new_uscc, usccs), "name": WORDS},
            {"lon": LON, "lat": LAT, "coord_system": CRS, "address": TEXT, "sector": TEXT, "risk_level": TEXT,
             "department": TEXT, "safety_class": st.text(max_size=4), "scale": TEXT}),
        ("PATCH", "/api/v1/enterprises/{uscc}"): st.fixed_dictionaries({
            "path_parameters": usccs.map(lambda u: {"uscc": u}),
            "body": st.fixed_dictionaries({}, optional={"name": WORDS, "lon": LON, "lat": LAT, "address": TEXT,
                                                         "coord_system": CRS, "sector": TEXT, "risk_level": TEXT})}),
        ("POST", "/api/v1/reports"): body({"lon": LON, "lat": LAT, "description": WORDS},
                                          {"crs": CRS, "contact": TEXT}),
        ("POST", "/api/v1/inspections"): body(
            {"enterprise_uscc": usccs, "inspectors": st.lists(persons, max_size=4)},
            {"findings": TEXT, "inspected_on": WHEN, "case_filed": st.booleans(),
             "fine_amount": st.floats(0, 1e9), "plan_id": st.sampled_from(list(world.plans.values())),
             "hazards": st.lists(st.fixed_dictionaries({"category": categories, "description": WORDS},
                                                       optional={"grade": st.sampled_from(["general", "major"])}),
                                 max_size=2)}),
        ("POST", "/api/v1/plans"): body(
            {"township_code": townships, "period": st.sampled_from(["2026", "2026Q4", "2025Q1", "2027", "2026Q5"]),
             "name": WORDS},
            {"share": st.floats(0.01, 1), "usccs": st.lists(usccs, max_size=3)}),
        ("POST", "/api/v1/hazards/{hazard_id}/transition"): st.fixed_dictionaries({
            "path_parameters": hazards.map(lambda i: {"hazard_id": i}),
            "body": st.fixed_dictionaries(
                {"to": st.sampled_from(["filed", "dispatched", "rectifying", "verifying", "closed", "rejected"])},
                optional={"note": TEXT, "duplicate_of": hazards, "grade": st.sampled_from(["general", "major"]),
                          "category": categories, "supervising_official": TEXT, "rectification_plan": TEXT})}),
        ("POST", "/api/v1/hazards/{hazard_id}/attachments"): st.fixed_dictionaries({
            "path_parameters": hazards.map(lambda i: {"hazard_id": i}),
            "body": st.fixed_dictionaries({
                "kind": st.sampled_from(["before_photo", "after_photo", "responsibility_sheet", "other"]),
                "file": st.binary(max_size=64).map(lambda data: JPEG + data)}),
            "media_type": st.just("multipart/form-data")}),
        ("POST", "/api/v1/enterprises/import"): st.fixed_dictionaries({
            "body": st.fixed_dictionaries({"file": st.lists(
                st.tuples(st.one_of(new_uscc, usccs, TEXT), TEXT, LON, LAT, TEXT), min_size=1, max_size=3).map(_csv)}),
            "media_type": st.just("multipart/form-data")}),
        ("POST", "/api/v1/auth/token"): body({"username": st.sampled_from(sorted(world.usernames.values())),
                                              "password": TEXT}),
    }


def _strategy(operation, world: World):
    """Schemathesis' own positive and negative cases, plus cases on real objects and
    domain-shaped inputs where the operation has them."""
    modes = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    names = ",".join(p.name for p in operation.path_parameters)
    real = real_path_parameters(world)
    assert not names or names in real, f"no real values for the path parameters {names}"
    if names:
        modes.append(real[names].flatmap(lambda values: operation.as_strategy(
            GenerationMode.POSITIVE, path_parameters=values)))
    guided = guided_inputs(world).get((operation.method.upper(), operation.path))
    if guided is not None:
        modes.append(guided.flatmap(lambda kwargs: operation.as_strategy(GenerationMode.POSITIVE, **kwargs)))
    return st.one_of(modes)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_errors_and_responses_as_documented(fuzz_app, method, path, role):
    client, schema, world = fuzz_app
    operation = schema[path][method]
    headers = world.headers[role]
    statuses: list[int] = []

    @hsettings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
               suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(case=_strategy(operation, world))
    def fuzz(case):
        if path == "/api/v1/enterprises/import" and isinstance(case.body, dict) and isinstance(
                case.body.get("file"), bytes):
            # Schemathesis names a file part after its field; a register is refused unless its
            # name ends in .csv/.xlsx, so send it as a client would, under a register's name.
            response = client.post(case.formatted_path, params=case.query, headers=headers,
                                   files={"file": ("register.csv", case.body["file"], "text/csv")})
        else:
            response = case.call(headers=headers)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    fuzz()
    if path != "/api/v1/auth/token":
        reached = [s for s in statuses if s not in (401, 422)]
        assert reached, f"no request got past authentication and validation: {sorted(set(statuses))}"


@pytest.mark.parametrize("role", ROLES)
def test_what_the_fuzz_found_stays_fixed(fuzz_app, role):
    """The 500s schemathesis found, each pinned by one request."""
    client, _, world = fuzz_app
    headers = world.headers[role]
    lon, lat = PLACES["A1"]
    answers = {
        "NUL in a query": client.get("/api/v1/hazards", params={"grid": "3203\x00"}, headers=headers),
        "NUL in a body": client.post("/api/v1/patrols", json={"lon": lon, "lat": lat, "note": "a\x00b"},
                                     headers=headers),
        "set beyond integer": client.get("/api/v1/grids", params={"set": 2**40}, headers=headers),
        "OGC set beyond integer": client.get("/ogc/collections/enterprises", params={"set": 2**40}, headers=headers),
        "id beyond bigint": client.get(f"/api/v1/hazards/{2**70}", headers=headers),
        "duplicate_of beyond bigint": client.post(
            f"/api/v1/hazards/{world.hazards['A1']}/transition",
            json={"to": "rejected", "duplicate_of": 2**70}, headers=headers),
    }
    for what, response in answers.items():
        assert response.status_code in (404, 422), f"{what}: {response.status_code} {response.text[:200]}"
        assert set(response.json()) >= {"error", "message_zh", "message_en"}, what
    register = client.post("/api/v1/enterprises/import", headers=headers, files={
        "file": ("register.csv", "统一社会信用代码,企业名称\nx\ry,2\n".encode(), "text/csv")})
    assert register.status_code == 200 and register.json()["rejected_rows"] == 2, "a bare CR ends a row"
    naive = client.post("/api/v1/hazards", headers=headers, json={
        "lon": lon, "lat": lat, "category": "fire_other", "description": "期限无时区",
        "deadline": "2027-01-01T12:00:00"})
    assert naive.status_code == 201, naive.text
    deadline = datetime.fromisoformat(naive.json()["deadline"])
    assert deadline == datetime(2027, 1, 1, 4, 0, tzinfo=UTC), "a naive deadline is Beijing time"
