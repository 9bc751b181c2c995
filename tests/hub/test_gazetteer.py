"""Gazetteer against the real division list, townships, GI protected areas and XPCC names."""
from __future__ import annotations

import collections
import csv
import datetime as dt
import random
import re
import time
from pathlib import Path

import pytest

from xjip.hub.gazetteer import (
    REGIMENT_DIVISION, REGIMENT_TOWN, Gazetteer, Place, cn_number, cn_positional, division_forms, regiment_forms,
)

# (address as printed, expected code: the county when the address names one, else the most
# precise unit; for non-Xinjiang the province). Townships, GI protected-area wording and XPCC
# names are the real ones from ../shared/data.
ADDRESSES: list[tuple[str, str | None]] = [
    ("新疆维吾尔自治区乌鲁木齐市新市区北京南路358号", "650104"),
    ("830046 新疆乌鲁木齐市天山区胜利路14号", "650102"),
    ("830011乌鲁木齐市沙依巴克区西虹东路", "650103"),
    ("乌市天山区解放南路街道", "650102"),
    ("乌鲁木齐市米东区古牧地镇", "650109"),
    ("乌鲁木齐市头屯河区", "650106"),
    ("乌鲁木齐高新技术产业开发区（新市区）", "650104"),
    ("新疆克拉玛依市独山子区", "650202"),
    ("新疆石河子市北四路221号", "659001"),
    ("新疆库尔勒市人民东路1号", "652801"),
    ("新疆伊犁州奎屯市北京西路街道", "654003"),
    ("新疆伊犁哈萨克自治州伊宁市", "654002"),
    ("新疆阿克苏地区温宿县", "652922"),
    ("新疆阿克苏地区库车市", "652902"),
    ("喀什市", "653101"),
    ("新疆和田地区和康县赛图拉镇", "653228"),
    ("新疆维吾尔自治区和田地区和安县", "653229"),
    ("新疆昌吉州五家渠市", "659004"),
    ("昌吉市", "652301"),
    ("阜康市", "652302"),
    ("新疆吉木萨尔县", "652327"),
    ("新疆博州博乐市", "652701"),
    ("新疆巴州焉耆县", "652826"),
    ("新疆克州阿合奇县", "653023"),
    ("新疆阿勒泰地区福海县", "654323"),
    ("新疆塔城地区额敏县", "654221"),
    ("新疆哈密市巴里坤哈萨克自治县", "650521"),
    ("哈密市伊州区", "650502"),
    ("新疆维吾尔自治区喀什地区塔什库尔干塔吉克自治县", "653131"),
    ("疏附县", "653121"),
    # GI protected areas (xinjiang_gi_records.csv, wording as printed)
    ("伽师县的英买里乡", "653129"),
    ("岳普湖县的也克先拜巴扎乡", "653128"),
    ("喀什地区莎车县所辖叶尔羌街道", "653125"),
    ("皮山县科克铁热克乡", "653223"),
    ("于田县阿热勒乡的10个村", "653226"),
    ("和静县巴音郭愣乡", "652827"),
    ("巴音布鲁克镇", "652827"),
    ("托克逊县博斯坦乡", "650422"),
    ("阿图什市松他克乡", "653001"),
    ("麦盖提县巴扎结米镇", "653127"),
    ("昭苏县洪纳海乡", "654026"),
    ("民丰县全境 (尼雅镇、尼雅乡)", "653227"),
    ("布尔津县杜来提乡、窝依莫克乡2乡5村", "654321"),
    ("察布查尔县境内的托布中心", "654022"),
    ("巩留县塔斯托别乡:塔斯托别村", "654024"),
    ("若羌镇", "652824"),
    ("鄯善县七克台镇", "650421"),
    ("吐鲁番市二堡乡", "650400"),
    ("巴里坤县三塘湖乡区域", "650521"),
    ("伊吾县淖毛湖区域", "650522"),
    ("新疆维吾尔自治区玛纳斯县境内北纬43°34′", "652324"),
    ("新疆维吾尔自治区奇台县现辖行政区域", "652325"),
    ("乌鲁木齐市头屯河区, E87°15′00″", "650106"),
    ("淖毛湖镇", "650522"),
    ("七克台镇", "650421"),
    # XPCC: cities, divisions (师), regiments (团)
    ("新疆生产建设兵团第十师182团养殖区", "659005"),
    ("新疆塔城地区沙湾县一二一团", "654203"),
    ("新疆生产建设兵团第八师一二一团", "659001"),
    ("一二一团炮台镇", "654203"),
    ("121团", "654203"),
    ("兵团第一师1团", "659002"),
    ("农二师36团", "659006"),
    ("第八师石河子市", "659001"),
    ("农七师一三一团", "659010"),
    ("新疆第十三师红星二场", "659011"),
    ("新疆北屯市", "659005"),
    ("新疆铁门关市", "659006"),
    ("新疆可克达拉市", "659008"),
    ("新疆昆玉市", "659009"),
    ("新疆胡杨河市", "659010"),
    ("新疆新星市", "659011"),
    ("新疆白杨市", "659012"),
    ("新疆双河市", "659007"),
    ("新疆图木舒克市", "659003"),
    ("新疆阿拉尔市", "659002"),
    ("兵团十四师47团", "659009"),
    ("第三师伽师总场", "659003"),
    # Latin
    ("Urumqi, Xinjiang, P.R. China", "650100"),
    ("Shihezi University, Shihezi, Xinjiang 832003, China", "659001"),
    ("No. 1 Kashgar Road, Urumqi 830000", "650100"),
    ("Kashgar, Xinjiang", "653100"),
    ("Korla, Bayingolin", "652801"),
    ("Ghulja", "654002"),
    ("Hotan", "653200"),
    ("Turpan", "650400"),
    ("Ürümqi", "650100"),
    # outside Xinjiang (addresses from cn_patent_records_small) and abroad
    ("450000河南省郑州市郑东新区中道东路6号创意岛大厦8层", "410000"),
    ("100176 北京市经济技术开发区永昌北路11号", "110000"),
    ("650231 云南省昆明市五华区红锦路367号云烟科技园C区", "530000"),
    ("311200 浙江省杭州市萧山区鸿宁路1788号", "330000"),
    ("广州市天河区", "440000"),
    ("Zhengzhou, Henan, China", "410000"),
    ("韩国京畿道果川市", None),
    ("美国马萨诸塞州", None),
    ("日本京都府", None),
    ("Tokyo, Japan", None),
    ("Aral, Kazakhstan", None),
]


