"""`xjip search` as a person runs it, on SQLite and PostgreSQL: a child process per command."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

XJIP = [sys.executable, "-m", "xjip.cli"]
GI = "gi/xinjiang_gi_records.csv"


def run(settings, *args: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    env = {**os.environ, "XJIP_DATABASE_URL": settings.database_url, "XJIP_DATA_DIR": settings.data_dir,
           "XJIP_SHARED_DATA_DIR": settings.shared_data_dir}
    return subprocess.run([*XJIP, *args], env=env, capture_output=True, text=True, timeout=300)


def test_search_cli(settings, store, shared_data: Path) -> None:  # noqa: ANN001
    assert run(settings, "import", str(shared_data / GI), "--quiet").returncode == 0
    rebuilt = run(settings, "search", "--rebuild", "--format", "json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["by_type"]["gi"] > 0
    found = run(settings, "search", "kuerle xiangli", "--type", "gi", "--format", "json")
    data = json.loads(found.stdout)
    assert "库尔勒香梨" in [i["title"] for i in data["items"]]
    # a fresh process segments the query as the index was built (the GI names kept beside it)
    assert "库尔勒香梨" in [i["title"] for i in json.loads(run(settings, "search", "库尔勒香梨", "--format", "json").stdout)["items"]]
    table = run(settings, "search", "香梨", "--limit", "3")
    assert table.returncode == 0 and "库尔勒香梨" in table.stdout and "gi" in table.stdout
    analysed = json.loads(run(settings, "search", "--analyse", "TYPE=gi", "--format", "json").stdout)
    assert analysed["total"] == data["total"] or analysed["total"] > 0
    assert sum(b["count"] for b in analysed["types"]) == analysed["total"]
    bad = run(settings, "search", "AD=2021..2019", "--format", "json")
    assert bad.returncode == 2 and json.loads(bad.stdout)["error"]["code"] == "date_order"
    bad_text = run(settings, "search", "TI=(香梨")
    assert bad_text.returncode == 2 and "列" in bad_text.stderr and "Traceback" not in bad_text.stderr
    assert run(settings, "search", "香梨", "--type", "nonsense").returncode == 2
    status = json.loads(run(settings, "search", "--status").stdout)
    assert status["exists"] and status["docs"] > 0


def test_rebuild_cli_continues_after_ctrl_c_and_runs_one_at_a_time(settings, store, shared_data: Path,  # noqa: ANN001
                                                                    monkeypatch) -> None:  # noqa: ANN001
    import socket
    import time

    from click.testing import CliRunner

    from xjip.cli import main
    from xjip.hub.pipeline import run_import
    from xjip.search import documents, index

    run_import(store, shared_data / GI)
    monkeypatch.setattr(index, "CHECKPOINT_EVERY", 20)
    monkeypatch.setattr(documents, "CHUNK", 10)
    real, calls = documents.build_docs, []

    def build(*args):  # noqa: ANN002, ANN202
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # Ctrl-C while the fourth part is read: 20 committed, 10 not
        return real(*args)

    monkeypatch.setattr(documents, "build_docs", build)
    env = {"XJIP_DATABASE_URL": settings.database_url, "XJIP_DATA_DIR": settings.data_dir,
           "XJIP_SHARED_DATA_DIR": settings.shared_data_dir}
    cut = CliRunner().invoke(main, ["search", "--rebuild"], env=env)
    assert cut.exit_code == 130, cut.output
    assert "20/" in cut.output and "再次运行 xjip search --rebuild 会接着建" in cut.output and "continues" in cut.output
    monkeypatch.setattr(documents, "build_docs", real)
    resumed = run(settings, "search", "--rebuild", "--format", "json")
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["resumed"] and result["done"] == result["total"] > 20
    assert json.loads(run(settings, "search", "--status").stdout)["docs"] == result["done"]
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        index.backend_for(settings)._update(state="building", pid=sleeper.pid, host=socket.gethostname(),
                                            heartbeat=time.time())
        refused = run(settings, "search", "--rebuild")
        assert refused.returncode == 1 and f"{sleeper.pid}@" in refused.stderr
        assert "另一个进程正在重建检索索引" in refused.stderr and "Another process" in refused.stderr
    finally:
        sleeper.kill()
        sleeper.wait()
    fresh = run(settings, "search", "--rebuild", "--restart", "--format", "json")  # the claim's process is gone
    assert fresh.returncode == 0 and not json.loads(fresh.stdout)["resumed"]
    assert run(settings, "search", "--restart").returncode == 2
