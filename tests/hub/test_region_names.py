"""The English region names shipped with the package (refdata/regions/region_names_en.csv): one for
every unit of the shipped region table and every province code the gazetteer places records in,
none of them Chinese or generated pinyin, each XPCC city with its division."""
from __future__ import annotations

import csv
import re

from xjip.hub.gazetteer import PROVINCES
from xjip.hub.reference import PACKAGE_DIR
from xjip.hub.region_names import NAMES_EN, english_names, region_name


def test_every_region_and_province_has_an_english_name() -> None:
    with open(PACKAGE_DIR / "regions" / "xinjiang_admin_divisions.csv", encoding="utf-8", newline="") as fh:
        regions = {r["code"]: r for r in csv.DictReader(fh)}
    names = english_names()
    assert set(names) == set(regions) | set(PROVINCES)
    cjk = re.compile(r"[\u4e00-\u9fff]")
    pinyin_suffix = re.compile(r"\b(Shi|Xian|Qu|Diqu|Zizhizhou|Zizhixian|Zizhiqu)$")
    assert [c for c, n in names.items() if not n or cjk.search(n) or pinyin_suffix.search(n)] == []
    with open(NAMES_EN, encoding="utf-8", newline="") as fh:
        rows = {r["code"]: r for r in csv.DictReader(fh)}
    for code, r in regions.items():  # the Chinese name is the region table's, the XPCC cities have a division
        assert rows[code]["name_zh"] == r["name_zh"]
        assert bool(rows[code]["xpcc_division_en"]) == (r["is_xpcc_city"] == "1"), code
        assert rows[code]["basis"] in ("wikipedia_en", "pinyin", "translation")
    assert region_name("650100", "en") == "Urumqi" and region_name("654300", "en") == "Altay Prefecture"
    assert region_name("659001", "en") == "8th Division / Shihezi" and region_name("659001", "zh") == "石河子市"
    assert region_name("410000", "en") == "Henan" and region_name("999999", "en") is None
