"""Object-level authorization: every route of the app × every role × targets inside and
outside the caller's scope.

The matrix is data (:data:`MATRIX`): one row per route (``"METHOD /path"``), naming its
kind and how to build requests for it against the shared world. A route of the app
without a row — or a row without a route — fails :func:`test_every_route_has_a_matrix_row`,
so a new route cannot ship without saying who may call it.

Roles: ``admin`` (everything), ``authority`` (district 320382, read-only),
``township_leader`` of township A (320382102), ``grid_staff`` of village A1
(320382102001) and ``anonymous`` (no token). The world has objects in villages A1 and A2
(township A), B1 (township B, same district) and C1 (district 320381): enterprises,
hazards (one reported, one dispatched, with a photo), inspections, patrol check-ins, a
plan per township, coverage gaps per township, a public tip-off.

Expected answers (every cell asserts):

=========================  ==================================================================
kind                       answer
=========================  ==================================================================
public                     every role, anonymous included: the success status
read                       anonymous 401; in scope: success; outside: 404 (never 403)
write                      anonymous 401; ``authority`` 403; in scope: success; outside:
                           404 — except creating something *at a location* outside the
                           scope (new enterprise, hazard, patrol): 403, because nothing
                           exists there to hide and the answer is the same whether or not
                           the point lies in someone else's grid
admin-read / admin-write   anonymous 401; admin: success; everyone else 403
=========================  ==================================================================

"In scope" is the grid-code prefix rule of :class:`gridmap.auth.Scope`: the grid staff
of A1 does not see village A2 nor township A itself. Every successful answer to a scoped
role is scanned for anything of a grid outside the scope (codes, names, USCCs, texts of
the objects there), decoded first — vector tiles with ``mapbox_vector_tile``, exported
files with ``pyogrio`` (GeoPackage, Shapefile) or as text/zip members — and lists, layers,
tiles, exports and OGC items must also *contain* the in-scope objects (so an empty answer
cannot pass).

Request bodies reject unknown fields: every JSON body schema says
``additionalProperties: false`` and every JSON route answers 422 to an extra ``grid_code``,
``status``, ``role`` … naming that field; form bodies (uploads, tip-offs, the login)
answer 422 to a field their route does not declare.
"""

from __future__ import annotations

import io
import json
import math
import random
import re
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pyogrio
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from shapely.geometry import box
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.routing import Host, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from gridmap.auth import Scope, create_user, issue_token
from gridmap.boundaries import add_grid, refresh_leaves
from gridmap.coverage import coverage_report, store_report
from gridmap.density import refresh_density
from gridmap.enterprises import save_enterprise
from gridmap.hazards import add_attachment, create_hazard, submit_tipoff, transition
from gridmap.inspections import create_inspection, create_plan
from gridmap.models import Enterprise
from gridmap.patrols import create_patrol
from gridmap.settings import CoverageSettings, HazardSettings, Settings
from gridmap.uscc import make_uscc
from tests.factories import make_person, make_set

PASSWORD = "password-123"
JPEG = b"\xff\xd8\xff\xe0" + b"matrix" * 20

# ----------------------------------------------------------------------------- the world

DISTRICTS = {"320382": ("邳州市", box(117.90, 34.30, 118.10, 34.42)),
             "320381": ("新沂市", box(118.10, 34.30, 118.20, 34.42))}
#: Townships reach 0.02° beyond their villages: a coverage gap in every township.
TOWNSHIPS = {"A": ("320382102", "邳城镇", box(117.90, 34.30, 118.00, 34.42)),
             "B": ("320382103", "官湖镇", box(118.00, 34.30, 118.10, 34.42)),
             "C": ("320381101", "新安镇", box(118.10, 34.30, 118.20, 34.42))}
VILLAGES = {"A1": ("320382102001", "甲村", box(117.90, 34.30, 117.95, 34.40)),
            "A2": ("320382102002", "乙社区", box(117.95, 34.30, 118.00, 34.40)),
            "B1": ("320382103001", "丙村", box(118.00, 34.30, 118.05, 34.40)),
            "B2": ("320382103002", "丁村", box(118.05, 34.30, 118.10, 34.40)),
            "C1": ("320381101001", "戊村", box(118.10, 34.30, 118.20, 34.40))}
#: Places holding objects, with the point where they stand (WGS84 = CGCS2000 here).
PLACES = {"A1": (117.925, 34.35), "A2": (117.975, 34.35), "B1": (118.025, 34.35), "C1": (118.15, 34.35)}
WORLD_BBOX = (117.88, 34.28, 118.22, 34.44)
ROLE_SCOPES = {"admin": None, "authority": "320382", "township_leader": "320382102",
               "grid_staff": "320382102001"}
ROLES = ("admin", "authority", "township_leader", "grid_staff", "anonymous")
#: The code each role exports as "its own" area.
OWN_CODE = {"admin": "320382", "authority": "320382", "township_leader": "320382102",
            "grid_staff": "320382102001"}


def village(tag: str) -> str:
    return VILLAGES[tag][0]


def township(tag: str) -> str:
    return TOWNSHIPS[tag][0]


@dataclass
class Token:
    """A string that belongs to one grid: it must not reach a caller who cannot see it."""

    text: str
    home: str
    #: A grid's own code or name: shown to callers whose scope lies below it (ancestors).
    grid_identity: bool = False

    def pattern(self) -> re.Pattern:
        if self.text.isdigit():
            return re.compile(rf"(?<![0-9]){self.text}(?![0-9])")
        return re.compile(re.escape(self.text))


@dataclass
class World:
    headers: dict[str, dict[str, str]]
    usernames: dict[str, str]
    enterprises: dict[str, str]          # place → USCC
    hazards: dict[str, int]              # place → a reported hazard
    dispatched: dict[str, int]           # place → a dispatched hazard
    attachments: dict[str, int]          # place → the photo of its reported hazard
    inspections: dict[str, int]
    inspectors: dict[str, list[int]]     # place → two certified persons with roles there
    plans: dict[str, int]                # township tag → a draft plan
    tracking_code: str
    open_hazards: dict[str, int]         # place → open hazards
    tokens: list[Token] = field(default_factory=list)


def allows(role: str, code: str | None) -> bool:
    scope = ROLE_SCOPES.get(role)
    return scope is None or (code is not None and code.startswith(scope))


def leaks(role: str, token: Token) -> bool:
    scope = ROLE_SCOPES.get(role)
    if scope is None or allows(role, token.home):
        return False
    return not (token.grid_identity and scope.startswith(token.home))


