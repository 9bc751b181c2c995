#!/usr/bin/env python
"""Where an import spends its time: bare streaming parse vs full `xjip import`, with profiles.

For one synthetic file (bibliographic CSV or concatenated CNIPA full-text XML, made by
`xjip.hub.synth` and kept in --workdir) and each database asked for:

1. bare parse: a child process iterating `importer.parse()` only (no database);
2. `xjip import FILE --quiet --format json` into a fresh database (schema and reference data
   loaded by `xjip init`), run as a child under /usr/bin/time -v: wall time, CPU time and peak
   RSS of the importing process; then a re-import of the same file (every record unchanged);
3. unless --profiler none, the same import again into another fresh database under a profiler
   (cProfile, or py-spy when installed and asked for): its top entries are printed. Profiled
   runs are slower; the rates come from the unprofiled runs only.

The figure to drive down is the ratio import ÷ bare parse of the same file.

    .venv/bin/python bench/profile_import.py --format csv --n 50000 --db sqlite
    .venv/bin/python bench/profile_import.py --format xml --n 5000 --db both --profiler py-spy
    .venv/bin/python bench/profile_import.py --format csv --n 200000 --db postgresql --append
    # the same measurement of another code tree (e.g. `git archive HEAD | tar -x -C /tmp/before`):
    .venv/bin/python bench/profile_import.py --format csv --n 50000 --code /tmp/before --label before

--append adds the figures to bench/PROFILE.md. Every record is synthetic (marked 合成/synthetic):
the figures measure the software, never Xinjiang.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if os.environ.get("XJIP_PROFILE_CODE"):  # --code: that tree's xjip comes first in the children
    sys.path.insert(0, os.environ["XJIP_PROFILE_CODE"])

from bench._common import PYTHON, REPO, machine, measure, throwaway_database  # noqa: E402

PROFILE_MD = Path(__file__).resolve().parent / "PROFILE.md"
UNIT = {"csv": "rows", "xml": "docs"}
TARGET = {"csv": 20_000, "xml": 1_000}


# --- child modes -----------------------------------------------------------------------------

def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child_parse(path: str, profile_out: str | None) -> None:
    """Iterate importer.parse() over every source of `path`; print counts and times as JSON."""
    from xjip.hub.importers.base import detect, iter_sources, load_importers
    from xjip.hub.records import Rejection

    load_importers()  # module imports are start-up, not parsing
    profiler = _start_profiler(profile_out)
    started, cpu = time.perf_counter(), _cpu()
    records = rejected = 0
    for source in iter_sources(path):
        for item in detect(source).parse(source, {}):
            if isinstance(item, Rejection):
                rejected += 1
            else:
                records += 1
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    _stop_profiler(profiler, profile_out)
    print(json.dumps({"records": records, "rejected": rejected, "seconds": seconds, "cpu": cpu,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def child_import(path: str, url: str, data_dir: str, profile_out: str | None, options: dict[str, Any]) -> None:
    """run_import() in this process (optionally under cProfile); print the job's counts."""
    from xjip.hub import pipeline
    from xjip.hub.importers.base import load_importers
    from xjip.hub.store import Store
    from xjip.settings import Settings

    load_importers()
    store = Store(Settings.from_env(database_url=url, data_dir=data_dir))
    profiler = _start_profiler(profile_out)
    started, cpu = time.perf_counter(), _cpu()
    job = pipeline.run_import(store, path, options=options or None)
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    _stop_profiler(profiler, profile_out)
    print(json.dumps({"status": job.status, "read": job.read_count, "inserted": job.inserted_count,
                      "seconds": seconds, "cpu": cpu}))


def _start_profiler(out: str | None) -> Any:
    if not out:
        return None
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def _stop_profiler(profiler: Any, out: str | None) -> None:
    if profiler is not None and out:
        profiler.disable()
        profiler.dump_stats(out)


# --- the measurement -------------------------------------------------------------------------

def generate(kind: str, n: int, seed: int, workdir: Path) -> Path:
    from xjip.hub import synth

    path = workdir / f"synth_{kind}_{n}_seed{seed}.{'csv' if kind == 'csv' else 'xml'}"
    if not (path.exists() and path.with_suffix(path.suffix + ".ok").exists()):
        started = time.perf_counter()
        tmp = path.with_suffix(path.suffix + ".part")
        (synth.write_cn_biblio_csv if kind == "csv" else synth.write_cnipa_xml)(tmp, n, seed)
        tmp.rename(path)
        path.with_suffix(path.suffix + ".ok").write_text("")
        print(f"generated {path.name} ({path.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - started:.0f} s",
              flush=True)
    return path


