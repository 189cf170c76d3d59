"""Address matching against the real 邳州市 (320382) gazetteer — no database needed."""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridmap.address import (
    AddressMatch,
    Gazetteer,
    GazetteerEntry,
    core_name,
    name_variants,
)
from gridmap.errors import InvalidFile, InvalidInput, NotFound

DIVISIONS = Path(__file__).parents[1] / "data" / "divisions"
PIZHOU = "320382"
YUNHE = "320382002"  # 运河街道
QINGNIAN = "320382002006"  # 青年居委会, 运河街道
ZHANGZHUANG = {  # 张庄村委会 in three townships
    "320382106": "320382106220",  # 八义集镇
    "320382115": "320382115228",  # 铁富镇
    "320382123": "320382123212",  # 赵墩镇
}
ROADS = ["人民路", "建设路", "解放东路", "青年路", "新河路", "珠江路", "运河大道", "张庄街"]


def _division_rows(name: str) -> list[dict[str, str]]:
    """Pizhou's rows of a division file, read independently of the module under test."""
    path = DIVISIONS / name
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as stream:
        header = stream.readline()
        lines = [line for line in stream if line.startswith(PIZHOU)]
    return list(csv.DictReader([header, *lines]))


@pytest.fixture(scope="module")
def pizhou() -> Gazetteer:
    return Gazetteer.from_division_files(PIZHOU, DIVISIONS)


@pytest.fixture(scope="module")
def villages() -> list[dict[str, str]]:
    return [row for row in _division_rows("villages.csv.gz") if row["areaCode"] == PIZHOU]


@pytest.fixture(scope="module")
def townships() -> dict[str, str]:
    return {
        row["code"]: row["name"]
        for row in _division_rows("streets.csv")
        if row["areaCode"] == PIZHOU
    }


def assert_matched(result: AddressMatch, village_code: str) -> None:
    assert result.status == "matched", result
    assert result.village_code == village_code
    assert result.candidates == (village_code,)
    assert result.township_code == village_code[:9]
    assert result.district_code == PIZHOU


# --- the gazetteer itself ---------------------------------------------------------------


def test_gazetteer_holds_every_pizhou_township_and_village(pizhou, villages, townships):
    assert len(villages) == 516 and len(townships) == 28
    assert len(pizhou) == 1 + 28 + 516
    assert pizhou.entry(PIZHOU) == GazetteerEntry(PIZHOU, "邳州市", "district", "3203")
    assert pizhou.entry("320382403").name == "江苏邳州经济开发区"
    for row in villages:
        entry = pizhou.entry(row["code"])
        assert (entry.name, entry.level, entry.parent_code) == (
            row["name"],
            "village",
            row["streetCode"],
        )
    with pytest.raises(NotFound):
        pizhou.entry("320382999999")


# --- full, abbreviated and prefixed forms -----------------------------------------------


@pytest.mark.parametrize(
    ("address", "village_code"),
    [
        ("江苏省徐州市邳州市运河街道青年居委会", QINGNIAN),
        ("江苏省徐州市邳州市八义集镇张庄村委会", "320382106220"),
        ("江苏省徐州市邳州市官湖镇授贤村委会", "320382103222"),
        ("邳州市陈楼镇果园一工区村委会", "320382118214"),
        ("邳州市江苏邳州经济开发区开发区虚拟生活区", "320382403598"),
        ("邳州市邳城农场邳城农场虚拟生活区", "320382401598"),
        ("邳州市议堂镇陈楼居委会", "320382124001"),  # 陈楼 is also a township
    ],
)
def test_full_official_names_match_the_village(pizhou, address, village_code):
    assert_matched(pizhou.match(address), village_code)


@pytest.mark.parametrize(
    ("address", "village_code"),
    [
        ("运河青年社区人民路8号", QINGNIAN),
        ("运河街道办事处青年居委12号", QINGNIAN),
        ("邳州运河街道办青年", QINGNIAN),
        ("八义集张庄", "320382106220"),
        ("官湖授贤村3组", "320382103222"),
        ("官湖镇授贤村村委会", "320382103222"),
        ("陈楼镇陈楼村", "320382118202"),
        ("邳城邳城村", "320382102201"),
        ("邳州开发区开发区生活区", "320382403598"),
    ],
)
def test_abbreviated_names_match_the_village(pizhou, address, village_code):
    assert_matched(pizhou.match(address), village_code)


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "江苏省",
        "江苏省徐州市",
        "徐州市邳州市",
        "邳州",
        "江苏徐州邳州市",
        "江苏省 徐州市 邳州市 ",
    ],
)
def test_province_city_and_district_are_optional(pizhou, prefix):
    result = pizhou.match(f"{prefix}官湖镇授贤村58号")
    assert_matched(result, "320382103222")
    assert result.matched_text[-2:] == ("官湖镇", "授贤村")
    assert "".join(result.matched_text[:-2]) == prefix.replace(" ", "")


