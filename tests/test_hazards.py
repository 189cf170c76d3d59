"""The hazard loop: every legal and illegal transition per role, 两照一表, duplicates,
concurrency, escalation, public tip-offs."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta, timezone
from itertools import product

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gridmap.auth import Scope, create_user
from gridmap.errors import Conflict, Forbidden, IllegalTransition, InvalidFile, InvalidInput, NotFound
from gridmap.hazards import (
    STATE_NAMES_ZH,
    TRANSITIONS,
    add_attachment,
    create_hazard,
    escalate_overdue,
    hazard_detail,
    transition,
)
from gridmap.models import Hazard, HazardEvent
from gridmap.settings import HazardSettings
from tests.factories import make_person, make_toy_district

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 200
PDF = b"%PDF-1.4\n" + b"0" * 200
STATES = tuple(STATE_NAMES_ZH)


@pytest.fixture
def hz_settings(tmp_path) -> HazardSettings:
    return HazardSettings(attachment_dir=str(tmp_path / "attachments"))


@pytest.fixture
def people(session, settings, toy_district):
    def user(name, role, scope=None):
        return create_user(session, name, role=role, scope=scope, password="password-123", settings=settings.auth)

    return {
        "admin": user("cc-admin", "admin"),
        "leader": user("leader-a", "township_leader", "320382102"),
        "staff": user("staff-a1", "grid_staff", "320382102001"),
        "staff2": user("staff-a1b", "grid_staff", "320382102001"),
        "authority": user("city", "authority", "320382"),
        "other_leader": user("leader-b", "township_leader", "320382103"),
    }


def _new(session, hz_settings, actor, grade="general", **values):
    body = {"lon": 117.93, "lat": 34.35, "category": "fire_exit_blocked", "grade": grade,
            "source": "inspection", "description": "安全出口堵塞", **values}
    return create_hazard(session, body, actor=actor, scope=Scope.of(actor), settings=hz_settings)


def _force(session, hazard, status):
    """Put a hazard directly into a state for the transition matrix (bypassing rules)."""
    session.execute(text("UPDATE hazard SET status = :s WHERE id = :i"), {"s": status, "i": hazard.id})
    session.expire(hazard)


def _attach(session, hz_settings, hazard, actor, kind, data=JPEG):
    return add_attachment(session, hazard.id, kind=kind, filename=f"{kind}.jpg", stream=io.BytesIO(data),
                          actor=actor, scope=Scope.of(actor), settings=hz_settings)


def test_create_places_the_hazard_and_sets_the_deadline(session, hz_settings, people):
    hazard = _new(session, hz_settings, people["staff"])
    assert (hazard.status, hazard.grid_code, hazard.township_code) == ("reported", "320382102001", "320382102")
    assert timedelta(days=29) < hazard.deadline - datetime.now(UTC) <= timedelta(days=30)
    major = _new(session, hz_settings, people["admin"], grade="major")
    assert timedelta(days=89) < major.deadline - datetime.now(UTC) <= timedelta(days=90)
    events = session.scalars(select(HazardEvent).where(HazardEvent.hazard_id == hazard.id)).all()
    assert [(e.seq, e.action, e.to_status) for e in events] == [(1, "create", "reported")]


def test_create_refuses_bad_input_and_foreign_places(session, hz_settings, people):
    with pytest.raises(InvalidInput):
        _new(session, hz_settings, people["admin"], category="nonsense")
    with pytest.raises(InvalidInput):
        _new(session, hz_settings, people["admin"], lon=None, lat=None)
    with pytest.raises(Forbidden):
        _new(session, hz_settings, people["staff"], lon=118.07)
    with pytest.raises(Forbidden):
        _new(session, hz_settings, people["authority"])


@pytest.mark.parametrize("current,target", list(product(STATES, STATES)))
def test_transition_matrix(session, hz_settings, people, current, target):
    """Every (from, to) pair for every role: allowed ones succeed, the rest are refused
    with the right error."""
    for role in ("admin", "leader", "staff", "authority"):
        hazard = _new(session, hz_settings, people["admin"])
        _attach(session, hz_settings, hazard, people["admin"], "after_photo")
        _force(session, hazard, current)
        actor = people[role]
        roles = TRANSITIONS.get((current, target))
        kwargs = {"note": "说明"}
        if roles is None:
            with pytest.raises(IllegalTransition):
                transition(session, hazard.id, to=target, actor=actor, scope=Scope.of(actor), **kwargs)
        elif actor.role not in roles:
            with pytest.raises(Forbidden):
                transition(session, hazard.id, to=target, actor=actor, scope=Scope.of(actor), **kwargs)
        else:
            moved = transition(session, hazard.id, to=target, actor=actor, scope=Scope.of(actor), **kwargs)
            assert moved.status == target, (role, current, target)


def test_out_of_scope_is_not_found(session, hz_settings, people):
    hazard = _new(session, hz_settings, people["admin"])
    other = people["other_leader"]
    with pytest.raises(NotFound):
        transition(session, hazard.id, to="filed", actor=other, scope=Scope.of(other))
    with pytest.raises(NotFound):
        hazard_detail(session, hazard.id, Scope.of(other))


def _walk(session, hz_settings, people, hazard, until):
    admin, leader, staff = people["admin"], people["leader"], people["staff"]
    steps = [("filed", leader), ("dispatched", leader), ("rectifying", staff), ("verifying", staff)]
    order = ["reported"] + [state for state, _ in steps]
    for state, actor in steps[order.index(hazard.status):order.index(until)]:
        transition(session, hazard.id, to=state, actor=actor, scope=Scope.of(actor))
    return admin


def test_full_loop_with_two_photos_and_a_sheet(session, hz_settings, people):
    leader, staff = people["leader"], people["staff"]
    hazard = _new(session, hz_settings, staff)
    before = _attach(session, hz_settings, hazard, staff, "before_photo")
    _walk(session, hz_settings, people, hazard, "verifying")
    with pytest.raises(InvalidInput, match="after photo"):
        transition(session, hazard.id, to="closed", actor=leader, scope=Scope.of(leader))
    after = _attach(session, hz_settings, hazard, staff, "after_photo")
    sheet = _attach(session, hz_settings, hazard, staff, "responsibility_sheet", PDF)
    closed = transition(session, hazard.id, to="closed", actor=leader, scope=Scope.of(leader),
                        note="核查合格", attachment_ids=[after.id, sheet.id])
    assert closed.status == "closed" and closed.closed_at is not None
    assert (closed.rectifier_id, closed.verifier_id) == (staff.id, leader.id)
    detail = hazard_detail(session, hazard.id, Scope.of(leader))
    assert [e["to_status"] for e in detail["events"] if e["action"] == "transition"] == \
        ["filed", "dispatched", "rectifying", "verifying", "closed"]
    assert [e["seq"] for e in detail["events"]] == list(range(1, len(detail["events"]) + 1))
    assert {a["kind"] for a in detail["attachments"]} == {"before_photo", "after_photo", "responsibility_sheet"}
    assert detail["events"][-1]["attachment_ids"] == [after.id, sheet.id]
    assert before.sha256 and before.size == len(JPEG)


def test_verifier_must_not_be_the_rectifier(session, hz_settings, people):
    leader = people["leader"]
    hazard = _new(session, hz_settings, leader)
    for state in ("filed", "dispatched", "rectifying", "verifying"):
        transition(session, hazard.id, to=state, actor=leader, scope=Scope.of(leader))
    _attach(session, hz_settings, hazard, leader, "after_photo")
    with pytest.raises(Forbidden, match="verifier"):
        transition(session, hazard.id, to="closed", actor=leader, scope=Scope.of(leader))
    admin = people["admin"]
    assert transition(session, hazard.id, to="closed", actor=admin, scope=Scope.of(admin)).status == "closed"


def test_failed_verification_goes_back_with_a_note(session, hz_settings, people):
    leader = people["leader"]
    hazard = _new(session, hz_settings, leader)
    _walk(session, hz_settings, people, hazard, "verifying")
    with pytest.raises(InvalidInput):
        transition(session, hazard.id, to="rectifying", actor=leader, scope=Scope.of(leader))
    back = transition(session, hazard.id, to="rectifying", actor=leader, scope=Scope.of(leader), note="灭火器仍未更换")
    assert back.status == "rectifying"


def test_major_hazard_needs_official_plan_and_sheet(session, hz_settings, people):
    leader, admin = people["leader"], people["admin"]
    hazard = _new(session, hz_settings, people["staff"], grade="major")
    with pytest.raises(InvalidInput, match="supervising official"):
        transition(session, hazard.id, to="filed", actor=leader, scope=Scope.of(leader))
    transition(session, hazard.id, to="filed", actor=leader, scope=Scope.of(leader),
               supervising_official="王副镇长", rectification_plan="三十日内完成改造")
    _walk(session, hz_settings, people, session.get(Hazard, hazard.id), "verifying")
    _attach(session, hz_settings, hazard, people["staff"], "after_photo")
    with pytest.raises(InvalidInput, match="responsibility sheet"):
        transition(session, hazard.id, to="closed", actor=admin, scope=Scope.of(admin))
    _attach(session, hz_settings, hazard, people["staff"], "responsibility_sheet", PDF)
    assert transition(session, hazard.id, to="closed", actor=admin, scope=Scope.of(admin)).status == "closed"


def test_duplicate_is_linked_both_ways(session, hz_settings, people):
    leader = people["leader"]
    original = _new(session, hz_settings, leader)
    copy = _new(session, hz_settings, leader)
    transition(session, copy.id, to="rejected", actor=leader, scope=Scope.of(leader), duplicate_of=original.id)
    assert hazard_detail(session, copy.id, Scope.of(leader))["duplicate_of"] == original.id
    detail = hazard_detail(session, original.id, Scope.of(leader))
    assert detail["duplicates"] == [copy.id]
    assert detail["events"][-1]["action"] == "duplicate_linked" and detail["events"][-1]["data"] == {"duplicate": copy.id}
    with pytest.raises(InvalidInput):
        transition(session, _new(session, hz_settings, leader).id, to="rejected", actor=leader, scope=Scope.of(leader))


def test_attachments_are_checked(session, hz_settings, people):
    staff = people["staff"]
    hazard = _new(session, hz_settings, staff)
    with pytest.raises(InvalidFile):
        _attach(session, hz_settings, hazard, staff, "before_photo", b"MZ\x90\x00 not an image")
    small = HazardSettings(attachment_dir=hz_settings.attachment_dir, attachment_max_bytes=100)
    from gridmap.errors import TooLarge

    with pytest.raises(TooLarge):
        add_attachment(session, hazard.id, kind="before_photo", filename="a.jpg", stream=io.BytesIO(JPEG),
                       actor=staff, scope=Scope.of(staff), settings=small)
    with pytest.raises(InvalidInput):
        _attach(session, hz_settings, hazard, staff, "selfie")
    other = _new(session, hz_settings, staff)
    foreign = _attach(session, hz_settings, other, staff, "before_photo")
    leader = people["leader"]
    with pytest.raises(InvalidInput):
        transition(session, hazard.id, to="filed", actor=leader, scope=Scope.of(leader), attachment_ids=[foreign.id])


def test_event_log_is_append_only(session, hz_settings, people):
    hazard = _new(session, hz_settings, people["admin"])
    with pytest.raises(DBAPIError):
        with session.begin_nested():
            session.execute(text("UPDATE hazard_event SET note = 'rewritten' WHERE hazard_id = :i"), {"i": hazard.id})
    with pytest.raises(DBAPIError):
        with session.begin_nested():
            session.execute(text("DELETE FROM hazard_event WHERE hazard_id = :i"), {"i": hazard.id})


def test_escalation_village_to_township_to_district(session, hz_settings, people):
    make_person(session, grid_code="320382102", role="first_responsible", name="镇长甲", phone="13900000001")
    make_person(session, grid_code="320382", role="first_responsible", name="区长乙", phone="13900000002")
    hazard = _new(session, hz_settings, people["admin"], deadline=datetime.now(UTC) - timedelta(days=3))
    fresh = _new(session, hz_settings, people["admin"])
    now = datetime.now(UTC)
    first = escalate_overdue(session, settings=hz_settings, now=now)
    assert [(e["hazard_id"], e["level"], e["target_code"]) for e in first] == [(hazard.id, 1, "320382102")]
    assert first[0]["responsible"][0]["name"] == "镇长甲"
    assert escalate_overdue(session, settings=hz_settings, now=now + timedelta(days=1)) == [], "not twice a week"
    second = escalate_overdue(session, settings=hz_settings, now=now + timedelta(days=8))
    assert [(e["level"], e["target_code"], e["responsible"][0]["name"]) for e in second] == [(2, "320382", "区长乙")]
    assert escalate_overdue(session, settings=hz_settings, now=now + timedelta(days=20)) == [], "district is the top"
    events = hazard_detail(session, hazard.id, Scope.everything())["events"]
    assert [e["action"] for e in events].count("escalate") == 2
    assert session.get(Hazard, fresh.id).escalation_level == 0


def test_two_concurrent_transitions_exactly_one_wins(fresh_database, tmp_path):
    """Two sessions (two connections) file the same hazard at once: one wins, one gets 409."""
    from sqlalchemy import create_engine

    engine = create_engine(fresh_database, pool_size=4)
    hz = HazardSettings(attachment_dir=str(tmp_path))
    with Session(engine) as session:
        make_toy_district(session)
        leader = create_user(session, "leader", role="township_leader", scope="320382102", password="password-123")
        admin = create_user(session, "admin", role="admin", password="password-123")
        hazard = _new(session, hz, admin)
        session.commit()
        hazard_id, leader_id, admin_id = hazard.id, leader.id, admin.id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(user_id, target):
        with Session(engine) as session:
            from gridmap.models import User

            user = session.get(User, user_id)
            barrier.wait()
            try:
                transition(session, hazard_id, to=target, actor=user, scope=Scope.of(user), note="并发")
                session.commit()
                outcomes.append(f"ok:{target}")
            except (Conflict, IllegalTransition) as exc:
                session.rollback()
                outcomes.append(f"409:{exc.status_code}")

    threads = [threading.Thread(target=act, args=(leader_id, "filed")),
               threading.Thread(target=act, args=(admin_id, "filed"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(o.split(":")[0] for o in outcomes) == ["409", "ok"], outcomes
    with Session(engine) as session:
        hazard = session.get(Hazard, hazard_id)
        events = session.scalars(select(HazardEvent).where(HazardEvent.hazard_id == hazard_id)
                                 .order_by(HazardEvent.seq)).all()
        winner = next(o for o in outcomes if o.startswith("ok")).split(":")[1]
        assert hazard.status == winner
        assert [e.to_status for e in events] == ["reported", winner], "the event log matches the state"
    engine.dispose()


# ------------------------------------------------------------- fields a step may change

def _events(session, hazard_id):
    return session.scalars(select(HazardEvent).where(HazardEvent.hazard_id == hazard_id).order_by(HazardEvent.seq)).all()


def test_grid_staff_cannot_move_a_deadline(session, hz_settings, people):
    """The audit's case: an overdue hazard un-overdued by grid staff setting a 2035 deadline."""
    staff, leader = people["staff"], people["leader"]
    hazard = _new(session, hz_settings, people["admin"], deadline=datetime.now(UTC) - timedelta(days=2))
    _walk(session, hz_settings, people, hazard, "rectifying")
    before = len(_events(session, hazard.id))
    with pytest.raises(Forbidden, match="may not change the deadline"):
        transition(session, hazard.id, to="verifying", actor=staff, scope=Scope.of(staff),
                   deadline=datetime(2035, 1, 1))
    with pytest.raises(InvalidInput, match="can only be changed when filing, dispatching"):
        transition(session, hazard.id, to="verifying", actor=leader, scope=Scope.of(leader),
                   deadline=datetime(2035, 1, 1))
    hazard = session.get(Hazard, hazard.id)
    assert hazard.status == "rectifying" and hazard.deadline < datetime.now(UTC), "still overdue"
    assert len(_events(session, hazard.id)) == before, "a refused transition leaves no event"