def build_world(session: Session, settings: Settings) -> World:
    """Grids, users and objects of the matrix, through the core functions of gridmap."""
    rng = random.Random(20261122)
    everything = Scope.everything()
    boundary_set = make_set(session, name="authz-matrix")
    tokens: list[Token] = []
    for code, (name, geom) in DISTRICTS.items():
        add_grid(session, set_id=boundary_set.id, code=code, name=name, level="district", geom=geom,
                 population=40_000)
        tokens += [Token(code, code, True), Token(name, code, True)]
    for code, name, geom in TOWNSHIPS.values():
        add_grid(session, set_id=boundary_set.id, code=code, name=name, level="township", geom=geom,
                 population=20_000)
        tokens += [Token(code, code, True), Token(name, code, True)]
    for code, name, geom in VILLAGES.values():
        add_grid(session, set_id=boundary_set.id, code=code, name=name, level="village", geom=geom,
                 population=10_000)
        tokens += [Token(code, code, True), Token(name, code, True)]
    refresh_leaves(session, boundary_set.id)

    headers, usernames = {}, {}
    for role, scope in ROLE_SCOPES.items():
        user = create_user(session, f"matrix-{role}", role=role, password=PASSWORD, scope=scope,
                           settings=settings.auth)
        usernames[role] = user.username
        headers[role] = {"Authorization": "Bearer " + issue_token(user, secret=settings.auth.secret_key,
                                                                   settings=settings.auth)}
    headers["anonymous"] = {}
    actor = create_user(session, "matrix-system", role="admin", password=PASSWORD, settings=settings.auth)

    # Two certified persons in every township (the draw's pool) and in every place.
    for tag in TOWNSHIPS:
        for suffix in "甲乙":
            name = f"人员{tag}{suffix}"
            make_person(session, grid_code=township(tag), role="safety_officer", name=name,
                        certificate_no=f"ZF-{tag}{suffix}")
            tokens.append(Token(name, township(tag)))
    inspectors = {}
    for tag in PLACES:
        people = [make_person(session, grid_code=village(tag), role=role, name=f"人员{tag}{suffix}",
                              certificate_no=f"ZF-{tag}{suffix}")
                  for role, suffix in (("first_responsible", "甲"), ("patrol_officer", "乙"))]
        inspectors[tag] = [p.id for p in people]
        tokens += [Token(p.name, village(tag)) for p in people]

    enterprises, hazards, dispatched, attachments, found, open_hazards = {}, {}, {}, {}, {}, {}
    for tag, (lon, lat) in PLACES.items():
        home = village(tag)
        uscc = make_uscc(rng, home[:6])
        save_enterprise(session, {"uscc": uscc, "name": f"矩阵企业{tag}", "lon": lon, "lat": lat,
                                  "department": f"矩阵部门{tag}", "sector": "危险化学品", "risk_level": "较大",
                                  "address": f"矩阵路{tag}号"}, scope=everything)
        enterprises[tag] = uscc
        tokens += [Token(uscc, home), Token(f"矩阵企业{tag}", home), Token(f"矩阵部门{tag}", home),
                   Token(f"矩阵路{tag}号", home)]
        hazard = create_hazard(session, {"lon": lon, "lat": lat, "category": "fire_other",
                                         "description": f"矩阵隐患{tag}"},
                               actor=actor, scope=everything, settings=settings.hazards)
        hazards[tag] = hazard.id
        photo = add_attachment(session, hazard.id, kind="before_photo", filename=f"矩阵照片{tag}.jpg",
                               stream=io.BytesIO(JPEG + tag.encode()), actor=actor, scope=everything,
                               settings=settings.hazards)
        attachments[tag] = photo.id
        moving = create_hazard(session, {"enterprise_uscc": uscc, "category": "electrical_protection",
                                         "description": f"矩阵派遣{tag}"},
                               actor=actor, scope=everything, settings=settings.hazards)
        for to in ("filed", "dispatched"):
            transition(session, moving.id, to=to, actor=actor, scope=everything)
        dispatched[tag] = moving.id
        open_hazards[tag] = 2
        inspection = create_inspection(session, {"enterprise_uscc": uscc, "inspectors": inspectors[tag],
                                                 "findings": f"矩阵检查{tag}"},
                                       actor=actor, scope=everything, hazard_settings=settings.hazards)
        found[tag] = inspection.id
        create_patrol(session, {"lon": lon, "lat": lat, "note": f"矩阵巡查{tag}"}, actor=actor, scope=everything)
        tokens += [Token(f"矩阵隐患{tag}", home), Token(f"矩阵派遣{tag}", home), Token(f"矩阵照片{tag}", home),
                   Token(f"矩阵检查{tag}", home), Token(f"矩阵巡查{tag}", home)]
    tip = submit_tipoff(session, lon=PLACES["B1"][0], lat=PLACES["B1"][1], crs="wgs84",
                        description="矩阵举报B1", contact=None, settings=settings.hazards)
    open_hazards["B1"] += 1
    tokens.append(Token("矩阵举报B1", village("B1")))

    plans = {}
    for tag in TOWNSHIPS:
        plan = create_plan(session, {"township_code": township(tag), "period": "2026", "name": f"矩阵计划{tag}"},
                           scope=everything)
        plans[tag] = plan.id
        tokens.append(Token(f"矩阵计划{tag}", township(tag)))
    for code in DISTRICTS:
        store_report(session, coverage_report(session, code, set_id=boundary_set.id, scope=everything,
                                              settings=CoverageSettings()))
    refresh_density(session)
    session.flush()
    return World(headers=headers, usernames=usernames, enterprises=enterprises, hazards=hazards,
                 dispatched=dispatched, attachments=attachments, inspections=found, inspectors=inspectors,
                 plans=plans, tracking_code=tip.tracking_code, open_hazards=open_hazards, tokens=tokens)


# ------------------------------------------------------------------------ the requests

