"""Xinjiang + XPCC gazetteer: free-text addresses → GB/T 2260 codes.

`Gazetteer.resolve(address, on=None)` returns a `Place` (region, prefecture and county code,
how it was found, the text that matched) or None for foreign/unresolvable addresses.

Data: `../shared/data/regions/` (NBS 2023 statistical division codes = GB/T 2260 codes truncated
to 6 digits, plus 和康县 653228 / 和安县 653229 of 2024-12, 1,405 townships) and the tables in
this module (former units, short/Latin names, XPCC divisions and regiments). Both constructors
feed the same two row lists (`Region` / `RegionAlias` columns) into one builder, so
`from_shared` and `from_session` behave identically: `reference.load_regions` writes exactly the
rows that `region_rows()` / `alias_rows()` produce.

Choices (documented because they change statistics):
- Prefecture of an XPCC city = the statistical node 659000 (自治区直辖县级行政区划), as in the
  NBS codes; 塔城 654200 / 阿勒泰 654300 keep their own codes with `administered_by=654000`.
- Versioning: each unit has valid_from/valid_to; a renamed unit's old row points to its
  successor through a `former` alias (alias = old name, code = new code, valid_to = change
  date). `on=date` returns the code valid on that date: '库车县' or '库车市' on 2010-05-01 →
  652923 (the old county code), on None (today) → 652902. A unit that did not exist yet and
  has no single predecessor (新星市 in 2010, 和康县 in 2020) falls back to its parent
  (659000, 653200); 米东区 (merged from 米泉市 + 东山区) keeps 650109 before 2007.
- A regiment (团) goes to the township the NBS list gives it (兵团一二一团 → 654203503 in 沙湾市)
  or to the regiment town of the XPCC civil-affairs table (1团 → 金银川镇 in 阿拉尔市); failing
  both, to its division's city. A division (第八师/八师/农八师) goes to its city (石河子 659001);
  第十一师 (建工师) and 第十二师 have no city: 乌鲁木齐 650100, where both are seated.
- Ambiguous names (和田 = 地区/市/县; 伊宁 = 市/县; 新城街道 ×6) resolve to the deepest unit
  common to all candidates that survive the rest of the address.
- Names are read left to right; a later name refines the place when it lies inside it and is
  otherwise ignored (新疆乌鲁木齐市天山区和田街 stays in 天山区; names followed by 路/街/东路… are
  streets and skipped), with two exceptions: a county-level official name inside a prefecture
  it does not belong to wins (昌吉州五家渠市 → 659004, 昌吉州米泉市 → 650109 today), and an
  official full name beats a first guess made from a short name, township or regiment.
  So 第八师一二一团 → 659001 (the division is read first; the regiment's township is in 沙湾市).
- Speed: one walk of a character trie per address (leftmost-longest match), candidates per name
  memoised per "epoch" (the interval between two change dates), and an LRU cache on
  (address, epoch): ≈50-60k distinct addresses/s on one core, several 100k/s with repeats.
- A Chinese province (or a capital/major city) leading the address: that province's code with
  `method='province_code'`; foreign addresses: None. A leading 83xxxx/84xxxx postcode is only a
  fallback (`method='postcode'`, region 650000) when no name matches.
"""
from __future__ import annotations

import bisect
import csv
import datetime as dt
import gzip
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

REGION_CODE = "650000"
XPCC_NODE = "659000"
SOURCE_MODULE = "xjip.hub.gazetteer"


class Place(NamedTuple):
    """Where an address lies (a NamedTuple: cheap to build, immutable, hashable)."""

    region_code: str | None  # most precise code found: 6 digits, or a 9-digit township code
    prefecture_code: str | None
    county_code: str | None
    method: str  # gazetteer | province_code | postcode
    matched_text: str | None
    xpcc_division: str | None = None  # 第八师 … when the address or the unit is XPCC


# --- module tables (cited) ----------------------------------------------------------------

_D = dt.date

# Units that no longer exist (codes from GB/T 2260 editions before the change; 652923, 654223,
# 652100/652101/652122, 652200/652201, 652303 seen in a pre-change city list in the code index,
# the others from the published code series) → successor and date of change.
# Dates: 米东区 established 2007-08-01 (国函〔2007〕, wlmqmap.8684.cn / zh.wikipedia 米东区);
# 吐鲁番地区 abolished 2015-03-16 (zh.wikipedia 吐鲁番地区); 哈密 撤地设市 2016-02-18 (secondary
# pages give approval 2016-01-07 and 2016-02-18; the later, announced one is used);
# 库车 撤县设市 announced 2019-12-20 (新疆政府网 via xuehua.us); 沙湾 2021-01-29 (news.163.com).
FORMER_UNITS: list[dict[str, Any]] = [
    dict(code="650108", name_zh="东山区", level=3, unit_type_zh="市辖区", parent_code="650100",
         prefecture_code="650100", valid_to=_D(2007, 8, 1), successor="650109"),
    dict(code="652303", name_zh="米泉市", level=3, unit_type_zh="县级市", parent_code="652300",
         prefecture_code="652300", valid_to=_D(2007, 8, 1), successor="650109"),
    dict(code="652100", name_zh="吐鲁番地区", level=2, unit_type_zh="地区", parent_code="650000",
         prefecture_code="652100", valid_to=_D(2015, 3, 16), successor="650400"),
    dict(code="652101", name_zh="吐鲁番市", level=3, unit_type_zh="县级市", parent_code="652100",
         prefecture_code="652100", valid_to=_D(2015, 3, 16), successor="650402"),
    dict(code="652122", name_zh="鄯善县", level=3, unit_type_zh="县", parent_code="652100",
         prefecture_code="652100", valid_to=_D(2015, 3, 16), successor="650421"),
    dict(code="652123", name_zh="托克逊县", level=3, unit_type_zh="县", parent_code="652100",
         prefecture_code="652100", valid_to=_D(2015, 3, 16), successor="650422"),
    dict(code="652200", name_zh="哈密地区", level=2, unit_type_zh="地区", parent_code="650000",
         prefecture_code="652200", valid_to=_D(2016, 2, 18), successor="650500"),
    dict(code="652201", name_zh="哈密市", level=3, unit_type_zh="县级市", parent_code="652200",
         prefecture_code="652200", valid_to=_D(2016, 2, 18), successor="650502"),
    dict(code="652222", name_zh="巴里坤哈萨克自治县", level=3, unit_type_zh="自治县", parent_code="652200",
         prefecture_code="652200", valid_to=_D(2016, 2, 18), successor="650521"),
    dict(code="652223", name_zh="伊吾县", level=3, unit_type_zh="县", parent_code="652200",
         prefecture_code="652200", valid_to=_D(2016, 2, 18), successor="650522"),
    dict(code="652923", name_zh="库车县", level=3, unit_type_zh="县", parent_code="652900",
         prefecture_code="652900", valid_to=_D(2019, 12, 20), successor="652902"),
    dict(code="654223", name_zh="沙湾县", level=3, unit_type_zh="县", parent_code="654200",
         prefecture_code="654200", valid_to=_D(2021, 1, 29), successor="654203"),
]
FORMER_SOURCE = "GB/T 2260 before the change; dates: see xjip.hub.gazetteer.FORMER_UNITS"

