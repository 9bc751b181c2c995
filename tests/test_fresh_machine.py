"""A fresh machine, as the issue found it: a clone of the repository has no ../shared/data, and
`./scripts/start` (`xjip demo`, then `xjip serve`) died with a 35-line traceback. The demo and the
server now start on the tables the package ships, say where the real samples come from, and serve
their pages. Run as a person runs them: real processes, on SQLite and on PostgreSQL."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from xjip.hub.commands import _status_words

from xjip.i18n import both

XJIP = [sys.executable, "-m", "xjip.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_and_server_start_without_shared_data(settings, tmp_path: Path) -> None:  # noqa: ANN001
    empty = tmp_path / "no_shared"
    empty.mkdir()
    env = {**os.environ, "XJIP_DATABASE_URL": settings.database_url, "XJIP_DATA_DIR": settings.data_dir,
           "XJIP_SHARED_DATA_DIR": str(empty), "XJIP_ADMIN_PASSWORD": "fresh-admin-pw"}
    demo = subprocess.run([*XJIP, "demo", "--synthetic-patents", "300", "--synthetic-rights", "30"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Traceback" not in demo.stderr
    for msg_id in ("fresh.demo.no_real_samples", "fresh.reference.tables"):
        zh, en = both(msg_id, path=str(empty))
        assert zh in demo.stdout and en in demo.stdout, msg_id
    assert both("fresh.reference.laws_skipped", path=str(empty / "legal"))[1] in demo.stdout
    done = f"作业/job 1: {_status_words('done')}", f"作业/job 2: {_status_words('done')}"
    assert all(line in demo.stdout for line in done)  # the synthetic patents and the other rights

    port = _free_port()
    server = subprocess.Popen([*XJIP, "serve", "--port", str(port)], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/api/overview", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
                time.sleep(0.3)
        for page in ("/", "/records/patent", "/records/trademark", "/records/institution", "/regions", "/docs"):
            assert httpx.get(base + page, timeout=30).status_code == 200, page
        overview = httpx.get(base + "/api/overview", timeout=30).json()
        patents = next(t for t in overview["by_type"] if t["record_type"] == "patent")
        assert (patents["total"], patents["real"], patents["synthetic"]) == (300, 0, 300)
        placed = sum(r["counts"].get("patent", 0) for r in overview["by_prefecture"] if r["kind"] != "unresolved")
        assert placed == 300  # every synthetic address resolves with the shipped gazetteer
        home = httpx.get(base + "/", timeout=30).text
        assert 'id="no-real"' in home and both("fresh.overview.no_real")[0] in home
        listing = httpx.get(base + "/records/patent", timeout=30).text
        assert 'id="only-synthetic"' in listing
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_synth_xml_without_the_samples_says_what_is_missing(tmp_path: Path) -> None:
    """`xjip synth --format xml` builds on real CNIPA documents of shared/data: without them a
    located, bilingual error and no file, not a traceback."""
    empty = tmp_path / "no_shared"
    empty.mkdir()
    out = tmp_path / "synth.xml"
    env = {**os.environ, "XJIP_DATA_DIR": str(tmp_path / "data"), "XJIP_SHARED_DATA_DIR": str(empty)}
    done = subprocess.run([*XJIP, "synth", "--patents", "5", "--format", "xml", "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    samples = empty / "patents" / "cn_cnipa_xml" / "xml" / "examples"
    zh, en = both("fresh.synth.samples_missing", path=str(samples))
    assert zh in done.stderr and en in done.stderr and not out.exists()
    # CSV needs no samples: the package's tables suffice
    done = subprocess.run([*XJIP, "synth", "--patents", "5", "--out", str(tmp_path / "synth.csv")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "synth.csv").read_text(encoding="utf-8-sig").splitlines()) == 6
