"""Grid codes: GB/T 2260 division codes and the platform's extensions.

=============  ==========================================  =====================
level          code                                        example
=============  ==========================================  =====================
``district``   6 digits (区/县/县级市, GB/T 2260)            ``320382`` 邳州市
``township``   district + 3 digits (街道/镇/乡/开发区/农场)   ``320382102`` 邳城镇
``direct``     district + ``Z`` + 2-3 digits (区级直辖网格)   ``320382Z01``
``village``    township + 3 digits (社区/村)                  ``320382102001``
``micro``      village + 2 or 3 digits (微网格)              ``32038210200101``
=============  ==========================================  =====================

A child's code extends its parent's, so a grid's subtree is exactly the codes that start
with its code; scope checks rely on that. District direct grids (区级直辖网格: industrial
parks, key enterprises held by the district itself) are children of the district beside
the townships; the ``Z`` keeps their codes clear of any GB/T 2260 township code.

Micro-grid and direct-grid codes come in two widths. All micro-grids of one village, and
all direct grids of one district, must use the same width (the boundary import enforces
it): otherwise ``32038210200101`` would be a prefix of its sibling ``320382102001011`` and
a scope on the first would take in the second. :func:`within` also refuses that case on
its own, because these two levels have no children: their subtree is their own code.

>>> level_of_code("320382102001")
'village'
>>> parent_code_of("320382102001")
'320382102'
>>> parent_code_of("320382Z01")
'320382'
"""

from __future__ import annotations

import re

from gridmap.errors import InvalidInput

LEVELS = ("district", "township", "direct", "village", "micro")
#: Depth in the hierarchy; direct grids sit beside townships.
LEVEL_DEPTH = {"district": 0, "township": 1, "direct": 1, "village": 2, "micro": 3}
LEVEL_NAMES_ZH = {
    "district": "区县",
    "township": "街道/镇",
    "direct": "区级直辖网格",
    "village": "村/社区",
    "micro": "微网格",
}
#: The level a child of each level has.
CHILD_LEVELS = {
    "district": ("township", "direct"),
    "township": ("village",),
    "direct": (),
    "village": ("micro",),
    "micro": (),
}

_PATTERNS = {
    "district": re.compile(r"\d{6}"),
    "township": re.compile(r"\d{9}"),
    "direct": re.compile(r"\d{6}Z\d{2,3}"),
    "village": re.compile(r"\d{12}"),
    "micro": re.compile(r"\d{14,15}"),
}
_PARENT_LENGTH = {"township": 6, "direct": 6, "village": 9, "micro": 12}


def normalise_code(code: object) -> str:
    """Strip whitespace and a trailing ``.0`` (codes read from spreadsheets as numbers)."""
    text = str(code if code is not None else "").strip().upper()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text


def level_of_code(code: str) -> str | None:
    """The level a code's pattern denotes, or None when it matches no level."""
    for level, pattern in _PATTERNS.items():
        if pattern.fullmatch(code):
            return level
    return None


def validate_code(code: object, level: str | None = None) -> str:
    """Return the normalised code, or raise :class:`InvalidInput` saying what is wrong.

    >>> validate_code(" 320382102 ", "township")
    '320382102'
    """
    text = normalise_code(code)
    found = level_of_code(text)
    if found is None:
        raise InvalidInput(
            f"网格编码 {text!r} 格式不正确（区县 6 位、街道/镇 9 位、村/社区 12 位、微网格 14-15 位）",
            f"grid code {text!r} has an unknown pattern (district 6 digits, township 9, "
            "village 12, micro-grid 14-15, direct grid district+Z+2-3 digits)",
        )
    if level is not None and found != level:
        raise InvalidInput(
            f"网格编码 {text} 是{LEVEL_NAMES_ZH[found]}编码，不是{LEVEL_NAMES_ZH[level]}",
            f"grid code {text} is a {found} code, not a {level} code",
        )
    return text


def parent_code_of(code: str) -> str | None:
    """The parent's code derived from the code itself (None for a district)."""
    level = level_of_code(code)
    if level is None or level == "district":
        return None
    return code[: _PARENT_LENGTH[level]]


def district_of(code: str) -> str:
    """The 6-digit district code every grid code starts with."""
    return code[:6]


#: Levels whose codes have two possible widths: one width per parent (see module doc).
VARIABLE_WIDTH_LEVELS = ("direct", "micro")


def has_subtree(code: str) -> bool:
    """False for codes of the bottom levels (micro-grid, direct grid), which have no
    children; True otherwise (an unknown pattern keeps the plain prefix rule)."""
    level = level_of_code(code)
    return level is None or bool(CHILD_LEVELS[level])


def within(code: str | None, scope: str | None) -> bool:
    """True when ``code`` is ``scope`` or in its subtree (``scope=None``: everything).

    A bottom-level scope matches only itself, never a longer sibling code:

    >>> within("320382102001", "320382102")
    True
    >>> within("320382102001011", "32038210200101")
    False
    >>> within("320382Z012", "320382Z01")
    False
    """
    if scope is None:
        return True
    if code is None:
        return False
    return code.startswith(scope) if has_subtree(scope) else code == scope


def subtree_sql(column: str, code: str, param: str) -> tuple[str, dict[str, str]]:
    """A raw-SQL condition for :func:`within` on ``column``, and its bound parameter.

    For hand-written SQL (tiles, OGC, exports); ORM code uses ``Scope.filter``.

    >>> subtree_sql("g.code", "320382102", "scope")
    ('g.code LIKE :scope', {'scope': '320382102%'})
    >>> subtree_sql("g.code", "32038210200101", "scope")
    ('g.code = :scope', {'scope': '32038210200101'})
    """
    if not has_subtree(code):
        return f"{column} = :{param}", {param: code}
    escaped = code.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{column} LIKE :{param}", {param: escaped + "%"}
