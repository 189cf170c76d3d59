"""统一社会信用代码 (USCC, GB 32100-2015) validation and synthesis — no database needed."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmap.errors import InvalidInput
from gridmap.uscc import (
    USCC_ALPHABET,
    is_valid_uscc,
    make_uscc,
    org_code_check_digit,
    uscc_check_digit,
    validate_uscc,
)

# 邳州市 320382 and a few other real district codes.
DIVISIONS = ["320382", "320311", "110105", "440305", "650102"]

seeds = st.integers(min_value=0, max_value=2**32 - 1)
divisions = st.sampled_from(DIVISIONS)
FAST = settings(max_examples=60, deadline=None)


def _reference_check(first17: str) -> str:
    """GB 32100 written out independently of the module: weights are 3^(i-1) mod 31."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    total = sum(alphabet.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return alphabet[-total % 31]


def _assert_one_line_bilingual(error: InvalidInput) -> None:
    assert "\n" not in error.message
    assert re.search(r"[\u4e00-\u9fff]", error.zh)
    assert error.en.isascii() and "USCC" in error.en


def _error(code: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        validate_uscc(code)  # type: ignore[arg-type]
    _assert_one_line_bilingual(caught.value)
    return caught.value


# ----------------------------------------------------------------------------- known codes


def test_check_digit_computed_by_hand():
    # 9 工商 | 1 企业 | 320382 邳州市 | organisation code 12345678 + its check digit.
    # GB 11714: 1*3 + 2*7 + 3*9 + 4*10 + 5*5 + 6*8 + 7*4 + 8*2 = 201; 201 mod 11 = 3;
    # 11 - 3 = 8, so position 17 is "8".
    assert org_code_check_digit("12345678") == "8"
    # GB 32100 over "91320382123456788":
    #   values   9  1  3  2  0  3   8   2   1   2   3   4   5   6   7   8   8
    #   weights  1  3  9 27 19 26  16  17  20  29  25  13   8  24  10  30  28
    #   products 9  3 27 54  0 78 128  34  20  58  75  52  40 144  70 240 224 -> sum 1256
    # 1256 mod 31 = 16; 31 - 16 = 15; alphabet[15] = "F" (0-9 are 0-9, A=10 ... F=15).
    assert uscc_check_digit("91320382123456788") == "F"
    assert validate_uscc("91320382123456788F") == "91320382123456788F"


def test_codes_with_letters_and_x_check_digits_agree_with_an_independent_computation():
    # GB 11714 letter values are A=10 ... Z=35; weights 3, 7, 9, 10, 5, 8, 4, 2.
    # "MA1W3KT7" (the post-2015 "MA" form): 22*3 + 10*7 + 1*9 + 32*10 + 3*5 + 20*8 + 29*4
    # + 7*2 = 770; 770 mod 11 = 0; 11 - 0 = 11, written "0".
    assert org_code_check_digit("MA1W3KT7") == "0"
    assert org_code_check_digit("00000001") == "9"  # 1*2 = 2; 11 - 2 = 9
    assert org_code_check_digit("0000000A") == "2"  # 10*2 = 20; 20 mod 11 = 9; 11 - 9 = 2
    assert org_code_check_digit("00000006") == "X"  # 6*2 = 12; 12 mod 11 = 1; 11 - 1 = 10
    assert org_code_check_digit("00000000") == "0"  # 0; 11 - 0 = 11
    first17s = [
        "92320382MA1W3KT70",  # 个体工商户
        "93320382MA1W3KT70",  # 农民专业合作社
        "9132038200000006X",  # organisation check digit X
        "Y1320382000000019",  # authority Y (other)
        "523203820000000A2",  # authority 5 (civil affairs)
    ]
    for first17 in first17s:
        assert org_code_check_digit(first17[8:16]) == first17[16]
        assert uscc_check_digit(first17) == _reference_check(first17)
        assert is_valid_uscc(first17 + _reference_check(first17))


def test_real_published_codes_are_valid():
    # From public business licences: 华为技术有限公司 and 深圳市腾讯计算机系统有限公司.
    for code in ["914403001922038216", "91440300708461136T"]:
        assert validate_uscc(code) == code
        assert org_code_check_digit(code[8:16]) == code[16]


# ----------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    "typed",
    [
        "91320382123456788f",
        "  91320382123456788F\t",
        "\u300091320382123456788F\u3000",  # full-width (ideographic) spaces
        "\ufeff91320382123456788F\u200b",  # BOM and zero-width space from a spreadsheet
        "９１３２０３８２１２３４５６７８８Ｆ",  # typed with a Chinese IME in full width
        "\n91320382123456788F\r\n",
    ],
)
def test_lower_case_and_surrounding_whitespace_are_accepted(typed):
    assert validate_uscc(typed) == "91320382123456788F"
    assert is_valid_uscc(typed)


