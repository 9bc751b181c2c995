"""The indicator pages and their JSON twins: figures match the records behind them, exports,
roles and CSRF on the entry form, bad input answered in both languages; and the dashboard in a
real browser (Debian's chromium through Playwright, as tests/web/test_browser.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from xjip.app import create_app
from xjip.indicators import rebuild
from xjip.web import auth
from xjip.web.auth import create_user

from tests.indicators.test_indicators import synthetic  # noqa: F401 - fixture
from tests.web.conftest import PASSWORDS, login

YEAR = 2024


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_N", 2 ** 10)


@pytest.fixture
def web(synthetic, settings):  # noqa: F811
    app = create_app(settings, synthetic)
    with synthetic.session() as s:
        create_user(s, "staff1", PASSWORDS["staff1"], "staff")
        create_user(s, "viewer1", PASSWORDS["viewer1"], "viewer")
    with TestClient(app) as client:
        # the first request starts the rebuild of the figures in the background (test_rebuild.py)
        if client.get(f"/api/indicators?year={YEAR}").status_code == 202:
            rebuild.wait(synthetic)
        yield client


def test_dashboard_json_and_drill_down_agree(web):
    data = web.get(f"/api/indicators?year={YEAR}").json()
    assert data["year"] == YEAR and len(data["indicators"]) == 7
    tm = next(i for i in data["indicators"] if i["id"] == "valid_tm_cum")
    assert tm["numerator"] > 0 and len(tm["by_prefecture"]) == 26
    ranked = [r["value"] for r in tm["by_prefecture"] if r["value"] is not None]
    assert ranked == sorted(ranked, reverse=True)
    # the drill-down lists exactly the records counted
    seen, after = 0, 0
    while True:
        page = web.get(f"/api/indicators/valid_tm_cum/records?year={YEAR}&page_size=200&after={after}").json()
        seen += len(page["rows"])
        if not page["next"]:
            break
        after = page["next"]
    assert seen == tm["numerator"]
    hv = web.get(f"/api/indicators/high-value?year={YEAR}&page_size=200").json()
    assert all(r["criteria"] and r["evidence"] for r in hv["rows"])
    sei = web.get(f"/api/indicators/high-value?year={YEAR}&criterion=sei&page_size=5").json()["rows"]
    assert sei and all("sei" in r["criteria"] and r["evidence"]["sei"]["ipc"] for r in sei)
    assert web.get("/indicators?year=2024").status_code == 200
    assert web.get("/indicators/high-value?year=2024").status_code == 200
    bad = web.get("/api/indicators?prefecture=999999")
    assert bad.status_code == 400 and "999999" in bad.json()["error"]["message_zh"]
    assert web.get("/api/indicators?year=0").status_code in (400, 422)


def test_exports(web):
    x = web.get(f"/indicators/export?year={YEAR}")
    assert x.status_code == 200 and x.content[:2] == b"PK"
    from io import BytesIO

    from openpyxl import load_workbook

    wb = load_workbook(BytesIO(x.content), read_only=True)
    assert len(wb.sheetnames) == 3
    rows = list(wb[wb.sheetnames[0]].iter_rows(values_only=True))
    assert len(rows) == 8 and rows[1][1] == "每万人口高价值发明专利拥有量"
    csv = web.get(f"/indicators/high-value/export?year={YEAR}")
    assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
    lines = csv.content.decode("utf-8-sig").strip().splitlines()
    listed = web.get(f"/api/indicators/high-value?year={YEAR}&page_size=200").json()["rows"]
    if len(listed) < 200:
        assert len(lines) == len(listed) + 1
    assert web.get(f"/indicators/high-value/export?year={YEAR}&format=xlsx").content[:2] == b"PK"


def test_entries_roles_csrf_and_bilingual_errors(web, synthetic):
    body = {"kind": "reported", "key": "protection_satisfaction", "year": 2025, "value": 88.22,
            "source_document": "规划（征求意见稿）"}
    assert web.get("/api/indicators/entries").status_code == 401
    assert web.post("/api/indicators/entries", json=body).status_code in (401, 403)
    token = login(web, "viewer1")
    assert web.post("/api/indicators/entries", json=body, headers={"X-CSRF-Token": token}).status_code == 403
    web.post("/api/session/logout", headers={"X-CSRF-Token": token})
    web.cookies.clear()
    token = login(web, "staff1")
    assert web.post("/api/indicators/entries", json=body).status_code == 403  # no CSRF token
    made = web.post("/api/indicators/entries", json=body, headers={"X-CSRF-Token": token})
    assert made.status_code == 201 and made.json()["entered_by"] == "staff1"
    again = web.post("/api/indicators/entries", json=body, headers={"X-CSRF-Token": token})
    assert again.status_code == 400
    err = again.json()["error"]
    assert "更正" in err["message_zh"] and "overwritten" in err["message_en"] and err["detail"]["field"] == "key"
    bad = web.post("/api/indicators/entries", json={**body, "year": 2026, "value": "八十"},
                   headers={"X-CSRF-Token": token})
    assert bad.status_code == 400 and bad.json()["error"]["detail"]["field"] == "value"
    fixed = web.post("/api/indicators/entries", json={**body, "value": 88.5, "supersedes_id": made.json()["id"]},
                     headers={"X-CSRF-Token": token})
    assert fixed.status_code == 201
    listing = web.get("/api/indicators/entries").json()
    assert [e["value"] for e in listing["entries"]] == [88.5]
    assert [e["value"] for e in listing["trails"][str(fixed.json()["id"])]] == [88.22]
    # the form answers bad input with the field named, in both languages, and keeps what was typed
    page = web.post("/indicators/entries", data={**{k: str(v) for k, v in body.items()}, "year": "20x5",
                                                  "csrf_token": token})
    assert page.status_code == 400 and "年份无效" in page.text and "not a valid year" in page.text
    assert "规划（征求意见稿）" in page.text
    dash = web.get("/api/indicators?year=2025").json()
    sat = next(i for i in dash["indicators"] if i["id"] == "protection_satisfaction")
    assert (sat["value"], sat["value_from"]) == (88.5, "reported")


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")
def test_dashboard_in_a_real_browser(synthetic, settings, tmp_path: Path):  # noqa: F811
    sync_api = pytest.importorskip("playwright.sync_api")
    import threading
    import time

    import uvicorn

    from tests.web.test_browser import ARGS, Watch, _free_port, _shot

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(settings, synthetic), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    server = f"http://127.0.0.1:{port}"
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            watch = Watch(page)
            page.goto(f"{server}/indicators?year={YEAR}")
            # a new database: the figures are rebuilt in the background; the page says so, shows
            # the progress and reloads itself when they are there
            assert page.locator("h1").inner_text().startswith("指标数据正在重算")
            assert page.locator("#rebuild-progress .progress").count() == 1
            page.wait_for_selector("#indicator-table", timeout=30_000)
            assert page.locator("h1").inner_text().startswith("规划主要指标")
            page.wait_for_selector("#series-valid_tm_cum canvas")
            page.wait_for_selector("#ranking-valid_tm_cum canvas")
            assert page.locator("#indicator-table tbody tr").count() == 7
            assert page.locator("#synthetic-note").count() == 1  # synthetic figures say so
            _shot(page, tmp_path, "indicators_zh")
            page.click("#row-valid_tm_cum td a")
            page.wait_for_url("**/indicators/valid_tm_cum/records*")
            assert page.locator("#indicator-records tbody tr").count() > 0
            page.goto(f"{server}/indicators/high-value?year={YEAR}&lang=en")
            assert page.locator("h1").inner_text().startswith("High-value invention patents")
            assert page.locator("#hv-list tbody tr").count() > 0
            _shot(page, tmp_path, "hv_en")
            assert watch.hosts <= {"127.0.0.1"}, watch.hosts  # nothing fetched from elsewhere
            assert not watch.errors, watch.errors
            browser.close()
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def test_annual_report_html_pdf_xlsx_and_editable_text(web):
    token = login(web, "staff1")
    made = web.post("/api/indicators/entries", json={"kind": "report_text", "key": "creation", "year": YEAR,
                                                     "value": "全区专利创造稳步增长（测试文字）。", "source_document": "起草稿"},
                    headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.text
    data = web.get(f"/api/reports/annual/{YEAR}").json()
    assert [s["numeral"] for s in data["sections"]] == list("一二三四五六")
    assert all(f["query"] for s in data["sections"] for f in s["figures"])  # every figure names its query
    assert data["sections"][0]["text"] == "全区专利创造稳步增长（测试文字）。"
    page = web.get(f"/reports/annual/{YEAR}")
    assert page.status_code == 200 and "一、知识产权创造" in page.text and "测试文字" in page.text
    assert "合成（测试）记录" in page.text  # synthetic figures say so
    pdf = web.get(f"/reports/annual/{YEAR}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and len(pdf.content) > 20_000
    xlsx = web.get(f"/reports/annual/{YEAR}/xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_plan_tasks_from_the_plan_text_with_a_trail(web, synthetic, shared_data):
    from xjip.indicators import plan

    with synthetic.session() as s:
        loaded = plan.load(s, shared_data)
    assert loaded["added"] == loaded["items"] == 40
    items = web.get("/api/plan").json()["items"]
    projects = [i["code"] for i in items if i["kind"] == "project"]
    assert projects == [f"专栏{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8)]
    assert next(i for i in items if i["code"] == "专栏7")["title"] == "知识产权公共服务能力提升工程"
    token = login(web, "staff1")
    r = web.post("/plan/专栏7", data={"csrf_token": token, "department": "自治区知识产权局", "status": "in_progress",
                                     "milestone": "平台“人工智能+”应用上线", "due": "2027-06"})
    assert r.status_code == 200 and "/plan" in str(r.url)
    bad = web.post("/plan/专栏7", data={"csrf_token": token, "status": "finished"})
    assert bad.status_code == 400 and "状态无效" in bad.text and "not a valid status" in bad.text
    assert web.post("/plan/专栏7", data={"status": "done"}).status_code == 403  # no CSRF token
    item = next(i for i in web.get("/api/plan").json()["items"] if i["code"] == "专栏7")
    assert (item["department"], item["status"], item["milestones"][0]["due"]) == ("自治区知识产权局", "in_progress", "2027-06")
    with synthetic.reading() as s:
        trail = plan.trail(s, "专栏7")
    assert len(trail) == 1 and trail[0]["before"]["status"] == "not_started" and trail[0]["actor"] == "staff1"
    with synthetic.session() as s:  # loading again keeps what staff recorded
        assert plan.load(s, shared_data)["added"] == 0


def test_high_value_list_masks_persons_for_the_public(web):
    from xjip.hub import queries

    public = web.get(f"/api/indicators/high-value?year={YEAR}&page_size=200").json()["rows"]
    login(web, "staff1")
    staff = {r["patent_id"]: r for r in web.get(f"/api/indicators/high-value?year={YEAR}&page_size=200").json()["rows"]}
    persons = [r for r in public if staff[r["patent_id"]]["first_applicant"]
               and not queries.is_organisation(staff[r["patent_id"]]["first_applicant"])]
    for r in persons:
        assert r["first_applicant"] == queries.mask_person_name(staff[r["patent_id"]]["first_applicant"])
        assert r["first_applicant"] != staff[r["patent_id"]]["first_applicant"]
    orgs = [r for r in public if queries.is_organisation(r["first_applicant"])]
    assert all(r["first_applicant"] == staff[r["patent_id"]]["first_applicant"] for r in orgs)
    assert orgs or persons
