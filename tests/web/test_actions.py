"""Actions that change data, each on a fresh database (SQLite and PostgreSQL): uploads (name
traversal, 413, a real import end to end), user management, passwords, the first admin, entity
merge/split."""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from xjip.app import create_app
from xjip.hub import models as m
from xjip.web.auth import create_user

from .conftest import PASSWORDS, Loaded, client_as, login
from .test_pages import envelope


def _wait_for(client: TestClient, job_id: int, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["finished"]:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


EVIL_NAMES = ["../../etc/passwd", "..\\..\\windows\\win.ini", "a\x00b/../../x.csv", "....//", "..", "/abs/path/ok.csv"]


def test_upload_names_never_leave_the_upload_folder(app, settings, store, users, shared_data: Path) -> None:
    staff, token = client_as(app, "staff1")
    content = (shared_data / "gi" / "xinjiang_gi_records.csv").read_bytes()
    uploads = settings.uploads_dir.resolve()
    for evil in EVIL_NAMES:
        response = staff.post("/api/import", files={"file": (evil, content, "text/csv")},
                              headers={"X-CSRF-Token": token})
        assert response.status_code == 201, (evil, response.text)
        body = response.json()
        assert "\x00" not in body["file"] and "/" not in body["file"] and not body["file"].startswith("."), evil
        _wait_for(staff, body["job_id"])
        with store.session() as s:
            path = Path(s.get(m.ImportJob, body["job_id"]).path)
        assert path.parent.parent == uploads and path.name == body["file"], (evil, path)
    empty = staff.post("/api/import", files={"file": ("empty.csv", b"", "text/csv")}, headers={"X-CSRF-Token": token})
    assert empty.status_code == 400 and envelope(empty)["message_en"] == "The file is empty"
    saved = [p for p in uploads.rglob("*") if p.is_file()]
    assert len(saved) == len(EVIL_NAMES) and all(p.parent.parent == uploads for p in saved)
    assert sorted(p.name for p in saved) == sorted(["passwd", "win.ini", "x.csv", "upload", "upload", "ok.csv"])


def test_upload_runs_the_import_and_the_gi_records_arrive(app, store, users, shared_data: Path) -> None:
    staff, token = client_as(app, "staff1")
    page = staff.get("/import")
    assert page.status_code == 200 and "上限 100 MB" in page.text
    content = (shared_data / "gi" / "xinjiang_gi_records.csv").read_bytes()
    response = staff.post("/import", files={"file": ("xinjiang_gi_records.csv", content, "text/csv")},
                          data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    job_id = int(response.headers["location"].rsplit("/", 1)[1])
    job = _wait_for(staff, job_id)
    assert job["status"] == "done", job
    assert job["counts"]["inserted"] == 93 and job["counts"]["rejected"] == 0
    assert staff.get("/api/records/gi", params={"q": "库尔勒香梨"}).json()["total"] == 2  # product + certification mark
    with store.session() as s:
        events = [e.tag for e in s.scalars(select(m.AuditEvent).order_by(m.AuditEvent.id))]
    assert "web:import:upload" in events


def test_an_upload_is_parsed_by_parse_processes_from_the_server_thread(settings, store, users, tmp_path) -> None:
    """The web server runs an import in a thread; a large upload's parse processes start from
    there (fresh interpreters, not forks of the threaded server) and the job ends as from the CLI."""
    from xjip.hub.synth import write_cn_biblio_csv

    eager = dataclasses.replace(settings, import_parallel_mb=0)  # every upload counts as large
    app = create_app(eager, store)
    with TestClient(app):
        staff, token = client_as(app, "staff1")
        path = tmp_path / "export.csv"
        write_cn_biblio_csv(path, 300, seed=41)
        response = staff.post("/api/import", files={"file": ("export.csv", path.read_bytes(), "text/csv")},
                              headers={"X-CSRF-Token": token})
        assert response.status_code == 201, response.text
        job = _wait_for(staff, response.json()["job_id"])
        assert job["status"] == "done", job
        assert (job["counts"]["inserted"], job["counts"]["rejected"]) == (300, 0)
        assert staff.get("/api/records/patent").json()["total"] == 300


def test_upload_over_the_limit_gets_413_in_both_languages(settings, store, shared_data: Path) -> None:
    small = dataclasses.replace(settings, max_upload_mb=1)
    app = create_app(small, store)
    with TestClient(app) as base:
        staff, token = client_as(app, "admin")
        too_big = b"x" * ((1 << 20) + 200_000)
        response = staff.post("/api/import", files={"file": ("big.csv", too_big, "text/csv")},
                              headers={"X-CSRF-Token": token})
        assert response.status_code == 413
        error = envelope(response)
        assert error["message_zh"] == "文件超过上传上限 1 MB，请使用命令行 xjip import"
        assert error["message_en"].startswith("File exceeds the 1 MB upload limit")

        def chunks():  # no Content-Length: refused while streaming
            for _ in range(20):
                yield b"y" * 100_000

        streamed = staff.post("/api/import", content=chunks(), headers={
            "X-CSRF-Token": token, "Content-Type": "multipart/form-data; boundary=xyz"})
        assert streamed.status_code == 413
        page = staff.post("/import", files={"file": ("big.csv", too_big, "text/csv")}, data={"csrf_token": token})
        assert page.status_code == 413 and "文件超过上传上限 1 MB" in page.text
        assert not [p for p in small.uploads_dir.rglob("*") if p.is_file()]
        ok = staff.post("/api/import", files={"file": ("gi.csv", (shared_data / "gi" / "xinjiang_gi_records.csv")
                                                       .read_bytes(), "text/csv")}, headers={"X-CSRF-Token": token})
        assert ok.status_code == 201
        _wait_for(staff, ok.json()["job_id"])
        assert base.get("/healthz").status_code == 200


# --- users and the first admin ------------------------------------------------------------------

def test_admin_manages_users(app, store, users) -> None:
    admin, token = client_as(app, "admin")
    created = admin.post("/api/users", json={"username": "analyst", "password": "analyst-pw-1", "role": "viewer"},
                         headers={"X-CSRF-Token": token})
    assert created.status_code == 201 and created.json()["role"] == "viewer"
    again = admin.post("/api/users", json={"username": "Analyst", "password": "analyst-pw-1", "role": "viewer"},
                       headers={"X-CSRF-Token": token})
    assert again.status_code == 409 and envelope(again)["code"] == "user_exists"
    short = admin.post("/api/users", json={"username": "b", "password": "short", "role": "viewer"},
                       headers={"X-CSRF-Token": token})
    assert short.status_code == 400
    uid = created.json()["id"]
    assert admin.patch(f"/api/users/{uid}", json={"role": "staff"}, headers={"X-CSRF-Token": token}).json()["role"] == "staff"
    me = admin.get("/api/session").json()["user"]["id"]
    last = admin.patch(f"/api/users/{me}", json={"role": "viewer"}, headers={"X-CSRF-Token": token})
    assert last.status_code == 400 and envelope(last)["code"] == "last_admin"
    disabled = admin.patch(f"/api/users/{uid}", json={"active": False}, headers={"X-CSRF-Token": token})
    assert disabled.json()["active"] is False
    other = TestClient(app)
    t2 = other.get("/api/session").json()["csrf_token"]
    assert other.post("/api/session", json={"username": "analyst", "password": "analyst-pw-1"},
                      headers={"X-CSRF-Token": t2}).status_code == 401
    form = admin.post("/users", data={"csrf_token": token, "username": "clerk", "password": "clerk-password",
                                      "role": "staff"}, follow_redirects=True)
    assert "用户 clerk 已创建。" in form.text
    audit = admin.get("/api/audit").json()["events"]
    assert {"web:user:create", "web:user:update", "web:user:login"} <= {e["tag"] for e in audit}


def test_own_password_change(app, users) -> None:
    viewer, token = client_as(app, "viewer1")
    wrong = viewer.post("/api/account/password", json={"current_password": "nope", "new_password": "new-password-1"},
                        headers={"X-CSRF-Token": token})
    assert wrong.status_code == 400
    ok = viewer.post("/api/account/password", json={"current_password": PASSWORDS["viewer1"],
                                                    "new_password": "new-password-1"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200
    fresh = TestClient(app)
    login(fresh, "viewer1", "new-password-1")


def test_first_admin_password_is_generated_once(settings, store) -> None:
    generated = dataclasses.replace(settings, admin_password="")
    app = create_app(generated, store)
    with TestClient(app):
        password = app.state.generated_admin_password
    path = Path(settings.data_dir) / "admin_password.txt"
    assert password and path.read_text().strip() == password
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = create_app(generated, store)
    with TestClient(again) as c:
        assert again.state.generated_admin_password is None
        login(c, "admin", password)
    with store.session() as s:
        assert s.scalar(select(m.User.role).where(m.User.username == "admin")) == "admin"
    assert os.access(path, os.R_OK)


def test_entity_merge_and_split_for_staff(app, store, users, loaded: Loaded) -> None:
    staff, token = client_as(app, "staff1")
    keep = loaded.entities["Xinjiang Goldwind Science and Technology Co Ltd"]
    other = loaded.entities["Tarim University"]
    page = staff.get(f"/entities/{keep}")
    assert "合并权利人" in page.text and 'name="csrf_token"' in page.text
    assert staff.post(f"/entities/{keep}/merge", data={"merge_ids": str(other)}).status_code == 403  # no token
    merged = staff.post(f"/entities/{keep}/merge", data={"merge_ids": f"{other}", "csrf_token": token},
                        follow_redirects=False)
    assert merged.status_code == 303, merged.text
    detail = staff.get(f"/api/entities/{keep}").json()
    assert {"id": other, "name": "Tarim University"} in detail["merged_entities"]
    assert {a["alias"] for a in detail["aliases"]} == {"Xinjiang Goldwind Science and Technology Co Ltd",
                                                       "Tarim University"}
    assert detail["total_rights"] == 2  # Tarim University's patent now counts here
    again = staff.post(f"/api/entities/{keep}/merge", json={"merge_ids": [other]}, headers={"X-CSRF-Token": token})
    assert again.status_code == 400 and envelope(again)["code"] == "already_merged"
    split = staff.post(f"/api/entities/{keep}/split", json={"aliases": ["Tarim University"],
                                                           "new_name": "Tarim University"},
                       headers={"X-CSRF-Token": token})
    assert split.status_code == 200, split.text
    assert split.json()["new_entity_id"] == other and split.json()["records_repointed"] == 1  # its one patent
    assert staff.get(f"/api/entities/{keep}").json()["total_rights"] == 1
    assert staff.get(f"/api/entities/{other}").json()["total_rights"] == 1
    bad = staff.post(f"/api/entities/{keep}/split", json={"aliases": ["No Such Name"], "new_name": "X"},
                     headers={"X-CSRF-Token": token})
    assert bad.status_code == 400 and envelope(bad)["code"] == "alias_not_owned"
    with store.session() as s:
        tags = [e.tag for e in s.scalars(select(m.AuditEvent).order_by(m.AuditEvent.id))]
    assert "web:entity:merge" in tags and "web:entity:split" in tags


def test_a_bibliographic_rows_first_claim_is_on_its_record_page(client, store, tmp_path) -> None:
    """An export gives 主权项, the first claim alone: no claim count is made up, and the record
    page and its JSON twin show that claim under the claims."""
    import csv

    from xjip.hub import synth
    from xjip.hub.pipeline import run_import

    row = synth.csv_row(next(synth.iter_patents(1, seed=44)))
    path = tmp_path / "alone.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([synth.CSV_COLUMNS, row])
    assert run_import(store, path).inserted_count == 1
    with store.session() as s:
        patent = s.scalars(select(m.Patent)).one()
    claim = row[synth.CSV_COLUMNS.index("主权项")]
    assert patent.first_claim == claim and patent.claims_count is None
    page = client.get(f"/records/patent/{patent.id}")
    assert page.status_code == 200 and claim in page.text
    twin = client.get(f"/api/records/patent/{patent.id}").json()
    assert twin["related"]["text"]["claims"] == [claim]


def _cut_off(store, path: Path, after_batches: int = 2) -> int:
    """What a server killed in the middle of an import leaves: some batches committed, the job
    still recorded as running by a process that no longer exists."""
    import subprocess
    import sys

    from xjip.hub.pipeline import create_job, run_job

    def stop(job) -> None:  # noqa: ANN001
        stop.batches += 1
        if stop.batches == after_batches:
            raise KeyboardInterrupt

    stop.batches = 0
    job_id = create_job(store, path, options={"batch_size": 50})
    with pytest.raises(KeyboardInterrupt):
        run_job(store, job_id, progress=stop)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with store.session() as s:
        job = s.get(m.ImportJob, job_id)
        job.status, job.pid = "running", gone.pid
    return job_id


def _patents(store) -> int:  # noqa: ANN001
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(m.Patent))


def test_an_upload_cut_off_by_the_server_goes_on_when_it_starts_again(settings, store, tmp_path) -> None:
    """The server dies while it imports an upload: at its next start the job is shown as
    interrupted and then finishes by itself, nothing doubled or lost; a job started from the
    command line is only marked interrupted (its owner resumes it)."""
    from xjip.hub.synth import write_cn_biblio_csv

    store.upgrade()
    folder = settings.uploads_dir / "cut"
    folder.mkdir(parents=True)
    write_cn_biblio_csv(folder / "export.csv", 400, seed=43)
    write_cn_biblio_csv(tmp_path / "cli.csv", 300, seed=44)
    upload_job, cli_job = _cut_off(store, folder / "export.csv"), _cut_off(store, tmp_path / "cli.csv")
    assert _patents(store) == 100 + 100
    with store.session() as s:
        create_user(s, "staff1", PASSWORDS["staff1"], "staff")
    app = create_app(settings, store)
    with TestClient(app):
        staff, _token = client_as(app, "staff1")
        job = _wait_for(staff, upload_job)
        assert job["status"] == "done" and job["counts"]["read"] == 400, job
        cli = staff.get(f"/api/jobs/{cli_job}").json()
        assert cli["status"] == "interrupted" and cli["resumable"], cli
    assert _patents(store) == 400 + 100


def test_staff_resume_an_interrupted_import_from_its_page(app, store, users, tmp_path) -> None:
    from xjip.hub.synth import write_cn_biblio_csv

    write_cn_biblio_csv(tmp_path / "cli.csv", 300, seed=45)
    job_id = _cut_off(store, tmp_path / "cli.csv")
    with store.session() as s:
        s.get(m.ImportJob, job_id).status = "interrupted"
    staff, token = client_as(app, "staff1")
    page = staff.get(f"/jobs/{job_id}")
    assert 'id="resume-job"' in page.text and "从中断处继续导入" in page.text
    viewer, viewer_token = client_as(app, "viewer1")
    assert viewer.post(f"/jobs/{job_id}/resume", data={"csrf_token": viewer_token}).status_code == 403
    assert staff.post(f"/jobs/{job_id}/resume", follow_redirects=False).status_code == 403  # no CSRF token
    with store.session() as s:
        before = s.get(m.ImportJob, job_id)
        bytes_before, read_before, first_start = before.bytes_done, before.read_count, before.started_at
    response = staff.post(f"/jobs/{job_id}/resume", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/jobs/{job_id}"
    job = _wait_for(staff, job_id)
    assert (job["status"], job["counts"]["read"], job["resumable"]) == ("done", 300, False)
    assert _patents(store) == 300
    with store.session() as s:  # the pace shown is this run's: it started where the first one stopped
        after = s.get(m.ImportJob, job_id)
        assert (after.run_bytes_start, after.run_read_start) == (bytes_before, read_before) and bytes_before > 0
        assert after.started_at == first_start and after.run_started_at > first_start
    assert 'id="resume-job"' not in staff.get(f"/jobs/{job_id}").text
    again = staff.post(f"/api/jobs/{job_id}/resume", headers={"X-CSRF-Token": token})
    assert again.status_code == 409
    assert envelope(again)["message_en"] == "Only an interrupted or failed import can be resumed (this job is done)"
    assert staff.post("/api/jobs/999999/resume", headers={"X-CSRF-Token": token}).status_code == 404
    with store.session() as s:
        assert "web:import:resume" in [e.tag for e in s.scalars(select(m.AuditEvent))]


def test_staff_log_in_and_work_while_an_import_runs(app, settings, store, users, tmp_path) -> None:
    """An import from the command line and people using the site at the same time: every
    login (it reads the account, then writes to the audit log) succeeds, and so does the import.
    On SQLite a transaction that read first and wrote after the import's commit used to fail
    at once with "database is locked", the import's own too."""
    import subprocess
    import sys

    from xjip.hub.synth import write_cn_biblio_csv

    src = tmp_path / "export.csv"
    write_cn_biblio_csv(src, 20000, seed=46)
    env = {**os.environ, "XJIP_DATABASE_URL": settings.database_url, "XJIP_DATA_DIR": str(settings.data_dir),
           "XJIP_SHARED_DATA_DIR": str(settings.shared_data_dir)}
    importing = subprocess.Popen([sys.executable, "-m", "xjip.cli", "import", str(src), "--batch-size", "200",
                                  "--quiet", "--format", "json"], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
    logins = []
    try:
        while importing.poll() is None:
            person = TestClient(app)
            token = person.get("/api/session").json()["csrf_token"]
            response = person.post("/api/session", json={"username": "staff1", "password": PASSWORDS["staff1"]},
                                   headers={"X-CSRF-Token": token})
            logins.append(response.status_code)
            assert response.status_code == 200, response.text
            assert person.get("/api/jobs").status_code == 200
    finally:
        out, err = importing.communicate(timeout=300)
    assert importing.returncode == 0, err[-3000:]
    assert json.loads(out)["status"] == "done" and len(logins) >= 5
    assert _patents(store) == 20000


@pytest.mark.slow
def test_a_server_killed_during_an_upload_finishes_the_import_when_started_again(settings, store, tmp_path) -> None:
    """`xjip serve` as a real process, killed with kill -9 while it imports an upload (in parse
    processes), then started again: the job goes on by itself and ends with every row once."""
    import signal
    import socket
    import subprocess
    import sys

    import httpx

    from xjip.hub.synth import write_cn_biblio_csv

    src = tmp_path / "export.csv"
    write_cn_biblio_csv(src, 20000, seed=47)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "XJIP_DATABASE_URL": settings.database_url, "XJIP_DATA_DIR": str(settings.data_dir),
           "XJIP_SHARED_DATA_DIR": str(settings.shared_data_dir), "XJIP_ADMIN_PASSWORD": PASSWORDS["admin"],
           "XJIP_IMPORT_BATCH_SIZE": "500", "XJIP_IMPORT_PARALLEL_MB": "0"}
    base = f"http://127.0.0.1:{port}"

    def serve() -> tuple[subprocess.Popen, httpx.Client]:
        proc = subprocess.Popen([sys.executable, "-m", "xjip.cli", "serve", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        person = httpx.Client(base_url=base, timeout=60)
        token = person.get("/api/session").json()["csrf_token"]
        response = person.post("/api/session", json={"username": "admin", "password": PASSWORDS["admin"]},
                               headers={"X-CSRF-Token": token})
        assert response.status_code == 200, response.text
        person.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return proc, person

    server, person = serve()
    try:
        upload = person.post("/api/import", files={"file": ("export.csv", src.read_bytes(), "text/csv")})
        assert upload.status_code == 201, upload.text
        job_id = upload.json()["job_id"]
        deadline = time.monotonic() + 120
        while person.get(f"/api/jobs/{job_id}").json()["counts"]["read"] < 2000:
            assert time.monotonic() < deadline, "the import made no progress"
            time.sleep(0.05)
        server.send_signal(signal.SIGKILL)
        server.wait()
        with store.session() as s:
            job = s.get(m.ImportJob, job_id)
            assert job.status == "running" and job.read_count < 20000  # what the killed server left
        server, person = serve()
        deadline = time.monotonic() + 180
        while not (job := person.get(f"/api/jobs/{job_id}").json())["finished"]:
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        assert (job["status"], job["counts"]["read"], job["counts"]["inserted"]) == ("done", 20000, 20000), job
        assert person.get("/api/records/patent", params={"page_size": 1}).json()["total"] == 20000
    finally:
        server.kill()
        server.wait()
    assert _patents(store) == 20000


def test_pages_show_times_in_beijing_time_and_say_so(settings, store, users) -> None:
    """Times are stored in UTC; people in Xinjiang read them in China's official time (or the
    zone XJIP_DISPLAY_TIMEZONE names), and the footer says which."""
    import datetime as dt

    with store.session() as s:
        job = m.ImportJob(path="/nowhere/x.csv", display_name="x.csv", fingerprint="0" * 64, status="done",
                          created_at=dt.datetime(2026, 1, 1, 16, 30), finished_at=dt.datetime(2026, 1, 1, 16, 45))
        s.add(job)
        s.flush()
        job_id = job.id
    for zone, created, footer_zh, footer_en in (
            ("Asia/Shanghai", "2026-01-02 00:30", "页面时间为北京时间（UTC+08:00）。", "Times are Beijing time (UTC+08:00)."),
            ("Asia/Urumqi", "2026-01-01 22:30", "页面时间为Asia/Urumqi（UTC+06:00）。", "Times are Asia/Urumqi (UTC+06:00).")):
        app = create_app(dataclasses.replace(settings, display_timezone=zone), store)
        with TestClient(app):
            staff, _token = client_as(app, "staff1")
            page = staff.get(f"/jobs/{job_id}").text
            assert created in page and footer_zh in page, (zone, page[-2000:])
            assert footer_en in staff.get(f"/jobs/{job_id}", params={"lang": "en"}).text
        assert staff.get(f"/api/jobs/{job_id}").json()["created_at"].startswith("2026-01-01T16:30")  # the API stays UTC


def test_a_running_import_shows_its_pace_and_the_time_left(settings, store, users) -> None:
    """The job page, and its JSON twin, say how long this run has taken, how many records a
    second it reads and about how long it still needs, at this run's pace over the bytes still
    to read; a resumed run counts only what it did itself."""
    import datetime as dt

    start = dt.datetime(2026, 1, 1, 8, 0, 0)
    app = create_app(settings, store)
    with TestClient(app):  # started first: at start-up, a "running" job with no live process is marked interrupted
        with store.session() as s:
            job = m.ImportJob(path="/nowhere/x.csv", display_name="x.csv", fingerprint="1" * 64, status="running",
                              started_at=start - dt.timedelta(hours=5), run_started_at=start,
                              heartbeat_at=start + dt.timedelta(seconds=100), bytes_total=100_000_000,
                              bytes_done=40_000_000, run_bytes_start=20_000_000, read_count=90_000,
                              run_read_start=30_000)
            s.add(job)
            s.flush()
            job_id = job.id
        staff, _token = client_as(app, "staff1")
        run = staff.get(f"/api/jobs/{job_id}").json()["run"]
        # 20 MB in 100 s this run, 60 MB to go: 300 s; 60,000 records in 100 s
        assert (run["seconds"], run["records_per_second"], run["eta_seconds"]) == (100.0, 600, 300), run
        part = staff.get(f"/jobs/{job_id}/progress").text
        assert "本次运行已用 1 分 40 秒" in part and "600 条/秒" in part and "预计还需约 5 分钟" in part, part
        en = staff.get(f"/jobs/{job_id}/progress", params={"lang": "en"}).text
        assert "this run: 1 min 40 s" in en and "600 records/s" in en and "about 5 min left" in en, en
        with store.session() as s:
            done = s.get(m.ImportJob, job_id)
            done.status, done.finished_at, done.bytes_done = "done", start + dt.timedelta(seconds=150), 100_000_000
            done.read_count = 120_000
        run = staff.get(f"/api/jobs/{job_id}").json()["run"]
        assert (run["seconds"], run["records_per_second"], run["eta_seconds"]) == (150.0, 600, None), run
        page = staff.get(f"/jobs/{job_id}", params={"lang": "zh"}).text
        assert "本次运行已用 2 分 30 秒" in page and 'id="job-eta"' not in page


def test_staff_stop_a_running_upload_and_resume_it_later(app, store, users, tmp_path) -> None:
    from xjip.hub.synth import write_cn_biblio_csv

    path = tmp_path / "export.csv"
    write_cn_biblio_csv(path, 3000, seed=49)
    staff, token = client_as(app, "staff1")
    job_id = staff.post("/api/import", files={"file": ("export.csv", path.read_bytes(), "text/csv")},
                        headers={"X-CSRF-Token": token}).json()["job_id"]
    deadline = time.monotonic() + 60
    while not (page := staff.get(f"/jobs/{job_id}").text).count('id="stop-job"'):
        assert time.monotonic() < deadline and "status-done" not in page, "no stop button while it ran"
        time.sleep(0.05)
    response = staff.post(f"/jobs/{job_id}/stop", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/jobs/{job_id}"
    job = _wait_for(staff, job_id)
    assert job["status"] == "interrupted" and job["counts"]["read"] < 3000 and not job["stop_requested"], job
    assert _patents(store) == job["counts"]["inserted"]  # whole batches only
    again = staff.post(f"/api/jobs/{job_id}/stop", headers={"X-CSRF-Token": token})
    assert again.status_code == 409 and "(this job is interrupted)" in envelope(again)["message_en"]
    assert staff.post(f"/api/jobs/{job_id}/resume", headers={"X-CSRF-Token": token}).status_code == 202
    job = _wait_for(staff, job_id)
    assert (job["status"], job["counts"]["read"], job["counts"]["inserted"]) == ("done", 3000, 3000), job
    assert _patents(store) == 3000
    with store.session() as s:
        tags = [e.tag for e in s.scalars(select(m.AuditEvent))]
    assert "web:import:stop" in tags and "web:import:resume" in tags


def test_staff_stop_an_import_started_from_the_command_line(app, settings, store, users, tmp_path) -> None:
    """The stop button reaches a job in another process: the command ends as after Ctrl-C."""
    import subprocess
    import sys

    from xjip.hub.synth import write_cn_biblio_csv

    src = tmp_path / "export.csv"
    write_cn_biblio_csv(src, 20000, seed=50)
    env = {**os.environ, "XJIP_DATABASE_URL": settings.database_url, "XJIP_DATA_DIR": str(settings.data_dir),
           "XJIP_SHARED_DATA_DIR": str(settings.shared_data_dir)}
    importing = subprocess.Popen([sys.executable, "-m", "xjip.cli", "import", str(src), "--batch-size", "200",
                                  "--quiet"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    staff, token = client_as(app, "staff1")
    try:
        deadline = time.monotonic() + 60
        while not (jobs := staff.get("/api/jobs").json()["items"]) or jobs[0]["counts"]["read"] == 0:
            assert time.monotonic() < deadline and importing.poll() is None, "the import made no progress"
            time.sleep(0.05)
        assert staff.post(f"/api/jobs/{jobs[0]['id']}/stop", headers={"X-CSRF-Token": token}).status_code == 202
    finally:
        _out, err = importing.communicate(timeout=120)
    assert importing.returncode == 130, err
    assert f"Import interrupted (job {jobs[0]['id']})" in err
    assert staff.get(f"/api/jobs/{jobs[0]['id']}").json()["status"] == "interrupted"


def test_rejected_records_are_counted_by_reason_and_can_be_listed_by_reason(app, store, users, tmp_path) -> None:
    """Thousands of rejections are usually one or two mistakes repeated: the job page counts them
    by reason, with an example of each, and lists the records of one reason."""
    import csv as csv_module

    from xjip.hub.synth import write_cn_biblio_csv

    path = tmp_path / "export.csv"
    write_cn_biblio_csv(path, 40, seed=51)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv_module.reader(fh))
    app_col, date_col = rows[0].index("申请号"), rows[0].index("申请日")
    for row in rows[1:4]:  # three wrong check digits
        last = row[app_col][-1]
        row[app_col] = row[app_col][:-1] + ("0" if last in "Xx" else "X" if last == "9" else str(int(last) + 1))
    for row in rows[10:12]:  # two impossible dates
        row[date_col] = "2023-02-30"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv_module.writer(fh).writerows(rows)
    staff, token = client_as(app, "staff1")
    job_id = staff.post("/api/import", files={"file": ("export.csv", path.read_bytes(), "text/csv")},
                        headers={"X-CSRF-Token": token}).json()["job_id"]
    job = _wait_for(staff, job_id)
    assert (job["counts"]["inserted"], job["counts"]["rejected"]) == (35, 5)
    summary = staff.get(f"/api/jobs/{job_id}").json()["rejection_summary"]
    assert [(g["code"], g["field"], g["count"]) for g in summary] == [("check_digit", "申请号", 3),
                                                                     ("invalid_date", "申请日", 2)]
    assert summary[1]["example_zh"] == "日期无效：2023-02-30"
    only = staff.get(f"/api/jobs/{job_id}", params={"code": "invalid_date"}).json()
    assert [(r["line"], r["code"]) for r in only["rejections"]] == [(11, "invalid_date"), (12, "invalid_date")]
    page = staff.get(f"/jobs/{job_id}", params={"code": "invalid_date"}).text
    assert 'id="rejection-summary"' in page and "只显示问题代码为 invalid_date 的记录" in page
    assert page.count("<code>invalid_date</code>") == 3 and page.count("<code>check_digit</code>") == 1


def test_transfers_licences_and_pledges_link_to_the_rights_they_name(app, store, users, tmp_path) -> None:
    """A transfer or pledge names a patent by its number (application, publication or grant): its
    page links to the stored patent, and the patent's page lists its transfers, licences and
    pledges; a number the store does not hold is said so, not linked."""
    from xjip.hub.pipeline import run_import
    from xjip.hub.synth import iter_patents, write_cn_biblio_csv

    write_cn_biblio_csv(tmp_path / "patents.csv", 5, seed=8)
    first, second = [p for p in iter_patents(5, seed=8) if p.grant_number][:2]
    from xjip.hub.numbers import cn_check_digit

    elsewhere = f"CN202399999999.{cn_check_digit('202399999999')}"  # a valid number the store does not hold
    deals = tmp_path / "deals"
    deals.mkdir()
    (deals / "licences.csv").write_text(
        "交易类型,权利类型,专利号/注册号,让与人/许可人,受让人/被许可人,许可类型,生效日期\n"
        f"许可,专利,{first.app_number},{first.applicants[0].name},新疆某某科技有限公司,独占,2024-05-06\n"
        f"转让,专利,{second.app_number},{second.applicants[0].name},新疆另一科技有限公司,,2023-01-02\n",
        encoding="utf-8")
    (deals / "pledges.csv").write_text(
        "质押登记号,权利类型,专利号/注册号,出质人,质权人,质押金额（万元）,登记日期\n"
        f"Y2024650000001,专利,{first.app_number};{elsewhere},{first.applicants[0].name},乌鲁木齐银行,500,2024-06-01\n",
        encoding="utf-8")
    assert run_import(store, tmp_path / "patents.csv").inserted_count == 5
    folder_job = run_import(store, deals)
    assert folder_job.inserted_count == 3 and folder_job.format == "mixed"  # two templates in one folder
    with store.session() as s:
        patent_id = s.scalar(select(m.Patent.id).where(m.Patent.app_number == first.app_number))
        licence_id = s.scalar(select(m.RightTransaction.id).where(m.RightTransaction.kind == "licence"))
        pledge_id = s.scalar(select(m.Pledge.id))
    client = TestClient(app)
    staff, _token = client_as(app, "staff1")
    sources = staff.get(f"/api/jobs/{folder_job.id}").json()["sources"]
    assert [(x["name"], x["format"], x["records"], x["done"]) for x in sources] == [
        ("deals/licences.csv", "tpl_transaction", 2, True), ("deals/pledges.csv", "tpl_pledge", 1, True)]
    job_page = staff.get(f"/jobs/{folder_job.id}").text
    assert "多种格式" in job_page and 'id="job-sources"' in job_page and "pledges.csv" in job_page
    licence = client.get(f"/api/records/transaction/{licence_id}").json()
    assert licence["related"]["rights"] == [{"number": first.app_number, "record_type": "patent", "id": patent_id,
                                             "title": first.title}]
    pledge = client.get(f"/api/records/pledge/{pledge_id}").json()["related"]["rights"]
    assert [(r["number"], r["id"]) for r in pledge] == [(first.app_number, patent_id), (elsewhere, None)]
    assert "本平台未收录该权利" in client.get(f"/records/pledge/{pledge_id}").text
    dealings = client.get(f"/api/records/patent/{patent_id}").json()["related"]["dealings"]
    assert [(t["id"], t["kind"], t["licence_type"]) for t in dealings["transactions"]] == [(licence_id, "licence",
                                                                                            "exclusive")]
    assert [(p["id"], p["amount_wan"]) for p in dealings["pledges"]] == [(pledge_id, 500.0)]
    page = client.get(f"/records/patent/{patent_id}").text
    assert f'href="/records/transaction/{licence_id}"' in page and f'href="/records/pledge/{pledge_id}"' in page
    assert "独占许可" in page and "转让、许可与质押" in page
    with store.session() as s:  # a patent named by its publication number is found too
        pub = s.scalar(select(m.Patent.pub_number).where(m.Patent.id == patent_id))
        from xjip.hub.queries import rights_named

        assert rights_named(s, "patent", [pub])[0]["id"] == patent_id


def test_an_owner_is_placed_where_most_of_its_records_are(app, store, tmp_path) -> None:
    """Owner entities have no address of their own: the entity page and the owner list place
    each where most of the rights it holds are (its applicant rows on patents, the other
    rights' places), and say so."""
    from collections import Counter

    from xjip.hub.pipeline import run_import
    from xjip.hub.synth import write_cn_biblio_csv

    write_cn_biblio_csv(tmp_path / "patents.csv", 300, seed=12)
    assert run_import(store, tmp_path / "patents.csv").inserted_count == 300
    with store.session() as s:
        rows = s.execute(select(m.PatentParty.entity_id, m.PatentParty.region_code, m.PatentParty.prefecture_code,
                                m.PatentParty.county_code).where(m.PatentParty.region_code.is_not(None))).all()
        by_entity: dict[int, Counter] = {}
        for e, r, p, c in rows:
            by_entity.setdefault(e, Counter())[(r, p, c)] += 1
        busiest = max(by_entity, key=lambda e: sum(by_entity[e].values()))
        top = by_entity[busiest].most_common()
        expected = min(place for place, n in top if n == top[0][1])
    client = TestClient(app)
    entity = client.get(f"/api/entities/{busiest}").json()
    assert entity["place_from"] == "records" and entity["place"]["region_code"] == expected[0], (entity, expected)
    assert entity["place"]["prefecture_code"] == expected[1]
    assert "按其权利记录中最常见的所在地" in client.get(f"/entities/{busiest}").text
    listed, after = {}, None
    while True:  # every page of the owner list
        page = client.get("/api/entities", params={"page_size": 100, **({"after": after} if after else {})}).json()
        listed.update((e["id"], e) for e in page["items"])
        if not (after := page["next"]):
            break
    assert listed[busiest]["prefecture_code"] == expected[1]
    placed = sum(1 for e in listed.values() if e["prefecture_code"])
    assert placed >= 0.9 * len(listed), (placed, len(listed))


def test_a_list_downloads_as_csv_or_excel_with_its_filters_and_masks(app, store, users, tmp_path, monkeypatch) -> None:
    """The list's download: every record matching its filters (not only the page shown), headers
    and codes in the reader's language, amounts masked for anonymous visitors as on the pages,
    a formula in a cell written as text, a bound per request; `xjip export` writes the same."""
    import csv as csvlib
    import io

    import openpyxl

    from xjip.hub.pipeline import run_import
    from xjip.hub.synth import write_cn_biblio_csv
    from xjip.web.routes import data as data_routes

    write_cn_biblio_csv(tmp_path / "patents.csv", 150, seed=31)
    assert run_import(store, tmp_path / "patents.csv").inserted_count == 150
    from xjip.hub.numbers import cn_check_digit

    (tmp_path / "pledges.csv").write_text(
        "质押登记号,权利类型,专利号/注册号,出质人,质权人,质押金额（万元）,登记日期\n"
        f"Y2024650000009,专利,CN201910000001.{cn_check_digit('201910000001')},"
        '"=HYPERLINK(""http://evil"")",乌鲁木齐银行,500,2024-06-01\n', encoding="utf-8")
    assert run_import(store, tmp_path / "pledges.csv").inserted_count == 1
    with store.session() as s:
        prefecture, expected = s.execute(select(m.Patent.prefecture_code, func.count()).where(
            m.Patent.prefecture_code.is_not(None)).group_by(m.Patent.prefecture_code)
            .order_by(func.count().desc())).first()
    anonymous = TestClient(app)
    got = anonymous.get("/records/patent/export", params={"prefecture": prefecture, "format": "csv"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert got.content.startswith("\ufeff".encode()) and "attachment" in got.headers["content-disposition"]
    rows = list(csvlib.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["主键", "国家/地区", "申请号"] and len(rows) - 1 == expected > 1
    assert {r[rows[0].index("地州市代码")] for r in rows[1:]} == {prefecture}
    assert {r[rows[0].index("专利类型")] for r in rows[1:]} <= {"发明", "实用新型", "外观设计"}  # labels, not codes
    pledge = list(csvlib.reader(io.StringIO(anonymous.get("/records/pledge/export").content.decode("utf-8-sig"))))
    assert pledge[1][pledge[0].index("金额（万元）")] == ""  # masked for the public, as on the pages
    assert pledge[1][pledge[0].index("出质人")].startswith("'=HYPERLINK")  # text, never a formula
    staff, _token = client_as(app, "staff1")
    book = openpyxl.load_workbook(io.BytesIO(staff.get("/records/pledge/export", params={"format": "xlsx"}).content))
    sheet = list(book.active.iter_rows(values_only=True))
    assert sheet[1][sheet[0].index("金额（万元）")] == 500 and len(sheet) == 2
    cell = next(c for c in book.active[2] if isinstance(c.value, str) and c.value.startswith("=HYPERLINK"))
    assert cell.data_type == "s"
    english = staff.get("/records/patent/export", params={"lang": "en", "prefecture": prefecture}).content
    assert english.decode("utf-8-sig").startswith("Key,")
    monkeypatch.setattr(data_routes, "EXPORT_MAX_PUBLIC", 40)
    capped = anonymous.get("/records/patent/export")
    assert capped.headers["x-xjip-export-limit"] == "40"
    assert len(list(csvlib.reader(io.StringIO(capped.content.decode("utf-8-sig"))))) == 41
    assert 'id="export-limit"' in anonymous.get("/records/patent").text
    assert len(list(csvlib.reader(io.StringIO(staff.get("/records/patent/export").content.decode("utf-8-sig"))))) == 151
    from .test_pages import envelope  # noqa: F401 - the error envelope of a bad type, below

    assert anonymous.get("/records/nothing/export").status_code == 404