def test_official_and_plan_only_when_filing(session, hz_settings, people):
    leader = people["leader"]
    hazard = _new(session, hz_settings, leader)
    transition(session, hazard.id, to="filed", actor=leader, scope=Scope.of(leader))
    for field in ("supervising_official", "rectification_plan", "grade", "category"):
        value = {"grade": "major", "category": "fire_other"}.get(field, "王副镇长")
        with pytest.raises(InvalidInput, match="only be changed when filing"):
            transition(session, hazard.id, to="dispatched", actor=leader, scope=Scope.of(leader), **{field: value})
    assert session.get(Hazard, hazard.id).status == "filed"


def test_every_field_change_is_recorded_old_and_new(session, hz_settings, people):
    leader, staff = people["leader"], people["staff"]
    hazard = _new(session, hz_settings, staff)
    old_deadline = hazard.deadline
    new_deadline = datetime(2031, 6, 1, 17, 0)  # naive: China Standard Time
    transition(session, hazard.id, to="filed", actor=leader, scope=Scope.of(leader), category="通道堵塞",
               supervising_official="王副镇长", deadline=new_deadline)
    changes = _events(session, hazard.id)[-1].data["changes"]
    assert changes["deadline"] == {"old": old_deadline.astimezone(UTC).isoformat(), "new": "2031-06-01T09:00:00+00:00"}
    assert changes["supervising_official"] == {"old": None, "new": "王副镇长"}
    assert set(changes) == {"deadline", "supervising_official"}, "通道堵塞 is the category it had: no change"
    # A failed verification may set the second round's deadline (it always has a note).
    _walk(session, hz_settings, people, session.get(Hazard, hazard.id), "verifying")
    back = transition(session, hazard.id, to="rectifying", actor=leader, scope=Scope.of(leader),
                      note="仍未整改", deadline=datetime(2031, 7, 1))
    assert back.deadline == datetime(2031, 7, 1, tzinfo=timezone(timedelta(hours=8)))
    assert _events(session, hazard.id)[-1].data["changes"]["deadline"]["old"] == "2031-06-01T09:00:00+00:00"
    with pytest.raises(InvalidInput, match="before the hazard was reported"):
        transition(session, _new(session, hz_settings, staff).id, to="filed", actor=leader,
                   scope=Scope.of(leader), deadline=datetime(2001, 1, 1))


