"""The platform in a real browser: Debian's chromium driven by Playwright against uvicorn serving the
real app on 127.0.0.1. Screenshots go to the test's tmp folder (XJIP_SCREENSHOTS=<dir> keeps copies)."""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest

from xjip.app import create_app

from .conftest import PASSWORDS, Loaded

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(settings, store) -> Iterator[str]:  # noqa: ANN001
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(create_app(settings, store), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Watch:
    """Every request the page makes and every console error (CSP violations are console errors)."""

    def __init__(self, page) -> None:  # noqa: ANN001
        self.hosts: set[str] = set()
        self.errors: list[str] = []
        page.on("request", lambda r: self.hosts.add(urlsplit(r.url).hostname or r.url.split(":")[0]))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("response", lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)


def _shot(page, tmp_path: Path, name: str) -> Path:  # noqa: ANN001
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("XJIP_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return path


def test_overview_drill_down_detail_and_english(server: str, browser, loaded: Loaded, tmp_path: Path) -> None:  # noqa: ANN001
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    watch = Watch(page)
    page.goto(server + "/")
    assert page.inner_text(".brand-name") == "新疆知识产权公共服务平台"
    assert page.locator("h1").inner_text() == "数据总览"
    page.wait_for_selector("#chart-prefecture canvas")  # ECharts drew from the vendored file
    assert _shot(page, tmp_path, "overview_zh").stat().st_size > 20_000

    page.click('#by-prefecture a[href="/records/gi?prefecture=652900"]')
    page.wait_for_url("**/records/gi?prefecture=652900")
    assert page.inner_text("#total") == "共 14 条"
    assert page.locator("#records tbody tr").count() == 14
    page.fill('input[name="q"]', "阿克苏")
    page.click('form.filters button[type="submit"]')
    page.wait_for_url("**q=*")
    assert "year=" not in page.url  # empty filter fields are not sent
    page.locator('#records tbody a:text-is("阿克苏苹果")').first.click()
    page.wait_for_url("**/records/gi/*")
    assert page.locator("h1").inner_text().startswith("阿克苏苹果")
    assert page.locator("#areas tbody tr").count() >= 1
    _shot(page, tmp_path, "gi_detail_zh")

    page.click('.lang-switch a[hreflang="en"]')
    page.wait_for_selector("#section-area h2:text-is('Protected area')")
    page.goto(server + "/")
    assert page.locator("h1").inner_text() == "Data overview"
    assert "Aksu Prefecture" in page.content()  # place names in English (refdata/regions/region_names_en.csv)
    _shot(page, tmp_path, "overview_en")

    page.goto(server + "/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
    assert watch.hosts == {"127.0.0.1"}, watch.hosts
    assert not watch.errors, watch.errors


def log_in(page, server: str, username: str, target: str) -> None:  # noqa: ANN001
    """Open `target`, get sent to the login form, sign in as `username`, land back on `target`."""
    page.goto(server + target)
    page.wait_for_url("**/login?next=*")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORDS[username])
    page.click('form button[type="submit"]')
    page.wait_for_url("**" + target)


def _staff_upload(browser, server: str, path: Path) -> tuple[object, Watch]:  # noqa: ANN001
    """staff1 (created by the test) logs in from the import page and uploads `path`: the job page."""
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    watch = Watch(page)
    log_in(page, server, "staff1", "/import")
    page.set_input_files('input[name="file"]', str(path))
    page.click('#upload-form button[type="submit"]')
    page.wait_for_url("**/jobs/*")
    return page, watch


def test_staff_uploads_a_real_file_and_watches_the_job(server: str, browser, store, shared_data: Path,  # noqa: ANN001
                                                       tmp_path: Path) -> None:
    from xjip.web.auth import create_user

    with store.session() as s:
        create_user(s, "staff1", PASSWORDS["staff1"], "staff")
    page, watch = _staff_upload(browser, server, shared_data / "gi" / "xinjiang_gi_records.csv")
    page.wait_for_selector('#job-status[data-status="done"]', timeout=60_000)  # htmx polled until done
    assert page.inner_text("#count-inserted") == "93"
    assert page.inner_text("#count-rejected") == "0"
    _shot(page, tmp_path, "job_done_zh")
    page.goto(server + "/records/gi?prefecture=652900")
    assert page.inner_text("#total") == "共 14 条"
    assert watch.hosts == {"127.0.0.1"}, watch.hosts
    assert not watch.errors, watch.errors


def test_staff_stop_an_upload_then_resume_it_with_the_buttons(server: str, browser, store, tmp_path: Path) -> None:  # noqa: ANN001
    from xjip.hub.synth import write_cn_biblio_csv
    from xjip.web.auth import create_user

    with store.session() as s:
        create_user(s, "staff1", PASSWORDS["staff1"], "staff")
    write_cn_biblio_csv(tmp_path / "export.csv", 3000, seed=48)  # 60 batches of 50 (test settings)
    page, watch = _staff_upload(browser, server, tmp_path / "export.csv")
    page.click("#stop-job")
    page.wait_for_selector('#job-status[data-status="interrupted"]', timeout=60_000)
    read = int(page.inner_text("#count-read").replace(",", ""))
    assert 0 < read < 3000 and page.locator("#stop-job").count() == 0
    _shot(page, tmp_path, "job_stopped_zh")
    page.click("#resume-job")
    page.wait_for_selector('#job-status[data-status="done"]', timeout=60_000)  # htmx polled until done
    assert page.inner_text("#count-read") == "3,000" and page.inner_text("#count-inserted") == "3,000"
    assert page.locator("#resume-job").count() == 0
    assert watch.hosts == {"127.0.0.1"}, watch.hosts
    assert not watch.errors, watch.errors


def test_a_filtered_list_downloads_as_excel_and_csv(server: str, browser, loaded: Loaded, tmp_path: Path) -> None:  # noqa: ANN001
    """A visitor filters a list and downloads it: the file holds every record of the filter, with
    the page's column labels."""
    import csv
    import io

    import openpyxl

    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN", accept_downloads=True)
    watch = Watch(page)
    page.goto(server + "/records/gi?prefecture=652900")
    assert page.inner_text("#total") == "共 14 条"
    with page.expect_download() as info:
        page.click("#export-xlsx")
    download = info.value
    assert download.suggested_filename.startswith("xjip-gi-") and download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(openpyxl.load_workbook(saved).active.iter_rows(values_only=True))
    assert len(rows) == 1 + 14 and "名称" in rows[0] and "地州市" in rows[0], rows[0]
    with page.expect_download() as info:
        page.click("#export-csv")
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text)))) == 1 + 14
    assert watch.hosts == {"127.0.0.1"}, watch.hosts
    assert not watch.errors, watch.errors


