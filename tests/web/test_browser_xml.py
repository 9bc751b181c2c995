"""A clerk uploads an office XML file with a bare `&` (issue 9 §7) in a real browser: the record is
imported and the job page, once the job is done, shows the note."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import PASSWORDS
from .test_browser import CHROMIUM, _shot, _staff_upload, browser, server  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")]


def test_staff_upload_with_a_bare_ampersand_shows_the_note(  # noqa: ANN001, F811 - fixtures
        server: str, browser, store, shared_data: Path, tmp_path: Path) -> None:
    from xjip.web.auth import create_user

    with store.session() as s:
        create_user(s, "staff1", PASSWORDS["staff1"], "staff")
    data = (shared_data / "patents/real_exports/trademark/tsdr_sn76044902.xml").read_bytes()
    at = data.index(b"<MarkVerbalElementText>") + len(b"<MarkVerbalElementText>")
    path = tmp_path / "tsdr_python.xml"
    path.write_bytes(data[:at] + b"R&D " + data[at:])
    page, watch = _staff_upload(browser, server, path)
    page.wait_for_selector('#job-status[data-status="done"]', timeout=60_000)
    page.wait_for_selector("#job-notes")  # the page reloads when the job is done
    assert page.inner_text("#count-inserted") == "1" and page.inner_text("#count-rejected") == "0"
    notes = page.inner_text("#job-notes")
    assert "注意事项（记录已导入）" in notes and "第 1 行“&”" in notes and "记录已导入" in notes
    assert page.locator("#rejections tbody td.muted").count() == 1  # "none" in the rejections table
    _shot(page, tmp_path, "job_note_zh")
    assert watch.hosts == {"127.0.0.1"}, watch.hosts
    assert not watch.errors, watch.errors