@dataclass
class Call:
    """One request (or several, whose bodies are read together) and what it must answer."""

    method: str
    url: str | list[str]
    #: Grid code the target belongs to; None: the same answer for every signed-in role.
    home: str | None = None
    ok: int = 200
    #: Answer outside the scope.
    out: int = 404
    params: dict | None = None
    json: Any = None
    data: dict | None = None
    files: dict | None = None
    #: When set, exactly these roles get ``ok``; the others ``out`` (collections by level).
    roles: frozenset[str] | None = None
    #: Turns the response into text to scan for leaks and look for expected tokens.
    decode: Callable[[Any], str] | None = None
    #: (home, text): ``text`` must be in the decoded body when ``home`` is in scope.
    present: list[tuple[str, str]] = field(default_factory=list)
    #: Extra assertion on success: check(decoded text, role).
    check: Callable[[str, str], None] | None = None

    @property
    def urls(self) -> list[str]:
        return self.url if isinstance(self.url, list) else [self.url]


@dataclass(frozen=True)
class Row:
    kind: str  # public | read | write | admin-read | admin-write
    calls: Callable[[World, str], list[Call]]


def expected_status(kind: str, call: Call, role: str) -> int:
    if kind == "public":
        return call.ok
    if role == "anonymous":
        return 401
    if kind.startswith("admin"):
        return call.ok if role == "admin" else 403
    if kind == "write" and role == "authority":
        return 403
    if call.roles is not None:
        return call.ok if role in call.roles else call.out
    return call.ok if call.home is None or allows(role, call.home) else call.out


# --- decoders

def decode_json(response) -> str:
    return json.dumps(response.json(), ensure_ascii=False)


def decode_mvt(responses) -> str:
    """Features of several tiles, deduplicated (a point in a tile's buffer shows twice)."""
    layers: dict[str, dict[str, dict]] = {}
    for response in responses:
        for name, layer in (mapbox_vector_tile.decode(response.content) if response.content else {}).items():
            for feature in layer["features"]:
                props = feature["properties"]
                key = str(props.get("code") or props.get("uscc") or props.get("id") or props.get("cell")
                          or json.dumps(props, sort_keys=True))
                layers.setdefault(name, {})[key] = props
    return json.dumps(layers, ensure_ascii=False, sort_keys=True)


def _zip_text(content: bytes, folder: Path) -> str:
    texts = []
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        archive.extractall(folder)
        for member in archive.namelist():
            texts.append(archive.read(member).decode("utf-8", errors="ignore"))
    for shp in sorted(folder.rglob("*.shp")):
        texts.append(_ogr_text(shp))
    return "\n".join(texts)


def _ogr_text(path: Path) -> str:
    texts = []
    for layer_name, _ in pyogrio.list_layers(path):
        meta, _, geometry, fields = pyogrio.raw.read(path, layer=layer_name)
        texts.append(json.dumps({"layer": layer_name, "fields": list(meta["fields"]),
                                 "rows": [[str(v) for v in column] for column in fields],
                                 "features": len(geometry) if geometry is not None else 0},
                                ensure_ascii=False))
    return "\n".join(texts)


def decode_export(response) -> str:
    """An exported file as text: read with pyogrio where GDAL reads it, plus the raw bytes."""
    content = response.content
    with tempfile.TemporaryDirectory(prefix="matrix-export-") as tmp:
        folder = Path(tmp)
        if content[:4] == b"PK\x03\x04":
            return _zip_text(content, folder)
        if content.startswith(b"SQLite format 3"):
            target = folder / "export.gpkg"
            target.write_bytes(content)
            # The raw bytes too: a row deleted after writing would linger in free pages.
            return _ogr_text(target) + "\n" + content.decode("utf-8", errors="ignore")
        return content.decode("utf-8-sig", errors="ignore")


# --- checks

def sums_match(layer: str, key: str, expected: Callable[[str], int]) -> Callable[[str, str], None]:
    def check(text: str, role: str) -> None:
        layers = json.loads(text)
        if "features" in layers:  # a GeoJSON FeatureCollection
            values = [f["properties"][key] for f in layers["features"]]
        else:
            values = [props[key] for props in layers.get(layer, {}).values()]
        assert sum(values) == expected(role), f"{layer}.{key} of {role}"
    return check


def enterprise_count(role: str) -> int:
    return sum(1 for tag in PLACES if allows(role, village(tag)))


def open_hazard_count(world: World) -> Callable[[str], int]:
    return lambda role: sum(n for tag, n in world.open_hazards.items() if allows(role, village(tag)))


def tiles_covering(z: int, bbox: tuple[float, float, float, float] = WORLD_BBOX) -> list[tuple[int, int]]:
    def xy(lon: float, lat: float) -> tuple[int, int]:
        n = 2**z
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
        return x, y

    x0, y1 = xy(bbox[0], bbox[1])
    x1, y0 = xy(bbox[2], bbox[3])
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def _csv(rows: list[tuple[str, str, float, float]]) -> dict:
    text = "统一社会信用代码,企业名称,经度,纬度\n" + "".join(f"{u},{n},{lon},{lat}\n" for u, n, lon, lat in rows)
    return {"file": ("register.csv", text.encode("utf-8"), "text/csv")}


# --- per-route builders

GRID_CODES = ([code for code, _, _ in VILLAGES.values()] + [code for code, _, _ in TOWNSHIPS.values()]
              + list(DISTRICTS))


def _by_place(attribute: str) -> Callable[[World], dict[str, str]]:
    return lambda w: {str(getattr(w, attribute)[tag]): village(tag) for tag in PLACES}


def _reads_by(template: str, attribute: str) -> Callable[[World, str], list[Call]]:
    return lambda w, role: [Call("GET", template.format(key), home=home, decode=decode_json)
                            for key, home in _by_place(attribute)(w).items()]


def _list(url: str, prefix: str, *, params: dict | None = None, townships: bool = False) -> Callable:
    """A list route: nothing outside the scope; every in-scope object of the world listed."""
    def build(w: World, role: str) -> list[Call]:
        tags = TOWNSHIPS if townships else PLACES
        home = township if townships else village
        return [Call("GET", url, params=params or {"limit": 1000}, decode=decode_json,
                     present=[(home(tag), f"{prefix}{tag}") for tag in tags])]
    return build


def _locate(w: World, role: str) -> list[Call]:
    return [Call("GET", "/api/v1/locate", params={"lon": lon, "lat": lat}, decode=decode_json,
                 present=[(village(tag), village(tag))]) for tag, (lon, lat) in PLACES.items()]


