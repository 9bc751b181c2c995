"""The compiled Xinjiang GI list (../shared/data/gi/xinjiang_gi_records.csv) → GIRecords."""
from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook

from xjip.hub.importers import gi_list as gl
from xjip.hub.importers import templates as tpl
from xjip.hub.importers.base import detect, iter_sources
from xjip.hub.records import GIRecord, Rejection, SourceError

GI = "gi/xinjiang_gi_records.csv"


def parse(path: Path) -> list:
    (src,) = list(iter_sources(path))
    return list(gl.gi_list.parse(src, {}))


@pytest.fixture(scope="module")
def records(shared_data: Path) -> list[GIRecord]:
    (src,) = list(iter_sources(shared_data / GI))
    assert detect(src).name == "gi_list"
    items = list(gl.gi_list.parse(src, {}))
    assert all(isinstance(i, GIRecord) for i in items)
    return items


def by_key(records: list[GIRecord], name: str, system: str) -> GIRecord:
    return next(r for r in records if r.natural_key() == f"{name}|{system}")


def test_counts_match_the_readme(records: list[GIRecord]) -> None:
    assert len(records) == 93
    assert len({r.name for r in records}) == 82
    assert collections.Counter(r.gi_system for r in records) == {
        "PGI_product": 35, "AGI": 31, "GI_certification_TM": 13, "GI_unspecified": 9, "GI_TM_unspecified": 5}
    assert collections.Counter(r.confidence for r in records) == {"high": 10, "medium": 63, "low": 20}
    assert len({r.natural_key() for r in records}) == 93


def test_korla_pear_gi_product(records: list[GIRecord]) -> None:
    r = by_key(records, "库尔勒香梨", "PGI_product")
    assert r.region_codes == ["652801", "652823", "652822", "652901", "652902", "652924", "652925", "652928",
                              "652922", "659002"]
    assert (r.approval_date, r.approval_date_text) == (dt.date(2004, 10, 5), "2004-10-05")
    assert r.announcement_no == "国家质检总局2004年第185号公告"
    assert r.authority == "国家质量监督检验检疫总局(原产地域产品保护)"
    assert (r.status, r.category, r.confidence) == ("approved_or_registered", "fruit", "high")
    assert r.source_url == "http://www.fzcpr.com/gggs/2004-10/5/86415.html"
    assert r.protected_area_text.endswith("温宿县等3市7县现辖行政区域")
    assert r.notes.startswith("China-EU GI Agreement first batch")
    assert (r.locator.record, r.locator.line) == (1, 2) and r.raw["record_id"] == "XJGI-001"


def test_prefecture_codes_when_no_county_and_partial_dates(records: list[GIRecord]) -> None:
    mark = by_key(records, "库尔勒香梨", "GI_certification_TM")
    assert mark.region_codes == ["652800"]  # prefecture only
    assert (mark.approval_date, mark.approval_date_text) == (None, "1996")
    grape = by_key(records, "吐鲁番葡萄", "PGI_product")
    assert grape.region_codes == ["650400"]
    assert (grape.approval_date, grape.approval_date_text) == (None, "2003 (publicised 2003-09-02)")
    # a full date first, then a remark: the date is taken, the text kept
    apricot = next(r for r in records if (r.approval_date_text or "").startswith("2015-02-10"))
    assert apricot.approval_date == dt.date(2015, 2, 10)
    assert sum(1 for r in records if r.approval_date) == 12
    assert sum(1 for r in records if r.approval_date_text and not r.approval_date) == 32
    assert sum(1 for r in records if r.approval_date_text == "before 2009-10") == 3


def test_qitai_flour_numbers(records: list[GIRecord]) -> None:
    regs = {r.gi_system: r.registration_no for r in records if r.name == "奇台面粉"}
    assert regs == {"AGI": "AGI00835 (AGI certificate no.)", "GI_TM_unspecified": "13515371"}  # as printed


def test_same_key_as_the_gi_template(tmp_path: Path, records: list[GIRecord]) -> None:
    path = tpl.write_template("gi", tmp_path / "gi.xlsx")
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    ws.append(["库尔勒香梨", "地理标志保护产品", None, None, None, "652801;652823", None, None, "2004-10-05"])
    wb.save(path)
    (src,) = list(iter_sources(path))
    (rec,) = list(tpl.IMPORTERS["gi"].parse(src, {}))
    listed = by_key(records, "库尔勒香梨", "PGI_product")
    assert rec.natural_key() == listed.natural_key() == "库尔勒香梨|PGI_product"
    assert (rec.approval_date, rec.approval_date_text) == (listed.approval_date, listed.approval_date_text)


def test_bad_rows_are_located_and_the_others_come(shared_data: Path, tmp_path: Path) -> None:
    lines = (shared_data / GI).read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[1].startswith("XJGI-001,库尔勒香梨,PGI_product,")
    bad = list(lines)
    bad[2] = bad[2].replace(",PGI_product,", ",PGI_produkt,", 1)  # 吐鲁番葡萄
    bad[3] = bad[3].replace("650400", "65040", 1)  # 吐鲁番葡萄干: prefecture code one digit short
    bad[4] = bad[4].replace(",2005-11-29,", ",2005-11-31,", 1)
    bad.append(lines[1])  # 库尔勒香梨 again
    path = tmp_path / "gi.csv"
    path.write_text("".join(bad), encoding="utf-8")
    items = parse(path)
    rejections = [(i.code, i.field, i.params, i.locator.record, i.locator.line) for i in items
                  if isinstance(i, Rejection)]
    assert rejections == [
        ("bad_value", "gi_type", {"value": "PGI_produkt"}, 2, 3),
        ("bad_value", "prefecture_codes", {"value": "65040"}, 3, 4),
        ("invalid_date", "approval_date", {"value": "2005-11-31"}, 4, 5),
        ("duplicate_key", None, {"key": "库尔勒香梨|PGI_product", "first": 1}, 94, 95),
    ]
    assert sum(isinstance(i, GIRecord) for i in items) == 90


def test_missing_column_and_the_special_mark_file(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "gi.csv"
    text = (shared_data / GI).read_text(encoding="utf-8")
    path.write_text(text.replace("gi_type", "type", 1), encoding="utf-8")
    with pytest.raises(SourceError) as err:
        parse(path)
    assert err.value.rejection.code == "missing_columns" and err.value.rejection.params == {"columns": "gi_type"}
    # aggregate facts, not per-enterprise authorisations: not claimed
    events = shared_data / "gi/xinjiang_gi_special_mark_events.csv"
    assert gl.gi_list.sniff(events.read_bytes(), events.name) == 0
