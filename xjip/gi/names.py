"""Names of GI products: pinyin, traditional characters, Chinese categories, other languages.

Where the names come from
- Chinese: the protected name as published (``gi.name``).
- Pinyin: generated with pypinyin, with the place-name readings that the regions data README
  uses for its own generated pinyin (勒 le, 什 shi, 伽 jia). Not an official romanisation.
- English: only the three Xinjiang names of the China–EU agreement's first 100
  (``gi/eu_china_agreement_xinjiang.csv``: Korla Fragrant Pear, Turpan raisin, Jinghe goji berry).
- Uyghur: no product name was found in the data. Where the regions data has the Uyghur name of
  the GI's place (17 units, wiki mirrors, ``regions/README.md``), it is shown as the place's name.
- Russian: none found; shown as "not known".
"""
from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import Style, lazy_pinyin, load_phrases_dict

# The regions README's three overrides, as phrases so only the place names change.
load_phrases_dict({"库尔勒": [["kù"], ["ěr"], ["lè"]], "喀什": [["kā"], ["shí"]], "伽师": [["jiā"], ["shī"]],
                   "喀什噶尔": [["kā"], ["shí"], ["gá"], ["ěr"]]})

# China–EU agreement, first 100 (eu_china_agreement_xinjiang.csv, row 1 and 2).
ENGLISH = {"库尔勒香梨": "Korla Fragrant Pear", "吐鲁番葡萄干": "Turpan Raisin", "精河枸杞": "Jinghe Goji Berry"}

# Our coarse English category tags (the data's product_category) → the Chinese words a clerk uses.
CATEGORY_ZH = {
    "fruit": "水果", "dried_fruit": "干果", "nut": "坚果", "grain": "粮油", "livestock": "畜禽", "aquatic": "水产",
    "wine": "酒类", "vegetable": "蔬菜", "beverage": "饮用水", "jade/stone": "玉石", "fungi": "食用菌", "seed": "籽类",
    "seed/nut": "籽类", "legume": "豆类", "bee product": "蜂产品", "flower/medicinal": "花卉药材", "flower/tea": "花草茶",
    "medicinal": "中药材", "medicinal/fruit": "药食同源", "medicinal/oil crop": "药用油料", "essential oil": "精油",
}
SUB_ZH = {
    "jujube": "红枣", "apricot": "杏", "melon": "甜瓜", "rice": "大米", "fish": "鱼", "grape": "葡萄", "goji": "枸杞",
    "meat": "肉类", "wheat flour": "面粉", "poultry": "禽类", "potato": "马铃薯", "turnip": "恰玛古", "almond": "巴旦姆",
    "mineral water": "矿泉水", "pomegranate": "石榴", "handicraft material": "工艺材料", "fig": "无花果",
    "musalais": "穆塞莱斯", "prune": "西梅", "broad bean": "蚕豆", "honey": "蜂蜜", "rose": "玫瑰", "sea-buckthorn": "沙棘",
    "lavender": "薰衣草", "garlic": "大蒜", "horse": "马", "sheep": "羊", "snow chrysanthemum": "雪菊",
    "cistanche": "大芸", "melon seeds": "瓜子", "pear": "香梨", "flat peach": "蟠桃", "safflower": "红花",
}
_TAG = re.compile(r"^([^()]+?)\s*(?:\((.+)\))?$")


def category_main(tag: str | None) -> str | None:
    """The Chinese main category of a tag such as 'fruit (jujube)'; None when the tag is empty."""
    if not tag:
        return None
    match = _TAG.match(tag.strip())
    head = match.group(1).strip() if match else tag
    return CATEGORY_ZH.get(head, head)


def category_zh(tag: str | None) -> str | None:
    """'fruit (jujube)' → '水果（红枣）'; an unknown part is shown as written."""
    if not tag:
        return None
    match = _TAG.match(tag.strip())
    main = category_main(tag)
    sub = match.group(2) if match else None
    if not sub:
        return main
    first = sub.split(",")[0].strip()
    return f"{main}（{SUB_ZH.get(first, first)}）"


@lru_cache(maxsize=4096)
def pinyin(name: str) -> str:
    """Tone-marked pinyin, syllables separated by spaces: 库尔勒香梨 → kù ěr lè xiāng lí."""
    return " ".join(lazy_pinyin(name, style=Style.TONE))


@lru_cache(maxsize=4096)
def pinyin_plain(name: str) -> str:
    """Toneless, joined, lower case: 库尔勒香梨 → kuerlexiangli (what a seller types for a search)."""
    return "".join(lazy_pinyin(name, style=Style.NORMAL)).lower()


@lru_cache(maxsize=1)
def _s2t():  # noqa: ANN202
    import opencc

    return opencc.OpenCC("s2t")


@lru_cache(maxsize=4096)
def traditional(name: str) -> str:
    return _s2t().convert(name)


def names_of(name: str, place_ug: str | None = None) -> dict[str, str | None]:
    """Every form of a product name the pages show, with None where none is known."""
    return {"zh": name, "pinyin": pinyin(name), "traditional": traditional(name), "en": ENGLISH.get(name),
            "ug_place": place_ug, "ru": None}
