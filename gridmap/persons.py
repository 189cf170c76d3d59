"""People and their responsibilities in the grids (网格责任人 and 网格力量).

A person is identified on import by phone number when one is given, otherwise by
enforcement certificate number, otherwise by name within the grid (two people of the
same name in one grid without phone numbers cannot be told apart). A person may hold
roles in several grids: the same phone on several rows is one person. Roles refer to
grid codes, so they survive new boundary sets. Re-importing the same file changes
nothing.

The file is the register: re-importing sets a known person's certificate number and
full-time flag to what the file says — an empty 执法证号 cell clears the certificate,
``0``/否 makes a full-time person part-time — and counts the person as updated. A column
the file does not have leaves that attribute alone. The rows of one person must agree
on both; a row that contradicts an earlier one is rejected. Roles are only ever added
(a role missing from the file is not removed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.boundaries import require_active_set
from gridmap.codes import normalise_code
from gridmap.db import in_array
from gridmap.errors import ImportRejected
from gridmap.files import map_columns, read_table
from gridmap.models import ROLE_NAMES_ZH, ROLES, Grid, Person, RoleAssignment
from gridmap.settings import ImportSettings

COLUMNS = {
    "grid_code": ("网格编码", "网格代码", "code"),
    "name": ("姓名", "名字"),
    "role": ("角色", "职务"),
    "phone": ("电话", "手机", "联系电话", "手机号"),
    "certificate_no": ("执法证号", "执法证", "证件号"),
    "full_time": ("专职", "是否专职"),
}
_ROLE_LOOKUP = {**{r: r for r in ROLES}, **{zh: r for r, zh in ROLE_NAMES_ZH.items()},
                "网格长": "first_responsible", "专职网格员": "grid_manager",
                "网格员": "grid_manager", "巡查员": "patrol_officer"}
_TRUE = {"1", "true", "yes", "y", "是", "专职", "t"}
_FALSE = {"0", "false", "no", "n", "否", "兼职", "f", ""}
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}\d{7,8}")
_CERTIFICATE = re.compile(r"[0-9A-Za-z\u4e00-\u9fff\-]{4,40}")


def _person_key(phone: str | None, certificate: str | None, name: str, code: str) -> tuple:
    """How a row names its person: phone, else certificate and name, else name in the grid."""
    if phone:
        return ("phone", phone)
    return ("cert", certificate, name) if certificate else ("name", name, code)


def parse_role(value: str) -> str | None:
    return _ROLE_LOOKUP.get(value.strip()) or _ROLE_LOOKUP.get(value.strip().lower())


def normalise_phone(value: str) -> str | None:
    """Digits only, ``+86`` dropped; None when it is not a Chinese mobile or landline.

    >>> normalise_phone("+86 138-0000-1234")
    '13800001234'
    >>> normalise_phone("0516-86221234")
    '051686221234'
    >>> normalise_phone("12345") is None
    True
    """
    digits = re.sub(r"[\s\-()（）]", "", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits):
        return digits
    return None


@dataclass
class PersonImportReport:
    rows: int
    persons_added: int = 0
    persons_updated: int = 0
    roles_added: int = 0
    roles_unchanged: int = 0
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def import_persons(session: Session, path: Path, *, settings: ImportSettings | None = None) -> PersonImportReport:
    """Import persons and role assignments from CSV/XLSX (all-or-nothing).

    Columns ``grid_code,name,role,phone,certificate_no,full_time`` or the Chinese
    headers ``网格编码,姓名,角色,电话,执法证号,专职``. Roles may be written as the English
    identifier or the Chinese name (第一责任人, 巡查员 …).
    """
    settings = settings or ImportSettings()
    path = Path(path)
    header, rows = read_table(path, settings)
    cols = map_columns(header, COLUMNS, name=path.name, required=("grid_code", "name", "role"))
    boundary_set = require_active_set(session)
    grid_codes = set(session.scalars(select(Grid.code).where(Grid.set_id == boundary_set.id)))

    def cell(values: list[str], key: str) -> str:
        idx = cols.get(key)
        return values[idx].strip() if idx is not None and idx < len(values) else ""

    report = PersonImportReport(rows=len(rows))
    parsed = []
    phone_names: dict[str, tuple[str, int]] = {}
    # What the first row of each person said: (certificate, full_time, row).
    stated: dict[tuple, tuple[str | None, bool, int]] = {}
    for index, values in enumerate(rows):
        row = index + 2  # 1-based, after the header
        problems: list[tuple[str, str, str]] = []
        code = normalise_code(cell(values, "grid_code"))
        name = cell(values, "name")
        role_text = cell(values, "role")
        role = parse_role(role_text)
        phone_text = cell(values, "phone")
        phone = normalise_phone(phone_text) if phone_text else None
        certificate = cell(values, "certificate_no") or None
        full_text = cell(values, "full_time").lower()
        if code not in grid_codes:
            problems.append(("grid_code", f"网格编码 {code!r} 在生效边界中不存在",
                             f"grid code {code!r} is not in the active boundary set"))
        if not name or len(name) > 100:
            problems.append(("name", "姓名为空或过长", "name is empty or too long"))
        if role is None:
            problems.append(("role", f"未知角色 {role_text!r}", f"unknown role {role_text!r}"))
        if phone_text and phone is None:
            problems.append(("phone", f"电话号码 {phone_text!r} 格式不正确",
                             f"phone number {phone_text!r} is not a valid Chinese number"))
        if certificate and not _CERTIFICATE.fullmatch(certificate):
            problems.append(("certificate_no", f"执法证号 {certificate!r} 格式不正确",
                             f"certificate number {certificate!r} is malformed"))
        if full_text not in _TRUE | _FALSE:
            problems.append(("full_time", f"专职 {full_text!r} 应为 是/否 或 1/0",
                             f"full_time {full_text!r} must be yes/no or 1/0"))
        if phone and name:
            previous = phone_names.setdefault(phone, (name, row))
            if previous[0] != name:
                problems.append(("phone", f"电话 {phone} 已属于第 {previous[1]} 行的 {previous[0]}",
                                 f"phone {phone} already belongs to {previous[0]} (row {previous[1]})"))
        full_time = full_text in _TRUE
        if not problems:
            earlier = stated.setdefault(_person_key(phone, certificate, name, code), (certificate, full_time, row))
            if earlier[:2] != (certificate, full_time):
                column = "certificate_no" if earlier[0] != certificate else "full_time"
                problems.append((column, f"与第 {earlier[2]} 行同一人的执法证号或专职不一致",
                                 f"certificate number or full-time flag differs from row {earlier[2]} (same person)"))
        for column, zh, en in problems:
            report.rejected.append({"row": row, "field": column, "reason_zh": zh, "reason_en": en})
        if not problems:
            parsed.append((row, code, name, role, phone, certificate, full_time))

    if phone_names:
        taken = {
            p.phone: p.name
            for p in session.scalars(select(Person).where(in_array(Person.phone, phone_names)))
        }
        for phone, (name, row) in phone_names.items():
            if phone in taken and taken[phone] != name:
                report.rejected.append({
                    "row": row, "field": "phone",
                    "reason_zh": f"电话 {phone} 已登记为 {taken[phone]}",
                    "reason_en": f"phone {phone} is already registered to {taken[phone]}",
                })
    if report.rejected:
        report.rejected.sort(key=lambda r: r["row"])
        first = report.rejected[0]
        raise ImportRejected(
            f"文件 {path.name} 有 {len(report.rejected)} 处错误，未导入任何数据；第 {first['row']} 行：{first['reason_zh']}",
            f"file {path.name}: {len(report.rejected)} error(s), nothing imported; "
            f"row {first['row']}: {first['reason_en']}",
            detail=report.rejected,
        )

    codes = sorted({p[1] for p in parsed})
    phones = sorted({p[4] for p in parsed if p[4]})
    certificates = sorted({p[5] for p in parsed if p[5] and not p[4]})
    cache: dict[tuple, Person] = {}
    for person in session.scalars(select(Person).where(in_array(Person.phone, phones))):
        cache[("phone", person.phone)] = person
    for person in session.scalars(select(Person).where(in_array(Person.certificate_no, certificates))):
        cache[("cert", person.certificate_no, person.name)] = person
    held: set[tuple[int, str, str]] = set()
    for person, assignment in session.execute(
        select(Person, RoleAssignment).join(RoleAssignment).where(in_array(RoleAssignment.grid_code, codes))
    ):
        held.add((person.id, assignment.grid_code, assignment.role))
        if not person.phone:
            cache[("name", person.name, assignment.grid_code)] = person

    # The columns the file has are the register; the others are left as they are.
    kept = [attr for attr in ("certificate_no", "full_time") if attr in cols]
    updated: set[int] = set()
    new_roles = []
    for _row, code, name, role, phone, certificate, full_time in parsed:
        key = _person_key(phone, certificate, name, code)
        # Without a phone, a person whose certificate changed is still the one of that
        # name in the grid.
        person = cache.get(key) or (None if phone else cache.get(("name", name, code)))
        if person is None:
            person = Person(name=name, phone=phone, certificate_no=certificate,
                            full_time=full_time, district_code=code[:6])
            session.add(person)
            cache[key] = person
            report.persons_added += 1
        else:
            cache[key] = person
            stated_values = {"certificate_no": certificate, "full_time": full_time}
            for attr in kept:
                if getattr(person, attr) != stated_values[attr]:
                    setattr(person, attr, stated_values[attr])
                    updated.add(id(person))
        new_roles.append((person, code, role))
    report.persons_updated = len(updated)
    session.flush()
    for person, code, role in new_roles:
        if (person.id, code, role) in held:
            report.roles_unchanged += 1
            continue
        held.add((person.id, code, role))
        session.add(RoleAssignment(person_id=person.id, grid_code=code, role=role,
                                   district_code=code[:6]))
        report.roles_added += 1
    session.flush()
    return report