def test_regrading_at_filing_recomputes_the_default_deadline(session, hz_settings, people):
    leader = people["leader"]
    hazard = _new(session, hz_settings, people["staff"])
    assert hazard.deadline - hazard.created_at < timedelta(days=31)
    filed = transition(session, hazard.id, to="filed", actor=leader, scope=Scope.of(leader), grade="major",
                       supervising_official="王副镇长", rectification_plan="九十日内整改", settings=hz_settings)
    assert abs(filed.deadline - (filed.created_at + timedelta(days=90))) < timedelta(seconds=5)
    change = _events(session, hazard.id)[-1].data["changes"]
    assert change["grade"] == {"old": "general", "new": "major"} and change["deadline"]["default"] is True
    # An explicit deadline wins over the default.
    other = _new(session, hz_settings, people["staff"])
    filed = transition(session, other.id, to="filed", actor=leader, scope=Scope.of(leader), grade="major",
                       supervising_official="王副镇长", rectification_plan="方案", deadline=datetime(2031, 1, 1))
    assert filed.deadline == datetime(2031, 1, 1, tzinfo=timezone(timedelta(hours=8)))
    assert "default" not in _events(session, other.id)[-1].data["changes"]["deadline"]


def test_only_leaders_give_a_deadline_when_reporting(session, hz_settings, people):
    with pytest.raises(Forbidden, match="may set a deadline"):
        _new(session, hz_settings, people["staff"], deadline=datetime(2035, 1, 1))
    hazard = _new(session, hz_settings, people["leader"], deadline=datetime(2031, 1, 1))
    assert _events(session, hazard.id)[0].data["deadline"] == "2030-12-31T16:00:00+00:00"