def _layers(w: World, role: str) -> list[Call]:
    bbox = ",".join(str(v) for v in WORLD_BBOX)
    places = [(village(tag), tag) for tag in PLACES]
    return [
        Call("GET", "/api/v1/layers/grids", params={"bbox": bbox, "level": "village"}, decode=decode_json,
             present=[(code, code) for code, _ in places]),
        Call("GET", "/api/v1/layers/enterprises", params={"bbox": bbox, "zoom": 14}, decode=decode_json,
             present=[(code, w.enterprises[tag]) for code, tag in places]),
        Call("GET", "/api/v1/layers/enterprises", params={"bbox": bbox, "zoom": 8}, decode=decode_json,
             check=sums_match("enterprises_aggregated", "count", enterprise_count)),
        Call("GET", "/api/v1/layers/hazards", params={"bbox": bbox, "zoom": 14}, decode=decode_json,
             present=[(code, f'"grid_code": "{code}"') for code, _ in places]),
        Call("GET", "/api/v1/layers/hazards", params={"bbox": bbox, "zoom": 8}, decode=decode_json,
             check=sums_match("hazards_aggregated", "count", open_hazard_count(w))),
        Call("GET", "/api/v1/layers/coverage", params={"bbox": bbox}, decode=decode_json,
             present=[(township(tag), township(tag)) for tag in TOWNSHIPS]),
        Call("GET", "/api/v1/layers/density", params={"bbox": bbox, "zoom": 12}, decode=decode_json,
             check=lambda text, role: (sums_match("density", "enterprises", enterprise_count)(text, role),
                                       sums_match("density", "hazards_open", open_hazard_count(w))(text, role))),
    ]


def _tiles(w: World, role: str) -> list[Call]:
    def urls(layer: str, z: int) -> list[str]:
        return [f"/tiles/{layer}/{z}/{x}/{y}.mvt" for x, y in tiles_covering(z)]

    places = [(village(tag), tag) for tag in PLACES]
    return [
        Call("GET", urls("grids", 12), decode=decode_mvt, present=[(code, f'"{code}"') for code, _ in places]),
        Call("GET", urls("enterprises", 12), decode=decode_mvt,
             present=[(code, w.enterprises[tag]) for code, tag in places]),
        Call("GET", urls("enterprises", 8), decode=decode_mvt,
             check=sums_match("enterprises_aggregated", "count", enterprise_count)),
        Call("GET", urls("hazards", 12), decode=decode_mvt,
             present=[(code, f'"grid_code": "{code}"') for code, _ in places]),
        Call("GET", urls("hazards", 8), decode=decode_mvt,
             check=sums_match("hazards_aggregated", "count", open_hazard_count(w))),
        Call("GET", urls("coverage", 10), decode=decode_mvt,
             present=[(township(tag), township(tag)) for tag in TOWNSHIPS]),
        Call("GET", urls("density", 10), decode=decode_mvt,
             check=lambda text, role: (sums_match("density", "enterprises", enterprise_count)(text, role),
                                       sums_match("density", "hazards_open", open_hazard_count(w))(text, role))),
    ]


def _exports(w: World, role: str) -> list[Call]:
    calls = [Call("GET", f"/api/v1/exports/{code}.gpkg", home=code, decode=decode_export)
             for code in (village("A2"), village("B1"), village("C1"), township("B"), "320381")]
    own = OWN_CODE.get(role, "320382")
    for fmt in ("gpkg", "shp", "geojson", "kml", "csv", "xlsx"):
        calls.append(Call("GET", f"/api/v1/exports/{own}.{fmt}", home=own, decode=decode_export,
                          present=[(village(tag), f"矩阵企业{tag}") for tag in PLACES if village(tag).startswith(own)]))
    return calls


COLLECTION_ROLES = {
    "grids_district": frozenset({"admin", "authority"}),
    "grids_township": frozenset({"admin", "authority", "township_leader"}),
}


def _collections(w: World, role: str) -> list[Call]:
    def check(text: str, role: str) -> None:
        ids = {c["id"] for c in json.loads(text)["collections"]}
        expected = {"grids_village", "enterprises", "hazards"} | {
            name for name, roles in COLLECTION_ROLES.items() if role in roles}
        assert ids == expected, role
    return [Call("GET", "/ogc/collections", decode=decode_json, check=check)]


def _collection(w: World, role: str) -> list[Call]:
    return [Call("GET", f"/ogc/collections/{name}", decode=decode_json, roles=COLLECTION_ROLES.get(name))
            for name in ("grids_village", "enterprises", "hazards", "grids_township", "grids_district")]


def _collection_documents(suffix: str) -> Callable[[World, str], list[Call]]:
    # The schema and queryables of a collection describe its fields, not its data, but a
    # collection outside the caller's scope is not there at all: the same 404 as for it.
    return lambda w, role: [Call("GET", f"/ogc/collections/{name}/{suffix}", roles=COLLECTION_ROLES.get(name))
                            for name in ("grids_village", "enterprises", "hazards", "grids_district")]


def _ogc_items(w: World, role: str) -> list[Call]:
    params = {"limit": 1000}
    return [
        Call("GET", "/ogc/collections/grids_village/items", params=params, decode=decode_json,
             present=[(village(tag), village(tag)) for tag in PLACES]),
        Call("GET", "/ogc/collections/enterprises/items", params=params, decode=decode_json,
             present=[(village(tag), w.enterprises[tag]) for tag in PLACES]),
        Call("GET", "/ogc/collections/hazards/items", params=params, decode=decode_json,
             present=[(village(tag), f"矩阵隐患{tag}") for tag in PLACES]),
        Call("GET", "/ogc/collections/grids_township/items", params=params, decode=decode_json,
             roles=COLLECTION_ROLES["grids_township"],
             present=[(township(tag), township(tag)) for tag in TOWNSHIPS]),
    ]


def _ogc_item(w: World, role: str) -> list[Call]:
    calls = [Call("GET", f"/ogc/collections/grids_village/items/{village(tag)}", home=village(tag),
                  decode=decode_json) for tag in PLACES]
    calls += [Call("GET", f"/ogc/collections/enterprises/items/{w.enterprises[tag]}", home=village(tag),
                   decode=decode_json) for tag in PLACES]
    calls += [Call("GET", f"/ogc/collections/hazards/items/{w.hazards[tag]}", home=village(tag),
                   decode=decode_json) for tag in PLACES]
    return calls


# --- writes

def _create_enterprise(w: World, role: str) -> list[Call]:
    rng = random.Random(7)
    return [Call("POST", "/api/v1/enterprises", home=village(tag), ok=201, out=403, decode=decode_json,
                 json={"uscc": make_uscc(rng, village(tag)[:6]), "name": f"新企业{tag}", "lon": lon, "lat": lat})
            for tag, (lon, lat) in PLACES.items()]


