"""Persons import: columns in English or Chinese, roles, identity, all-or-nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gridmap.errors import ImportRejected, InvalidFile, NotFound
from gridmap.models import Person, RoleAssignment
from gridmap.persons import import_persons


def _csv(tmp_path, text: str, name: str = "persons.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_import_english_headers_and_multi_grid_person(session, toy_district, tmp_path):
    path = _csv(tmp_path, "grid_code,name,role,phone,certificate_no,full_time\n"
                          "320382102,王强,lead_official,13800000001,,1\n"
                          "320382102001,王强,lead_official,13800000001,,1\n"
                          "320382102001,李娜,first_responsible,13800000002,,0\n"
                          "320382102001,赵敏,patrol_officer,13800000003,,0\n"
                          "320382102,孙丽,safety_officer,13800000004,苏3203820001,1\n")
    report = import_persons(session, path)
    assert (report.persons_added, report.roles_added) == (4, 5)
    wang = session.scalar(select(Person).where(Person.phone == "13800000001"))
    codes = sorted(session.scalars(select(RoleAssignment.grid_code).where(RoleAssignment.person_id == wang.id)))
    assert codes == ["320382102", "320382102001"]
    sun = session.scalar(select(Person).where(Person.name == "孙丽"))
    assert sun.certificate_no == "苏3203820001" and sun.full_time is True


def test_chinese_headers_role_names_and_gbk(session, toy_district, tmp_path):
    path = _csv(tmp_path, "网格编码,姓名,角色,电话,执法证号,专职\n"
                          "320382103001,陈杰,第一责任人,0516-86220001,,是\n"
                          "320382103001,周平,巡查员,,,否\n", encoding="gbk")
    report = import_persons(session, path)
    assert report.roles_added == 2
    roles = dict(session.execute(select(Person.name, RoleAssignment.role).join(RoleAssignment)).all())
    assert roles == {"陈杰": "first_responsible", "周平": "patrol_officer"}
    assert session.scalar(select(Person.phone).where(Person.name == "陈杰")) == "051686220001"


def test_reimport_changes_nothing(session, toy_district, tmp_path):
    path = _csv(tmp_path, "grid_code,name,role,phone,certificate_no,full_time\n"
                          "320382102001,李娜,first_responsible,13800000002,,0\n"
                          "320382102001,周平,patrol_officer,,,0\n")
    import_persons(session, path)
    persons, roles = _count(session, Person), _count(session, RoleAssignment)
    again = import_persons(session, path)
    assert (again.persons_added, again.roles_added, again.roles_unchanged) == (0, 0, 2)
    assert (_count(session, Person), _count(session, RoleAssignment)) == (persons, roles)


def test_bad_rows_all_listed_nothing_written(session, toy_district, tmp_path):
    path = _csv(tmp_path, "grid_code,name,role,phone,certificate_no,full_time\n"
                          "320382102001,李娜,first_responsible,13800000002,,0\n"
                          "999999999999,王五,patrol_officer,13800000005,,0\n"
                          "320382102001,赵六,boss,13800000006,,0\n"
                          "320382102001,钱七,patrol_officer,12345,,0\n"
                          "320382102001,孙八,patrol_officer,13800000002,,0\n"
                          "320382102001,吴九,patrol_officer,,,maybe\n")
    with pytest.raises(ImportRejected) as caught:
        import_persons(session, path)
    by_row = {r["row"]: r["field"] for r in caught.value.detail}
    assert by_row == {3: "grid_code", 4: "role", 5: "phone", 6: "phone", 7: "full_time"}
    assert _count(session, Person) == 0


def test_missing_columns_and_no_active_set(session, tmp_path):
    with pytest.raises(InvalidFile) as caught:
        import_persons(session, _csv(tmp_path, "name,phone\n张三,13800000001\n"))
    assert "grid_code" in caught.value.en
    with pytest.raises(NotFound):
        import_persons(session, _csv(tmp_path, "grid_code,name,role\n320382,张三,lead_official\n"))


def test_xlsx(session, toy_district, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["网格编码", "姓名", "角色", "电话", "执法证号", "专职"])
    sheet.append([320382102002, "郑华", "网格管理员", 13800000009, None, 1])
    path = tmp_path / "p.xlsx"
    book.save(path)
    report = import_persons(session, path)
    assert report.roles_added == 1
    assert session.scalar(select(RoleAssignment.grid_code)) == "320382102002"


def test_reimport_sets_what_the_file_says(session, toy_district, tmp_path):
    """The file is the register: full-time → part-time, certificates replaced or cleared."""
    header = "grid_code,name,role,phone,certificate_no,full_time\n"
    import_persons(session, _csv(tmp_path, header +
                                 "320382102,孙丽,safety_officer,13800000004,苏3203820001,1\n"
                                 "320382103,孙丽,safety_officer,13800000004,苏3203820001,1\n"
                                 "320382102001,周平,patrol_officer,,苏3203820002,1\n"
                                 "320382102002,赵敏,patrol_officer,13800000003,,0\n"))
    again = import_persons(session, _csv(tmp_path, header +
                                         "320382102,孙丽,safety_officer,13800000004,,0\n"
                                         "320382103,孙丽,safety_officer,13800000004,,0\n"
                                         "320382102001,周平,patrol_officer,,苏3203820099,1\n"
                                         "320382102002,赵敏,patrol_officer,13800000003,苏3203820003,0\n",
                                         name="changed.csv"))
    assert (again.persons_added, again.persons_updated, again.roles_added) == (0, 3, 0)
    people = {p.name: (p.certificate_no, p.full_time) for p in session.scalars(select(Person))}
    assert people == {"孙丽": (None, False), "周平": ("苏3203820099", True), "赵敏": ("苏3203820003", False)}


def test_a_column_the_file_lacks_is_left_alone(session, toy_district, tmp_path):
    import_persons(session, _csv(tmp_path, "grid_code,name,role,phone,certificate_no,full_time\n"
                                           "320382102,孙丽,safety_officer,13800000004,苏3203820001,1\n"))
    report = import_persons(session, _csv(tmp_path, "grid_code,name,role,phone\n"
                                                    "320382102001,孙丽,lead_official,13800000004\n", name="roles.csv"))
    assert (report.persons_updated, report.roles_added) == (0, 1)
    sun = session.scalar(select(Person).where(Person.name == "孙丽"))
    assert (sun.certificate_no, sun.full_time) == ("苏3203820001", True)


def test_rows_of_one_person_must_agree(session, toy_district, tmp_path):
    path = _csv(tmp_path, "grid_code,name,role,phone,certificate_no,full_time\n"
                          "320382102,孙丽,safety_officer,13800000004,苏3203820001,1\n"
                          "320382103,孙丽,safety_officer,13800000004,苏3203820001,0\n")
    with pytest.raises(ImportRejected) as caught:
        import_persons(session, path)
    [problem] = caught.value.detail
    assert problem["row"] == 3 and problem["field"] == "full_time" and "row 2" in problem["reason_en"]
    assert _count(session, Person) == 0
