"""The CLI end to end: readable summaries, --json, one-line errors, exit codes."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from shapely.geometry import box
from sqlalchemy import func, select

from gridmap.models import BoundarySet, Grid, User
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


# --------------------------------------------------------------- bad files, end to end

def _bad_files(tmp_path) -> dict[str, tuple]:
    """Each bad file kind → (path, level, the English words the one line must hold)."""
    from tests.factories import TOWNSHIPS
    from tests.vector_files import zip_shapefile

    shp = write_layer(tmp_path / "t.shp", [{"code": c, "name": n, "geometry": g} for c, (n, g) in TOWNSHIPS.items()],
                      crs="EPSG:4490")
    full = zip_shapefile(shp, tmp_path / "full.zip").read_bytes()
    (tmp_path / "truncated.zip").write_bytes(full[: len(full) // 2])
    text = tmp_path / "notes.geojson"
    text.write_text("这不是地图 just some notes\n", encoding="utf-8")
    return {
        "truncated_zip": (tmp_path / "truncated.zip", "township", "truncated or corrupt"),
        "zip_without_shx": (zip_shapefile(shp, tmp_path / "noshx.zip", skip=(".shx",)), "township", ".shx"),
        "zip_without_dbf": (zip_shapefile(shp, tmp_path / "nodbf.zip", skip=(".dbf",)), "township", ".dbf"),
        "text_named_geojson": (text, "district", "is not GeoJSON"),
        "outside_china": (write_layer(tmp_path / "paris.geojson", [{"code": "320382", "name": "巴黎",
                                                                    "geometry": box(2.3, 48.8, 2.4, 48.9)}]),
                          "district", "outside China"),
    }


_NOT_FOR_USERS = ("Traceback", "SELECT", "INSERT", "psycopg", "sqlalchemy", "GDAL", "OGR", "pyogrio",
                  "Warning", "ERROR 1")


@pytest.mark.parametrize("kind", ["truncated_zip", "zip_without_shx", "zip_without_dbf",
                                  "text_named_geojson", "outside_china"])
def test_console_command_refuses_bad_files_in_one_line(database_url, tmp_path, kind):
    path, level, words = _bad_files(tmp_path)[kind]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DATABASE_URL": database_url,
           "GRIDMAP_LOG": str(tmp_path / "gridmap.log")}
    result = subprocess.run([str(Path(sys.executable).with_name("gridmap")), "import", "boundaries", str(path),
                             "--level", level], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("错误 / error: ") and re.search(r"[\u4e00-\u9fff]", lines[0].split("error: ", 1)[1])
    assert words in lines[0]
    assert not any(token in result.stderr for token in _NOT_FOR_USERS), result.stderr


def test_bad_files_through_the_cli_write_nothing(cli, session, tmp_path):
    cli("import", "boundaries", str(_district_file(tmp_path)), "--level", "district", "--activate")
    before = (session.scalar(select(func.count()).select_from(Grid)),
              session.scalar(select(func.count()).select_from(BoundarySet)))
    for path, level, words in _bad_files(tmp_path).values():
        code, out, err = cli("import", "boundaries", str(path), "--level", level)
        assert (code, out) == (1, "") and words in err and len(err.strip().splitlines()) == 1, err
    after = (session.scalar(select(func.count()).select_from(Grid)),
             session.scalar(select(func.count()).select_from(BoundarySet)))
    assert after == before


# --------------------------------------------------------------------------- serve

def test_serve_on_a_busy_port_is_a_one_line_error(cli):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = cli("serve", "--host", "127.0.0.1", "--port", str(port))
    assert code == 1 and out == ""
    assert err.strip() == (f"错误 / error: 端口 {port} 已被占用（127.0.0.1:{port}），请换一个端口（--port） / "
                           f"port {port} is already in use on 127.0.0.1; choose another with --port")


def test_serve_on_a_foreign_address_or_bad_port(cli):
    code, _, err = cli("serve", "--host", "203.0.113.7", "--port", "18201")  # TEST-NET-3: never ours
    assert code == 1 and "is not an address of this machine" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("serve", "--port", "70000")
    assert code == 1 and "port 70000 is outside 1-65535" in err


# ---------------------------------------------------------------- boundaries list

def test_boundaries_list_shows_name_and_status_apart(cli, tmp_path):
    cli("import", "boundaries", str(_district_file(tmp_path)), "--level", "district")
    code, out, _ = cli("boundaries", "list")
    assert code == 0
    assert "[待定 pending]" in out and "名称 / name: " in out and " d.geojson (district)" in out
    cli("import", "boundaries", str(_district_file(tmp_path)), "--level", "district", "--set-name", "区划调整",
        "--activate")
    code, out, _ = cli("boundaries", "list")
    assert "[生效 active]" in out and "名称 / name: 区划调整 " in out
