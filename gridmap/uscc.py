"""统一社会信用代码 — the Unified Social Credit Code (USCC) of GB 32100-2015.

Every enterprise (生产经营单位) in the ledgers is identified by its USCC: 18 characters from
the alphabet ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (31 characters; I, O, Z, S and V are
never used because they read like 1, 0, 2, 5 and U):

=========  =====================================================================
position   meaning
=========  =====================================================================
1          registration authority (登记管理部门), e.g. ``9`` market regulation (工商)
2          entity type (机构类别), e.g. ``1`` enterprise (企业), ``2`` individual
           business (个体工商户), ``3`` farmers' cooperative (农民专业合作社)
3-8        administrative division code (登记管理机关行政区划码, GB/T 2260)
9-17       organisation code (主体标识码, GB 11714), whose 17th character is its own
           check digit
18         check character over positions 1-17 (weights 3^(i-1) mod 31)
=========  =====================================================================

:func:`validate_uscc` checks length, alphabet and the position-18 check character, the
three things GB 32100 defines for the whole code. It does not insist on the embedded
GB 11714 check digit (position 17) or on a known division code: registries contain codes
issued before those were enforced, and the position-18 check alone already catches every
single mistyped character and every swap of two adjacent characters.
"""

from __future__ import annotations

import random
import unicodedata

from gridmap.errors import InvalidInput

__all__ = [
    "USCC_ALPHABET",
    "is_valid_uscc",
    "make_uscc",
    "org_code_check_digit",
    "uscc_check_digit",
    "validate_uscc",
]

#: The 31 characters a USCC may contain, in the order of their numeric values 0-30.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {char: value for value, char in enumerate(USCC_ALPHABET)}
# 3^(i-1) mod 31 for positions 1..17; the check character itself has weight 1.
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11714 organisation code: weights for its 8 body characters.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_LENGTH = 18
_NEVER_USED = "IOZSV"
# Characters that survive a copy from Excel/Word/web pages but are not whitespace to Python.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


def _check_alphabet(text: str) -> None:
    for index, char in enumerate(text):
        if char not in _VALUE:
            position = index + 1
            shown = char if char.isprintable() else f"U+{ord(char):04X}"
            if char in _NEVER_USED:
                zh_hint, en_hint = (
                    f"（不使用 {'、'.join(_NEVER_USED)}）",
                    " (I, O, Z, S and V are never used)",
                )
            else:
                zh_hint, en_hint = "", ""
            raise InvalidInput(
                f"统一社会信用代码第 {position} 位字符“{shown}”不合法{zh_hint}",
                f"USCC character {position} {shown!r} is not allowed{en_hint}",
            )