# valid_from of current units created after 2000, only where a source gave the date.
# XPCC approvals: 兵团已设市建镇统计表 http://mzj.xjbt.gov.cn/c/2021-01-12/7403691.shtml
# (阿拉尔/图木舒克 2002.9.17, 铁门关 2012.12.17, 可克达拉 2015.3.18, 昆玉 2016.1.7); 五家渠 2002
# approval with the first two; 白杨 2022-12-19 (zh.wikipedia 白杨市); 和康/和安 2024-12-27 (CSV note).
# 北屯, 双河, 胡杨河, 新星, 阿拉山口, 霍尔果斯: date not verified here → valid_from left empty.
VALID_FROM: dict[str, dt.date] = {
    "650109": _D(2007, 8, 1),
    "650400": _D(2015, 3, 16), "650402": _D(2015, 3, 16), "650421": _D(2015, 3, 16), "650422": _D(2015, 3, 16),
    "650500": _D(2016, 2, 18), "650502": _D(2016, 2, 18), "650521": _D(2016, 2, 18), "650522": _D(2016, 2, 18),
    "652902": _D(2019, 12, 20),
    "654203": _D(2021, 1, 29),
    "653228": _D(2024, 12, 27), "653229": _D(2024, 12, 27),
    "659002": _D(2002, 9, 17), "659003": _D(2002, 9, 17), "659004": _D(2002, 9, 17),
    "659006": _D(2012, 12, 17), "659008": _D(2015, 3, 18), "659009": _D(2016, 1, 7),
    "659012": _D(2022, 12, 19),
}

# 塔城地区 and 阿勒泰地区 are administered by 伊犁哈萨克自治州 but coded separately (regions README).
ADMINISTERED_BY = {"654200": "654000", "654300": "654000"}

# Short forms seen in addresses that are not derivable by stripping the unit type.
SHORT_ALIASES: list[tuple[str, str]] = [
    ("新疆", "650000"), ("新疆自治区", "650000"), ("新疆省", "650000"), ("新疆维吾尔族自治区", "650000"),
    ("乌市", "650100"), ("克市", "650200"),
    ("昌吉州", "652300"), ("博州", "652700"), ("博尔塔拉州", "652700"), ("巴州", "652800"),
    ("巴音郭楞州", "652800"), ("克州", "653000"), ("克孜勒苏州", "653000"),
    ("伊犁州", "654000"), ("伊犁州直", "654000"), ("伊犁哈萨克州", "654000"),
    ("和丰", "654226"), ("和丰县", "654226"), ("和布克赛尔县", "654226"),
    ("塔县", "653131"), ("塔什库尔干县", "653131"), ("察县", "654022"), ("察布查尔县", "654022"),
    ("焉耆县", "652826"), ("巴里坤县", "650521"), ("木垒县", "652328"),
]
# Development zones that sit in one county-level unit.
DEVZONE_ALIASES: list[tuple[str, str]] = [
    ("乌鲁木齐高新技术产业开发区", "650104"), ("乌鲁木齐高新区", "650104"),  # = 新市区
    ("乌鲁木齐经济技术开发区", "650106"), ("乌鲁木齐经开区", "650106"),  # = 头屯河区
    ("甘泉堡经济技术开发区", "650109"), ("甘泉堡", "650109"),
    ("准东经济技术开发区", "652300"), ("准东开发区", "652300"),
    ("库尔勒经济技术开发区", "652801"), ("石河子经济技术开发区", "659001"),
    ("霍尔果斯经济开发区", "654004"), ("阿拉山口综合保税区", "652702"),
]
XPCC_ALIASES = ["新疆生产建设兵团", "新疆兵团", "兵团"]

# Short names too common as words or street names to be taken alone (the full name still works).
SHORT_DENY = {"天山", "新市", "温泉", "新星", "白杨", "双河", "青河", "福海", "新源", "新和", "裕民",
              "和安", "和康", "托里", "民丰", "昆玉", "高昌", "伊州", "自治区直辖县级行政区划", "胡杨河"}

# Conventional Latin names (Wade-Giles/postal/Uyghur-derived forms used in English addresses).
LATIN_ALIASES: list[tuple[str, str]] = [
    ("xinjiang", "650000"), ("sinkiang", "650000"), ("xinjiang uygur autonomous region", "650000"),
    ("xinjiang uyghur autonomous region", "650000"), ("xpcc", "650000"),
    ("xinjiang production and construction corps", "650000"),
    ("urumqi", "650100"), ("urumchi", "650100"), ("urumuqi", "650100"), ("wulumuqi", "650100"),
    ("karamay", "650200"), ("qaramay", "650200"), ("dushanzi", "650202"),
    ("turpan", "650400"), ("turfan", "650400"), ("tulufan", "650400"),
    ("hami", "650500"), ("kumul", "650500"), ("qumul", "650500"),
    ("changji", "652300"), ("fukang", "652302"), ("manas", "652324"), ("jimsar", "652327"),
    ("bortala", "652700"), ("bole", "652701"), ("alashankou", "652702"),
    ("bayingolin", "652800"), ("bayingol", "652800"), ("korla", "652801"), ("kuerle", "652801"),
    ("luntai", "652822"), ("bugur", "652822"), ("charkhlik", "652824"), ("cherchen", "652825"),
    ("yanqi", "652826"), ("karashahr", "652826"), ("hejing", "652827"),
    ("aksu", "652900"), ("kuqa", "652902"), ("kucha", "652902"), ("kuche", "652902"),
    ("kizilsu", "653000"), ("artux", "653001"), ("atush", "653001"), ("atushi", "653001"),
    ("kashgar", "653100"), ("kashi", "653100"), ("yarkand", "653125"), ("shache", "653125"),
    ("kargilik", "653126"), ("yecheng", "653126"), ("maralbexi", "653130"), ("tashkurgan", "653131"),
    ("hotan", "653200"), ("khotan", "653200"), ("hetian", "653200"),
    ("ili", "654000"), ("yili", "654000"), ("ghulja", "654002"), ("gulja", "654002"), ("kulja", "654002"),
    ("kuytun", "654003"), ("kuitun", "654003"),
    ("khorgas", "654004"), ("khorgos", "654004"), ("horgos", "654004"), ("huoerguosi", "654004"),
    ("tacheng", "654200"), ("chuguchak", "654200"), ("qoqek", "654200"), ("wusu", "654202"),
    ("shawan", "654203"), ("altay", "654300"), ("aletai", "654300"), ("burqin", "654321"),
    ("shihezi", "659001"), ("aral", "659002"), ("alaer", "659002"), ("tumxuk", "659003"),
    ("tumushuke", "659003"), ("wujiaqu", "659004"), ("beitun", "659005"), ("tiemenguan", "659006"),
    ("kokdala", "659008"), ("kekedala", "659008"),
]
# Generated pinyin that collides with places elsewhere in China (义乌, 清河, 白城, 玉田…).
LATIN_DENY = {"yiwu", "xinhe", "qinghe", "tianshan", "xinshi", "fuhai", "wenquan", "baiyang",
              "xinxing", "shuanghe", "yutian", "baicheng", "xinyuan", "yizhou", "yumin", "minfeng",
              "shanshan", "heshuo", "he'an", "hean", "hekang", "kunyu", "huyanghe", "gaochang", "weili"}