# ------------------------------------------------------------------------- duplicates

def test_duplicates_cannot_form_a_cycle_or_point_at_a_rejected_hazard(session, hz_settings, people):
    leader = people["leader"]
    first, second, third = (_new(session, hz_settings, leader) for _ in range(3))
    transition(session, second.id, to="rejected", actor=leader, scope=Scope.of(leader), duplicate_of=first.id)
    with pytest.raises(InvalidInput, match="is itself rejected"):
        transition(session, first.id, to="rejected", actor=leader, scope=Scope.of(leader), duplicate_of=second.id)
    with pytest.raises(InvalidInput, match="is itself rejected"):
        transition(session, third.id, to="rejected", actor=leader, scope=Scope.of(leader), duplicate_of=second.id)
    assert (session.get(Hazard, first.id).status, session.get(Hazard, third.id).status) == ("reported", "reported")
    linked = transition(session, third.id, to="rejected", actor=leader, scope=Scope.of(leader), duplicate_of=first.id)
    assert linked.duplicate_of_id == first.id
    assert hazard_detail(session, first.id, Scope.of(leader))["duplicates"] == [second.id, third.id]


# ------------------------------------------------------------------ verifier ≠ rectifier

def test_no_rectifier_of_any_round_may_close(session, hz_settings, people, settings):
    """Round 1 is rectified and submitted by leader A; round 2 is submitted by leader A2.
    A must still not close it, though A2 was the last submitter."""
    admin, leader = people["admin"], people["leader"]
    leader2 = create_user(session, "leader-a2", role="township_leader", scope="320382102", password="password-123",
                          settings=settings.auth)
    hazard = _new(session, hz_settings, leader)
    for state in ("filed", "dispatched", "rectifying", "verifying"):
        transition(session, hazard.id, to=state, actor=leader, scope=Scope.of(leader))
    transition(session, hazard.id, to="rectifying", actor=admin, scope=Scope.of(admin), note="仍有积尘")
    transition(session, hazard.id, to="verifying", actor=leader2, scope=Scope.of(leader2))
    _attach(session, hz_settings, hazard, leader2, "after_photo")
    for rectifier in (leader, leader2):
        with pytest.raises(Forbidden, match="rectifier of any round"):
            transition(session, hazard.id, to="closed", actor=rectifier, scope=Scope.of(rectifier))
    # The admin only sent it back after a failed check: not a rectifier.
    assert transition(session, hazard.id, to="closed", actor=admin, scope=Scope.of(admin)).verifier_id == admin.id


