"""Owners placed without an address (xjip.hub.places): the organisation list, place names where
naming law puts them, the 国省代码, and the false positives a name-reader must not make."""
from __future__ import annotations

import csv
import re

import pytest

from xjip.hub.gazetteer import Gazetteer, Place
from xjip.hub.places import ORGANISATIONS_FILE, OwnerPlacer, method_shares, organisation_rows, settle


@pytest.fixture(scope="module")
def gaz(shared_data) -> Gazetteer:  # noqa: ANN001
    return Gazetteer.from_shared(shared_data)


@pytest.fixture(scope="module")
def placer(gaz: Gazetteer) -> OwnerPlacer:
    return OwnerPlacer(gaz)


@pytest.mark.parametrize(("name", "country", "code", "method"), [
    # the organisation list: no place word finer than 新疆, or none at all
    ("新疆大学", None, "650100", "organisation"),
    ("塔里木大学", None, "659002", "organisation"),
    ("特变电工股份有限公司", None, "652301", "organisation"),
    ("特变电工", None, "652301", "organisation"),  # four characters, yet not a person's name
    ("中国石油天然气股份有限公司塔里木油田分公司", None, "652801", "organisation"),
    ("新疆天业（集团）有限公司", None, "659001", "organisation"),  # brackets and width do not matter
    ("新疆维吾尔自治区农业科学院", None, "650100", "organisation"),  # another name of 新疆农业科学院
    ("新疆大学化学学院", None, "650100", "organisation"),  # a university's college: on its campus
    ("新疆农业科学院园艺作物研究所", None, "650000", "organisation"),  # units across Xinjiang: region only
    # English names as Google Patents spells them
    ("Tarim University", None, "659002", "organisation"),
    ("Jinfeng Technology Co ltd", None, "650100", "organisation"),
    ("HORTICULTURE INSTITUTE OF XINJIANG ACADEMY OF AGRICULTURAL SCIENCE", None, "650000", "organisation"),
    ("Moyu Agricultural Experimental Station Of Xinjiang Academy Of Agricultural Sciences", None, "653222", "name"),
    ("Changji Huier Zhilian Ecological Co ltd", "CN", "652300", "name"),
    ("Xinjiang Wisdom Agriculture Group Ltd By Share Ltd", None, "650000", "name"),
    # a place opening the name, in brackets, or opening a branch's own name
    ("乌鲁木齐市天山区示例商贸有限公司", None, "650102", "name"),
    ("昌吉州示例农业科技有限公司", None, "652300", "name"),
    ("库尔勒示例石油技术服务有限公司", None, "652801", "name"),
    ("石河子市示例机械有限公司", None, "659001", "name"),
    ("新疆生产建设兵团第一师阿拉尔市示例公司", None, "659002", "name"),
    ("克拉玛依市金牛信泰石油设备有限公司", None, "650200", "name"),
    ("示例技术（乌鲁木齐）有限公司", None, "650100", "name"),
    ("国网新疆电力有限公司昌吉供电公司", None, "652300", "name"),
    ("新疆农业科学院墨玉试验站", None, "653222", "name"),
    ("中国移动通信集团新疆有限公司克拉玛依分公司", None, "650200", "name"),
    # only 新疆 is certain
    ("新疆金风科技股份有限公司", None, "650100", "organisation"),
    ("新疆泰昆集团有限责任公司", None, "650000", "name"),
    ("国网新疆电力有限公司", None, "650100", "organisation"),
    ("特变电工新疆新能源股份有限公司", None, "650100", "organisation"),
])
def test_xinjiang_owners_are_placed_by_name(placer: OwnerPlacer, name: str, country: str | None, code: str,
                                            method: str) -> None:
    place = placer.place(name, country)
    assert place is not None, name
    assert (place.region_code, place.method) == (code, method)
    if len(code) == 6 and code[2:] != "0000" and code[4:] != "00":  # a county-level unit
        assert place.county_code == code and place.prefecture_code