_ETHNIC = ["蒙古", "回族", "哈萨克", "柯尔克孜", "锡伯", "塔吉克"]
_LATIN_ETHNIC = {"menggu", "huizu", "hasake", "ke'erkezi", "kerkezi", "xibo", "tajike"}
_LATIN_UNIT = {"shi", "xian", "qu", "diqu", "zizhizhou", "zizhixian", "zizhiqu"}

# XPCC regiments (团) by number → division. Divisions 1–4 and 14 from the XPCC civil-affairs
# table (mzj.xjbt.gov.cn, 2021-01-12); the others from the XPCC's public organisation (regiment
# numbering series: 五师 81–91, 六师 101–106, 七师 123–131/137, 八师 121/122/132–136/141–152,
# 九师 161–170, 十师 181–188, 十二师 104/221/222) — not verified against an official list here.
_DIVISION_REGIMENTS: dict[int, Iterable[int]] = {
    1: [*range(1, 15), 16], 2: [*range(21, 39), 223], 3: [41, 42, 43, 44, 45, 46, 48, 49, 50, 51, 52, 53, 54],
    4: range(61, 80), 5: range(81, 92), 6: [101, 102, 103, 105, 106], 7: [*range(123, 132), 137],
    8: [121, 122, *range(132, 137), *range(141, 145), *range(147, 153)], 9: range(161, 171),
    10: range(181, 189), 12: [104, 221, 222], 14: [47, 224, 225],
}
REGIMENT_DIVISION: dict[int, int] = {n: d for d, ns in _DIVISION_REGIMENTS.items() for n in ns}
# Regiment → its town under 团镇合一 (same XPCC table; 五师 from 兵团新闻联播 via bbs.kashenzx.com).
REGIMENT_TOWN: dict[int, str] = {
    1: "金银川镇", 2: "新井子镇", 3: "甘泉镇", 4: "永宁镇", 5: "沙河镇", 6: "双城镇", 7: "玛滩镇", 8: "塔门镇",
    9: "梨花镇", 10: "昌安镇", 11: "花桥镇", 12: "塔南镇", 13: "幸福镇", 14: "金杨镇", 16: "新开岭镇",
    22: "河畔镇", 24: "高桥镇", 27: "天湖镇", 29: "博古其镇", 30: "双丰镇", 36: "米兰镇", 37: "金山镇",
    38: "南屯镇", 223: "开泽镇", 41: "草湖镇", 42: "龙口镇", 44: "永安镇", 45: "前海镇", 46: "永兴镇",
    48: "河东镇", 49: "海安镇", 50: "夏河镇", 51: "唐驿镇", 53: "金胡杨镇", 54: "兴安镇", 47: "老兵镇",
    225: "玉泉镇", 63: "榆树庄镇", 64: "苇湖镇", 66: "金梁镇", 81: "双桥镇", 84: "石峪镇", 86: "博河镇",
    90: "双乐镇",
}
NAMED_FARM_TOWN = {"伽师总场": "嘉和镇", "皮山农场": "昆泉镇"}
XPCC_TABLE_SOURCE = "兵团已设市建镇统计表 http://mzj.xjbt.gov.cn/c/2021-01-12/7403691.shtml"
# Divisions without a city: seated in 乌鲁木齐.
DIVISION_WITHOUT_CITY = {11: "650100", 12: "650100"}

# GB/T 2260 province-level codes and their names (full and short) for non-Xinjiang addresses.
PROVINCES: dict[str, tuple[str, ...]] = {
    "110000": ("北京市", "北京"), "120000": ("天津市", "天津"), "130000": ("河北省", "河北"),
    "140000": ("山西省", "山西"), "150000": ("内蒙古自治区", "内蒙古"), "210000": ("辽宁省", "辽宁"),
    "220000": ("吉林省", "吉林"), "230000": ("黑龙江省", "黑龙江"), "310000": ("上海市", "上海"),
    "320000": ("江苏省", "江苏"), "330000": ("浙江省", "浙江"), "340000": ("安徽省", "安徽"),
    "350000": ("福建省", "福建"), "360000": ("江西省", "江西"), "370000": ("山东省", "山东"),
    "410000": ("河南省", "河南"), "420000": ("湖北省", "湖北"), "430000": ("湖南省", "湖南"),
    "440000": ("广东省", "广东"), "450000": ("广西壮族自治区", "广西"), "460000": ("海南省", "海南"),
    "500000": ("重庆市", "重庆"), "510000": ("四川省", "四川"), "520000": ("贵州省", "贵州"),
    "530000": ("云南省", "云南"), "540000": ("西藏自治区", "西藏"), "610000": ("陕西省", "陕西"),
    "620000": ("甘肃省", "甘肃"), "630000": ("青海省", "青海"), "640000": ("宁夏回族自治区", "宁夏"),
    "710000": ("台湾省", "台湾"), "810000": ("香港特别行政区", "香港"), "820000": ("澳门特别行政区", "澳门"),
}
# Capitals and large cities that often lead an address without their province.
CITIES_OUTSIDE: dict[str, str] = {
    "广州": "440000", "深圳": "440000", "东莞": "440000", "佛山": "440000", "珠海": "440000",
    "杭州": "330000", "宁波": "330000", "温州": "330000", "南京": "320000", "苏州": "320000",
    "无锡": "320000", "常州": "320000", "成都": "510000", "武汉": "420000", "西安": "610000",
    "郑州": "410000", "洛阳": "410000", "济南": "370000", "青岛": "370000", "烟台": "370000",
    "沈阳": "210000", "大连": "210000", "长春": "220000", "哈尔滨": "230000", "石家庄": "130000",
    "太原": "140000", "呼和浩特": "150000", "包头": "150000", "合肥": "340000", "福州": "350000",
    "厦门": "350000", "南昌": "360000", "长沙": "430000", "南宁": "450000", "海口": "460000",
    "贵阳": "520000", "昆明": "530000", "拉萨": "540000", "兰州": "620000", "西宁": "630000",
    "银川": "640000", "台北": "710000",
}
LATIN_PROVINCES: dict[str, str] = {
    "beijing": "110000", "tianjin": "120000", "hebei": "130000", "shanxi": "140000",
    "inner mongolia": "150000", "nei mongol": "150000", "liaoning": "210000", "jilin": "220000",
    "heilongjiang": "230000", "shanghai": "310000", "jiangsu": "320000", "zhejiang": "330000",
    "anhui": "340000", "fujian": "350000", "jiangxi": "360000", "shandong": "370000", "henan": "410000",
    "hubei": "420000", "hunan": "430000", "guangdong": "440000", "guangxi": "450000", "hainan": "460000",
    "chongqing": "500000", "sichuan": "510000", "guizhou": "520000", "yunnan": "530000",
    "tibet": "540000", "xizang": "540000", "shaanxi": "610000", "gansu": "620000", "qinghai": "630000",
    "ningxia": "640000", "taiwan": "710000", "hong kong": "810000", "hongkong": "810000",
    "macau": "820000", "macao": "820000", "shenzhen": "440000", "guangzhou": "440000",
    "hangzhou": "330000", "nanjing": "320000", "suzhou": "320000", "wuhan": "420000", "chengdu": "510000",
    "xi'an": "610000", "xian": "610000", "zhengzhou": "410000", "lanzhou": "620000",
}
# A foreign country named in the address makes it foreign, whatever else matches (Aral, Kazakhstan).
FOREIGN_LATIN = {
    "kazakhstan", "kyrgyzstan", "tajikistan", "uzbekistan", "turkmenistan", "russia", "mongolia",
    "pakistan", "afghanistan", "india", "japan", "korea", "usa", "u.s.a", "united states", "america",
    "canada", "germany", "france", "italy", "spain", "netherlands", "belgium", "switzerland", "austria",
    "sweden", "norway", "finland", "denmark", "ireland", "united kingdom", "uk", "england", "australia",
    "singapore", "israel", "turkey", "iran", "brazil", "luxembourg", "poland", "czech", "malaysia",
    "thailand", "vietnam", "indonesia",
}
FOREIGN_ZH = ("日本", "美国", "美利坚", "德国", "法国", "英国", "韩国", "大韩民国", "瑞士", "荷兰", "瑞典",
              "意大利", "加拿大", "澳大利亚", "俄罗斯", "哈萨克斯坦", "吉尔吉斯", "塔吉克斯坦", "乌兹别克",
              "巴基斯坦", "印度", "新加坡", "以色列", "芬兰", "丹麦", "比利时", "奥地利", "西班牙", "挪威",
              "爱尔兰", "卢森堡", "蒙古国", "土耳其")