def test_staff_map_the_columns_of_an_unknown_layout_in_the_browser(server: str, browser, store, tmp_path: Path) -> None:  # noqa: ANN001
    """A file nobody's columns: the job page lists them, staff choose a field for each (the
    20-row preview follows each choice), import again; the next file with the same header is
    imported with the saved mapping by itself."""
    import csv as csv_module

    from xjip.web.auth import create_user

    with store.session() as s:
        create_user(s, "staff1", PASSWORDS["staff1"], "staff")
    rows = [["Patent No.", "Invention Title", "Owner", "Notes"],
            ["CN202223220665.2", "一种无人机机载多功能盒", "中科大数据研究院", "x"],
            ["CN202122975192.6", "一种可拍照便携式实时语音播报端测摄像头", "新疆大学", "y"]]
    path = tmp_path / "owners.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv_module.writer(fh).writerows(rows)
    page, watch = _staff_upload(browser, server, path)
    page.wait_for_selector('#job-status[data-status="failed"]', timeout=60_000)
    page.wait_for_selector("#mapping-form")
    assert page.locator("#mapping-columns tbody tr").count() == 4
    page.select_option('select[data-column="Patent No."]', "app_number")
    page.wait_for_selector("#mapping-preview-error")  # still no title: the file would be refused, and says why
    page.select_option('select[data-column="Invention Title"]', "title")
    page.select_option('select[data-column="Owner"]', "applicants")
    page.select_option('select[data-column="Notes"]', "-")
    # The preview follows the last choice even when choices come faster than previews (hx-sync).
    page.wait_for_selector("#mapping-preview-rows td:has-text('新疆大学')")
    assert page.locator("#mapping-preview-rows tr.preview-ok").count() == 2
    assert "新疆大学" in page.inner_text("#mapping-preview-rows")
    _shot(page, tmp_path, "job_mapping_zh")
    page.click("#mapping-apply")
    page.wait_for_selector('#job-status[data-status="done"]', timeout=60_000)
    assert page.inner_text("#count-inserted") == "2"
    path2 = tmp_path / "owners_2.csv"
    with open(path2, "w", encoding="utf-8", newline="") as fh:
        csv_module.writer(fh).writerows([rows[0], ["CN202121635235.X", "一种数据采集装置", "石河子大学", "z"]])
    page.goto(server + "/import")
    page.set_input_files('input[name="file"]', str(path2))
    page.click('#upload-form button[type="submit"]')
    page.wait_for_url("**/jobs/*")
    page.wait_for_selector('#job-status[data-status="done"]', timeout=60_000)
    assert page.inner_text("#count-inserted") == "1"
    assert watch.hosts == {"127.0.0.1"}, watch.hosts
    assert not watch.errors, watch.errors