def test_match_reports_what_it_read(pizhou):
    result = pizhou.match("江苏省徐州市邳州市运河街道青年社区人民路8号")
    assert result.matched_text == ("江苏省", "徐州市", "邳州市", "运河街道", "青年社区")
    assert result.township_named == "运河街道"
    assert result.village_named == "青年社区"


def test_full_width_characters_spaces_and_punctuation_are_ignored(pizhou):
    result = pizhou.match("邳州市 运河街道（青年社区）１２号")
    assert_matched(result, QINGNIAN)
    assert result.village_named == "青年社区"
    assert pizhou.match("邳州市，运河街道、青年　居委会") == pizhou.match(
        "邳州市运河街道青年居委会"
    )


# --- shared names and wrong townships ---------------------------------------------------


def test_shared_village_name_needs_the_township(pizhou):
    result = pizhou.match("邳州市张庄村人民路1号")
    assert result.status == "ambiguous"
    assert result.village_code is None and result.township_code is None
    assert result.district_code == PIZHOU
    assert result.candidates == tuple(sorted(ZHANGZHUANG.values()))

    assert_matched(pizhou.match("邳州市铁富镇张庄村人民路1号"), ZHANGZHUANG["320382115"])
    assert_matched(pizhou.match("八义集镇张庄村委会"), ZHANGZHUANG["320382106"])
    assert_matched(pizhou.match("赵墩张庄"), ZHANGZHUANG["320382123"])


def test_shared_name_across_community_and_village_committees(pizhou):
    # 城西居委会 (运河街道) and 城西村委会 (邳城镇): 社区 and 村 are written for either.
    result = pizhou.match("城西社区")
    assert result.status == "ambiguous"
    assert result.candidates == ("320382002003", "320382102202")
    assert_matched(pizhou.match("运河街道城西村"), "320382002003")
    assert_matched(pizhou.match("邳城镇城西社区"), "320382102202")


def test_every_shared_village_name_is_resolved_by_its_township(pizhou, villages, townships):
    by_core = defaultdict(list)
    for row in villages:
        by_core[core_name(row["name"], "village")].append(row)
    shared = {core: rows for core, rows in by_core.items() if len(rows) > 1}
    assert {"张庄", "城西", "宋圩", "陈楼", "新兴"} <= shared.keys()
    assert len(shared) >= 20
    for core, rows in shared.items():
        codes = tuple(sorted(row["code"] for row in rows))
        alone = pizhou.match(f"邳州市{core}村人民路1号")
        assert (alone.status, alone.candidates) == ("ambiguous", codes), core
        for row in rows:
            township = townships[row["streetCode"]]
            assert_matched(pizhou.match(f"邳州市{township}{core}村人民路1号"), row["code"])


def test_village_of_another_township_is_flagged_not_guessed(pizhou):
    # 宋圩 exists in 炮车街道 and 土山镇, not in 运河街道.
    result = pizhou.match("邳州市运河街道宋圩村")
    assert result.status == "ambiguous"
    assert result.village_code is None
    assert result.township_code == YUNHE
    assert result.candidates == ("320382004217", "320382107206")
    assert (result.township_named, result.village_named) == ("运河街道", "宋圩村")

    # A unique name in the wrong township: still not silently placed.
    result = pizhou.match("运河街道果园村")  # 果园村委会 is in 炮车街道
    assert (result.status, result.village_code, result.township_code) == ("ambiguous", None, YUNHE)
    assert result.candidates == ("320382004204",)

    # 南戴庄 is in 议堂镇; the longer name wins over 戴庄村 of 戴庄镇, and conflicts.
    result = pizhou.match("戴庄镇南戴庄村")
    assert (result.status, result.township_code) == ("ambiguous", "320382120")
    assert result.candidates == ("320382124202",)


# --- roads, companies, estates, groups -------------------------------------------------