# Alias kinds whose match alone is weak: a later full official name that disagrees wins.
WEAK_KINDS = {"short", "township", "xpcc_regiment", "latin", "devzone"}
# Characters after a regiment/division match that show it is another word (团结, 师范).
_REJECT_NEXT = {"xpcc_regiment": set("结体队委购员伙聚圆"), "xpcc_division": set("范傅父兄姐")}
_ROAD_NEXT2 = {"东路", "西路", "南路", "北路", "中路", "大道", "大街", "一路", "二路", "三路", "四路", "五路",
               "六路", "七路", "八路", "九路", "十路", "小区", "大厦", "宾馆", "酒店", "广场", "饭店"}
_LATIN_ROAD = {"road", "rd", "street", "st", "avenue", "ave", "lu", "jie", "dadao", "boulevard", "blvd", "lane"}


# --- numerals -----------------------------------------------------------------------------

_CN_DIGIT = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
             "七": 7, "八": 8, "九": 9}
_DIGIT_CN = "零一二三四五六七八九"


def cn_number(text: str) -> int | None:
    """一二一 / 一〇四 / 八十六 / 一百二十一 / 121 → int (None if not a numeral)."""
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if "十" in text or "百" in text:
        total = cur = 0
        for ch in text:
            if ch == "百":
                total += (cur or 1) * 100
                cur = 0
            elif ch == "十":
                total += (cur or 1) * 10
                cur = 0
            elif ch in _CN_DIGIT:
                cur = _CN_DIGIT[ch]
            else:
                return None
        return total + cur
    value = 0
    for ch in text:
        if ch not in _CN_DIGIT:
            return None
        value = value * 10 + _CN_DIGIT[ch]
    return value