def child_env(code: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("XJIP_PROFILE_CODE", None)
    if code:
        env["XJIP_PROFILE_CODE"] = str(Path(code).resolve())
    return env


def xjip_cli(env: dict[str, str]) -> list[str]:
    """`python -m xjip.cli`, or with --code the same CLI imported from that tree (`-m` would put
    the repository, the working directory, first on sys.path)."""
    code = env.get("XJIP_PROFILE_CODE")
    if not code:
        return [PYTHON, "-m", "xjip.cli"]
    return [PYTHON, "-c", f"import sys; sys.path.insert(0, {code!r}); from xjip.cli import main; sys.exit(main())"]


def run_child(args: list[str], env: dict[str, str], script: Path | None = None) -> dict[str, Any]:
    """`script` (this file by default) with `args` in a child process; its last line of output as JSON."""
    proc = subprocess.run([PYTHON, str(script or Path(__file__).resolve()), *args], cwd=REPO, capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cli_import(db: Any, path: Path, env: dict[str, str], batch_size: int | None) -> dict[str, Any]:
    """`xjip import` end to end (start-up included), under /usr/bin/time -v."""
    cmd = [*xjip_cli(env), "--database-url", db.url, "--data-dir", str(db.data_dir), "import", str(path),
           "--quiet", "--format", "json"]
    if batch_size:
        cmd += ["--batch-size", str(batch_size)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = measure(cmd, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = m.json() if m.stdout.strip() else None
    if m.returncode != 0 or not summary:
        raise RuntimeError(f"import failed ({m.returncode}): {m.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"summary": summary, "seconds": m.wall_s, "cpu": cpu, "peak_rss_mb": m.peak_rss_mb}


def print_profile(out: str, top: int) -> list[str]:
    import io
    import pstats

    lines: list[str] = []
    for sort in ("tottime", "cumulative"):
        buf = io.StringIO()
        stats = pstats.Stats(out, stream=buf)
        stats.strip_dirs().sort_stats(sort).print_stats(top)
        text = buf.getvalue()
        body = text[text.find("   ncalls"):].rstrip()
        lines.append(f"top {top} by {sort}:\n{body}")
    for block in lines:
        print(block, flush=True)
    return lines


def py_spy_profile(cmd: list[str], env: dict[str, str], top: int) -> list[str]:
    """Sample the child with py-spy (raw collapsed stacks) and sum own and inclusive time."""
    import collections

    spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as fh:
        raw = fh.name
    subprocess.run([spy, "record", "-r", "100", "-f", "raw", "-o", raw, "--", *cmd], cwd=REPO, env=env,
                   capture_output=True, check=True)
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in open(raw, encoding="utf-8"):
        stack, _, n = line.rstrip().rpartition(" ")
        if not n.isdigit():
            continue
        frames = [f.split(" (")[0] + " (" + f.rsplit("/", 1)[-1] if "(" in f else f for f in stack.split(";")]
        total += int(n)
        own[frames[-1]] += int(n)
        for f in set(frames):
            incl[f] += int(n)
    os.unlink(raw)
    blocks = []
    for title, counter in (("own", own), ("inclusive", incl)):
        rows = [f"{100 * c / total:5.1f}%  {f}" for f, c in counter.most_common(top)]
        blocks.append(f"top {top} by {title} time (py-spy, {total} samples):\n" + "\n".join(rows))
    for block in blocks:
        print(block, flush=True)
    return blocks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--format", choices=("csv", "xml"), default="csv")
    ap.add_argument("--n", type=int, help="Rows (csv, default 50,000) or documents (xml, default 5,000)")
    ap.add_argument("--db", default="sqlite", help="sqlite, postgresql or both")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--profiler", choices=("cprofile", "py-spy", "none"), default="cprofile")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--no-reimport", action="store_true")
    ap.add_argument("--code", help="Measure the xjip package found in this directory instead (PYTHONPATH)")
    ap.add_argument("--label", default="", help="Name of this code state in the report (e.g. before, after)")
    ap.add_argument("--workdir", default=os.environ.get("XJIP_BENCH_DIR", "/tmp/xjip_bench"))
    ap.add_argument("--append", action="store_true", help="Append the figures to bench/PROFILE.md")
    ap.add_argument("--child-where", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child-parse", nargs=2, metavar=("PATH", "PROFILE_OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--child-import", nargs=5, metavar=("PATH", "URL", "DATA_DIR", "PROFILE_OUT", "OPTIONS"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_where:
        import xjip

        print(json.dumps({"xjip": str(Path(xjip.__file__).resolve().parent)}))
        return
    if args.child_parse:
        child_parse(args.child_parse[0], args.child_parse[1] or None)
        return
    if args.child_import:
        path, url, data_dir, out, options = args.child_import
        child_import(path, url, data_dir, out or None, json.loads(options))
        return

    kind = args.format
    n = args.n or (50_000 if kind == "csv" else 5_000)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env = child_env(args.code)
    if args.code:  # the databases are made by that tree's `xjip init` too (its migrations)
        os.environ["XJIP_PROFILE_CODE"] = env["XJIP_PROFILE_CODE"]
    info = machine()
    load_start = os.getloadavg()
    path = generate(kind, n, args.seed, workdir)
    mb = path.stat().st_size / 1e6
    unit = UNIT[kind]
    print(f"{path.name}: {n:,} {unit}, {mb:,.0f} MB; code {args.code or REPO} {args.label}; "
          f"load average {load_start[0]:.2f}", flush=True)

    bare = run_child(["--child-parse", str(path), ""], env)
    code_used = run_child(["--child-where"], env)["xjip"]
    print(f"xjip measured: {code_used}", flush=True)
    args.code_used = code_used
    print(f"bare parse: {bare['records'] / bare['seconds']:,.0f} {unit}/s ({bare['seconds']:.1f} s, CPU "
          f"{bare['cpu']:.1f} s, peak {bare['peak_rss_mb']:.0f} MB)", flush=True)
    rows: list[dict[str, Any]] = [{"step": "bare parse", "db": "–", "records": bare["records"],
                                   "seconds": bare["seconds"], "cpu": bare["cpu"], "rss": bare["peak_rss_mb"]}]
    profiles: list[str] = []
    options = {"batch_size": args.batch_size} if args.batch_size else {}
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for backend in backends:
        with throwaway_database(backend, workdir, f"prof_{backend[:2]}") as db:
            steps = ("import",) if args.no_reimport else ("import", "re-import")
            for step in steps:
                got = cli_import(db, path, env, args.batch_size)
                s = got["summary"]
                row = {"step": step, "db": backend, "records": s["read"], "seconds": got["seconds"],
                       "cpu": got["cpu"], "rss": got["peak_rss_mb"], "inserted": s["inserted"],
                       "unchanged": s["unchanged"], "rejected": s["rejected"]}
                rows.append(row)
                print(f"{backend} {step}: {s['read'] / got['seconds']:,.0f} {unit}/s end to end ({got['seconds']:.1f} s, "
                      f"CPU {got['cpu']:.1f} s, peak {got['peak_rss_mb']:.0f} MB), ×{got['seconds'] / bare['seconds']:.2f}"
                      f" the bare parse; inserted {s['inserted']:,}, unchanged {s['unchanged']:,}, "
                      f"rejected {s['rejected']:,}", flush=True)
        if args.profiler == "none":
            continue
        with throwaway_database(backend, workdir, f"prof_{backend[:2]}_p") as db:
            print(f"--- profile of the {backend} import ({args.profiler}) ---", flush=True)
            if args.profiler == "py-spy":
                cmd = [PYTHON, str(Path(__file__).resolve()), "--child-import", str(path), db.url, str(db.data_dir),
                       "", json.dumps(options)]
                blocks = py_spy_profile(cmd, env, args.top)
            else:
                with tempfile.NamedTemporaryFile(suffix=".pstats", delete=False) as fh:
                    out = fh.name
                run_child(["--child-import", str(path), db.url, str(db.data_dir), out, json.dumps(options)], env)
                blocks = print_profile(out, args.top)
                os.unlink(out)
            profiles += [f"{backend}, {args.profiler}:\n{b}" for b in blocks]

    load_end = os.getloadavg()
    print(f"load average {load_start[0]:.2f} → {load_end[0]:.2f} (2 busy cores elsewhere halve every figure)")
    if args.append:
        append_md(args, info, kind, n, mb, rows, bare, profiles, load_start[0], load_end[0])


def append_md(args: argparse.Namespace, info: dict[str, Any], kind: str, n: int, mb: float,
              rows: list[dict[str, Any]], bare: dict[str, Any], profiles: list[str], load_start: float,
              load_end: float) -> None:
    unit = UNIT[kind]
    stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    out = [f"\n## {kind.upper()} {n:,} {unit} ({mb:,.0f} MB){' — ' + args.label if args.label else ''} — {stamp}\n",
           f"- command: `bench/profile_import.py {' '.join(sys.argv[1:])}` (xjip from `{args.code_used}`)",
           f"- machine: {info.get('cpu')}, {info.get('cores')} cores; Python {info.get('python')}, SQLite "
           f"{info.get('sqlite')}, PostgreSQL {info.get('postgresql')}; commit {info.get('git')}; load average "
           f"{load_start:.2f} → {load_end:.2f}",
           f"- target: ≥ {TARGET[kind]:,} {unit}/s end to end", "",
           f"| step | database | {unit} | wall s | {unit}/s | CPU s | {unit}/CPU-s | × bare parse | peak RSS MB |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = r["seconds"] / bare["seconds"] if r["step"] != "bare parse" else 1.0
        out.append(f"| {r['step']} | {r['db']} | {r['records']:,} | {r['seconds']:.1f} | "
                   f"{r['records'] / r['seconds']:,.0f} | {r['cpu']:.1f} | {r['records'] / max(r['cpu'], 1e-9):,.0f} | "
                   f"×{ratio:.2f} | {r['rss']:.0f} |")
    for block in profiles:
        out += ["", "<details><summary>" + block.splitlines()[0] + " " + block.splitlines()[1] + "</summary>", "",
                "```", *block.splitlines()[2:], "```", "</details>"]
    if not PROFILE_MD.exists():
        PROFILE_MD.write_text("# Import profiles\n\nAppended by `bench/profile_import.py` (newest last). Synthetic "
                              "data only (every record marked 合成/synthetic).\n", encoding="utf-8")
    with open(PROFILE_MD, "a", encoding="utf-8") as fh:
        fh.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