@pytest.mark.parametrize("letter", list("IOZSV"))
@pytest.mark.parametrize("position", [3, 9, 18])
def test_letters_never_used_are_rejected_with_their_position(letter, position):
    code = "91320382123456788F"
    corrupted = code[: position - 1] + letter + code[position:]
    error = _error(corrupted)
    assert f"第 {position} 位" in error.zh and letter in error.zh
    assert f"character {position}" in error.en and "never used" in error.en
    _error(corrupted.lower())  # lower-case i/o/z/s/v too


def test_other_illegal_characters_name_their_position():
    error = _error("9132038212345678-F")
    assert "第 17 位" in error.zh and "'-'" in error.en
    error = _error("91320382 123456788")  # an inner space is not forgiven
    assert "第 9 位" in error.zh


@pytest.mark.parametrize(
    "code, length", [("91320382123456788", 17), ("91320382123456788FF", 19), ("9", 1)]
)
def test_wrong_length_is_reported_as_such(code, length):
    error = _error(code)
    assert "18" in error.zh and str(length) in error.zh
    assert f"got {length}" in error.en


def test_empty_and_non_text_are_rejected():
    assert "为空" in _error("   ").zh
    assert "text" in _error(913203821234567880).en
    assert not is_valid_uscc(None)  # type: ignore[arg-type]


def test_wrong_check_digit_names_expected_and_actual():
    error = _error("91320382123456788A")
    assert "应为“F”" in error.zh and "实际为“A”" in error.zh
    assert "should be 'F', got 'A'" in error.en


# ----------------------------------------------------------------------------- error detection


@FAST
@given(seeds, divisions)
def test_every_single_character_substitution_is_detected(seed, division):
    code = make_uscc(random.Random(seed), division)
    for index, original in enumerate(code):
        for replacement in USCC_ALPHABET + "IOZSV-*":
            if replacement != original:
                corrupted = code[:index] + replacement + code[index + 1 :]
                assert not is_valid_uscc(corrupted), (code, corrupted)


def test_adjacent_transpositions_are_all_detected():
    # Swapping different characters a, b at positions i, i+1 changes the weighted sum by
    # (a - b) * (w_i - w_{i+1}); all 18 weights (3^k mod 31, and 1 for the check character)
    # are distinct and 31 is prime, so the change is never 0 mod 31: the detection rate is
    # not merely high but complete. Measure it over many codes.
    rng = random.Random(20240601)
    detected = total = 0
    for _ in range(500):
        code = make_uscc(rng, rng.choice(DIVISIONS), kind=rng.choice("123"))
        for i in range(17):
            if code[i] != code[i + 1]:
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
                total += 1
                detected += not is_valid_uscc(swapped)
    assert total > 7000
    assert detected / total == 1.0


def test_double_substitutions_are_detected_at_about_30_in_31():
    # Two independent typos can cancel out: expected detection 30/31 = 96.8 %.
    rng = random.Random(7)
    detected = total = 0
    for _ in range(4000):
        code = list(make_uscc(rng, "320382"))
        i, j = rng.sample(range(18), 2)
        code[i] = rng.choice(USCC_ALPHABET.replace(code[i], ""))
        code[j] = rng.choice(USCC_ALPHABET.replace(code[j], ""))
        total += 1
        detected += not is_valid_uscc("".join(code))
    assert 0.95 < detected / total < 0.985


# ----------------------------------------------------------------------------- synthesis


@FAST
@given(seeds, divisions, st.sampled_from("123"))
def test_make_uscc_is_valid_and_reproducible(seed, division, kind):
    code = make_uscc(random.Random(seed), division, kind=kind)
    assert code == make_uscc(random.Random(seed), division, kind=kind)
    assert validate_uscc(code) == code
    assert code[0] == "9" and code[1] == kind and code[2:8] == division
    assert org_code_check_digit(code[8:16]) == code[16]
    assert code[17] == _reference_check(code[:17])


def test_make_uscc_gives_distinct_codes_in_both_organisation_code_formats():
    rng = random.Random(42)
    codes = [make_uscc(rng, "320382") for _ in range(1000)]
    assert len(set(codes)) == 1000
    assert any(code[8:10] == "MA" for code in codes)
    assert any(code[8:17].isdigit() for code in codes)
    again = random.Random(42)
    assert codes == [make_uscc(again, "320382") for _ in range(1000)]


@pytest.mark.parametrize("division", ["32038", "3203820", "32O382", "", "３２０３８２"])
def test_make_uscc_rejects_a_bad_division_code(division):
    with pytest.raises(InvalidInput) as caught:
        make_uscc(random.Random(1), division)
    assert "6" in caught.value.zh and "6 digits" in caught.value.en


@pytest.mark.parametrize("field", ["authority", "kind"])
@pytest.mark.parametrize("value", ["I", "12", ""])
def test_make_uscc_rejects_bad_authority_or_kind(field, value):
    with pytest.raises(InvalidInput):
        make_uscc(random.Random(1), "320382", **{field: value})
