"""Helpers shared by the benchmark scripts: machine description, throwaway databases, running
`xjip` as a child process under /usr/bin/time -v, and appending results (JSON lines + Markdown)."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_MD = BENCH_DIR / "RESULTS.md"
RESULTS_JSONL = BENCH_DIR / "results.jsonl"
PYTHON = sys.executable
PG_ADMIN_URL = os.environ.get("XJIP_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                    if line.startswith("model name")), "")
    except OSError:
        pass
    mem_kb = 0
    try:
        mem_kb = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")))
    except (OSError, StopIteration):
        pass
    import sqlite3

    return {"host": socket.gethostname(), "cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "postgresql": pg_version(), "git": git_commit()}


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, timeout=30)
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def pg_version() -> str | None:
    try:
        from sqlalchemy import create_engine, text

        from xjip.hub.store import normalise_url

        engine = create_engine(normalise_url(PG_ADMIN_URL))
        with engine.connect() as conn:
            version = conn.execute(text("show server_version")).scalar()
        engine.dispose()
        return str(version)
    except Exception:  # noqa: BLE001 - no server: reported as None
        return None


def measured_backends(choice: str) -> list[str]:
    """The databases a `--db sqlite|postgresql|both` run measures; PostgreSQL is left out, with a
    line saying so, when no server answers."""
    chosen = ["sqlite", "postgresql"] if choice == "both" else [choice]
    if "postgresql" in chosen and pg_version() is None:
        print("no PostgreSQL server: measuring SQLite only", flush=True)
        chosen = [b for b in chosen if b != "postgresql"]
    return chosen


@dataclass
class Database:
    kind: str  # sqlite | postgresql
    url: str
    data_dir: Path


@contextmanager
def throwaway_database(kind: str, workdir: Path, label: str) -> Iterator[Database]:
    """A fresh, migrated database (SQLite file or PostgreSQL database) dropped afterwards."""
    from sqlalchemy import create_engine, text

    from xjip.hub.store import normalise_url

    name = f"xjip_bench_{label}_{uuid.uuid4().hex[:8]}"
    data_dir = workdir / name
    data_dir.mkdir(parents=True, exist_ok=True)
    admin = None
    if kind == "sqlite":
        url = f"sqlite:///{data_dir / 'xjip.db'}"
    else:
        admin = create_engine(normalise_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    db = Database(kind, url, data_dir)
    try:
        prepare(db)
        yield db
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)


def prepare(db: Database) -> None:
    """Schema + reference data (`xjip init`), as a real deployment has before importing; when
    reference loading is not available, the schema alone (`xjip db upgrade`)."""
    init = xjip(db, ["init"])
    if init.returncode != 0:
        upgrade = xjip(db, ["db", "upgrade"])
        if upgrade.returncode != 0:
            raise RuntimeError(f"cannot migrate {db.kind}: {upgrade.stderr[-2000:]}")


def xjip(db: Database, args: list[str]) -> subprocess.CompletedProcess[str]:
    code = os.environ.get("XJIP_PROFILE_CODE")  # profile_import.py --code: another tree's xjip
    cli = [PYTHON, "-c", f"import sys; sys.path.insert(0, {code!r}); from xjip.cli import main; sys.exit(main())"] \
        if code else [PYTHON, "-m", "xjip.cli"]
    cmd = [*cli, "--database-url", db.url, "--data-dir", str(db.data_dir), *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)


@dataclass
class Measured:
    """A child process run under /usr/bin/time -v."""

    command: list[str]
    returncode: int
    wall_s: float
    peak_rss_mb: float | None
    stdout: str
    stderr: str
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError:
            # The last JSON object printed (after any log lines).
            start = self.stdout.rfind("\n{")
            return json.loads(self.stdout[start + 1:]) if start >= 0 else None


def _tree_rss_kb(root: int) -> int:
    """Resident memory of `root` and all its descendants (kB, from /proc)."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                status = fh.read()
        except OSError:
            continue
        pid = int(entry)
        ppid = re.search(r"^PPid:\s+(\d+)", status, re.M)
        vm = re.search(r"^VmRSS:\s+(\d+)", status, re.M)
        parent[pid] = int(ppid.group(1)) if ppid else 0
        rss[pid] = int(vm.group(1)) if vm else 0
    total, todo = 0, [root]
    children: dict[int, list[int]] = {}
    for pid, pp in parent.items():
        children.setdefault(pp, []).append(pid)
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def measure(cmd: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run `cmd` as a child; wall time from our clock. Peak RSS: the larger of GNU time's report
    (the importing process alone) and the peak of the whole process tree's summed RSS, sampled
    every 50 ms (an import may parse in parse processes beside the one that writes)."""
    import threading

    report = Path(os.environ.get("TMPDIR", "/tmp")) / f"xjip_bench_time_{uuid.uuid4().hex}.txt"
    full = ["/usr/bin/time", "-v", "-o", str(report), *cmd] if Path("/usr/bin/time").exists() else cmd
    started = time.perf_counter()
    child = subprocess.Popen(full, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **(env or {})})
    tree_peak = [0]

    def sample() -> None:
        while child.poll() is None:
            tree_peak[0] = max(tree_peak[0], _tree_rss_kb(child.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    sampler.join()
    proc = subprocess.CompletedProcess(full, child.returncode, out, err)
    wall = time.perf_counter() - started
    rss = None
    if report.exists():
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report.read_text())
        rss = int(m.group(1)) / 1024 if m else None
        report.unlink()
    else:  # fall back to the children's high-water mark (max over all children so far)
        import resource

        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if tree_peak[0]:
        rss = max(rss or 0, tree_peak[0] / 1024)
    return Measured(cmd, proc.returncode, wall, rss, proc.stdout, proc.stderr, {"tree_peak_rss_mb": tree_peak[0] / 1024})


def append_results(title: str, command: str, info: dict[str, Any], rows: list[dict[str, Any]],
                   columns: list[tuple[str, str]], notes: list[str]) -> None:
    """One JSON line per measurement in results.jsonl and one Markdown section in RESULTS.md."""
    stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    with open(RESULTS_JSONL, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({"date": stamp, "benchmark": title, "command": command, "machine": info, **row},
                                ensure_ascii=False, default=str) + "\n")
    lines = [f"\n## {title} — {stamp}\n",
             f"- command: `{command}`",
             f"- machine: {info.get('cpu')}, {info.get('cores')} cores, {info.get('ram_gb')} GB RAM, {info.get('os')}; "
             f"Python {info.get('python')}, SQLite {info.get('sqlite')}, PostgreSQL {info.get('postgresql')}; "
             f"commit {info.get('git')}",
             ""]
    lines.append("| " + " | ".join(h for _k, h in columns) + " |")
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(k)) for k, _h in columns) + " |")
    if notes:
        lines.append("")
        lines.extend(f"- {n}" for n in notes)
    if not RESULTS_MD.exists():
        RESULTS_MD.write_text("# Benchmark results\n\nAppended by the scripts in `bench/` (newest last). "
                              "Figures on synthetic data (every record marked 合成/synthetic): they measure the "
                              "software, not Xinjiang.\n", encoding="utf-8")
    with open(RESULTS_MD, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def shell_command() -> str:
    return " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
