"""The rebuild of the indicator facts is a job with progress: the dashboard answers at once
while it runs in the background and shows the figures when it is done; the command line runs it
with a progress bar, and an interrupted rebuild continues from its checkpoint. Both databases."""
from __future__ import annotations

import threading

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from xjip.app import create_app
from xjip.hub import models as m
from xjip.hub import synth, synth_rights
from xjip.hub.pipeline import run_import
from xjip.indicators import compute, facts, rebuild

YEAR = 2024
YEARS = [2020, 2022, 2024]


@pytest.fixture
def records(ref_store, tmp_path, shared_data):
    """80 synthetic patents and their rights, imported (the hook keeps the facts)."""
    path = tmp_path / "patents.csv"
    synth.write_cn_biblio_csv(path, 80, 11, shared=str(shared_data))
    synth_rights.write_rights(tmp_path / "rights", 60, 11, patents=80, patent_seed=11, shared=str(shared_data))
    for p in [path, *sorted((tmp_path / "rights").glob("*.csv"))]:
        assert run_import(ref_store, p).status == "done"
    return ref_store


def _figures(store) -> dict:
    with store.reading() as s:
        result = compute.compute(s, YEARS)
    return {(i, y, b): (c.numerator, c.denominator) for i in ("hv_invention_per_10k", "valid_tm_cum")
            for y in YEARS for b, c in result[i][y].items()}


def _as_after_an_upgrade(store) -> None:
    """The fact tables and series empty, as after the migration that added them."""
    with store.session() as s:
        for model in (m.IndicatorDelta, m.IndicatorPatent, m.IndicatorTrademark, m.IndicatorRebuild):
            s.execute(delete(model))


def test_dashboard_answers_at_once_then_shows_the_figures(records, settings, monkeypatch):
    with TestClient(create_app(settings, records)) as web:
        # a new database with records: the series were never built; the first request starts it
        assert web.get(f"/api/indicators?year={YEAR}").status_code == 202
        rebuild.wait(records)
        before = web.get(f"/api/indicators?year={YEAR}").json()
        assert before["indicators"] and "rebuilding" not in before
        _as_after_an_upgrade(records)
        # the background rebuild is held at its start while the pages are asked for
        gate, run_ = threading.Event(), rebuild._run
        monkeypatch.setattr(rebuild, "_run", lambda *a: (gate.wait(30), run_(*a))[1])
        page = web.get(f"/indicators?year={YEAR}&lang=en")
        assert page.status_code == 200 and 'id="indicators-rebuilding"' in page.text
        assert "being rebuilt" in page.text and 'hx-get="/indicators/rebuild"' in page.text
        zh = web.get(f"/indicators?year={YEAR}&lang=zh")
        assert "指标数据正在重算" in zh.text
        api = web.get(f"/api/indicators?year={YEAR}")
        assert api.status_code == 202 and api.json()["progress"] == "/api/indicators/rebuild"
        assert api.json()["rebuilding"]["needed"] == "facts"
        busy = web.get(f"/api/indicators/high-value?year={YEAR}")
        assert busy.status_code == 503 and busy.json()["error"]["code"] == "indicators_rebuilding"
        running = web.get("/api/indicators/rebuild").json()
        assert running["status"] in ("queued", "running") and not running["ready"]
        gate.set()
        rebuild.wait(records)
        progress = web.get("/api/indicators/rebuild").json()
        assert progress["status"] == "done" and progress["ready"] and progress["percent"] == 100.0
        fragment = web.get("/indicators/rebuild")
        assert fragment.headers.get("HX-Refresh") == "true"
        after = web.get(f"/api/indicators?year={YEAR}")
        assert after.status_code == 200
        assert [(i["id"], i["numerator"], i["denominator"]) for i in after.json()["indicators"]] == \
               [(i["id"], i["numerator"], i["denominator"]) for i in before["indicators"]]
        assert 'id="indicator-table"' in web.get(f"/indicators?year={YEAR}").text
    with records.reading() as s:
        assert facts.recount(s)["equal"]


