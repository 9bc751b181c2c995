"""E-commerce clues: quality on the labelled set (tests/gi/data/listings_labelled.csv), the bad
input the issue lists, the listings reader, storage/triage/referral/package on both databases,
and the CLI."""
from __future__ import annotations

import datetime as dt
import io
import json
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from xjip.cli import main
from xjip.gi import GIError
from xjip.gi.clues import add_whitelist, clue_package, import_listings, list_clues, triage
from xjip.gi.listings import read_listings
from xjip.gi.monitor import Monitor, entries_from_csv, entries_from_session, from_session
from xjip.hub import models as m
from xjip.hub.gazetteer import Gazetteer

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.gi_monitor import build, evaluate, load_labelled  # noqa: E402

HEADER = "listing_id,title,shop,seller_location,price,listed_at,url\n"


@pytest.fixture(scope="module")
def monitor(shared_data) -> Monitor:  # noqa: ANN001
    return build(shared_data)


def test_labelled_set_is_large_and_mixed() -> None:
    rows = load_labelled()
    groups = {r["group"] for r in rows}
    assert len(rows) >= 300 and groups == {"clear_legit", "clear_infringing", "tricky_legit", "tricky_infringing"}
    assert all(r["synthetic"] == "1" for r in rows)
    assert len({r["listing_id"] for r in rows}) == len(rows)


def test_precision_and_recall_on_the_labelled_set(monitor: Monitor) -> None:
    result = evaluate(monitor, load_labelled())
    # bench/RESULTS.md has the measured figures; these bounds catch a rule that breaks
    assert result["listing_precision"] >= 0.95 and result["listing_recall"] >= 0.95, result["misses"][:10]
    assert result["clue_precision"] >= 0.9 and result["clue_recall"] >= 0.9
    for rule, counts in result["per_rule"].items():
        assert counts["tp"] > 0, rule  # every rule is exercised by the set


def test_holdout_set_written_after_the_rules(monitor: Monitor) -> None:
    from bench.gi_monitor import HOLDOUT

    result = evaluate(monitor, load_labelled(HOLDOUT))
    assert result["listings"] == 60
    # measured 1.0 / 0.86 (bench/RESULTS.md); misses: product word before the place, two homophones
    assert result["listing_precision"] >= 0.95 and result["listing_recall"] >= 0.8, result["misses"]


def scan(monitor: Monitor, title: str, loc: str | None = "河北 石家庄", shop: str = "某店", **more) -> set[str]:  # noqa: ANN003
    return {c.rule for c in monitor.scan({"listing_id": "x", "title": title, "shop": shop, "seller_location": loc, **more})}


def test_the_korla_cases(monitor: Monitor) -> None:
    assert scan(monitor, "库尔勒香梨 5斤", "新疆巴州库尔勒市") == set()
    assert scan(monitor, "库尔勒香梨 5斤", "新疆 阿拉尔") == set()  # inside the GI-product area
    assert scan(monitor, "库尔勒香梨 5斤", "新疆 乌鲁木齐") == {"outside_area"}
    assert scan(monitor, "库尔勒香梨 5斤", "上海", shop="梨城果业上海直营店") == set()  # whitelisted
    assert scan(monitor, "库尔勒香梨 5斤", "上海") == {"outside_area"}


def test_html_emoji_and_long_titles(monitor: Monitor) -> None:
    assert scan(monitor, "<script>alert(1)</script><b>库尔勒香梨</b>🍐🍐&amp;") == {"outside_area"}
    assert scan(monitor, "🍐" * 50) == set()
    clue = monitor.scan({"listing_id": "x", "title": "<i>库尔勒香梨</i>", "seller_location": "河北"})[0]
    assert "<" not in clue.evidence["title"]
    long = "库尔勒香梨" + "好" * 10_000
    assert scan(monitor, long) == {"outside_area"}  # the engine reads the first characters only
    data = (HEADER + f"1,{long},店,河北,10,2025-07-01,\n2,库尔勒香梨,店,河北,10,2025-07-01,\n").encode()
    out = read_listings("x.csv", data)
    assert [r["listing_id"] for r in out.rows] == ["2"]
    rej = out.rejections[0]
    assert rej["record"] == 1 and rej["field"] == "title" and rej["code"] == "title_too_long"
    assert "第1条记录" in rej["message_zh"] and "record 1" in rej["message_en"]