def cn_positional(n: int) -> str:
    """86 → 八十六, 121 → 一百二十一 (the 十/百 style)."""
    if n < 10:
        return _DIGIT_CN[n]
    if n < 20:
        return "十" + (_DIGIT_CN[n % 10] if n % 10 else "")
    if n < 100:
        return _DIGIT_CN[n // 10] + "十" + (_DIGIT_CN[n % 10] if n % 10 else "")
    rest = n % 100
    head = _DIGIT_CN[n // 100] + "百"
    if rest == 0:
        return head
    if rest < 10:
        return head + "零" + _DIGIT_CN[rest]
    if rest < 20:
        return head + "一" + cn_positional(rest)
    return head + cn_positional(rest)


def regiment_forms(n: int) -> set[str]:
    """Spellings of regiment n: 121团, 一二一团, 一百二十一团 (+ 零/〇 variants)."""
    forms = {f"{n}团", cn_positional(n) + "团"}
    if n >= 10:
        for zero in "零〇":
            forms.add("".join(zero if d == "0" else _DIGIT_CN[int(d)] for d in str(n)) + "团")
    return forms


def division_forms(n: int) -> set[str]:
    cn = cn_positional(n)
    return {f"第{cn}师", f"{cn}师", f"农{cn}师", f"农业建设第{cn}师", f"第{n}师", f"农{n}师"}


def division_name(n: int) -> str:
    return f"第{cn_positional(n)}师"


_REGIMENT_IN_NAME = re.compile(
    r"^(?:新疆)?(?:兵团)?(?:(?:农|第)?[一二三四五六七八九十]+师)?([一二三四五六七八九十零〇]+)团(.*)$")
_DIVISION_IN_TEXT = re.compile(r"([一二三四五六七八九十]+|\d+)师")
_REGIMENT_IN_TEXT = re.compile(r"([一二三四五六七八九十百零〇]+|\d+)团")


# --- rows ---------------------------------------------------------------------------------

def _date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def short_name(name: str) -> str | None:
    """巴音郭楞蒙古自治州 → 巴音郭楞, 库车市 → 库车; None when nothing usable remains."""
    for suffix in ("自治州", "自治县", "地区", "市", "县", "区"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            base = name[: -len(suffix)]
            for ethnic in _ETHNIC:
                if base.endswith(ethnic) and len(base) > len(ethnic) + 1:
                    base = base[: -len(ethnic)]
                    break
            return base if len(base) >= 2 else None
    return None


def latin_forms(pinyin: str) -> set[str]:
    """'Ku'erle Shi' → {'kuerle shi', 'kuerle'} (lower case, apostrophes dropped)."""
    words = [w.replace("'", "") for w in pinyin.lower().split()]
    if not words:
        return set()
    out = {" ".join(words)}
    core = [w for w in words if w not in _LATIN_UNIT and w not in {e.replace("'", "") for e in _LATIN_ETHNIC}]
    if core:
        out.add(" ".join(core))
    return out


def region_rows(shared_dir: str | Path) -> list[dict[str, Any]]:
    """Rows for the `region` table: the shared CSV (current units) plus FORMER_UNITS."""
    path = Path(shared_dir) / "regions" / "xinjiang_admin_divisions.csv"
    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh):
            code = rec["code"].strip()
            prefecture = rec["prefecture_code"].strip() or None
            rows.append(dict(
                code=code, name_zh=rec["name_zh"].strip(), level=int(rec["level"]),
                unit_type_zh=rec["unit_type_zh"].strip() or None, parent_code=rec["parent_code"].strip() or None,
                prefecture_code=prefecture, administered_by=ADMINISTERED_BY.get(code),
                is_xpcc=rec["is_xpcc_city"].strip() == "1", xpcc_division=rec["xpcc_division"].strip() or None,
                name_pinyin=rec["pinyin_generated"].strip() or None, name_ug=rec["name_ug"].strip() or None,
                valid_from=VALID_FROM.get(code), valid_to=None, source=rec["source"].strip()[:300] or None,
            ))
    for unit in FORMER_UNITS:
        rows.append(dict(
            code=unit["code"], name_zh=unit["name_zh"], level=unit["level"], unit_type_zh=unit["unit_type_zh"],
            parent_code=unit["parent_code"], prefecture_code=unit["prefecture_code"],
            administered_by=None, is_xpcc=False, xpcc_division=None, name_pinyin=None, name_ug=None,
            valid_from=None, valid_to=unit["valid_to"], source=FORMER_SOURCE,
        ))
    return rows


def township_rows(shared_dir: str | Path) -> list[dict[str, str]]:
    path = Path(shared_dir) / "regions" / "xinjiang_townships.csv"
    if not path.is_file() and path.with_name(path.name + ".gz").is_file():  # the package's gzipped copy
        with gzip.open(path.with_name(path.name + ".gz"), "rt", encoding="utf-8", newline="") as fh:
            return [{k: (v or "").strip() for k, v in rec.items()} for rec in csv.DictReader(fh)]
    with open(path, encoding="utf-8", newline="") as fh:
        return [{k: (v or "").strip() for k, v in rec.items()} for rec in csv.DictReader(fh)]


def alias_rows(shared_dir: str | Path, regions: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Rows for the `region_alias` table (kind: former | short | latin | devzone | xpcc |
    xpcc_division | xpcc_regiment | township). Township codes are the 9-digit NBS codes."""
    regions = regions if regions is not None else region_rows(shared_dir)
    towns = township_rows(shared_dir)
    out: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(alias: str, code: str, kind: str, valid_to: dt.date | None = None, source: str | None = None) -> None:
        alias = alias.strip()
        if not alias or (alias, code, kind) in out:
            return
        out[(alias, code, kind)] = dict(alias=alias, code=code, kind=kind, valid_to=valid_to,
                                        source=(source or SOURCE_MODULE)[:300])

    full_names = {r["name_zh"] for r in regions}
    for unit in FORMER_UNITS:
        add(unit["name_zh"], unit["successor"], "former", unit["valid_to"], FORMER_SOURCE)
    for r in regions:
        short = short_name(r["name_zh"]) if r["level"] > 1 else None
        if short and short not in SHORT_DENY and short not in full_names:
            add(short, r["code"], "short", r["valid_to"], "derived from name_zh")
        if r.get("name_pinyin"):
            for form in latin_forms(r["name_pinyin"]):
                if form not in LATIN_DENY:
                    add(form, r["code"], "latin", r["valid_to"], "derived from pinyin_generated")
    for alias, code in SHORT_ALIASES:
        add(alias, code, "short")
    for alias, code in DEVZONE_ALIASES:
        add(alias, code, "devzone")
    for alias, code in LATIN_ALIASES:
        add(alias, code, "latin")
    for alias in XPCC_ALIASES:
        add(alias, REGION_CODE, "xpcc")

    # Divisions → their city (师市合一, CSV xpcc_division column).
    division_city: dict[int, str] = dict(DIVISION_WITHOUT_CITY)
    for r in regions:
        if r.get("xpcc_division"):
            m = _DIVISION_IN_TEXT.search(r["xpcc_division"])
            if m:
                division_city[cn_number(m.group(1))] = r["code"]
    for n, code in sorted(division_city.items()):
        for form in division_forms(n):
            add(form, code, "xpcc_division", source="regions CSV xpcc_division" if n not in DIVISION_WITHOUT_CITY
                else "division without a city: seated in 乌鲁木齐")
    add("建工师", DIVISION_WITHOUT_CITY[11], "xpcc_division")

    # Townships: their full names (and without a leading 兵团) point to the 9-digit code.
    town_by_county_name: dict[tuple[str, str], str] = {}
    regiment_towns: dict[int, list[tuple[int, str]]] = {}
    for t in towns:
        name, code9 = t["name_zh"], t["code9"]
        town_by_county_name[(t["county_code"], name)] = code9
        add(name, code9, "township", source=t["source"])
        for prefix in ("新疆兵团", "兵团"):
            if name.startswith(prefix) and len(name) > len(prefix) + 1:
                add(name[len(prefix):], code9, "township", source=t["source"])
        m = _REGIMENT_IN_NAME.match(name)
        if m and cn_number(m.group(1)) is not None:
            rest = m.group(2)
            rank = 0 if rest in ("", "乡", "农场", "中心团场") else 1 if rest == "生活区" else 2
            regiment_towns.setdefault(cn_number(m.group(1)), []).append((rank, code9))

    # Regiments: town of 团镇合一 > township named after the regiment > division's city.
    for n in sorted(set(REGIMENT_DIVISION) | set(regiment_towns)):
        division = REGIMENT_DIVISION.get(n)
        city = division_city.get(division) if division else None
        targets: list[tuple[str, str]] = []
        if n in REGIMENT_TOWN and city and (city, REGIMENT_TOWN[n]) in town_by_county_name:
            targets = [(town_by_county_name[(city, REGIMENT_TOWN[n])], XPCC_TABLE_SOURCE)]
        elif n in regiment_towns:
            best = min(rank for rank, _ in regiment_towns[n])
            targets = [(code9, "regions/xinjiang_townships.csv") for rank, code9 in regiment_towns[n] if rank == best]
        elif city:
            targets = [(city, "division of the regiment (REGIMENT_DIVISION)")]
        for code, source in targets:
            for form in regiment_forms(n):
                add(form, code, "xpcc_regiment", source=source)
    for farm, town in NAMED_FARM_TOWN.items():
        for (county, name), code9 in town_by_county_name.items():
            if name == town and county.startswith("659"):
                add(farm, code9, "xpcc_regiment", source=XPCC_TABLE_SOURCE)
    return list(out.values())


# --- the gazetteer ------------------------------------------------------------------------

@dataclass(frozen=True)
class Unit:
    code: str
    name_zh: str
    level: int
    unit_type_zh: str | None
    parent_code: str | None
    prefecture_code: str | None
    administered_by: str | None
    is_xpcc: bool
    xpcc_division: str | None
    name_pinyin: str | None
    name_ug: str | None
    valid_from: dt.date | None
    valid_to: dt.date | None

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day < self.valid_to)


class _Node:
    """A resolved candidate: a unit (or township) with its ancestors, deepest first."""

    __slots__ = ("code", "level", "county", "prefecture", "anc", "is_xpcc", "division")

    def __init__(self, code: str, level: int, county: str | None, prefecture: str | None,
                 anc: tuple[str, ...], is_xpcc: bool, division: str | None):
        self.code, self.level, self.county, self.prefecture = code, level, county, prefecture
        self.anc, self.is_xpcc, self.division = anc, is_xpcc, division


@dataclass(frozen=True)
class _Entry:
    code: str
    kind: str
    valid_from: dt.date | None
    valid_to: dt.date | None

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day < self.valid_to)


class Gazetteer:
    """Resolve addresses to places. Build once (≈0.1 s) and share between threads."""

    def __init__(self, regions: Iterable[dict[str, Any]], aliases: Iterable[dict[str, Any]],
                 cache_size: int = 200_000):
        self._units: dict[str, Unit] = {}
        for r in sorted(regions, key=lambda r: (r["code"], _date(r.get("valid_from")) or dt.date.min)):
            self._units[r["code"]] = Unit(
                code=r["code"], name_zh=r["name_zh"], level=int(r["level"]), unit_type_zh=r.get("unit_type_zh"),
                parent_code=r.get("parent_code"), prefecture_code=r.get("prefecture_code"),
                administered_by=r.get("administered_by"), is_xpcc=bool(r.get("is_xpcc")),
                xpcc_division=r.get("xpcc_division"), name_pinyin=r.get("name_pinyin"), name_ug=r.get("name_ug"),
                valid_from=_date(r.get("valid_from")), valid_to=_date(r.get("valid_to")))
        self._aliases = sorted(
            (dict(alias=a["alias"], code=a["code"], kind=a["kind"], valid_to=_date(a.get("valid_to")))
             for a in aliases), key=lambda a: (a["alias"], a["code"], a["kind"]))
        self._successor: dict[str, str] = {}
        self._predecessors: dict[str, list[str]] = {}
        for a in self._aliases:
            if a["kind"] != "former":
                continue
            for u in self._units.values():
                if u.name_zh == a["alias"] and u.valid_to is not None and u.valid_to == a["valid_to"]:
                    self._successor[u.code] = a["code"]
                    self._predecessors.setdefault(a["code"], []).append(u.code)
        self._towns: dict[str, str] = {}  # code9 → county code
        zh: dict[str, list[_Entry]] = {}
        latin: dict[str, list[_Entry]] = {}
        for u in self._units.values():
            zh.setdefault(_key_form(u.name_zh), []).append(_Entry(u.code, "official", u.valid_from, u.valid_to))
        for a in self._aliases:
            code = a["code"]
            if len(code) == 9:
                self._towns[code] = code[:6]
            entry = _Entry(code, a["kind"], None, a["valid_to"])
            target = latin if a["kind"] == "latin" else zh
            key = " ".join(_latin_words(a["alias"])) if a["kind"] == "latin" else _key_form(a["alias"])
            target.setdefault(key, []).append(entry)
        self._zh = {k: tuple(v) for k, v in zh.items()}
        self._latin = {k: tuple(v) for k, v in latin.items()}
        # Character trie over every Chinese name: longest match at each position in one walk.
        self._trie: dict[Any, Any] = {}
        for key in self._zh:
            node = self._trie
            for ch in key:
                node = node.setdefault(ch, {})
            node[None] = key
        self._latin_max = max((k.count(" ") + 1 for k in self._latin), default=1)
        # Leading names outside Xinjiang: province or city → province code; foreign → None.
        self._lead: dict[str, str | None] = {n: c for c, names in PROVINCES.items() for n in names}
        self._lead.update(CITIES_OUTSIDE)
        self._lead.update({n: None for n in FOREIGN_ZH})
        self._lead_lens = tuple(sorted({len(n) for n in self._lead}, reverse=True))
        self._lead_heads = {n[:2] for n in self._lead}
        changes = set()
        for u in self._units.values():
            changes.update(d for d in (u.valid_from, u.valid_to) if d)
        for a in self._aliases:
            if a["valid_to"]:
                changes.add(a["valid_to"])
        self._changes = sorted(changes)
        self._today_epoch = bisect.bisect_right(self._changes, dt.date.today())
        self._epoch_nodes: dict[int, dict[str, tuple[tuple[_Node, ...], bool]]] = {}
        self._resolve_cached = lru_cache(maxsize=cache_size)(self._resolve)

    # constructors --------------------------------------------------------------------------

    @classmethod
    def from_shared(cls, shared_data_dir: str | Path) -> "Gazetteer":
        regions = region_rows(shared_data_dir)
        return cls(regions, alias_rows(shared_data_dir, regions))

    @classmethod
    def from_session(cls, session: Any) -> "Gazetteer":
        from sqlalchemy import select

        from xjip.hub.models import Region, RegionAlias

        cols = ["code", "name_zh", "level", "unit_type_zh", "parent_code", "prefecture_code", "administered_by",
                "is_xpcc", "xpcc_division", "name_pinyin", "name_ug", "valid_from", "valid_to"]
        regions = [dict(zip(cols, row)) for row in session.execute(select(*[getattr(Region, c) for c in cols]))]
        aliases = [dict(alias=r[0], code=r[1], kind=r[2], valid_to=r[3]) for r in session.execute(
            select(RegionAlias.alias, RegionAlias.code, RegionAlias.kind, RegionAlias.valid_to))]
        return cls(regions, aliases)

    # UI helpers ----------------------------------------------------------------------------

    def unit(self, code: str) -> Unit | None:
        return self._units.get(code)

    def names(self, code: str) -> list[str]:
        """Official name first, then every alias (former, short, Latin, XPCC…) of the code."""
        unit = self._units.get(code)
        names: list[str] = [unit.name_zh] if unit else []
        if unit:
            names += [n for n in (unit.name_pinyin, unit.name_ug) if n]
        names += [a["alias"] for a in self._aliases if a["code"] == code]
        names += [u.name_zh for u in self._units.values() if self._successor.get(u.code) == code]
        seen: set[str] = set()
        return [n for n in names if not (n in seen or seen.add(n))]

    def children(self, code: str, on: dt.date | None = None, include_administered: bool = False) -> list[Unit]:
        """Units whose parent is `code`, valid on `on` (today by default). With
        include_administered, 伊犁州 654000 also lists 塔城地区 and 阿勒泰地区."""
        day = on or dt.date.today()
        out = [u for u in self._units.values() if u.parent_code == code and u.valid_on(day)]
        if include_administered:
            out += [u for u in self._units.values() if u.administered_by == code and u.valid_on(day)]
        return sorted(out, key=lambda u: u.code)

    def prefectures(self, on: dt.date | None = None, include_xpcc_node: bool = True) -> list[Unit]:
        """The 14 prefecture-level units (and the XPCC node 659000 last, if asked)."""
        units = [u for u in self.children(REGION_CODE, on) if u.code != XPCC_NODE]
        if include_xpcc_node and XPCC_NODE in self._units:
            units.append(self._units[XPCC_NODE])
        return units

    def townships(self, county_code: str) -> list[tuple[str, str]]:
        """(9-digit code, name) of the townships of a county, as the NBS list names them."""
        best: dict[str, str] = {}
        for a in self._aliases:
            if (a["kind"] == "township" and a["code"][:6] == county_code
                    and len(a["alias"]) > len(best.get(a["code"], ""))):
                best[a["code"]] = a["alias"]
        return sorted(best.items())

    # time ----------------------------------------------------------------------------------

    def _epoch(self, day: dt.date | None) -> int:
        if day is None:  # "today": the units in force now (no change date lies ahead in the tables)
            return self._today_epoch
        if isinstance(day, dt.datetime):
            day = day.date()
        return bisect.bisect_right(self._changes, day)

    def _epoch_day(self, epoch: int) -> dt.date:
        return self._changes[epoch - 1] if epoch > 0 else _EARLIEST

    def code_on(self, code: str, day: dt.date | None = None, _depth: int = 0) -> str:
        """The code of the unit (or its successor / single predecessor / parent) valid on `day`."""
        day = day or dt.date.today()
        unit = self._units.get(code)
        if unit is None or unit.valid_on(day) or _depth > 8:
            return code
        if unit.valid_to is not None and day >= unit.valid_to:
            succ = self._successor.get(code)
            return self.code_on(succ, day, _depth + 1) if succ else code
        preds = self._predecessors.get(code, [])
        if len(preds) == 1:
            return self.code_on(preds[0], day, _depth + 1)
        if not preds and unit.parent_code:
            return self.code_on(unit.parent_code, day, _depth + 1)
        return code

    def _node(self, code: str, day: dt.date) -> _Node | None:
        county9 = self._towns.get(code)
        if county9 is not None:  # township
            county = self.code_on(county9, day)
            if county != county9:
                return self._node(county, day)
            c = self._node(county, day)
            if c is None:
                return None
            return _Node(code, 4, county, c.prefecture, (code, *c.anc), c.is_xpcc, c.division)
        code = self.code_on(code, day)
        unit = self._units.get(code)
        if unit is None:
            return None
        if unit.level == 1:
            return _Node(code, 1, None, None, (code,), False, None)
        if unit.level == 2:
            anc = (code, *([unit.administered_by] if unit.administered_by else []), REGION_CODE)
            return _Node(code, 2, None, code, anc, code == XPCC_NODE, None)
        pref = unit.prefecture_code or unit.parent_code
        pref_unit = self._units.get(pref or "")
        adm = [pref_unit.administered_by] if pref_unit and pref_unit.administered_by else []
        anc = (code, *([pref] if pref else []), *adm, REGION_CODE)
        return _Node(code, 3, code, pref, anc, unit.is_xpcc, unit.xpcc_division)

    def _nodes(self, key: str, entries: tuple[_Entry, ...], epoch: int) -> tuple[tuple[_Node, ...], bool]:
        memo = self._epoch_nodes.setdefault(epoch, {})
        hit = memo.get(key)
        if hit is not None:
            return hit
        day = self._epoch_day(epoch)
        valid = [e for e in entries if e.valid_on(day)] or list(entries)
        # The official name of a unit in force that day beats aliases pointing elsewhere
        # (米泉市 in 2005 is 652303, not its successor 米东区).
        official = [e for e in valid if e.kind == "official"]
        if official:
            valid = official
        nodes: dict[str, _Node] = {}
        for e in valid:
            node = self._node(e.code, day)
            if node is not None:
                nodes.setdefault(node.code, node)
        strong = any(e.kind not in WEAK_KINDS for e in valid)
        result = (tuple(nodes.values()), strong)
        memo[key] = result
        return result

    # resolution ----------------------------------------------------------------------------

    def resolve(self, address: str | None, on: dt.date | None = None) -> Place | None:
        """Resolve one address; `on` picks the units valid on that date (None: today)."""
        if not address:
            return None
        return self._resolve_cached(address, self._epoch(on))

    def resolve_many(self, addresses: Iterable[str | None], on: dt.date | None = None) -> list[Place | None]:
        epoch = self._epoch(on)
        cached = self._resolve_cached
        return [cached(a, epoch) if a else None for a in addresses]

    def cache_clear(self) -> None:
        self._resolve_cached.cache_clear()

    def _resolve(self, address: str, epoch: int) -> Place | None:
        text = address if unicodedata.is_normalized("NFKC", address) else unicodedata.normalize("NFKC", address)
        cjk = _HAS_CJK.search(text) is not None
        text = "".join(text.split()) if cjk else " ".join(text.split())
        if not text:
            return None
        postcode = None
        if text[0].isdigit() or text[0] == "(":
            m = _LEADING_POSTCODE.match(text)
            if m:
                postcode, text = m.group(1), text[m.end():]
        if cjk:
            place = self._resolve_zh(_t2s(text) if _has_traditional(text) else text, epoch)
        else:
            place = self._resolve_latin(text, epoch)
        if place is None and postcode and postcode[:2] in ("83", "84"):
            place = Place(REGION_CODE, None, None, "postcode", postcode)
        return place

    def _resolve_zh(self, text: str, epoch: int) -> Place | None:
        if text[:2] == "中国" or text[:7] == "中华人民共和国":
            text = text[2 if text[:2] == "中国" else 7:].lstrip("()·-,")
        if text[:2] not in self._lead_heads:
            return self._combine(self._scan_zh(text, epoch), epoch)
        for length in self._lead_lens:
            name = text[:length]
            code = self._lead.get(name, 0)
            if code == 0:
                continue
            # A Xinjiang name may start the same way (北京南路街道, 兰州湾镇) or it is a street (北京南路).
            if self._zh_longest(text, 0) > length or not _accept_zh(text, 0, length, "lead"):
                break
            return None if code is None else Place(code, None, None, "province_code", name)
        return self._combine(self._scan_zh(text, epoch), epoch)

    def _zh_longest(self, s: str, i: int) -> int:
        node, best, j = self._trie, 0, i
        while j < len(s):
            node = node.get(s[j])
            if node is None:
                break
            j += 1
            if None in node:
                best = j - i
        return best

    def _scan_zh(self, s: str, epoch: int) -> list[tuple[str, tuple[_Node, ...], bool]]:
        """Leftmost-longest matches of known names, skipping street names (喀什东路)."""
        out: list[tuple[str, tuple[_Node, ...], bool]] = []
        root, table = self._trie, self._zh
        memo = self._epoch_nodes.get(epoch)
        if memo is None:
            memo = self._epoch_nodes.setdefault(epoch, {})
        n = len(s)
        i = 0
        while i < n:
            node = root.get(s[i])
            if node is None:
                i += 1
                continue
            ends = [(i + 1, node[None])] if None in node else None
            j = i + 1
            while j < n:
                node = node.get(s[j])
                if node is None:
                    break
                j += 1
                if None in node:
                    if ends is None:
                        ends = [(j, node[None])]
                    else:
                        ends.append((j, node[None]))
            if ends is None:
                i += 1
                continue
            step = 1
            for end, key in reversed(ends):
                hit = memo.get(key)
                if hit is None:
                    hit = self._nodes(key, table[key], epoch)
                if not hit[0]:
                    continue
                if end < n:
                    nxt = s[end]
                    if nxt in "路巷街东西南北中大一二三四五六七八九十小宾酒广饭结体队委购员伙聚圆范傅父兄姐" \
                            and not _accept_zh(s, i, end - i, table[key][0].kind):
                        continue
                if i and s[i - 1].isdigit() and table[key][0].kind == "xpcc_regiment":
                    continue
                out.append((key, hit[0], hit[1]))
                step = end - i
                break
            i += step
        return out

    def _resolve_latin(self, text: str, epoch: int) -> Place | None:
        words = _latin_words(text)
        if not words:
            return None
        joined = " ".join(words)
        if any(c in FOREIGN_LATIN for c in _ngrams(words, 2)):
            return None

        def scan() -> Iterator[tuple[str, tuple[_Node, ...], bool]]:
            i = 0
            while i < len(words):
                for size in range(min(self._latin_max, len(words) - i), 0, -1):
                    key = " ".join(words[i:i + size])
                    entries = self._latin.get(key)
                    if entries is None or (i + size < len(words) and words[i + size] in _LATIN_ROAD):
                        continue
                    nodes, _ = self._nodes("latin:" + key, entries, epoch)
                    if nodes:
                        yield key, nodes, True
                        i += size
                        break
                else:
                    i += 1

        place = self._combine(scan(), epoch)
        if place is not None:
            return place
        for name, code in LATIN_PROVINCES.items():
            if re.search(r"\b" + re.escape(name) + r"\b", joined):
                return Place(code, None, None, "province_code", name)
        return None

    def _combine(self, matches: Iterable[tuple[str, tuple[_Node, ...], bool]], epoch: int) -> Place | None:
        state: tuple[_Node, ...] | None = None
        strong_state = False
        used: list[str] = []
        for key, nodes, strong in matches:
            if state is None:
                state, strong_state = nodes, strong
                used.append(key)
                continue
            if len(state) == 1 and len(nodes) == 1:  # the common case, without the loops below
                s0, c0 = state[0], nodes[0]
                if s0.code in c0.anc or c0.code in s0.anc:
                    if s0.code in c0.anc:
                        state = nodes
                    strong_state = strong_state or strong
                    used.append(key)
                    if state[0].level == 4:
                        break
                    continue
            refined: dict[str, _Node] = {}
            for s in state:
                for c in nodes:
                    if s.code in c.anc:
                        refined.setdefault(c.code, c)
                    elif c.code in s.anc:
                        refined.setdefault(s.code, s)
            if refined:
                state = tuple(refined.values())
                strong_state = strong_state or strong
                used.append(key)
            elif (all(s.level <= 2 for s in state) and all(c.level >= 3 for c in nodes)
                  and (strong or all(c.is_xpcc for c in nodes))) or (strong and not strong_state):
                # A county-level unit named inside a prefecture it does not belong to (an XPCC
                # city in the prefecture around it: 昌吉州五家渠市; a moved unit: 昌吉州米泉市),
                # or a full official name overriding a weak first guess.
                state, strong_state = nodes, strong
                used.append(key)
            if len(state) == 1 and state[0].level == 4:
                break
        if not state:
            return None
        node = state[0] if len(state) == 1 else self._common(state, epoch)
        if node is None:
            return None
        division = node.division
        if division is None:
            joined = "/".join(used)
            if "师" in joined or "团" in joined:
                division = _division_from_keys(used)
        return Place(
            region_code=node.code,
            prefecture_code=node.prefecture if node.level >= 2 else None,
            county_code=node.county if node.level >= 3 else None,
            method="gazetteer", matched_text="/".join(used), xpcc_division=division)

    def _common(self, nodes: tuple[_Node, ...], epoch: int) -> _Node | None:
        common = set(nodes[0].anc)
        for n in nodes[1:]:
            common &= set(n.anc)
        # the deepest common ancestor: the one with the most ancestors of its own
        day = self._epoch_day(epoch)
        best = None
        for code in common:
            node = self._node(code, day)
            if node is not None and (best is None or len(node.anc) > len(best.anc)):
                best = node
        return best


# --- text helpers -------------------------------------------------------------------------

_HAS_CJK = re.compile(r"[\u3400-\u9fff]")
_LEADING_POSTCODE = re.compile(r"^\(?(\d{6})(?!\d)\)?[\s,，、:：;；-]*")
_EARLIEST = dt.date(1900, 1, 1)
# Characters that only occur in traditional script (a cheap test before calling OpenCC).
_TRAD_HINT = set("烏魯齊縣區圖爾薩蘇東門關墾團師倫庫陽寧濟黃華裡鎮鄉場層號勝線鐵龍頭溝灣車莊葉蘭臺澤羅豐劃廣務業國與學會區")


def _key_form(name: str) -> str:
    """Names are matched in the form addresses take after normalisation (NFKC, no spaces)."""
    return "".join(unicodedata.normalize("NFKC", name).split())


_TRAD_RE = re.compile("[" + "".join(sorted(_TRAD_HINT)) + "]")


def _has_traditional(text: str) -> bool:
    return _TRAD_RE.search(text) is not None


@lru_cache(maxsize=1)
def _opencc() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def _t2s(text: str) -> str:
    return _opencc().convert(text)


def _accept_zh(s: str, i: int, length: int, kind: str) -> bool:
    end = i + length
    nxt = s[end:end + 1]
    if nxt:
        if nxt in "路巷" or (nxt == "街" and s[end + 1:end + 2] != "道") or s[end:end + 2] in _ROAD_NEXT2:
            return False
        reject = _REJECT_NEXT.get(kind)
        if reject and nxt in reject:
            return False
    if kind == "xpcc_regiment" and i > 0 and s[i - 1].isdigit():
        return False
    return True


def _latin_words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).replace("'", "").replace("’", "")
    return re.findall(r"[a-z0-9]+", text)


def _ngrams(words: list[str], size: int) -> set[str]:
    out = set(words)
    for k in range(2, size + 1):
        out.update(" ".join(words[i:i + k]) for i in range(len(words) - k + 1))
    return out


def _division_from_keys(keys: list[str]) -> str | None:
    for key in keys:
        m = _DIVISION_IN_TEXT.search(key)
        if m and ("师" in key):
            n = cn_number(m.group(1))
            if n:
                return division_name(n)
        if key == "建工师":
            return division_name(11)
    for key in keys:
        m = _REGIMENT_IN_TEXT.fullmatch(key)
        if m:
            n = cn_number(m.group(1))
            if n in REGIMENT_DIVISION:
                return division_name(REGIMENT_DIVISION[n])
    return None