def test_interrupted_rebuild_continues_from_its_checkpoint(records, monkeypatch):
    want = _figures(records)
    with records.reading() as s:
        inventions = s.scalar(select(func.count()).select_from(m.Patent).where(m.Patent.patent_type == "invention"))
    assert inventions >= 5
    _as_after_an_upgrade(records)
    monkeypatch.setattr(rebuild, "PATENT_CHUNK", 2)
    seen: list[dict] = []

    def stop_after_two_chunks(state: dict) -> None:
        seen.append(state)
        if state["phase"] == "patents" and state["done"] >= 4:
            raise KeyboardInterrupt

    with pytest.raises(rebuild.RebuildInterrupted):
        rebuild.run(records, progress=stop_after_two_chunks)
    state = rebuild.state(records)
    assert state["status"] == "interrupted" and state["phase"] == "patents" and state["done"] == 4
    with records.reading() as s:
        assert rebuild.needed(s) == "facts"
        assert s.scalar(select(func.count()).select_from(m.IndicatorPatent)) == 4
    # running it again continues where it stopped (not from 0) and ends whole
    resumed: list[dict] = []
    final = rebuild.run(records, progress=resumed.append)
    assert final["status"] == "done"
    first = next(p for p in resumed if p["phase"] == "patents")
    assert first["done"] == 4 and first["total"] == inventions
    assert [p["phase"] for p in resumed][-1] == "series"
    with records.reading() as s:
        assert rebuild.needed(s) is None and facts.recount(s)["equal"]
    assert _figures(records) == want


def test_cli_rebuild_with_progress_and_a_running_one_refused(records, settings):
    from xjip.cli import main

    env = {"XJIP_DATABASE_URL": settings.database_url, "XJIP_DATA_DIR": settings.data_dir}
    want = _figures(records)
    _as_after_an_upgrade(records)
    result = CliRunner().invoke(main, ["indicators", "rebuild"], env=env)
    assert result.exit_code == 0, result.output
    assert _figures(records) == want
    # another live process holds the job: refused, in both languages, nothing touched
    with records.session() as s:
        row = s.get(m.IndicatorRebuild, rebuild.ROW_ID)
        row.status, row.host, row.pid, row.heartbeat_at = "running", "another-host", 1, m.utcnow()
    refused = CliRunner().invoke(main, ["indicators", "rebuild"], env=env)
    assert refused.exit_code == 1 and "另一个进程" in refused.output and "Another process" in refused.output
    # its heartbeat stale: taken over
    with records.session() as s:
        s.get(m.IndicatorRebuild, rebuild.ROW_ID).heartbeat_at = m.utcnow().replace(year=2000)
    again = CliRunner().invoke(main, ["indicators", "rebuild", "--restart"], env=env)
    assert again.exit_code == 0, again.output
    assert _figures(records) == want


def test_a_failed_rebuild_says_so_and_is_not_retried_on_every_request(records, settings, monkeypatch):
    want = _figures(records)
    _as_after_an_upgrade(records)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(facts, "compute", broken)
    with TestClient(create_app(settings, records)) as web:
        assert web.get(f"/api/indicators?year={YEAR}").status_code == 202
        rebuild.wait(records)
        state = web.get("/api/indicators/rebuild").json()
        assert state["status"] == "failed" and state["error"] is True and "disk full" not in str(state)
        page = web.get(f"/indicators?year={YEAR}&lang=en").text
        assert "The rebuild failed" in page and "xjip indicators rebuild" in page
        assert web.get("/api/indicators/rebuild").json()["status"] == "failed"  # not started again at once
        monkeypatch.undo()
        # an administrator runs it: it continues and the figures are back
        assert rebuild.run(records, full=False)["status"] == "done"
        assert web.get(f"/api/indicators?year={YEAR}").status_code == 200
    assert _figures(records) == want