@pytest.fixture(scope="module")
def gaz(shared_data: Path) -> Gazetteer:
    return Gazetteer.from_shared(shared_data)


def _code(place: Place | None) -> str | None:
    if place is None:
        return None
    return place.county_code or place.region_code


@pytest.mark.parametrize("address,expected", ADDRESSES)
def test_address(gaz: Gazetteer, address: str, expected: str | None) -> None:
    assert _code(gaz.resolve(address)) == expected


def test_test_set_share(gaz: Gazetteer) -> None:
    xinjiang = [(a, e) for a, e in ADDRESSES if e and e.startswith("65")]
    resolved = sum(1 for a, _ in xinjiang if gaz.resolve(a) is not None)
    correct = sum(1 for a, e in xinjiang if _code(gaz.resolve(a)) == e)
    print(f"\nXinjiang test set: {len(xinjiang)} addresses, resolved {resolved / len(xinjiang):.1%}, "
          f"correct {correct / len(xinjiang):.1%}")
    assert len(xinjiang) >= 60
    assert correct == len(xinjiang)


def test_place_fields(gaz: Gazetteer) -> None:
    assert gaz.resolve("830046 新疆乌鲁木齐市天山区胜利路14号") == Place(
        "650102", "650100", "650102", "gazetteer", "新疆/乌鲁木齐市/天山区", None)
    shz = gaz.resolve("新疆石河子市北四路221号")
    assert (shz.region_code, shz.prefecture_code, shz.xpcc_division) == ("659001", "659000", "第八师")
    town = gaz.resolve("库车市乌恰镇")
    assert (town.region_code, town.county_code, town.prefecture_code) == ("652902101", "652902", "652900")
    tacheng = gaz.resolve("新疆塔城地区沙湾县")
    assert tacheng.prefecture_code == "654200"  # own code, though administered by 伊犁州
    assert gaz.unit("654200").administered_by == "654000"
    henan = gaz.resolve("河南省郑州市金水区")
    assert henan == Place("410000", None, None, "province_code", "河南省", None)


def test_ambiguous_names_go_to_the_common_unit(gaz: Gazetteer) -> None:
    assert _code(gaz.resolve("和田")) == "653200"  # 和田地区 / 和田市 / 和田县
    assert _code(gaz.resolve("伊宁")) == "654000"  # 伊宁市 / 伊宁县
    assert gaz.resolve("新城街道").region_code == "650000"  # six counties
    assert gaz.resolve("石河子市新城街道").region_code == "659001001"
    assert _code(gaz.resolve("和田县")) == "653221"


def test_streets_named_after_places_are_ignored(gaz: Gazetteer) -> None:
    assert _code(gaz.resolve("乌鲁木齐市天山区和田街")) == "650102"
    assert _code(gaz.resolve("乌鲁木齐市沙依巴克区克拉玛依西路")) == "650103"
    assert _code(gaz.resolve("乌鲁木齐市喀什东路")) == "650100"
    assert _code(gaz.resolve("北京南路街道")) == "652301"  # a township of 昌吉市, not 北京