def test_missing_or_unparseable_locations_never_raise_a_location_clue(monitor: Monitor) -> None:
    for loc in (None, "", "   ", "火星基地", "新疆", "中国", "??", "\u202e河北", "x" * 5000):
        assert "outside_area" not in scan(monitor, "库尔勒香梨", loc), loc
    # rules that do not depend on the place still fire
    assert scan(monitor, "库尔勒香梨同款 酥梨", None) == {"misleading_qualifier"}


def test_listing_reader_formats_headers_and_duplicates(tmp_path: Path) -> None:
    zh = "商品ID,商品标题,店铺名称,发货地,价格,上架时间\nA1,库尔勒香梨,店,河北,¥19.90,2025/07/01\nA1,库尔勒香梨,店,河北,19.9,2025-07-01\n" \
         "A2,阿克苏苹果,店,,免费,2025-07-01\nA3,,店,河北,1,2025-07-01\nA4,吐鲁番葡萄干,店,,,昨天\n"
    out = read_listings("zh.csv", zh.encode("utf-8-sig"))
    assert [r["listing_id"] for r in out.rows] == ["A1"] and out.rows[0]["price"] == 19.9
    assert out.rows[0]["listed_at"] == dt.date(2025, 7, 1)
    codes = [(r["record"], r["code"], r["field"]) for r in out.rejections]
    assert codes == [(2, "duplicate_listing", "listing_id"), (3, "bad_price", "price"), (4, "missing_field", "title"),
                     (5, "bad_listed_at", "listed_at")]
    gbk = read_listings("gbk.csv", "商品ID,标题\nB1,精河枸杞\n".encode("gb18030"))
    assert gbk.rows[0]["title"] == "精河枸杞"
    js = read_listings("x.json", json.dumps([{"listing_id": 1, "title": "若羌红枣", "seller_location": "河南"}, 5,
                                             {"标题": "若羌红枣"}], ensure_ascii=False).encode())
    assert [r["listing_id"] for r in js.rows] == ["1"] and [r["code"] for r in js.rejections] == ["bad_record", "missing_field"]
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["宝贝ID", "宝贝标题", "卖家所在地", "上架日期"])
    wb.active.append(["X1", "吐鲁番葡萄干 500g", "浙江 金华", dt.datetime(2025, 8, 1)])
    buf = io.BytesIO()
    wb.save(buf)
    xl = read_listings("x.xlsx", buf.getvalue())
    assert xl.rows[0]["seller_location"] == "浙江 金华" and xl.rows[0]["listed_at"] == dt.date(2025, 8, 1)
    for name, data, code in [("x.csv", b"foo,bar\n1,2\n", "missing_column"), ("x.json", b"{not json", "bad_json"),
                             ("x.xlsx", b"PK\x03\x04 broken", "bad_file"), ("x.csv", b"", "empty_file")]:
        with pytest.raises(GIError) as err:
            read_listings(name, data)
        assert err.value.code == code
        zh_msg, en_msg = err.value.messages()
        assert zh_msg and en_msg


def test_session_entries_match_the_compiled_list(store, gi_loaded, shared_data) -> None:  # noqa: ANN001
    from_csv = {e.name: e.area for e in entries_from_csv(shared_data / "gi" / "xinjiang_gi_records.csv")}
    with store.reading() as s:
        from_db = {e.name: e.area for e in entries_from_session(s)}
    assert from_db == from_csv