# ---------------------------------------------------------------------- concurrency

def test_a_version_the_caller_saw_must_still_be_current(session, hz_settings, people):
    leader = people["leader"]
    hazard = _new(session, hz_settings, leader)
    _attach(session, hz_settings, hazard, people["staff"], "before_photo")  # version 1 → 2
    with pytest.raises(Conflict, match="you saw 1"):
        transition(session, hazard.id, to="filed", actor=leader, scope=Scope.of(leader), version=1)
    assert transition(session, hazard.id, to="filed", actor=leader, scope=Scope.of(leader), version=2).version == 3


# ------------------------------------------------------------------------ taxonomy

def test_a_deployment_taxonomy_is_the_one_checked(session, hz_settings, people, tmp_path):
    from gridmap.taxonomy import load_hazard_categories

    path = tmp_path / "hazard-categories.json"
    path.write_text('[{"id": "mine_gas", "zh": "瓦斯超限", "en": "Gas over limit", "group": "other"}]',
                    encoding="utf-8")
    custom = load_hazard_categories(path)
    body = {"lon": 117.93, "lat": 34.35, "description": "瓦斯浓度超限", "category": "瓦斯超限"}
    admin = people["admin"]
    hazard = create_hazard(session, body, actor=admin, scope=Scope.of(admin), settings=hz_settings,
                           categories=custom)
    assert hazard.category == "mine_gas"
    with pytest.raises(InvalidInput, match="unknown hazard category"):
        create_hazard(session, {**body, "category": "fire_other"}, actor=admin, scope=Scope.of(admin),
                      settings=hz_settings, categories=custom)
    # What a tip-off arrives as is always there, whatever the file lists.
    tip = create_hazard(session, {**body, "category": "unclassified"}, actor=admin, scope=Scope.of(admin),
                        settings=hz_settings, categories=custom)
    assert tip.category == "unclassified"


