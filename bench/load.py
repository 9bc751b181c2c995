#!/usr/bin/env python
"""Many people at once: N clients for S seconds against a running `xjip serve` (started by this
script on an existing database), page by page (overview; record page + its JSON; list page + its
JSON), reporting requests/s, p50/p95/p99 and errors; idle, or while a 200,000-row import runs;
Datasette 0.65.5 serving the same SQLite file side by side for the record and list pages.

    # the database, built once (bench/README.md "load.py"): 1,000,000 synthetic patents + 100,000 rights
    nice -n 10 .venv/bin/python bench/load.py --db sqlite:////tmp/xjip_bench/load/sqlite/xjip.db \\
        --clients 10 --seconds 20 --datasette
    nice -n 10 .venv/bin/python bench/load.py --db ... --clients 50 --seconds 60 --pages mixed \\
        --during-import /tmp/xjip_bench/load/synth_200k.csv

The load generator is asyncio over plain sockets (HTTP/1.1 keep-alive, one connection per
client): a few tens of microseconds of CPU per request, so that on a 2-core machine it takes
as little as possible from the server it measures. Every client picks its next URL at random
from the phase's set and sends it as soon as the previous answer is in (closed loop, no think
time): the figures are what the server can do, not what a crowd of people would ask.
An error is a non-2xx answer, a broken connection or a timeout (10 s).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import PYTHON, REPO, append_results, machine, shell_command  # noqa: E402

DATASETTE = os.environ.get("XJIP_BENCH_DATASETTE", "/tmp/xjip_bench/datasette-venv/bin/datasette")
DATASETTE_VERSION = "0.65.5"  # pinned: `python -m venv V && V/bin/pip install datasette==0.65.5`
TIMEOUT = 10.0


@dataclass
class Phase:
    name: str
    server: str  # xjip | datasette
    urls: list[str]
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    if headers.get("connection", "").lower() == "close":
        raise ConnectionResetError("server closed the connection")
    return status


async def _client(host: str, port: int, phase: Phase, until: float, rng: random.Random) -> None:
    reader = writer = None
    while time.monotonic() < until:
        path = rng.choice(phase.urls)
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), TIMEOUT)
            started = time.perf_counter()
            status = await asyncio.wait_for(_request(reader, writer, f"{host}:{port}", path), TIMEOUT)
            phase.latencies.append(time.perf_counter() - started)
            if not 200 <= status < 300:
                phase.errors += 1
                phase.error_kinds[str(status)] = phase.error_kinds.get(str(status), 0) + 1
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            phase.errors += 1
            kind = type(exc).__name__
            phase.error_kinds[kind] = phase.error_kinds.get(kind, 0) + 1
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _run_phase(host: str, port: int, phase: Phase, clients: int, seconds: float, seed: int) -> None:
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*(_client(host, port, phase, until, random.Random(seed + i)) for i in range(clients)))
    phase.seconds = time.monotonic() - started


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def _free_ports() -> int:
    """A port free now whose next one is free too (xjip, then Datasette)."""
    import socket

    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise SystemExit("no free ports")


def _wait_up(port: int, proc: subprocess.Popen, path: str = "/", seconds: float = 180) -> None:
    """Until the server answers; and it must be this server (a port taken by another is an error)."""
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited (see its log)")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
                if r.status == 200:
                    time.sleep(1.0)
                    if proc.poll() is not None:
                        raise SystemExit(f"the server exited: port {port} answers for another one")
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("server did not start")


def _sample(db_url: str, data_dir: str, n: int, seed: int) -> dict[str, Any]:
    """Record ids, prefectures and years to ask for, from the database itself."""
    from sqlalchemy import func, select

    from xjip.hub import models as m
    from xjip.hub.store import Store
    from xjip.settings import Settings

    store = Store(Settings.from_env(database_url=db_url, data_dir=data_dir))
    rng = random.Random(seed)
    with store.reading() as s:
        low, high = s.execute(select(func.min(m.Patent.id), func.max(m.Patent.id))).one()
        ids = [rng.randint(low, high) for _ in range(n)]
        years = [y for (y,) in s.execute(select(m.RightCount.year).where(
            m.RightCount.record_type == "patent", m.RightCount.year > 0).group_by(m.RightCount.year)
            .having(func.sum(m.RightCount.n) > 1000))]
        prefectures = [b for (b,) in s.execute(select(m.RightCount.bucket).where(
            m.RightCount.record_type == "patent", m.RightCount.bucket.like("65%")).group_by(m.RightCount.bucket))]
    store.dispose()
    return {"ids": ids, "years": years, "prefectures": prefectures}


def _xjip_phases(sample: dict[str, Any], which: list[str], rng: random.Random) -> list[Phase]:
    ids, years, prefs = sample["ids"], sample["years"], sample["prefectures"]
    record = [u for i in ids for u in (f"/records/patent/{i}", f"/api/records/patent/{i}")]
    lists = ["/records/patent", "/api/records/patent"]
    for _ in range(200):
        q = {"year": rng.choice(years)} if rng.random() < 0.5 else {"prefecture": rng.choice(prefs)}
        lists += [f"/records/patent?{urllib.parse.urlencode(q)}", f"/api/records/patent?{urllib.parse.urlencode(q)}"]
    overview = ["/", "/api/overview"]
    phases = {"overview": Phase("overview / + /api/overview", "xjip", overview),
              "record": Phase("record page + JSON", "xjip", record),
              "list": Phase("list page + JSON", "xjip", lists),
              "mixed": Phase("mixed: overview, record, list (1:2:2)", "xjip", overview * (len(record) // 4)
                             + record + lists * (len(record) // len(lists)))}
    return [phases[w] for w in which]


def _datasette_phases(sample: dict[str, Any], db_name: str, rng: random.Random) -> list[Phase]:
    ids, years, prefs = sample["ids"], sample["years"], sample["prefectures"]
    record = [u for i in ids for u in (f"/{db_name}/patent/{i}", f"/{db_name}/patent/{i}.json")]
    base = "_sort_desc=app_date&_size=50"
    lists = [f"/{db_name}/patent?{base}", f"/{db_name}/patent.json?{base}"]
    for _ in range(200):
        if rng.random() < 0.5:
            y = rng.choice(years)
            q = f"app_date__gte={y}-01-01&app_date__lt={y + 1}-01-01"
        else:
            q = f"prefecture_code={rng.choice(prefs)}"
        lists += [f"/{db_name}/patent?{q}&{base}", f"/{db_name}/patent.json?{q}&{base}"]
    return [Phase("record page + JSON", "datasette", record), Phase("list page + JSON", "datasette", lists)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="database URL of an imported database (SQLite or PostgreSQL)")
    ap.add_argument("--data-dir", help="xjip data dir (default: the SQLite file's folder, else /tmp/xjip_bench/load)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--workers", type=int, default=None, help="xjip serve --workers (default: its own default)")
    ap.add_argument("--pages", default="overview,record,list", help="phases: overview,record,list,mixed")
    ap.add_argument("--datasette", action="store_true", help="also Datasette on the same SQLite file (record, list)")
    ap.add_argument("--during-import", help="run `xjip import FILE --synthetic` while measuring")
    ap.add_argument("--port", type=int, default=0, help="default: a free port (and the next one for Datasette)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--no-append", action="store_true")
    args = ap.parse_args()
    kind = "sqlite" if args.db.startswith("sqlite") else "postgresql"
    args.port = args.port or _free_ports()
    data_dir = args.data_dir or (str(Path(args.db.split("///", 1)[1]).parent) if kind == "sqlite"
                                 else "/tmp/xjip_bench/load/pg")
    rng = random.Random(args.seed)
    sample = _sample(args.db, data_dir, 2000, args.seed)
    info = machine()
    load_start = os.getloadavg()
    env = {**os.environ, "XJIP_DATABASE_URL": args.db, "XJIP_DATA_DIR": data_dir, "XJIP_ADMIN_PASSWORD": "bench-admin"}
    cmd = [PYTHON, "-m", "xjip.cli", "serve", "--port", str(args.port)]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    workers = args.workers or os.cpu_count()
    results = []
    importer = None
    # The server's log goes to a file: a pipe nobody reads would fill and stop the server.
    log_path = Path(data_dir) / "load-server.log"
    server_log = open(log_path, "w")
    server = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=server_log, text=True,
                              start_new_session=True)
    try:
        _wait_up(args.port, server)
        phases = _xjip_phases(sample, args.pages.split(","), rng)
        import_note = None
        if args.during_import:
            importer = subprocess.Popen([PYTHON, "-m", "xjip.cli", "--database-url", args.db, "--data-dir", data_dir,
                                         "import", args.during_import, "--synthetic", "--quiet", "--format", "json"],
                                        cwd=REPO, stdout=subprocess.DEVNULL, stderr=server_log, text=True)
            time.sleep(3)  # past its start-up: the import is writing
        for phase in phases:
            asyncio.run(_run_phase("127.0.0.1", args.port, phase, args.clients, args.seconds, args.seed))
            if importer is not None and importer.poll() is not None:
                import_note = f"the import finished during the phase {phase.name!r}"
        if importer is not None:
            still = importer.poll() is None
            import_note = import_note or ("the import was still running at the end of the last phase, and was "
                                          "then stopped (Ctrl-C; resumable)" if still else None)
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        if importer is not None:
            if importer.poll() is None:  # measured: stopped as Ctrl-C stops it (the job is resumable)
                importer.send_signal(signal.SIGINT)
            importer.wait()
    for phase in phases:
        results.append(_row(phase, "xjip", kind, workers, args))
    if args.datasette and kind == "sqlite":
        db_file = args.db.split("///", 1)[1]
        ds = subprocess.Popen([DATASETTE, "serve", db_file, "--port", str(args.port + 1),
                               "--setting", "suggest_facets", "off"], stdout=subprocess.DEVNULL,
                              stderr=server_log, text=True, start_new_session=True)
        try:
            _wait_up(args.port + 1, ds, "/-/versions.json")
            for phase in _datasette_phases(sample, Path(db_file).stem, rng):
                asyncio.run(_run_phase("127.0.0.1", args.port + 1, phase, args.clients, args.seconds, args.seed))
                results.append(_row(phase, f"Datasette {DATASETTE_VERSION}", kind, 1, args))
        finally:
            os.killpg(ds.pid, signal.SIGINT)
            ds.wait(timeout=30)
    load_end = os.getloadavg()
    for r in results:
        print({k: r[k] for k in ("server", "phase", "requests", "rps", "p50_ms", "p95_ms", "p99_ms", "errors")},
              flush=True)
    if args.no_append:
        return
    notes = [f"{args.clients} clients, {args.seconds:.0f} s per phase, closed loop (each client sends its next "
             f"request when the last answer is in); load generator on the same 2-core machine (asyncio, plain sockets)",
             f"database: {kind}, {args.db.split('@')[-1]}; record ids drawn at random from the whole table; lists: "
             "the first page, unfiltered or by a random year or prefecture",
             f"load average {load_start[0]:.1f} at start, {load_end[0]:.1f} at end (other work on the machine "
             "lowers every figure)"]
    if args.during_import:
        notes.append(f"during `xjip import {Path(args.during_import).name} --synthetic` (another process): "
                     f"{import_note or ''}")
    if args.datasette:
        notes.append(f"Datasette {DATASETTE_VERSION} on the same SQLite file: `datasette serve FILE "
                     "--setting suggest_facets off` (facets off, as in issue 10; its defaults otherwise), "
                     "its record page /db/patent/ID(.json) and its table page sorted by app_date desc, 50 rows")
    append_results(f"Load: {kind}{' during an import' if args.during_import else ''} (issue 10 §2)",
                   shell_command(), info, results,
                   [("server", "server"), ("workers", "workers"), ("phase", "pages"), ("requests", "requests"),
                    ("rps", "req/s"), ("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"), ("p99_ms", "p99 ms"),
                    ("errors", "errors"), ("error_kinds", "error kinds")], notes)


def _row(phase: Phase, server: str, kind: str, workers: int, args: Any) -> dict[str, Any]:
    n = len(phase.latencies)
    return {"server": server, "db": kind, "workers": workers, "phase": phase.name, "clients": args.clients,
            "seconds": round(phase.seconds, 1), "requests": n + phase.errors,
            "rps": round(n / phase.seconds, 1) if phase.seconds else None,
            "p50_ms": _pct(phase.latencies, 50), "p95_ms": _pct(phase.latencies, 95),
            "p99_ms": _pct(phase.latencies, 99), "errors": phase.errors,
            "error_kinds": ", ".join(f"{k} {v}" for k, v in sorted(phase.error_kinds.items())) or None,
            "during_import": bool(args.during_import)}


if __name__ == "__main__":
    main()