def _update_enterprise(w: World, role: str) -> list[Call]:
    return [Call("PATCH", f"/api/v1/enterprises/{w.enterprises[tag]}", home=village(tag), decode=decode_json,
                 json={"address": "改过的地址"}) for tag in PLACES]


def _import_enterprises(w: World, role: str) -> list[Call]:
    """A new enterprise in each place, and each place's enterprise moved into village A1 (a
    register must not take over an enterprise of another township by its USCC)."""
    rng = random.Random(11)
    a1 = PLACES["A1"]

    def outcome(written: bool, field_name: str) -> Callable[[str, str], None]:
        def check(text: str, role: str) -> None:
            report = json.loads(text)
            if written:
                assert report["rejected_rows"] == 0 and report[field_name] + report["unchanged"] == 1, report
            else:
                assert report["rejected_rows"] == 1 and report["added"] == report["updated"] == 0, report
        return check

    calls = []
    for tag, (lon, lat) in PLACES.items():
        home = village(tag)
        calls.append(Call("POST", "/api/v1/enterprises/import", home=None, decode=decode_json,
                          files=_csv([(make_uscc(rng, home[:6]), f"导入企业{tag}", lon, lat)]),
                          check=lambda text, role, home=home: outcome(allows(role, home), "added")(text, role)))
        calls.append(Call("POST", "/api/v1/enterprises/import", home=None, decode=decode_json,
                          files=_csv([(w.enterprises[tag], f"被接管{tag}", *a1)]),
                          check=lambda text, role, home=home: outcome(allows(role, home), "updated")(text, role)))
    return calls


def _create_hazard(w: World, role: str) -> list[Call]:
    calls = [Call("POST", "/api/v1/hazards", home=village(tag), ok=201, out=403, decode=decode_json,
                  json={"lon": lon, "lat": lat, "category": "fire_other", "description": "新隐患"})
             for tag, (lon, lat) in PLACES.items()]
    calls += [Call("POST", "/api/v1/hazards", home=village(tag), ok=201, decode=decode_json,
                   json={"enterprise_uscc": w.enterprises[tag], "category": "fire_other", "description": "新隐患"})
              for tag in PLACES]
    return calls


def _transition(w: World, role: str) -> list[Call]:
    # dispatched → rectifying is open to every writer role, grid staff included.
    return [Call("POST", f"/api/v1/hazards/{w.dispatched[tag]}/transition", home=village(tag), decode=decode_json,
                 json={"to": "rectifying", "note": "开始整改"}) for tag in PLACES]


def _attach(w: World, role: str) -> list[Call]:
    return [Call("POST", f"/api/v1/hazards/{w.hazards[tag]}/attachments", home=village(tag), ok=201,
                 decode=decode_json, data={"kind": "other"},
                 files={"file": ("more.jpg", JPEG + b"more", "image/jpeg")}) for tag in PLACES]


def _inspect(w: World, role: str) -> list[Call]:
    return [Call("POST", "/api/v1/inspections", home=village(tag), ok=201, decode=decode_json,
                 json={"enterprise_uscc": w.enterprises[tag], "inspectors": w.inspectors[tag],
                       "findings": "复查"}) for tag in PLACES]


def _create_plan(w: World, role: str) -> list[Call]:
    return [Call("POST", "/api/v1/plans", home=township(tag), ok=201, decode=decode_json,
                 json={"township_code": township(tag), "period": "2026Q4", "name": "第四季度计划"})
            for tag in TOWNSHIPS]


def _draw(w: World, role: str) -> list[Call]:
    return [Call("POST", f"/api/v1/plans/{w.plans[tag]}/draw", home=township(tag), decode=decode_json,
                 json={"seed": 42}) for tag in TOWNSHIPS]


def _patrol(w: World, role: str) -> list[Call]:
    return [Call("POST", "/api/v1/patrols", home=village(tag), ok=201, out=403, decode=decode_json,
                 json={"lon": lon, "lat": lat, "note": "打卡"}) for tag, (lon, lat) in PLACES.items()]


def _refresh(w: World, role: str) -> list[Call]:
    return [Call("POST", f"/api/v1/coverage/{code}/refresh", home=code, decode=decode_json)
            for code in (village("A1"), village("A2"), village("B1"), township("A"), township("B"), "320381")]


def _one(method: str, url: str, ok: int = 200, **options) -> Callable[[World, str], list[Call]]:
    return lambda w, role: [Call(method, url, ok=ok, **options)]


def _me(w: World, role: str) -> list[Call]:
    def check(text: str, role: str) -> None:
        assert json.loads(text)["username"] == w.usernames[role]
    return [Call("GET", "/api/v1/auth/me", decode=decode_json, check=check)]


