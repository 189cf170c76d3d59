"""The CLI end to end: readable summaries, --json, one-line errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from shapely.geometry import box
from sqlalchemy import select

from gridmap.models import BoundarySet, User
from tests.vector_files import write_layer


def _district_file(tmp_path):
    return write_layer(tmp_path / "d.geojson", [{"code": "320382", "name": "邳州市",
                                                  "geometry": box(117.9, 34.3, 118.1, 34.4)}])


def test_import_activate_list(cli, session, tmp_path):
    code, out, err = cli("import", "boundaries", str(_district_file(tmp_path)), "--level", "district")
    assert code == 0, err
    assert "imported 1 district grids into boundary set" in out and "gridmap boundaries activate" in out
    set_id = session.scalar(select(BoundarySet.id).where(BoundarySet.status == "pending"))
    code, out, _ = cli("boundaries", "activate", str(set_id))
    assert code == 0 and "dry run" in out and "1 added" in out
    assert session.get(BoundarySet, set_id).status == "pending"
    code, out, _ = cli("boundaries", "activate", str(set_id), "--commit", "--json")
    assert code == 0 and json.loads(out)["committed"] is True
    code, out, _ = cli("boundaries", "list", "--json")
    assert [s["status"] for s in json.loads(out)] == ["active"]


def test_rejected_import_lists_every_row(cli, tmp_path):
    path = write_layer(tmp_path / "bad.geojson", [
        {"code": "1", "name": "a", "geometry": box(117.9, 34.3, 118.0, 34.4)},
        {"code": "320382", "name": "b", "geometry": None},
    ])
    code, out, err = cli("import", "boundaries", str(path), "--level", "district")
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith("错误 / error:") and "2 row(s) rejected" in lines[0]
    assert any("row 1" in line for line in lines) and any("row 2" in line for line in lines)
    assert "Traceback" not in err


def test_bad_options_are_usage_errors(cli, tmp_path):
    code, _, err = cli("import", "boundaries", str(_district_file(tmp_path)), "--level", "county")
    assert code == 1 and "unknown level county" in err
    code, _, err = cli("import", "boundaries", str(_district_file(tmp_path)), "--level", "district", "--crs", "utm")
    assert code == 1 and "unknown_crs" not in err and "error:" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("nonsense")
    assert code == 2 and "usage error" in err


def test_users_add(cli, session, tmp_path):
    cli("import", "boundaries", str(_district_file(tmp_path)), "--level", "district", "--activate")
    code, out, err = cli("users", "add", "chief", "--role", "admin", "--password-stdin", stdin="long-password\n")
    assert code == 0, err
    user = session.scalar(select(User).where(User.username == "chief"))
    assert user.role == "admin" and user.password_hash.startswith("scrypt$")
    code, _, err = cli("users", "add", "chief", "--role", "admin", "--password-stdin", stdin="long-password\n")
    assert code == 1 and "already exists" in err
    code, _, err = cli("users", "add", "lead", "--role", "township_leader", "--password-stdin", stdin="long-password\n")
    assert code == 1 and "needs a scope" in err
    code, _, err = cli("users", "add", "auth", "--role", "authority", "--scope", "320382",
                       "--password-stdin", stdin="short\n")
    assert code == 1 and "at least" in err
    code, _, err = cli("users", "add", "lead", "--role", "township_leader", "--scope", "320382999",
                       "--password-stdin", stdin="long-password\n")
    assert code == 1 and "not in the active boundary set" in err


def test_console_script_without_database_says_how_to_get_one(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}
    result = subprocess.run([sys.executable, "-m", "gridmap", "boundaries", "list"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert "cannot reach the database" in result.stderr and "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