def test_store_triage_refer_close_and_package(store, gi_loaded) -> None:  # noqa: ANN001
    data = (HEADER + "1,库尔勒香梨 5斤,某店,河北 石家庄,10,2025-07-01,\n2,库尔勒香梨 5斤,梨园,新疆库尔勒,10,2025-07-01,\n"
            "3,=HYPERLINK(\"x\") 精河枸杞,店,宁夏 中卫,10,2025-07-01,\n4,库尔勒香梨 5斤,某店,新疆 乌鲁木齐,10,2025-07-01,\n"
            "1,库尔勒香梨 5斤,某店,河北 石家庄,10,2025-07-01,\n").encode()
    with store.session() as s:
        add_whitelist(s, "梨园", None, "staff1", "测试")
        result = import_listings(s, read_listings("a.csv", data), "batch-1", "staff1")
    assert result["stored"] == 4 and result["rejected"] == 1 and result["clues"] == 3
    with store.session() as s:
        again = import_listings(s, read_listings("a.csv", data), "batch-1", "staff1")
    assert again["stored"] == 0 and again["duplicates"] == 4
    with store.reading() as s:
        clues = {c["listing"]["listing_id"]: c for c in list_clues(s)["items"]}
    assert set(clues) == {"1", "3", "4"}
    with pytest.raises(GIError) as err, store.session() as s:
        triage(s, clues["1"]["id"], "referred", "staff1")
    assert err.value.code == "bad_transition"
    with store.session() as s:
        triage(s, clues["1"]["id"], "confirmed", "staff1", "核实")
        triage(s, clues["1"]["id"], "referred", "staff1")
        triage(s, clues["4"]["id"], "confirmed", "staff1")
        triage(s, clues["4"]["id"], "referred", "staff1")
    with pytest.raises(GIError) as err, store.session() as s:
        triage(s, clues["1"]["id"], "closed", "staff1")
    assert err.value.code == "outcome_required"
    with store.session() as s:
        triage(s, clues["1"]["id"], "closed", "staff1", outcome="已下架（测试）")
        package = clue_package(s, [clues["1"]["id"], clues["3"]["id"]])
    with store.reading() as s:
        done = {c["listing"]["listing_id"]: c for c in list_clues(s)["items"]}
    assert done["1"]["referred_to"] == "130000"  # 河北: the province's unit
    assert done["4"]["referred_to"] == "650100"  # 乌鲁木齐's
    assert done["1"]["status"] == "closed" and done["1"]["outcome"] == "已下架（测试）"
    assert [h["to"] for h in done["1"]["history"]] == ["confirmed", "referred", "closed"]
    zf = zipfile.ZipFile(io.BytesIO(package))
    text = zf.read("clues.csv").decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "库尔勒香梨" in text
    assert len(json.loads(zf.read("clues.json"))) == 2


def test_cli_list_and_monitor(settings, store, gi_loaded, tmp_path: Path) -> None:  # noqa: ANN001
    base = ["--database-url", settings.database_url, "--data-dir", settings.data_dir]
    result = CliRunner().invoke(main, [*base, "gi", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["total"] == 93 and {"name", "gi_system", "gaps", "pinyin"} <= set(data["items"][0])
    path = tmp_path / "listings.csv"
    path.write_text(HEADER + "L1,庫爾勒香梨 禮盒,店,广东 深圳,88,2025-09-01,\nL2,库尔勒香梨,梨园,新疆库尔勒,10,,\n"
                    "L3,,店,河北,1,,\n", encoding="utf-8")
    result = CliRunner().invoke(main, [*base, "gi", "monitor", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [(c["listing_id"], c["rule"]) for c in out["clues"]] == [("L1", "traditional_variant")]
    assert out["clues"][0]["evidence"]["match"] == "庫爾勒香梨"
    assert out["rejected"][0]["record"] == 3 and out["rejected"][0]["field"] == "title"
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    result = CliRunner().invoke(main, [*base, "gi", "monitor", str(bad)])
    assert result.exit_code == 2 and "错误" in result.output and "Error" in result.output


def test_an_area_naming_a_former_unit_covers_its_successor(store, gi_loaded, shared_data) -> None:  # noqa: ANN001
    """A GI recorded with 库车县 (652923, now 库车市 652902) only: a seller in 库车市 is inside."""
    from xjip.gi.monitor import current_areas

    gaz = Gazetteer.from_shared(shared_data)
    old = [e for e in entries_from_csv(shared_data / "gi" / "xinjiang_gi_records.csv") if e.name == "库车小白杏"][0]
    old = type(old)(old.name, old.gi_ids, old.systems, frozenset({"652923"}))
    assert Monitor([old], gaz).scan({"listing_id": "1", "title": "库车小白杏 3斤", "seller_location": "新疆库车市"})
    assert Monitor(current_areas([old], gaz), gaz).scan(
        {"listing_id": "1", "title": "库车小白杏 3斤", "seller_location": "新疆库车市"}) == []


def test_scan_many_in_processes_gives_the_same_clues(monitor: Monitor) -> None:
    from xjip.gi.monitor import scan_many

    rows = load_labelled() * 30  # 12,390 listings: three chunks
    one = scan_many(monitor, rows)
    assert scan_many(monitor, rows, processes=2, chunk=5000) == one and len(one) > 5000
