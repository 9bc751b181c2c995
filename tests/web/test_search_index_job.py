"""The index rebuild on the web, on SQLite and PostgreSQL: /search/index for staff, start / stop /
continue for admins with CSRF, a resumed build through POST /api/search/rebuild, a live claim of
another process refused, and the page in Chromium continuing a cut-off build."""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from xjip.search import documents, index, live
from xjip.search.index import RebuildInterrupted, backend_for

from .conftest import Loaded, client_as

live.install()


@pytest.fixture
def cut_off(store, loaded: Loaded, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    """A rebuild cut off after its first checkpoint (as Ctrl-C or a killed server leaves it)."""
    monkeypatch.setattr(index, "CHECKPOINT_EVERY", 20)
    monkeypatch.setattr(documents, "CHUNK", 10)

    def cut(state: dict) -> None:
        if state["done"] >= 30:
            raise KeyboardInterrupt

    backend = backend_for(store.settings)
    with pytest.raises(RebuildInterrupted):
        backend.rebuild(store, cut)
    return backend


def _expected(store) -> int:  # noqa: ANN001
    with store.reading() as s:
        return sum(documents.count_rows(s).values())


def test_rebuild_job_routes(app, client, users, store, cut_off) -> None:  # noqa: ANN001
    backend = cut_off
    assert client.post("/api/search/rebuild").status_code == 401
    assert client.post("/api/search/rebuild/stop").status_code == 401
    assert client.get("/search/index", follow_redirects=False).status_code in (302, 303, 401)
    public = client.get("/api/search/status").json()
    assert public["state"] == "interrupted" and public["resumable"] and public["done"] == 30
    assert not {"pid", "host", "checkpoint", "folder"} & set(public)  # the claim is staff's business
    viewer, vtoken = client_as(app, "viewer1")
    assert viewer.get("/search/index").status_code == 403
    assert viewer.post("/api/search/rebuild", headers={"X-CSRF-Token": vtoken}).status_code == 403
    staff, stoken = client_as(app, "staff1")
    page = staff.get("/search/index")
    assert page.status_code == 200 and 'data-state="interrupted"' in page.text and "rebuild-resume" not in page.text
    assert "只有管理员" in page.text and 'id="rebuild-types"' in page.text
    assert staff.post("/api/search/rebuild", headers={"X-CSRF-Token": stoken}).status_code == 403
    assert staff.get("/api/search/status").json()["checkpoint"]["done"] == 20
    admin, token = client_as(app, "admin")
    assert admin.post("/api/search/rebuild").status_code == 403  # no CSRF token
    assert admin.post("/search/index/stop", data={}).status_code == 403
    page = admin.get("/search/index")
    assert 'id="rebuild-resume"' in page.text and 'id="rebuild-restart"' in page.text and "从头重建" in page.text
    assert admin.post("/api/search/rebuild/stop", headers={"X-CSRF-Token": token}).json()["error"]["code"] \
        == "search_rebuild_not_running"
    r = admin.post("/api/search/rebuild", headers={"X-CSRF-Token": token})  # continues from the checkpoint
    assert r.status_code == 202 and r.json()["accepted"] and r.json()["state"] in ("building", "ready")
    index.wait(store)
    state = admin.get("/api/search/status").json()
    assert state["state"] == "ready" and state["resumed"] and state["percent"] == 100.0
    assert state["docs"] == _expected(store)
    assert client.get("/api/search", params={"q": "库尔勒香梨", "type": "gi"}).json()["total"] >= 1
    assert 'data-state="ready"' in admin.get("/search/index").text

    # another process holds the claim (a live process on this host, a fresh heartbeat)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        backend._update(state="building", pid=sleeper.pid, host=socket.gethostname(), heartbeat=time.time(),
                        stop_requested=False)
        refused = admin.post("/api/search/rebuild", headers={"X-CSRF-Token": token})
        assert refused.status_code == 409 and str(sleeper.pid) in refused.json()["error"]["message_en"]
        assert "另一个进程" in refused.json()["error"]["message_zh"]
        form = admin.post("/search/index/rebuild", data={"csrf_token": token}, follow_redirects=True)
        assert "另一个进程正在重建" in form.text  # the page says why, no error page
        progress = admin.get("/search/index/progress")
        assert 'hx-get="/search/index/progress"' in progress.text and 'id="rebuild-stop"' in progress.text
        stop = admin.post("/api/search/rebuild/stop", headers={"X-CSRF-Token": token})
        assert stop.status_code == 202 and backend._read_status()["stop_requested"] is True
        assert 'id="rebuild-stopping"' in admin.get("/search/index/progress").text
    finally:
        sleeper.kill()
        sleeper.wait()
    assert admin.get("/api/search/status").json()["state"] == "interrupted"  # its process is gone
    r = admin.post("/search/index/rebuild", data={"csrf_token": token, "restart": "1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/search/index"
    index.wait(store)
    state = admin.get("/api/search/status").json()
    assert state["state"] == "ready" and not state["resumed"] and state["docs"] == _expected(store)


def test_the_page_before_any_rebuild_and_after_a_failure(app, users, store, loaded: Loaded) -> None:  # noqa: ANN001
    admin, _ = client_as(app, "admin")
    page = admin.get("/search/index")
    assert page.status_code == 200 and 'data-state="none"' in page.text and "尚未重建过" in page.text
    assert "还没有建好的索引" in page.text and "重建索引" in page.text and 'id="rebuild-resume"' not in page.text
    assert 'href="/search/index"' in admin.get("/search").text  # linked from the search page (and the menu)
    backend_for(store.settings)._write_status({"state": "failed", "done": 5, "total": 9, "error": "OSError: disk full",
                                               "checkpoint": {"folder": "idx-x", "done": 5}})
    page = admin.get("/search/index?lang=en")
    assert 'id="rebuild-error"' in page.text and "Continue the rebuild" in page.text and "disk full" not in page.text
    assert 'id="rebuild-restart"' in page.text and "Start again from nothing" in page.text


@pytest.mark.browser
def test_the_page_shows_and_continues_a_rebuild_in_chromium(store, cut_off, tmp_path: Path,  # noqa: ANN001
                                                            request: pytest.FixtureRequest) -> None:
    server, browser = request.getfixturevalue("server"), request.getfixturevalue("browser")
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, server, "admin", "/search/index")
    assert page.get_attribute("#index-rebuild", "data-state") == "interrupted"
    assert "已暂停，可以继续" in page.inner_text("#rebuild-state")
    page.click("#rebuild-resume")
    page.wait_for_selector('#index-rebuild[data-state="ready"]', timeout=60_000)
    assert "已完成" in page.inner_text("#rebuild-state") and page.is_visible("#rebuild-restart")
    page.screenshot(path=str(tmp_path / "search_index.png"), full_page=True)
    assert errors == []
    assert backend_for(store.settings).status()["docs"] == _expected(store)


from .test_browser import browser, log_in, server  # noqa: E402,F401 - the Chromium fixtures
