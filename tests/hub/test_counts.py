"""The overview's kept counts (xjip.hub.counts) and its place buckets, on SQLite and PostgreSQL.

Found: foreign patents and patents placed in other provinces were counted as 未定位 ("could not
be placed"); the overview recounted a million rows per request."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import text

from xjip.cli import main
from xjip.hub import counts, queries
from xjip.hub.numbers import cn_check_digit
from xjip.hub.pipeline import run_import
from xjip.hub.store import Store


def _app(i: int) -> str:
    digits = f"2023{10000000 + i:08d}"[:12]
    return f"CN{digits}.{cn_check_digit(digits)}"


HEADER = ["申请号", "标题", "申请人", "申请人地址", "国省代码", "申请日"]
# application → (applicant, address, 国省代码, expected bucket)
ROWS = {
    _app(1): ("新疆大学", "", "新疆(65)", "650100"),
    _app(2): ("示例创新材料有限公司", "831100 新疆维吾尔自治区昌吉州昌吉市北京南路1号", "", "652300"),
    _app(3): ("张伟", "", "新疆(65)", "xinjiang"),  # a person: the 国省代码 places the patent in Xinjiang only
    _app(4): ("示例科技有限公司", "", "河南(41)", "other"),  # another province by the 国省代码
    _app(5): ("示例电子有限公司", "518000 广东省深圳市南山区科技园1号", "", "other"),  # by its address
    _app(6): ("北京示例科技有限公司", "", "", "other"),  # by its name
    _app(7): ("示例株式会社", "", "日本(JP)", "abroad"),  # CNIPA's 国省代码 of a foreign applicant
    _app(8): ("张伟", "", "", "none"),  # nothing to go on
    _app(9): ("和田玉文化有限公司", "", "", "none"),  # a product, not a place
}


def _csv(path: Path) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i, (app, (name, address, province, _)) in enumerate(ROWS.items()):
            w.writerow([app, f"一种测试装置{i}", name, address, province, f"2023-0{1 + i % 9}-01"])
    return path


def _check(store: Store) -> dict:
    with store.reading() as s:
        return counts.check(s)


def _buckets(store: Store) -> dict[str, int]:
    with store.reading() as s:
        data = queries.overview(s)
    return {r["code"]: r["counts"].get("patent", 0) for r in data["by_prefecture"] if r["counts"].get("patent")}


def test_foreign_and_other_province_patents_are_not_counted_as_unplaced(store: Store, shared_data: Path,
                                                                       tmp_path: Path) -> None:
    store.upgrade()
    run_import(store, _csv(tmp_path / "places.csv"))
    # real US grants (a foreign office; applicants from abroad): 23 patents
    run_import(store, shared_data / "patents/real_exports/uspto/us_grants_2001_sample.xml")
    got = _buckets(store)
    expected: dict[str, int] = {}
    for _, (_, _, _, bucket) in ROWS.items():
        expected[bucket] = expected.get(bucket, 0) + 1
    expected["abroad"] += 23
    assert got == expected
    assert got["none"] == 2  # only what truly could not be placed
    # each bucket's list has the overview's figure as its total, and the list filter agrees row by row
    with store.reading() as s:
        for bucket, n in expected.items():
            page = queries.list_records(s, "patent", {"prefecture": bucket}, page_size=200)
            assert page["total"] == n == len(page["items"]), bucket
        quality = {q["record_type"]: q for q in queries.overview(s)["quality"]}
        assert quality["patent"]["unplaced"] == 2
    # the JSON twin and the page say the same, with words for the outside rows
    from fastapi.testclient import TestClient

    from xjip.app import create_app

    with TestClient(create_app(store.settings, store)) as client:
        api = client.get("/api/overview").json()
        assert {r["code"]: r["counts"].get("patent", 0) for r in api["by_prefecture"]
                if r["counts"].get("patent")} == expected
        page = client.get("/").text
        for label in ("其他省区市", "境外（国外及港澳台）", "新疆（地州不详）", "未定位"):
            assert label in page
    assert _check(store)["ok"]


def test_kept_counts_follow_every_write_and_equal_a_recount(store: Store, shared_data: Path, tmp_path: Path) -> None:
    store.upgrade()
    run_import(store, _csv(tmp_path / "places.csv"))
    run_import(store, shared_data / "gi" / "xinjiang_gi_records.csv")
    assert _check(store)["ok"]
    before = _buckets(store)
    # writes outside the import pipeline are counted too: a place changed by hand, a record deleted,
    # a status and a date changed, a synthetic flag flipped
    with store.session() as s:
        s.execute(text("UPDATE patent SET prefecture_code = '650100', region_code = '650102', place_method = 'owner' "
                       "WHERE app_number = :a"), {"a": _app(8)})
        s.execute(text("DELETE FROM patent_party WHERE patent_id IN (SELECT id FROM patent WHERE app_number = :a)"),
                  {"a": _app(4)})
        s.execute(text("DELETE FROM patent WHERE app_number = :a"), {"a": _app(4)})
        s.execute(text("UPDATE patent SET status = 'granted', app_date = NULL WHERE app_number = :a"), {"a": _app(1)})
        s.execute(text("UPDATE gi SET is_synthetic = :t WHERE id IN "
                       "(SELECT id FROM gi ORDER BY id LIMIT 3)"), {"t": True})
    assert _check(store)["ok"]
    after = _buckets(store)
    assert after["none"] == before["none"] - 1 and after["650100"] == before["650100"] + 1
    assert after["other"] == before["other"] - 1
    with store.reading() as s:
        data = queries.overview(s)
    gi = next(t for t in data["by_type"] if t["record_type"] == "gi")
    assert gi["synthetic"] == 3 and gi["total"] == 93
    patent_quality = next(q for q in data["quality"] if q["record_type"] == "patent")
    assert patent_quality["missing_date"] == 1

    # the CLI proves it, finds a wrong count, and repairs it
    base = ["--database-url", store.settings.database_url, "--data-dir", store.settings.data_dir]
    ok = CliRunner().invoke(main, [*base, "db", "check-counts", "--format", "json"], catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["ok"] is True
    with store.session() as s:
        s.execute(text("UPDATE right_count SET n = n + 5 WHERE id = (SELECT min(id) FROM right_count WHERE n > 0)"))
    bad = CliRunner().invoke(main, [*base, "db", "check-counts"], catch_exceptions=False)
    assert bad.exit_code == 1 and "不一致" in bad.output and "differ" not in bad.output
    fixed = CliRunner().invoke(main, [*base, "db", "check-counts", "--repair"], catch_exceptions=False)
    assert fixed.exit_code == 0, fixed.output
    assert _check(store)["ok"]


def test_a_rolled_back_write_leaves_the_counts_alone(store: Store, tmp_path: Path) -> None:
    store.upgrade()
    run_import(store, _csv(tmp_path / "places.csv"))
    with store.reading() as s:
        kept_before = counts.kept(s)
    try:
        with store.session() as s:
            s.execute(text("DELETE FROM patent_party"))
            s.execute(text("DELETE FROM patent"))
            raise RuntimeError("abandon")
    except RuntimeError:
        pass
    with store.reading() as s:
        assert counts.kept(s) == kept_before
    assert _check(store)["ok"]


def test_list_totals_from_the_kept_counts_equal_a_count(store: Store, shared_data: Path, tmp_path: Path) -> None:
    """Lists take their totals from the kept counts when they can: the same figure as counting."""
    from sqlalchemy import func, select

    store.upgrade()
    run_import(store, _csv(tmp_path / "places.csv"))
    run_import(store, shared_data / "patents/real_exports/uspto/us_grants_2001_sample.xml")
    spec = queries.TYPES["patent"]
    combos = [{}, {"year": 2023}, {"year": 2001}, {"synthetic": False}, {"synthetic": True},
              {"prefecture": "650100"}, {"prefecture": "abroad", "year": 2001}, {"missing": "place"},
              {"missing": "date"}, {"missing": "title"}, {"missing": "party"}, {"status": "granted"}]
    with store.reading() as s:
        for combo in combos:
            f = queries.RecordFilters(**combo)
            kept = queries._kept_totals(s, spec, f)
            assert kept is not None, combo
            counted = s.scalar(select(func.count()).select_from(spec.model).where(*queries._conditions(spec, f)))
            assert kept[0] == counted, combo
        assert queries._kept_totals(s, spec, queries.RecordFilters(q="装置")) is None  # text: counted
        # as the web asks: a text box left empty still reads the kept counts (it counted 73,000 rows
        # a page for a year's list at 1,000,000 patents, 200 ms)
        empty_box = queries.RecordFilters(year=2001, extra={"text_ids": queries.text_ids(store, "patent", None)})
        assert queries._kept_totals(s, spec, empty_box) is not None
        assert queries._kept_totals(s, spec, queries.RecordFilters(year=2001, extra={"text_ids": [1]})) is None