def test_versioned_by_date(gaz: Gazetteer) -> None:
    d2010, d2005 = dt.date(2010, 5, 1), dt.date(2005, 1, 1)
    for name in ("库车县", "库车市"):
        assert _code(gaz.resolve(name, d2010)) == "652923"
        assert _code(gaz.resolve(name)) == "652902"
    assert _code(gaz.resolve("新疆阿克苏地区库车县", dt.date(2020, 1, 1))) == "652902"
    old_hami = gaz.resolve("哈密市", d2010)
    assert (old_hami.county_code, old_hami.prefecture_code) == ("652201", "652200")
    assert gaz.resolve("哈密市").region_code == "650500"
    assert _code(gaz.resolve("伊州区", d2010)) == "652201"
    assert _code(gaz.resolve("哈密地区")) == "650500"
    assert _code(gaz.resolve("吐鲁番", d2010)) == "652100"
    assert _code(gaz.resolve("鄯善县", d2010)) == "652122"
    assert _code(gaz.resolve("鄯善县")) == "650421"
    assert _code(gaz.resolve("米泉市", d2005)) == "652303"
    assert _code(gaz.resolve("昌吉回族自治州米泉市")) == "650109"
    assert _code(gaz.resolve("沙湾县", dt.date(2020, 12, 31))) == "654223"
    assert _code(gaz.resolve("沙湾县", dt.date(2021, 1, 29))) == "654203"
    assert gaz.resolve("和康县", dt.date(2020, 1, 1)).region_code == "653200"  # not yet created
    assert gaz.resolve("可克达拉市", d2010).region_code == "659000"
    assert gaz.code_on("650402", d2010) == "652101"


def test_township_names_alone_find_their_county(gaz: Gazetteer, shared_data: Path) -> None:
    towns = list(csv.DictReader(open(shared_data / "regions" / "xinjiang_townships.csv", encoding="utf-8")))
    assert len(towns) == 1405
    counts = collections.Counter(t["name_zh"] for t in towns)
    unique = [t for t in towns if counts[t["name_zh"]] == 1]
    wrong = [(t["name_zh"], t["county_code"], gaz.resolve(t["name_zh"])) for t in unique
             if _code(gaz.resolve(t["name_zh"])) != t["county_code"]]
    print(f"\nunique township names alone: {len(unique) - len(wrong)}/{len(unique)} → right county")
    assert not wrong
    # every township, duplicates included, is found under its county and prefecture
    for t in towns:
        county = gaz.unit(t["county_code"])
        place = gaz.resolve(f"新疆{gaz.unit(county.prefecture_code).name_zh}{county.name_zh}{t['name_zh']}88号")
        assert (place.region_code, place.county_code) == (t["code9"], t["county_code"]), t


def test_gi_protected_area_lists(gaz: Gazetteer, shared_data: Path) -> None:
    rows = {r["record_id"]: r for r in csv.DictReader(open(shared_data / "gi" / "xinjiang_gi_records.csv",
                                                           encoding="utf-8"))}
    for record_id in ("XJGI-001", "XJGI-005", "XJGI-007", "XJGI-033", "XJGI-042"):
        row = rows[record_id]
        found = set()
        for piece in re.split(r"[、;；:：,，]", row["protected_area_text"]):
            place = gaz.resolve(piece)
            if place and place.county_code:
                found.add(place.county_code)
        assert found == set(row["county_codes"].split(";")), record_id


def test_xpcc_divisions_and_regiments(gaz: Gazetteer, shared_data: Path) -> None:
    cities = {r["xpcc_division"]: r["code"] for r in csv.DictReader(
        open(shared_data / "regions" / "xinjiang_admin_divisions.csv", encoding="utf-8")) if r["xpcc_division"]}
    assert len(cities) == 12 and cities["第八师"] == "659001"
    for division, code in cities.items():
        n = cn_number(division[1:-1])
        for form in division_forms(n):
            assert gaz.resolve(form).region_code == code, form
    assert gaz.resolve("八师").region_code == gaz.resolve("农八师").region_code == "659001"
    assert gaz.resolve("第十二师").region_code == "650100"
    assert gaz.resolve("新疆第一师范学院").region_code == "650000"  # 师范 is not 第一师
    assert gaz.resolve("兵团第二师师部").region_code == "659006"
    for n, town in REGIMENT_TOWN.items():
        city = cities[f"第{cn_positional(REGIMENT_DIVISION[n])}师"]
        for form in regiment_forms(n):
            place = gaz.resolve(form)
            assert place.county_code == city and place.xpcc_division == f"第{cn_positional(REGIMENT_DIVISION[n])}师", form
    assert gaz.resolve("金银川镇").region_code == gaz.resolve("一团").region_code == "659002100"
    assert gaz.resolve("团结路街道").region_code != "659002100"  # 团结 is not a regiment