def test_crossed_duplicates_never_both_commit(fresh_database, tmp_path):
    """A marked a duplicate of B while B is marked a duplicate of A, at once: one of the
    two is refused (409 deadlock/changed, or 422 "itself rejected"), never a cycle."""
    from sqlalchemy import create_engine

    from gridmap.errors import GridmapError
    from gridmap.models import User

    engine = create_engine(fresh_database, pool_size=4)
    hz = HazardSettings(attachment_dir=str(tmp_path))
    with Session(engine) as session:
        make_toy_district(session)
        admin = create_user(session, "admin", role="admin", password="password-123")
        pairs = [(_new(session, hz, admin).id, _new(session, hz, admin).id) for _ in range(3)]
        session.commit()
        admin_id = admin.id
    for first, second in pairs:
        barrier = threading.Barrier(2)
        outcomes: list[int] = []

        def act(own, other, barrier=barrier, outcomes=outcomes):
            with Session(engine) as session:
                user = session.get(User, admin_id)
                barrier.wait()
                try:
                    transition(session, own, to="rejected", actor=user, scope=Scope.of(user), duplicate_of=other)
                    session.commit()
                    outcomes.append(200)
                except GridmapError as exc:
                    session.rollback()
                    outcomes.append(exc.status_code)

        threads = [threading.Thread(target=act, args=(first, second)),
                   threading.Thread(target=act, args=(second, first))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert len(outcomes) == 2 and outcomes.count(200) == 1 and max(outcomes) in (409, 422), outcomes
        with Session(engine) as session:
            statuses = sorted(session.get(Hazard, i).status for i in (first, second))
            assert statuses == ["rejected", "reported"]
    engine.dispose()
