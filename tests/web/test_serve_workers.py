"""`xjip serve --workers N`: several worker processes answer, and an upload's import runs in one
place, the parent's import runner, not in the worker that took the upload (both databases)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from xjip.hub import models as m
from xjip.hub.numbers import cn_check_digit
from xjip.hub.store import Store

XJIP = [sys.executable, "-m", "xjip.cli"]


def _app(i: int) -> str:
    digits = f"2023{10000000 + i:08d}"[:12]
    return f"CN{digits}.{cn_check_digit(digits)}"


CSV = "申请号,标题,申请人,申请人地址,国省代码,申请日\n" + "".join(
    f"{_app(i)},一种测试装置{i},新疆示例科技有限公司,新疆乌鲁木齐市天山区解放北路{i}号,新疆(65),2023-01-0{1 + i % 9}\n"
    for i in range(1, 6))


def _children(pid: int) -> set[int]:
    """Child processes of `pid` (from /proc; no psutil in the environment)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_workers_serve_and_one_runner_imports(settings, store: Store, tmp_path: Path) -> None:  # noqa: ANN001
    env = {**os.environ, "XJIP_DATABASE_URL": settings.database_url, "XJIP_DATA_DIR": settings.data_dir,
           "XJIP_ADMIN_PASSWORD": "workers-admin-pw"}
    port = _free_port()
    server = subprocess.Popen([*XJIP, "serve", "--port", str(port), "--workers", "2"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(base + "/api/overview", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
            time.sleep(0.3)
        workers = {pid for pid in _children(server.pid)
                   if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()}
        assert len(workers) == 2
        with httpx.Client(base_url=base, timeout=30) as client:
            token = client.get("/api/session").json()["csrf_token"]
            login = client.post("/api/session", json={"username": "admin", "password": "workers-admin-pw"},
                                headers={"X-CSRF-Token": token})
            assert login.status_code == 200, login.text
            token = client.get("/api/session").json()["csrf_token"]
            up = client.post("/api/import", files={"file": ("workers.csv", CSV.encode("utf-8"), "text/csv")},
                             headers={"X-CSRF-Token": token})
            assert up.status_code == 201, up.text
            job_id = up.json()["job_id"]
            deadline = time.monotonic() + 90
            while client.get(f"/api/jobs/{job_id}").json()["status"] not in ("done", "failed"):
                assert time.monotonic() < deadline
                time.sleep(0.3)
        with store.reading() as s:
            job = s.get(m.ImportJob, job_id)
            assert (job.status, job.inserted_count) == ("done", 5), job.error
            assert job.pid == server.pid and job.pid not in workers  # the parent's runner ran it
            assert s.scalars(select(m.ImportRequest)).all() == []  # the request was taken
        # the overview (kept counts) already counts them, in whichever worker answers
        for _ in range(4):
            overview = httpx.get(base + "/api/overview", timeout=30).json()
            assert next(t for t in overview["by_type"] if t["record_type"] == "patent")["total"] == 5
        # kill -9 of the parent: the workers go with it (an orphan would keep the port)
        server.kill()
        server.wait()
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in workers):
            assert time.monotonic() < deadline, "a worker outlived the parent"
            time.sleep(0.2)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
