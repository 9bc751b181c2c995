"""Issue 10 §3 in a real browser (Debian's chromium, Playwright, uvicorn on 127.0.0.1): a copied
session cookie opens nothing once its owner logs out, and a file of junk rows stops with a
message a clerk can act on, its rejections counted by reason."""
from __future__ import annotations

import gzip
import random
from pathlib import Path

from .conftest import PASSWORDS
from .test_browser import Watch, _shot, browser, server  # noqa: F401 - the fixtures
from .test_browser import log_in as _log_in

import pytest

pytestmark = [pytest.mark.browser]


def test_a_copied_cookie_opens_nothing_after_the_owner_logs_out(server: str, browser, store, tmp_path: Path) -> None:  # noqa: ANN001, F811
    from xjip.web.auth import create_user

    with store.session() as s:
        create_user(s, "staff1", PASSWORDS["staff1"], "staff")
    owner = browser.new_context(viewport={"width": 1366, "height": 900})
    page = owner.new_page()
    watch = Watch(page)
    _log_in(page, server, "staff1", "/jobs")
    thief = browser.new_context()
    thief.add_cookies(owner.cookies())  # the cookie, copied off the owner's computer
    stolen = thief.new_page()
    stolen.goto(server + "/jobs")
    assert stolen.url.endswith("/jobs")  # it works, for now
    page.click("form[action='/logout'] button")
    page.wait_for_url(server + "/")
    stolen.goto(server + "/jobs")
    stolen.wait_for_url("**/login?next=*")  # ended on the server: the copy opens nothing
    _shot(stolen, tmp_path, "copied_cookie_after_logout")
    assert watch.hosts == {"127.0.0.1"} and not watch.errors, watch.errors
    owner.close()
    thief.close()


def test_a_file_of_junk_rows_stops_with_a_message_and_counts_by_reason(server: str, browser, settings, store,  # noqa: ANN001, F811
                                                                       tmp_path: Path, monkeypatch) -> None:
    from xjip.hub import pipeline
    from xjip.hub.synth import write_cn_biblio_csv
    from xjip.web.auth import create_user

    monkeypatch.setattr(pipeline, "REJECTION_SAMPLES", 100)  # the server runs in this process

    with store.session() as s:
        create_user(s, "staff1", PASSWORDS["staff1"], "staff")
    settings.import_max_rejections = 1000  # the server reads it when the job runs
    write_cn_biblio_csv(tmp_path / "one.csv", 1, seed=3)
    header = (tmp_path / "one.csv").read_text(encoding="utf-8").splitlines(keepends=True)[0]
    rnd = random.Random(11)
    path = tmp_path / "junk.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(header)
        fh.writelines(f"{rnd.randrange(16**8):x},{rnd.random()}\n" for _ in range(20_000))
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    watch = Watch(page)
    _log_in(page, server, "staff1", "/import")
    page.set_input_files('input[name="file"]', str(path))
    page.click('#upload-form button[type="submit"]')
    page.wait_for_url("**/jobs/*")
    page.wait_for_selector('#job-status[data-status="failed"]', timeout=60_000)
    error = page.inner_text("#job-error")
    assert "超过上限 1,000 条，导入已停止" in error and "XJIP_IMPORT_MAX_REJECTIONS" in error
    summary = page.inner_text("#rejection-summary")
    assert "保留前 100 条示例" in summary and "bad_number" in summary
    rejected = int(page.inner_text("#count-rejected").replace(",", ""))
    assert 1000 < rejected < 20_000
    assert page.locator("#rejections tbody tr").count() == 100  # one page of the kept examples
    _shot(page, tmp_path, "junk_rows_stopped_zh")
    page.locator("#rejection-summary").screenshot(path=str(tmp_path / "junk_rows_by_reason.png"))
    assert watch.hosts == {"127.0.0.1"}, watch.hosts