@pytest.mark.parametrize(("name", "country", "outside"), [
    ("北京昌吉利科技有限公司", None, "110000"),  # 昌吉 inside a 字号, in Beijing
    ("北京新疆大厦", None, "110000"),  # named after Xinjiang, in Beijing
    ("新疆示例科技有限公司北京分公司", None, "110000"),  # a Xinjiang company's Beijing branch
    ("特变电工沈阳变压器集团有限公司", None, "210000"),  # a Xinjiang group's subsidiary elsewhere
    ("斑马智行网络(香港)有限公司", None, "810000"),
    ("广州斑马智行科技有限公司", None, "440000"),
    ("和田玉文化有限公司", None, None),  # a product, not the place of registration
    ("哈密瓜研究中心", None, None),
    ("昌吉利汽车部件有限公司", None, None),
    ("阿克苏诺贝尔化学国际公司", None, None),  # AkzoNobel
    ("和硕联合科技股份有限公司", None, None),  # Pegatron
    ("哈密尔顿森德斯特兰德公司", None, None),  # Hamilton Sundstrand
    ("天山铝业集团股份有限公司", None, None),  # 天山 is a mountain
    ("沙湾区示例食品厂", None, None),  # 沙湾区 is in 乐山, 沙湾市 in 塔城
    ("特变电工衡阳变压器有限公司", None, None),  # a subsidiary the gazetteer cannot place: not in Xinjiang
    ("日本新疆株式会社", None, None),  # a foreign country opens the name
    ("汶上海纬机车配件有限公司", None, None),  # 上海 inside another name
    ("和田", None, None),  # a person (surname 和)
    ("张伟", "CN", None),
    ("阿不都热依木·买买提", None, None),
    ("Hami Corp", None, None),  # a Latin name without a country
    ("Hami Corp", "US", None),
    ("Xinjiang Goldwind Science and Technology Co Ltd", "DE", None),  # an owner from abroad
    ("Individual", None, None),
])
def test_false_positives_are_not_placed_in_xinjiang(placer: OwnerPlacer, name: str, country: str | None,
                                                    outside: str | None) -> None:
    place = placer.place(name, country)
    if outside is None:
        assert place is None, (name, place)
    else:
        assert place is not None and place.region_code == outside and place.method == "name", (name, place)


def test_settle_address_first_then_name_unless_the_province_code_disagrees() -> None:
    address = Place("650102", "650100", "650102", "gazetteer", "天山区")
    by_name = Place("652300", "652300", None, "name", "昌吉")
    assert settle(address, by_name, "65") is address
    assert settle(None, by_name, "65") is by_name
    assert settle(None, by_name, None) is by_name
    # a 国省代码 of another province: the name was wrong (or the branch is elsewhere)
    assert settle(None, by_name, "11") == Place("110000", None, None, "province_code", "11")
    assert settle(None, None, "65").region_code == "650000"
    assert settle(None, None, "6x") is None and settle(None, None, None) is None
    unplaced = Place(None, None, None, "gazetteer", None)  # an address that resolved to nothing
    assert settle(unplaced, by_name, None) is by_name


def test_method_shares_are_over_every_record_counted() -> None:
    shares = method_shares({"none": 1, "organisation": 2, "name": 1})
    assert [(s["method"], s["count"], s["share"]) for s in shares] == [
        ("organisation", 2, 0.5), ("name", 1, 0.25), ("none", 1, 0.25)]
    assert method_shares(None) == [] and method_shares({}) == []


def test_every_organisation_row_names_its_source_and_a_real_unit(gaz: Gazetteer) -> None:
    """The list ships in the package with its origin (data/README.md); a code that is not a
    unit of the regions table, or a source the README does not explain, fails here."""
    readme = (ORGANISATIONS_FILE.parent / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([A-Z]+[0-9]*)(?:<code>)?`", readme))
    rows = organisation_rows()
    assert len(rows) >= 70
    from xjip.hub.entities import name_key

    seen: dict[str, str] = {}
    for row in rows:
        assert row["code"] == "650000" or gaz.unit(row["code"]) is not None, row
        assert row["subunits"] in ("here", "region", "none"), row
        assert row["kind"] in ("university", "institute", "hospital", "enterprise", "government"), row
        source = re.match(r"[A-Z]+[0-9]*", row["source"])
        assert source and (source.group(0) in documented  # MOE2024, or SSE<stock code>
                           or re.sub(r"[0-9]+$", "", source.group(0)) in documented), row
        for name in [row["name_zh"], *row["aliases_zh"].split(";")]:
            if name:
                key = name_key(name)
                assert seen.setdefault(key, row["code"]) == row["code"], (name, row)
    with open(ORGANISATIONS_FILE, encoding="utf-8", newline="") as fh:
        assert next(csv.reader(fh)) == ["name_zh", "aliases_zh", "names_en", "code", "kind", "subunits", "source"]


def test_the_organisation_list_is_package_data() -> None:
    """pyproject's package-data globs ship the list and its README with the wheel."""
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["xjip.hub"]
    assert "data/*.csv" in globs and "data/*.md" in globs