MATRIX: dict[str, Row] = {
    # public
    "GET /healthz": Row("public", _one("GET", "/healthz")),
    "GET /openapi.json": Row("public", _one("GET", "/openapi.json")),
    "GET /docs": Row("public", _one("GET", "/docs")),
    "GET /docs/oauth2-redirect": Row("public", _one("GET", "/docs/oauth2-redirect")),
    "GET /{static}": Row("public", lambda w, role: [Call("GET", "/"), Call("GET", "/index.html")]),
    "POST /api/v1/auth/token": Row("public", lambda w, role: [Call(
        "POST", "/api/v1/auth/token", data={"username": w.usernames["authority"], "password": PASSWORD})]),
    "POST /api/v1/reports": Row("public", lambda w, role: [Call(
        "POST", "/api/v1/reports", ok=201, data={"lon": "118.025", "lat": "34.35", "description": "路边堆放气瓶"})]),
    "GET /api/v1/reports/{tracking_code}": Row("public", lambda w, role: [Call(
        "GET", f"/api/v1/reports/{w.tracking_code}")]),
    # signed in, not scoped
    "GET /api/v1/auth/me": Row("read", _me),
    "GET /api/v1/hazard-categories": Row("read", _one("GET", "/api/v1/hazard-categories", decode=decode_json)),
    "GET /ogc": Row("read", _one("GET", "/ogc", decode=decode_json)),
    "GET /ogc/api": Row("read", _one("GET", "/ogc/api")),
    "GET /ogc/conformance": Row("read", _one("GET", "/ogc/conformance", decode=decode_json)),
    "GET /ogc/collections/{collectionId}/schema": Row("read", _collection_documents("schema")),
    "GET /ogc/collections/{collectionId}/queryables": Row("read", _collection_documents("queryables")),
    # objects by id or code
    "GET /api/v1/grids/{code}": Row("read", lambda w, role: [
        Call("GET", f"/api/v1/grids/{code}", home=code, decode=decode_json) for code in GRID_CODES]),
    "GET /api/v1/grids/{code}/geojson": Row("read", lambda w, role: [
        Call("GET", f"/api/v1/grids/{code}/geojson", home=code, decode=decode_json) for code in GRID_CODES]),
    "GET /api/v1/enterprises/{uscc}": Row("read", _reads_by("/api/v1/enterprises/{}", "enterprises")),
    "GET /api/v1/hazards/{hazard_id}": Row("read", _reads_by("/api/v1/hazards/{}", "hazards")),
    "GET /api/v1/attachments/{attachment_id}": Row("read", lambda w, role: [
        Call("GET", f"/api/v1/attachments/{w.attachments[tag]}", home=village(tag)) for tag in PLACES]),
    "GET /api/v1/inspections/{inspection_id}": Row("read", _reads_by("/api/v1/inspections/{}", "inspections")),
    "GET /api/v1/plans/{plan_id}": Row("read", lambda w, role: [
        Call("GET", f"/api/v1/plans/{w.plans[tag]}", home=township(tag), decode=decode_json) for tag in TOWNSHIPS]),
    "GET /api/v1/ledgers/township/{code}": Row("read", lambda w, role: [
        Call("GET", f"/api/v1/ledgers/township/{township(tag)}", home=township(tag), decode=decode_json)
        for tag in TOWNSHIPS]),
    "GET /api/v1/ledgers/village/{code}": Row("read", lambda w, role: [
        Call("GET", f"/api/v1/ledgers/village/{village(tag)}", home=village(tag), decode=decode_json,
             present=[(village(tag), f"矩阵企业{tag}")]) for tag in PLACES]),
    "GET /api/v1/ledgers/department/{name}": Row("read", lambda w, role: [
        Call("GET", f"/api/v1/ledgers/department/矩阵部门{tag}", home=village(tag), decode=decode_json,
             present=[(village(tag), f"矩阵企业{tag}")]) for tag in PLACES]),
    "GET /api/v1/coverage/{code}": Row("read", lambda w, role: [
        Call("GET", f"/api/v1/coverage/{code}", home=code, decode=decode_json)
        for code in (village("A1"), village("A2"), village("B1"), township("A"), township("B"), "320382", "320381")]),
    "GET /api/v1/stats/{code}": Row("read", lambda w, role: [
        Call("GET", f"/api/v1/stats/{code}", home=code, decode=decode_json)
        for code in (village("A1"), village("A2"), village("B1"), township("A"), township("B"), "320382", "320381")]),
    "GET /api/v1/exports/{code}.{fmt}": Row("read", _exports),
    "GET /ogc/collections/{collectionId}": Row("read", _collection),
    "GET /ogc/collections/{collectionId}/items/{featureId}": Row("read", _ogc_item),
    # lists, layers, tiles
    "GET /api/v1/grids": Row("read", lambda w, role: [Call(
        "GET", "/api/v1/grids", params={"limit": 1000}, decode=decode_json,
        present=[(code, f'"{code}"') for code in GRID_CODES])]),
    "GET /api/v1/locate": Row("read", _locate),
    "GET /api/v1/enterprises": Row("read", _list("/api/v1/enterprises", "矩阵企业")),
    "GET /api/v1/hazards": Row("read", _list("/api/v1/hazards", "矩阵隐患")),
    "GET /api/v1/inspections": Row("read", _list("/api/v1/inspections", "矩阵检查")),
    "GET /api/v1/plans": Row("read", _list("/api/v1/plans", "矩阵计划", townships=True)),
    "GET /api/v1/patrols": Row("read", _list("/api/v1/patrols", "矩阵巡查")),
    "GET /api/v1/layers/{layer}": Row("read", _layers),
    "GET /tiles/{layer}/{z}/{x}/{y}.mvt": Row("read", _tiles),
    "GET /ogc/collections": Row("read", _collections),
    "GET /ogc/collections/{collectionId}/items": Row("read", _ogc_items),
    "GET /api/v1/audit": Row("admin-read", _one("GET", "/api/v1/audit", decode=decode_json)),
    # writes
    "POST /api/v1/enterprises": Row("write", _create_enterprise),
    "PATCH /api/v1/enterprises/{uscc}": Row("write", _update_enterprise),
    "POST /api/v1/enterprises/import": Row("write", _import_enterprises),
    "POST /api/v1/hazards": Row("write", _create_hazard),
    "POST /api/v1/hazards/{hazard_id}/transition": Row("write", _transition),
    "POST /api/v1/hazards/{hazard_id}/attachments": Row("write", _attach),
    "POST /api/v1/hazards/escalate": Row("admin-write", _one("POST", "/api/v1/hazards/escalate", decode=decode_json)),
    "POST /api/v1/coverage/{code}/refresh": Row("write", _refresh),
    "POST /api/v1/inspections": Row("write", _inspect),
    "POST /api/v1/plans": Row("write", _create_plan),
    "POST /api/v1/plans/{plan_id}/draw": Row("write", _draw),
    "POST /api/v1/patrols": Row("write", _patrol),
}


# ------------------------------------------------------------------------------ fixtures

def app_routes(app) -> set[str]:
    """``"METHOD /path"`` of every route the app answers (HEAD aside), included routers
    flattened; a static mount counts as ``GET <prefix>/{static}``, a WebSocket route as
    ``WS <path>``. A route of any other kind fails the walk: it would otherwise escape the
    matrix unseen."""
    found: set[str] = set()

    def add(methods, path: str) -> None:
        assert methods, f"a route without methods: {path}"
        for method in sorted(methods):
            if method != "HEAD":
                found.add(f"{method} {path}")

    def classify(route, path: str) -> None:
        if isinstance(route, (WebSocketRoute, APIWebSocketRoute)):
            found.add(f"WS {path}")
        elif isinstance(route, Mount):
            assert isinstance(route.app, StaticFiles), f"a mount of an unknown kind: {path}"
            found.add(f"GET {path.rstrip('/')}/{{static}}")
        elif isinstance(route, (APIRoute, Route)):
            add(route.methods, path)
        else:
            raise TypeError(f"a route of a kind the matrix does not know: {type(route).__name__} {path}")

    def walk(routes) -> None:
        for route in routes:
            contexts = getattr(route, "effective_route_contexts", None)
            if contexts is not None:  # FastAPI ≥ 0.16x: an included router, its routes with their full paths
                for context in contexts():
                    classify(context.original_route, context.path)
            else:
                classify(route, getattr(route, "path", "?"))

    walk(app.routes)
    return found


