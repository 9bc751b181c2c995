"""The indicators end to end: a published figure reproduced from its inputs, the values equal an
independent recount of the records (on SQLite and PostgreSQL alike), staff entries are never
overwritten, and the CLI gives every indicator with its numerator, denominator and query."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from xjip.hub import models as m
from xjip.hub import synth, synth_rights
from xjip.hub.pipeline import run_import
from xjip.indicators import compute, definitions, entries, records, report
from xjip.indicators.config import IndicatorSettings


def test_national_2025_figure_from_its_published_inputs():
    # End-2025: 229.2万 high-value invention patents (China News 2026-01-23, reprint
    # https://us.usy7.cc/usy0124Qc7lkd.htm) and a year-end population of 140489万 (NBS,
    # https://www.qunfachuanzhen.com/new/731392455580076032) → "16 per 10,000" as published.
    value = definitions.per_10k(2_292_000, 1_404_890_000)
    assert round(value) == 16
    assert round(value, 1) == 16.3


def test_plan_copy_matches_shared_data(shared_data):
    shipped = definitions.PLAN_FILE.read_bytes()
    assert shipped == (shared_data / "stats" / "plan_indicators_2025_2030.csv").read_bytes()
    ids = [i.id for i in definitions.indicators()]
    assert len(ids) == 7 and ids[0] == "hv_invention_per_10k"
    assert definitions.by_id("valid_tm_cum").baseline == 47.16


@pytest.fixture
def synthetic(ref_store, tmp_path, shared_data):
    """400 synthetic patents and their rights (every record marked synthetic), imported."""
    path = tmp_path / "patents.csv"
    synth.write_cn_biblio_csv(path, 400, 7, shared=str(shared_data))
    synth_rights.write_rights(tmp_path / "rights", 300, 7, patents=400, patent_seed=7, shared=str(shared_data))
    for p in [path, *sorted((tmp_path / "rights").glob("*.csv"))]:
        job = run_import(ref_store, p)
        assert job.status == "done", (p, job.error)
    return ref_store


def _recount(s, year: int, st: IndicatorSettings) -> dict[str, float]:
    """The same definitions, counted record by record in Python (no GROUP BY)."""
    day = dt.date(year, 12, 31)
    awards = compute.award_patents(s)
    hv = 0
    for f in s.scalars(select(m.IndicatorPatent)):
        in_force = f.granted_on and f.granted_on <= day and (f.ends_on is None or f.ends_on > day) and not f.ended_undated
        if in_force and compute.in_xinjiang(f.bucket) and records.criteria_met(f, st, year, awards):
            hv += 1
    tm = 0
    for t in s.scalars(select(m.Trademark)):
        ended = t.status in ("cancelled", "invalidated", "expired") and (t.status_date is None or t.status_date <= day)
        placed = compute.in_xinjiang(t.prefecture_code if t.prefecture_code != "659000" else (t.county_code or "659000"))
        if t.reg_date and t.reg_date <= day and (t.expiry_date is None or t.expiry_date > day) and not ended and placed:
            tm += 1
    pledge = sum(p.amount_wan for p in s.scalars(select(m.Pledge))
                 if p.amount_wan is not None and p.reg_date and dt.date(st.pledge_cum_from, 1, 1) <= p.reg_date <= day
                 and p.right_type in st.pledge_right_types and compute.in_xinjiang(
                     p.prefecture_code if p.prefecture_code != "659000" else (p.county_code or "659000")))
    return {"hv": hv, "tm": tm, "pledge": pledge}


def test_indicators_equal_a_record_by_record_recount(synthetic):
    st = IndicatorSettings()
    with synthetic.reading() as s:
        got = compute.compute(s, [2022, 2024], st)
        for year in (2022, 2024):
            want = _recount(s, year, st)
            assert got["hv_invention_per_10k"][year]["650000"].numerator == want["hv"]
            assert got["valid_tm_cum"][year]["650000"].numerator == want["tm"]
            assert got["pledge_financing_cum"][year]["650000"].numerator == pytest.approx(want["pledge"])
        assert want["hv"] > 0 and want["tm"] > 0 and want["pledge"] > 0  # the data exercise every path
        # the drill-down lists exactly the patents counted
        listed = records.hv_rows(s, 2024, limit=None, s=st)
        assert len(listed) == want["hv"] and all(r["criteria"] for r in listed)
        # every prefecture's figures add up to the region's
        cells = got["hv_invention_per_10k"][2024]
        assert sum(c.numerator for b, c in cells.items() if b not in ("650000", "unplaced")) == cells["650000"].numerator
        # 2021: population known → a value; synthetic records are counted apart
        hv21 = compute.compute(s, [2021], st)["hv_invention_per_10k"][2021]["650000"]
        assert hv21.denominator == 25_890_000 and hv21.synthetic == hv21.numerator


def test_hand_entered_values_are_never_overwritten(ref_store):
    e = entries.EntryInput(kind="reported", key="protection_satisfaction", year=2025, value="88.22",
                           source_document="新疆知识产权“十五五”规划（征求意见稿）", entered_by="staff1")
    with ref_store.session() as s:
        first = entries.add(s, e).id
    with ref_store.session() as s, pytest.raises(entries.EntryError) as exc:
        entries.add(s, e)  # a second value for the same thing: refused, not replaced
    assert exc.value.code == "exists" and "更正" in exc.value.zh and "overwritten" in exc.value.en
    with ref_store.session() as s:
        second = entries.add(s, entries.EntryInput(**{**e.__dict__, "value": "88.3", "note": "typo"}), supersedes=first).id
    with ref_store.session() as s, pytest.raises(entries.EntryError) as exc:
        entries.add(s, entries.EntryInput(**{**e.__dict__, "value": "1"}), supersedes=first)
    assert exc.value.code == "already_corrected"
    with ref_store.session() as s, pytest.raises(entries.EntryError) as exc:
        entries.add(s, entries.EntryInput(**{**e.__dict__, "value": "-3"}), supersedes=second)
    assert (exc.value.code, exc.value.field) == ("not_a_number", "value")
    with ref_store.reading() as s:
        trail = entries.history(s, second)
        assert [(t.id, t.value) for t in trail] == [(second, 88.3), (first, 88.22)]
        data = report.build(s, 2025)
    sat = next(i for i in data["indicators"] if i["id"] == "protection_satisfaction")
    assert (sat["value"], sat["value_from"], sat["reported"]["id"]) == (88.3, "reported", second)


def test_computed_and_reported_side_by_side_and_flagged(synthetic):
    with synthetic.reading() as s:
        computed = report.build(s, 2024)
    tm = next(i for i in computed["indicators"] if i["id"] == "valid_tm_cum")
    assert tm["computed"] is not None
    with synthetic.session() as s:
        entries.add(s, entries.EntryInput(kind="reported", key="valid_tm_cum", year=2024, value=str(tm["computed"] * 2),
                                          source_document="统计公报（测试）", entered_by="staff1"))
    with synthetic.reading() as s:
        tm2 = next(i for i in report.build(s, 2024)["indicators"] if i["id"] == "valid_tm_cum")
    assert tm2["value_from"] == "computed" and tm2["reported"]["value"] == pytest.approx(tm["computed"] * 2)
    assert tm2["difference"] == pytest.approx(-tm["computed"]) and tm2["difference_flag"]


def test_population_gap_is_a_gap_until_entered(ref_store):
    with ref_store.reading() as s:
        data = report.build(s, 2025)
    hv = data["indicators"][0]
    assert hv["value"] is None and hv["gap"] in ("no_population", "no_records")
    with ref_store.session() as s:
        entries.add(s, entries.EntryInput(kind="population", key="year_end_resident_population", year=2025,
                                          region_code="650000", value="26000000", source_document="统计公报（测试）",
                                          entered_by="staff1"))
    with ref_store.reading() as s:
        pop = compute.population(s, IndicatorSettings(), [2025])
    assert pop[("650000", 2025)][0] == 26_000_000


def test_cli_gives_every_indicator_with_numerator_denominator_and_query(synthetic, settings):
    from xjip.cli import main

    env = {"XJIP_DATABASE_URL": settings.database_url, "XJIP_DATA_DIR": settings.data_dir}
    result = CliRunner().invoke(main, ["indicators", "--year", "2024", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [i["seq"] for i in data["indicators"]] == [1, 2, 3, 4, 5, 6, 7]
    for ind in data["indicators"]:
        assert {"definition", "value", "numerator", "denominator", "baseline_2025", "target_2030", "status",
                "query"} <= set(ind)
    result = CliRunner().invoke(main, ["indicators", "--year", "2024", "--prefecture", "650100", "--format", "json"],
                                env=env)
    assert result.exit_code == 0 and json.loads(result.output)["region_code"] == "650100"
    bad = CliRunner().invoke(main, ["indicators", "--year", "2024", "--prefecture", "999999"], env=env)
    assert bad.exit_code == 2 and "未知" in bad.output and "Unknown" in bad.output
    check = CliRunner().invoke(main, ["indicators", "check"], env=env)
    assert check.exit_code == 0, check.output


def _scan(store, years):
    """The indicators by scanning (the kept deltas set aside)."""
    from sqlalchemy import delete

    with store.session() as s:
        s.execute(delete(m.IndicatorDelta))
    with store.reading() as s:
        return compute.compute(s, years)


def _figures(result, years):
    return {(ind, y, b): (c.numerator, c.denominator, c.synthetic) for ind in ("hv_invention_per_10k", "valid_tm_cum")
            for y in years for b, c in result[ind][y].items() if c.numerator}


def test_kept_deltas_equal_the_scan_before_and_after_an_import(synthetic, tmp_path, shared_data):
    from xjip.indicators import aggregates, facts

    years = [2015, 2020, 2022, 2024, 2025]
    scanned = _figures(_scan(synthetic, years), years)
    with synthetic.reading() as s:
        st = entries.load_settings(s)
    aggregates.ensure(synthetic, st)
    with synthetic.reading() as s:
        assert aggregates.built(s, aggregates.TM) and aggregates.built(s, aggregates.hv_series(st))
        assert _figures(compute.compute(s, years), years) == scanned
    # more records through the import pipeline: the hook moves the deltas
    more = tmp_path / "more.csv"
    synth.write_cn_biblio_csv(more, 150, 99, shared=str(shared_data))
    synth_rights.write_rights(tmp_path / "more_rights", 200, 99, patents=150, patent_seed=99, shared=str(shared_data))
    for p in [more, *sorted((tmp_path / "more_rights").glob("*.csv"))]:
        assert run_import(synthetic, p).status == "done"
    with synthetic.reading() as s:
        kept = _figures(compute.compute(s, years), years)
        check = facts.recount(s)
    assert check["equal"], check
    assert kept == _figures(_scan(synthetic, years), years)
    assert kept != scanned  # the import changed the figures