def test_numerals() -> None:
    assert [cn_number(x) for x in ("一二一", "一〇四", "一零四", "八十六", "一百二十一", "十", "九〇", "121")] == \
        [121, 104, 104, 86, 121, 10, 90, 121]
    assert cn_positional(86) == "八十六" and cn_positional(104) == "一百零四" and cn_positional(110) == "一百一十"
    assert {"一二一团", "121团", "一百二十一团"} <= regiment_forms(121)
    assert {"一〇四团", "一零四团"} <= regiment_forms(104)


def test_ui_helpers(gaz: Gazetteer) -> None:
    prefs = gaz.prefectures()
    assert len(prefs) == 15 and prefs[-1].code == "659000"
    assert {p.code for p in prefs[:-1]} == {"650100", "650200", "650400", "650500", "652300", "652700", "652800",
                                            "652900", "653000", "653100", "653200", "654000", "654200", "654300"}
    assert [u.code for u in gaz.children("659000")] == [f"6590{i:02d}" for i in range(1, 13)]
    ili = {u.code for u in gaz.children("654000", include_administered=True)}
    assert {"654002", "654200", "654300"} <= ili and "654201" not in ili
    assert "653228" in {u.code for u in gaz.children("653200")}
    assert "653228" not in {u.code for u in gaz.children("653200", on=dt.date(2020, 1, 1))}
    assert "652923" not in {u.code for u in gaz.children("652900")}
    names = gaz.names("652902")
    assert names[0] == "库车市" and "库车县" in names and "库车" in names and "kuqa" in names
    assert {"第八师", "农八师", "八师", "shihezi"} <= set(gaz.names("659001"))


def _stream(gaz: Gazetteer, shared_data: Path, distinct: int) -> list[str]:
    towns = list(csv.DictReader(open(shared_data / "regions" / "xinjiang_townships.csv", encoding="utf-8")))
    rnd = random.Random(7)
    out = []
    for i in range(distinct):
        t = towns[i % len(towns)]
        county = gaz.unit(t["county_code"])
        out.append(f"{rnd.randint(830000, 849999)} 新疆{county.name_zh}{t['name_zh']}人民路{rnd.randint(1, 999)}号"
                   if i % 2 else f"新疆维吾尔自治区{county.name_zh}{t['name_zh']}{rnd.randint(1, 999)}号")
    return out


def test_speed(gaz: Gazetteer, shared_data: Path) -> None:
    distinct = _stream(gaz, shared_data, 20_000)
    gaz.resolve_many(distinct[:2000])  # warm the per-name tables
    gaz.cache_clear()
    t0 = time.process_time()
    gaz.resolve_many(distinct)
    uncached = len(distinct) / (time.process_time() - t0)
    # An import stream repeats addresses (one applicant, many patents): 100k records, 20k distinct.
    rnd = random.Random(3)
    stream = [distinct[rnd.randrange(len(distinct))] for _ in range(100_000)]
    gaz.cache_clear()
    t0 = time.process_time()
    gaz.resolve_many(stream)
    realistic = len(stream) / (time.process_time() - t0)
    print(f"\ngazetteer: {uncached:,.0f} distinct addresses/s (no cache), {realistic:,.0f} addresses/s on a stream "
          f"with repeats")
    assert realistic >= 50_000
    assert uncached >= 20_000  # ≈50-60k/s on an idle core; leave room for a loaded CI machine


def test_cpca_comparison(gaz: Gazetteer) -> None:
    """Optional: the same test set through cpca (pip install cpca, not a dependency)."""
    cpca = pytest.importorskip("cpca")
    xinjiang = [(a, e) for a, e in ADDRESSES if e and e.startswith("65") and re.search(r"[\u4e00-\u9fff]", a)]
    frame = cpca.transform([a for a, _ in xinjiang])
    theirs = 0
    for (address, expected), adcode in zip(xinjiang, frame["adcode"]):
        code = str(adcode)[:6] if adcode is not None and str(adcode) not in ("nan", "None") else None
        if code and (code == expected or (expected.endswith("00") and code[:4] == expected[:4])):
            theirs += 1
    ours = sum(1 for a, e in xinjiang if _code(gaz.resolve(a)) == e)
    print(f"\nChinese Xinjiang addresses: xjip {ours}/{len(xinjiang)}, cpca {theirs}/{len(xinjiang)}")
    assert ours >= theirs