@pytest.mark.parametrize(
    ("address", "status", "township_code"),
    [
        ("邳州市新河镇新河路88号", "township_only", "320382112"),  # not 新河村
        ("邳州市运河街道青年路3号", "township_only", YUNHE),  # not 青年居委会
        ("邳州市东湖街道珠江路6号", "township_only", "320382001"),  # not 珠江社区
        ("邳州市八义集镇张庄大道1号", "township_only", "320382106"),
        ("邳州市铁富镇张庄街8号", "township_only", "320382115"),
        ("邳州市运河路5号", "none", None),  # not 运河街道
        ("运河大道", "none", None),
        ("邳州市新河化工有限公司", "none", None),  # neither 新河镇 nor 新河村
        ("邳州市运河街道新河化工有限公司", "township_only", YUNHE),
        ("邳州市铁富镇张庄木业有限公司", "township_only", "320382115"),
        ("运河街道锦绣花园3栋", "township_only", YUNHE),  # not 花园社区
        ("运河街道花园小区3栋", "township_only", YUNHE),
        ("铁富镇大张庄", "township_only", "320382115"),  # 大张庄 is not 张庄
    ],
)
def test_place_names_inside_roads_companies_and_estates_do_not_count(
    pizhou, address, status, township_code
):
    result = pizhou.match(address)
    assert (result.status, result.township_code, result.village_code) == (
        status,
        township_code,
        None,
    ), result
    assert result.candidates == ()


def test_bare_names_count_where_they_stand_as_places(pizhou):
    assert_matched(pizhou.match("运河街道花园3栋"), "320382002019")
    # 大墩 is the village; 张庄组 is a villagers' group inside it.
    assert_matched(pizhou.match("铁富镇大墩张庄组"), "320382115227")
    # The company keeps its name, the address still names the village.
    assert_matched(pizhou.match("新河镇新河村新河化工厂"), "320382112201")
    # 街北 starts with 街 but is a village of 土山镇, so "土山街…" is no road here.
    assert_matched(pizhou.match("土山街北村"), "320382107201")


# --- townships only, garbage ------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "township_code"),
    [
        ("邳州市邳城镇", "320382102"),  # not the village 邳城村委会
        ("邳城", "320382102"),  # the town, not 邳城农场
        ("邳城农场", "320382401"),
        ("江苏邳州经济开发区", "320382403"),
        ("邳州经济开发区辽河西路", "320382403"),
        ("邳州市开发区", "320382403"),
        ("邳州市陈楼镇", "320382118"),  # not the village 陈楼村委会
        ("邳州市运河街道办事处东侧", YUNHE),
        ("邳州市戴庄", "320382120"),
    ],
)
def test_address_naming_only_a_township(pizhou, address, township_code):
    result = pizhou.match(address)
    assert result.status == "township_only", result
    assert (result.township_code, result.district_code) == (township_code, PIZHOU)
    assert result.village_code is None and result.candidates == ()
    assert result.village_named is None


@pytest.mark.parametrize(
    "address",
    [
        "",
        "   ",
        "！！！",
        float("nan"),
        None,
        "asdfgh",
        "123456",
        "北京市朝阳区建国路88号",
        "上海市浦东新区张江路",
    ],
)
def test_garbage_matches_nothing(pizhou, address):
    assert pizhou.match(address) == AddressMatch("none", None, None, None, (), (), None, None)


def test_another_district_of_the_city_is_not_pizhou(pizhou):
    result = pizhou.match("徐州市铜山区张集镇")
    assert (result.status, result.district_code, result.village_code) == ("none", None, None)


# --- name forms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "level", "included", "excluded"),
    [
        (
            "官湖村村委会",
            "village",
            {"官湖村村委会", "官湖村", "官湖", "官湖村委会", "官湖社区"},
            set(),
        ),
        ("东湖社区居民委员会", "village", {"东湖", "东湖社区", "东湖居委会", "东湖村"}, set()),
        ("吕村村委会", "village", {"吕村村委会", "吕村", "吕村社区"}, {"吕"}),
        ("庄路村委会", "village", {"庄路村", "庄路村委会"}, {"庄路"}),
        ("邳城农场虚拟生活区", "village", {"邳城农场虚拟生活区", "邳城农场生活区"}, {"邳城农场"}),
        ("运河街道", "township", {"运河街道", "运河街道办事处", "运河"}, set()),
        ("邳城镇", "township", {"邳城镇", "邳城"}, set()),
        (
            "江苏邳州经济开发区",
            "township",
            {"江苏邳州经济开发区", "邳州经济开发区", "经济开发区", "开发区"},
            {"江苏", "邳州"},
        ),
        ("邳州市", "district", {"邳州市", "邳州"}, set()),
    ],
)
def test_name_variants(name, level, included, excluded):
    variants = name_variants(name, level)
    assert included <= variants
    assert not excluded & variants


def test_farm_is_only_known_by_its_full_name():
    assert name_variants("邳城农场", "township") == {"邳城农场"}