def uscc_check_digit(first17: str) -> str:
    """Compute the check character (position 18) for the first 17 characters of a USCC.

    ``check = (31 - sum(value_i * weight_i) mod 31) mod 31``, with values from
    :data:`USCC_ALPHABET` and weights ``3^(i-1) mod 31``.

    Parameters
    ----------
    first17
        The first 17 characters, upper case.

    Returns
    -------
    str
        One character of :data:`USCC_ALPHABET`.

    Raises
    ------
    gridmap.errors.InvalidInput
        If ``first17`` is not 17 characters of the USCC alphabet.

    Examples
    --------
    >>> uscc_check_digit("91320382123456788")
    'F'
    """
    if not isinstance(first17, str) or len(first17) != _LENGTH - 1:
        raise InvalidInput(
            "计算校验位需要统一社会信用代码的前 17 位",
            "the USCC check digit needs exactly the first 17 characters",
        )
    _check_alphabet(first17)
    total = sum(_VALUE[char] * weight for char, weight in zip(first17, _WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_digit(first8: str) -> str:
    """Compute the GB 11714 organisation-code check digit (USCC position 17).

    ``c = 11 - (sum(value_i * weight_i) mod 11)`` with weights 3, 7, 9, 10, 5, 8, 4, 2 and
    values 0-9 for digits, 10-35 for A-Z; 10 is written ``X`` and 11 is written ``0``.

    Parameters
    ----------
    first8
        The 8 body characters of the organisation code (USCC positions 9-16).

    Returns
    -------
    str
        ``0``-``9`` or ``X``.

    Examples
    --------
    >>> org_code_check_digit("12345678")
    '8'
    """
    if (
        not isinstance(first8, str)
        or len(first8) != len(_ORG_WEIGHTS)
        or not all(char.isascii() and char.isalnum() for char in first8.upper())
    ):
        raise InvalidInput(
            "组织机构代码本体应为 8 位数字或大写字母",
            "the organisation code body must be 8 digits or capital letters",
        )
    total = sum(
        int(char, 36) * weight for char, weight in zip(first8.upper(), _ORG_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _normalise(code: str) -> str:
    # NFKC maps full-width characters (ＡＢＣ１２３, often typed with a Chinese IME) to ASCII.
    text = unicodedata.normalize("NFKC", code)
    for char in _INVISIBLE:
        text = text.replace(char, "")
    return text.strip().upper()


def validate_uscc(code: str) -> str:
    """Normalise and validate a USCC (统一社会信用代码).

    Surrounding whitespace (also full-width spaces and zero-width characters pasted from
    spreadsheets) is removed, full-width characters are folded to ASCII and letters are
    upper-cased.

    Parameters
    ----------
    code
        The code as the user typed it.

    Returns
    -------
    str
        The normalised 18-character code.

    Raises
    ------
    gridmap.errors.InvalidInput
        With a one-line bilingual message naming the failed check: empty, length, an
        illegal character and its position, or the expected and actual check character.

    Examples
    --------
    >>> validate_uscc(" 91320382123456788f\\u3000")
    '91320382123456788F'
    >>> validate_uscc("91320382123456788A")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridmap.errors.InvalidInput: ...第 18 位应为“F”，实际为“A” / ... should be 'F', got 'A'
    """
    if not isinstance(code, str):
        raise InvalidInput("统一社会信用代码应为文本", "the USCC must be text")
    normalised = _normalise(code)
    if not normalised:
        raise InvalidInput("统一社会信用代码为空", "the USCC is empty")
    if len(normalised) != _LENGTH:
        raise InvalidInput(
            f"统一社会信用代码应为 18 位，实际为 {len(normalised)} 位",
            f"a USCC has 18 characters, got {len(normalised)}",
        )
    _check_alphabet(normalised)
    expected = uscc_check_digit(normalised[:17])
    actual = normalised[17]
    if actual != expected:
        raise InvalidInput(
            f"统一社会信用代码校验位错误：第 18 位应为“{expected}”，实际为“{actual}”",
            f"USCC check digit wrong: character 18 should be {expected!r}, got {actual!r}",
        )
    return normalised


def is_valid_uscc(code: str) -> bool:
    """Whether ``code`` is a valid USCC (after the normalisation of :func:`validate_uscc`).

    Examples
    --------
    >>> is_valid_uscc("91320382123456788F"), is_valid_uscc("91320382123456788E")
    (True, False)
    """
    try:
        validate_uscc(code)
    except InvalidInput:
        return False
    return True


def make_uscc(
    rng: random.Random, division_code: str, *, authority: str = "9", kind: str = "1"
) -> str:
    """Make a valid synthetic USCC for an enterprise registered in ``division_code``.

    The organisation code (positions 9-17) is either 8 digits, like codes issued before
    2015, or ``MA`` + 6 characters, like codes issued since; its GB 11714 check digit is
    valid, and so is the USCC check character.

    Parameters
    ----------
    rng
        Source of randomness; the same state gives the same code.
    division_code
        6-digit administrative division code (GB/T 2260), e.g. ``"320382"`` for 邳州市.
    authority
        Registration authority (position 1), ``"9"`` for market regulation (工商).
    kind
        Entity type (position 2): ``"1"`` enterprise, ``"2"`` individual business,
        ``"3"`` farmers' cooperative.

    Returns
    -------
    str

    Raises
    ------
    gridmap.errors.InvalidInput
        If the division code is not 6 digits or authority/kind are not single USCC
        characters.

    Examples
    --------
    >>> make_uscc(random.Random(7), "320382") == make_uscc(random.Random(7), "320382")
    True
    """
    if not (
        isinstance(division_code, str)
        and len(division_code) == 6
        and division_code.isascii()
        and division_code.isdigit()
    ):
        raise InvalidInput(
            f"行政区划代码应为 6 位数字：{str(division_code)[:20]}",
            f"the division code must be 6 digits: {str(division_code)[:20]!r}",
        )
    for name, value in (("authority", authority), ("kind", kind)):
        if not (isinstance(value, str) and len(value) == 1 and value in _VALUE):
            raise InvalidInput(
                f"{'登记管理部门' if name == 'authority' else '机构类别'}代码应为 1 位合法字符",
                f"{name} must be a single USCC character",
            )
    if rng.random() < 0.5:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    else:
        body = "MA" + "".join(rng.choice(USCC_ALPHABET) for _ in range(6))
    first17 = authority + kind + division_code + body + org_code_check_digit(body)
    return first17 + uscc_check_digit(first17)
