"""Small named builders for test data (loaded as a pytest plugin by conftest)."""

from __future__ import annotations

import pytest
from shapely.geometry import box

from gridmap.auth import create_user, issue_token
from gridmap.boundaries import add_grid, refresh_leaves
from gridmap.models import BoundarySet, Person, RoleAssignment

# A toy district near Pizhou: 0.2° × 0.1° split into two townships, each into two villages.
DISTRICT = "320382"
TOWNSHIP_A, TOWNSHIP_B = "320382102", "320382103"
VILLAGES = {
    "320382102001": ("甲村", box(117.90, 34.30, 117.95, 34.40)),
    "320382102002": ("乙社区", box(117.95, 34.30, 118.00, 34.40)),
    "320382103001": ("丙村", box(118.00, 34.30, 118.05, 34.40)),
    "320382103002": ("丁村", box(118.05, 34.30, 118.10, 34.40)),
}
TOWNSHIPS = {
    TOWNSHIP_A: ("邳城镇", box(117.90, 34.30, 118.00, 34.40)),
    TOWNSHIP_B: ("官湖镇", box(118.00, 34.30, 118.10, 34.40)),
}


def make_set(session, *, status: str = "active", name: str = "test") -> BoundarySet:
    boundary_set = BoundarySet(name=name, status=status, imports=[])
    session.add(boundary_set)
    session.flush()
    return boundary_set


def make_toy_district(session, *, status: str = "active") -> BoundarySet:
    """District 320382 → 2 townships → 4 villages, as exact boxes."""
    boundary_set = make_set(session, status=status)
    add_grid(session, set_id=boundary_set.id, code=DISTRICT, name="邳州市", level="district",
             geom=box(117.90, 34.30, 118.10, 34.40), population=40000)
    for code, (name, geom) in TOWNSHIPS.items():
        add_grid(session, set_id=boundary_set.id, code=code, name=name, level="township",
                 geom=geom, population=20000)
    for code, (name, geom) in VILLAGES.items():
        add_grid(session, set_id=boundary_set.id, code=code, name=name, level="village",
                 geom=geom, population=10000)
    refresh_leaves(session, boundary_set.id)
    return boundary_set


def make_person(session, *, grid_code: str, role: str, name: str = "张伟",
                phone: str | None = None, certificate_no: str | None = None,
                full_time: bool = True) -> Person:
    person = Person(name=name, phone=phone, certificate_no=certificate_no, full_time=full_time,
                    district_code=grid_code[:6])
    session.add(person)
    session.flush()
    session.add(RoleAssignment(person_id=person.id, grid_code=grid_code, role=role,
                               district_code=grid_code[:6]))
    session.flush()
    return person


@pytest.fixture
def toy_district(session):
    return make_toy_district(session)


@pytest.fixture
def login(session, settings):
    """``login(role, scope)`` → Authorization headers for a new user of that role."""
    counter = iter(range(10_000))

    def _login(role: str = "admin", scope: str | None = None) -> dict[str, str]:
        user = create_user(session, f"{role}{next(counter)}", role=role, password="password-123",
                           scope=scope, settings=settings.auth)
        token = issue_token(user, secret=settings.auth.secret_key, settings=settings.auth)
        return {"Authorization": f"Bearer {token}"}

    return _login


@pytest.fixture
def cli(session, settings, capsys):
    """``cli(*args, stdin=None)`` → (exit status, stdout, stderr) of the real CLI, run on the
    test's rolled-back session."""
    import io
    import sys
    from contextlib import contextmanager

    from gridmap.cli import CliContext, invoke

    @contextmanager
    def shared_session():
        yield session
        session.flush()

    context = CliContext(settings=settings, session_factory=shared_session)

    def run(*args: str, stdin: str | None = None):
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        try:
            code = invoke(list(args), obj=context)
        finally:
            sys.stdin = sys.__stdin__
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