@dataclass
class Matrix:
    world: World
    client: Any
    session: Session
    app: Any


@pytest.fixture(scope="module")
def matrix(engine, database_url, tmp_path_factory):
    """The world, built once in an outer transaction that is rolled back at the end; the
    app's sessions are savepoints inside it (rolled back when a request fails)."""
    from fastapi.testclient import TestClient

    from api.deps import get_read_session, get_session
    from api.main import create_app
    from gridmap.ratelimit import SlidingWindow
    from tests.conftest import _test_settings

    settings = _test_settings(database_url)
    settings.hazards = HazardSettings(attachment_dir=str(tmp_path_factory.mktemp("attachments")),
                                      tipoffs_per_hour=100_000)
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        world = build_world(session, settings)
        application = create_app(settings)
        application.state.tipoff_limiter = SlidingWindow(100_000, 3600)
        application.state.lookup_limiter = SlidingWindow(100_000, 60)

        def request_session():
            nested = session.begin_nested()
            try:
                yield session
                session.flush()
                nested.commit()
            except BaseException:
                if nested.is_active:
                    nested.rollback()
                raise

        application.dependency_overrides[get_session] = request_session
        application.dependency_overrides[get_read_session] = request_session
        with TestClient(application) as client:
            yield Matrix(world, client, session, application)
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def env(matrix):
    """The shared world; whatever a test writes is rolled back after it."""
    savepoint = matrix.session.begin_nested()
    try:
        yield matrix
    finally:
        if savepoint.is_active:
            savepoint.rollback()
        matrix.session.expire_all()


def send(client, call: Call, url: str, headers: dict):
    return client.request(call.method, url, params=call.params, json=call.json, data=call.data,
                          files=call.files, headers=headers)


# ------------------------------------------------------------------------------- tests

def test_every_route_has_a_matrix_row():
    from api.main import create_app
    from tests.conftest import _test_settings

    app = create_app(_test_settings("postgresql://postgres@127.0.0.1:5432/unused"), check_login=False)
    routes = app_routes(app)
    in_schema = {f"{method.upper()} {path}" for path, ops in app.openapi()["paths"].items() for method in ops}
    assert in_schema <= routes, "the route walk misses routes the OpenAPI document lists"
    assert routes - set(MATRIX) == set(), "routes without a row in the authorization matrix"
    assert set(MATRIX) - routes == set(), "matrix rows for routes that no longer exist"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(MATRIX))
def test_matrix(env, route, role):
    row = MATRIX[route]
    calls = row.calls(env.world, role)
    assert calls, route
    leak_tokens = [t for t in env.world.tokens if leaks(role, t)]
    for call in calls:
        expected = expected_status(row.kind, call, role)
        responses = [send(env.client, call, url, env.world.headers[role]) for url in call.urls]
        for url, response in zip(call.urls, responses):
            assert response.status_code == expected, (
                f"{role} {call.method} {url} {call.params or ''}: {response.status_code} "
                f"(expected {expected}) {response.text[:300]}")
        if not 200 <= expected < 300 or call.decode is None:
            continue
        text = call.decode(responses if call.decode is decode_mvt else responses[0])
        where = f"{role} {call.method} {call.urls[0]} {call.params or ''}"
        for token in leak_tokens:
            assert not token.pattern().search(text), f"{where} reveals {token.text!r} of {token.home}"
        for home, wanted in call.present:
            if allows(role, home):
                assert wanted in text, f"{where} misses {wanted!r} (in scope)"
        if call.check is not None:
            call.check(text, role)


def _json_body_routes(app) -> dict[str, dict]:
    spec = app.openapi()
    found = {}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                found[f"{method.upper()} {path}"] = content["application/json"]["schema"]
    return found