@pytest.mark.parametrize(
    ("name", "level", "core"),
    [
        ("官湖村村委会", "village", "官湖"),
        ("东湖社区居民委员会", "village", "东湖"),
        ("吕村村委会", "village", "吕村"),
        ("果园一工区村委会", "village", "果园一工区"),
        ("运河街道", "township", "运河"),
        ("邳城镇", "township", "邳城"),
        ("江苏邳州经济开发区", "township", "邳州经济开发区"),
        ("邳城农场", "township", "邳城农场"),
        ("邳州市", "district", "邳州"),
    ],
)
def test_core_name(name, level, core):
    assert core_name(name, level) == core


def test_unknown_level_is_a_user_error():
    with pytest.raises(InvalidInput) as raised:
        name_variants("运河街道", "county")
    assert raised.value.zh and raised.value.en


# --- building gazetteers ----------------------------------------------------------------


def test_bad_gazetteer_input_is_a_user_error(tmp_path):
    with pytest.raises(InvalidInput):
        Gazetteer([GazetteerEntry("320382", "邳州市", "county", None)])
    with pytest.raises(InvalidInput):
        Gazetteer([GazetteerEntry("320382", "邳州市", "district", None)] * 2)
    with pytest.raises(InvalidInput):
        Gazetteer([GazetteerEntry("320382", " ", "district", None)])
    with pytest.raises(InvalidInput):
        Gazetteer.from_division_files("32038", DIVISIONS)
    with pytest.raises(NotFound) as raised:
        Gazetteer.from_division_files("320399", DIVISIONS)
    assert "320399" in raised.value.zh and "320399" in raised.value.en
    with pytest.raises(InvalidFile):
        Gazetteer.from_division_files(PIZHOU, tmp_path)


def test_direct_grids_match_by_name_and_micro_grids_are_not_named():
    gazetteer = Gazetteer(
        [
            GazetteerEntry(PIZHOU, "邳州市", "district", None),
            GazetteerEntry(YUNHE, "运河街道", "township", PIZHOU),
            GazetteerEntry(QINGNIAN, "青年居委会", "village", YUNHE),
            GazetteerEntry(QINGNIAN + "01", "青年居委会第一微网格", "micro", QINGNIAN),
            GazetteerEntry("320382Z01", "邳州市新材料产业园", "direct", PIZHOU),
        ]
    )
    result = gazetteer.match("邳州市新材料产业园8号")
    assert (result.status, result.village_code, result.township_code, result.district_code) == (
        "matched",
        "320382Z01",
        None,
        PIZHOU,
    )
    assert_matched(gazetteer.match("运河街道青年居委会第一微网格"), QINGNIAN)


# --- properties -------------------------------------------------------------------------


@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    prefix=st.tuples(
        st.sampled_from(["", "江苏省", "江苏"]),
        st.sampled_from(["", "徐州市", "徐州"]),
        st.sampled_from(["", "邳州市", "邳州"]),
    ).map("".join),
    number=st.integers(min_value=1, max_value=999),
    data=st.data(),
)
def test_every_village_matches_with_any_written_forms(
    pizhou, villages, townships, prefix, number, data
):
    # Each example walks all 516 villages, drawing each one's written forms.
    for row in villages:
        township = data.draw(
            st.sampled_from(sorted(name_variants(townships[row["streetCode"]], "township")))
        )
        village = data.draw(st.sampled_from(sorted(name_variants(row["name"], "village"))))
        road = data.draw(st.sampled_from(ROADS))
        address = f"{prefix}{township}{village}{road}{number}号"
        result = pizhou.match(address)
        assert result.status == "matched", (address, result)
        assert result.village_code == row["code"], (address, result)
        assert result.township_code == row["streetCode"]
        assert result.district_code == PIZHOU


def test_every_village_form_without_township_finds_all_villages_of_that_form(
    pizhou, villages, townships
):
    by_form = defaultdict(set)
    for row in villages:
        for form in name_variants(row["name"], "village"):
            by_form[form].add(row["code"])
    township_by_form = {
        form: code for code, name in townships.items() for form in name_variants(name, "township")
    }
    for form, codes in sorted(by_form.items()):
        result = pizhou.match(f"邳州市{form}人民路8号")
        if form in township_by_form:
            # A lone "邳城" is the town 邳城镇, not the village 邳城村委会.
            assert (result.status, result.township_code) == (
                "township_only",
                township_by_form[form],
            ), form
        elif len(codes) == 1:
            assert_matched(result, codes.pop())
        else:
            assert (result.status, result.candidates) == ("ambiguous", tuple(sorted(codes))), form