def _open_objects(schema: dict, spec: dict, seen: set[str] | None = None) -> list[str]:
    """Names of object schemas reachable from ``schema`` that accept unknown properties."""
    seen = set() if seen is None else seen
    open_ = []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        target = spec["components"]["schemas"][name]
        if target.get("type") == "object" and target.get("additionalProperties", True) is not False:
            open_.append(name)
        return open_ + _open_objects({k: v for k, v in target.items() if k != "$ref"}, spec, seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            open_ += _open_objects(part, spec, seen)
    for part in schema.get("properties", {}).values():
        open_ += _open_objects(part, spec, seen)
    if isinstance(schema.get("items"), dict):
        open_ += _open_objects(schema["items"], spec, seen)
    return open_


def test_json_bodies_are_closed_in_the_schema(env):
    spec = env.app.openapi()
    bodies = _json_body_routes(env.app)
    assert len(bodies) >= 8, sorted(bodies)
    for route, schema in bodies.items():
        assert _open_objects(schema, spec) == [], f"{route} accepts unknown fields"


MASS_ASSIGNMENT = {"grid_code": "320382103001", "home_code": "320382103", "status": "closed",
                   "role": "admin", "district_code": "320381", "id": 1}


@pytest.mark.parametrize("route", sorted(k for k, row in MATRIX.items() if row.kind in ("write", "admin-write")))
def test_extra_fields_are_refused(env, route):
    """Every JSON body: the valid request succeeds; with any extra field it is a 422
    naming that field, and nothing is written."""
    if route not in _json_body_routes(env.app):
        assert all(c.json is None for c in MATRIX[route].calls(env.world, "admin")), route
        return
    headers = env.world.headers["township_leader"]
    call = next(c for c in MATRIX[route].calls(env.world, "township_leader") if c.json is not None
                and allows("township_leader", c.home))
    for name, value in MASS_ASSIGNMENT.items():
        body = {**call.json, name: value}
        response = env.client.request(call.method, call.url, json=body, headers=headers)
        assert response.status_code == 422, f"{route} accepted {name}: {response.status_code} {response.text[:200]}"
        assert name in {p["field"] for p in response.json()["detail"]}, response.json()
    response = env.client.request(call.method, call.url, json=call.json, headers=headers)
    assert response.status_code == call.ok, f"{route} refuses its valid body: {response.text[:300]}"


def test_extra_fields_in_nested_bodies_are_refused(env):
    headers = env.world.headers["township_leader"]
    body = {"enterprise_uscc": env.world.enterprises["A1"], "inspectors": env.world.inspectors["A1"],
            "hazards": [{"category": "fire_other", "description": "灭火器过期", "status": "closed"}]}
    response = env.client.post("/api/v1/inspections", json=body, headers=headers)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "hazards.0.status"


def test_the_route_walk_refuses_route_kinds_it_does_not_know():
    from fastapi import FastAPI

    sockets = FastAPI()

    @sockets.websocket("/ws/live")
    async def live(websocket) -> None:  # pragma: no cover - never connected
        await websocket.close()

    assert app_routes(sockets) >= {"WS /ws/live"}  # …which then has no row in the matrix
    odd = FastAPI()
    odd.router.routes.append(Host("example.org", app=odd))
    with pytest.raises(TypeError, match="does not know: Host"):
        app_routes(odd)


def test_unknown_form_fields_are_refused(env):
    """Form bodies (multipart, urlencoded) reject fields their route does not declare,
    like JSON bodies: a tip-off cannot carry a status or a grid, nothing is written."""
    admin = env.world.headers["admin"]
    before = env.client.get("/api/v1/hazards", params={"limit": 1}, headers=admin).json()["count"]
    tipoff = {"lon": "117.925", "lat": "34.35", "description": "油桶泄漏"}
    for extra in ({"status": "closed"}, {"grid_code": "320382103001"}):
        response = env.client.post("/api/v1/reports", data={**tipoff, **extra})
        assert response.status_code == 422, response.text
        assert [p["field"] for p in response.json()["detail"]] == list(extra)
        assert " / " in response.json()["message"]
    photo = env.client.post("/api/v1/reports", data={**tipoff, "role": "admin"},
                            files={"photo": ("p.jpg", JPEG, "image/jpeg")})
    assert photo.status_code == 422 and photo.json()["detail"][0]["field"] == "role"
    attachment = env.client.post(f"/api/v1/hazards/{env.world.hazards['A1']}/attachments", headers=admin,
                                 data={"kind": "before_photo", "hazard_id": "1"},
                                 files={"file": ("a.jpg", JPEG, "image/jpeg")})
    assert attachment.status_code == 422 and attachment.json()["detail"][0]["field"] == "hazard_id"
    login = env.client.post("/api/v1/auth/token", data={"username": env.world.usernames["admin"],
                                                         "password": PASSWORD, "role": "admin"})
    assert login.status_code == 422 and login.json()["detail"][0]["field"] == "role"
    assert env.client.get("/api/v1/hazards", params={"limit": 1}, headers=admin).json()["count"] == before
    accepted = env.client.post("/api/v1/reports", data=tipoff)
    assert accepted.status_code == 201 and accepted.json()["status"] == "reported"


def test_grid_staff_follow_the_hazard_rules(env):
    """Grid staff report and rectify in their village; filing and closing are the leaders'."""
    client, staff, leader = env.client, env.world.headers["grid_staff"], env.world.headers["township_leader"]
    lon, lat = PLACES["A1"]
    created = client.post("/api/v1/hazards", json={"lon": lon, "lat": lat, "category": "fire_other",
                                                   "description": "通道堵塞"}, headers=staff)
    assert created.status_code == 201
    hazard = created.json()["id"]

    def move(to: str, headers: dict, **extra) -> int:
        return client.post(f"/api/v1/hazards/{hazard}/transition", json={"to": to, **extra},
                           headers=headers).status_code

    assert move("filed", staff) == 403
    assert move("filed", leader) == 200 and move("dispatched", leader) == 200
    assert move("rectifying", staff) == 200 and move("verifying", staff) == 200
    photo = client.post(f"/api/v1/hazards/{hazard}/attachments", data={"kind": "after_photo"},
                        files={"file": ("after.jpg", JPEG + b"after", "image/jpeg")}, headers=staff)
    assert photo.status_code == 201
    assert move("closed", staff) == 403
    assert move("closed", leader) == 200


def test_refusing_a_location_outside_the_scope_names_nothing_there(env):
    """A check-in, hazard or enterprise placed in someone else's grid is refused (403)
    without naming that grid."""
    staff = env.world.headers["grid_staff"]
    lon, lat = PLACES["B1"]
    refusals = [
        env.client.post("/api/v1/patrols", json={"lon": lon, "lat": lat}, headers=staff),
        env.client.post("/api/v1/hazards", json={"lon": lon, "lat": lat, "category": "fire_other",
                                                 "description": "越界"}, headers=staff),
        env.client.post("/api/v1/enterprises", json={"uscc": make_uscc(random.Random(3), "320382"),
                                                     "name": "越界企业", "lon": lon, "lat": lat}, headers=staff),
    ]
    outside = [t for t in env.world.tokens if leaks("grid_staff", t)]
    for response in refusals:
        assert response.status_code == 403, response.text
        assert not [t.text for t in outside if t.pattern().search(response.text)], response.text


def test_a_plan_of_another_township_is_not_found_when_recording_an_inspection(env):
    leader = env.world.headers["township_leader"]
    body = {"enterprise_uscc": env.world.enterprises["A1"], "inspectors": env.world.inspectors["A1"]}
    other = env.client.post("/api/v1/inspections", json={**body, "plan_id": env.world.plans["B"]}, headers=leader)
    missing = env.client.post("/api/v1/inspections", json={**body, "plan_id": 10**9}, headers=leader)
    assert other.status_code == missing.status_code == 404
    assert (other.json()["message_en"].replace(str(env.world.plans["B"]), "N")
            == missing.json()["message_en"].replace(str(10**9), "N"))


def test_an_import_cannot_take_over_an_enterprise_of_another_township(env):
    leader, admin = env.world.headers["township_leader"], env.world.headers["admin"]
    uscc = env.world.enterprises["B1"]
    response = env.client.post("/api/v1/enterprises/import", files=_csv([(uscc, "改名企业", *PLACES["A1"])]),
                               headers=leader)
    assert response.status_code == 200 and response.json()["rejected_rows"] == 1
    after = env.client.get(f"/api/v1/enterprises/{uscc}", headers=admin).json()
    assert (after["name"], after["grid_code"]) == ("矩阵企业B1", village("B1"))
    assert env.session.scalar(select(Enterprise.name).where(Enterprise.uscc == uscc)) == "矩阵企业B1"
