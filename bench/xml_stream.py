"""Parse speed and memory of the office-XML readers changed for issue 9 §7 / issue 10 §1: the
streamed trademark reader (`_xmlstream.iter_elements`: an end taken only once the parser has read
past it), the repair of a bare `&` (the document read a second time), and the 2001 USPTO weekly
format (documents cut at their DOCTYPE, SGML empty elements closed). Parse only: `importer.parse()`
in a child process under /usr/bin/time -v, nothing stored.

    .venv/bin/python bench/xml_stream.py                                  # 20,000 marks, 2001 file x 40
    .venv/bin/python bench/xml_stream.py --code before=/tmp/old --runs 3  # A/B with another checkout's xjip/

With --code, each file is parsed by each code in turn, --runs times, and the fastest run of each
is reported: on a shared machine a single run says little. CPU seconds (process time of the
parse) are the figure to compare; wall seconds are shown too.

Data: built in --workdir from real files read in place (../shared/data): the WIPO GBD fixture
idtm__unicode.xml with its TradeMark repeated under made-up application numbers (DIDB…), and
patents/real_exports/uspto/us_grants_2001_sample.xml repeated. Nothing is written to the store.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import PYTHON, append_results, machine, measure  # noqa: E402

CHILD = r"""
import json, sys, time
sys.path[:] = [p for p in sys.path if p not in ("", ".")]  # xjip from PYTHONPATH (--code) or the install
from xjip.hub.importers.base import detect, iter_sources
from xjip.hub.records import Rejection, SourceError
path = sys.argv[1]
(src,) = list(iter_sources(path))
imp = detect(src)
t0, c0 = time.perf_counter(), time.process_time()
n = rej = notes = 0
error = None
try:
    for item in imp.parse(src, {}):
        if isinstance(item, Rejection):
            rej += 1
        else:
            n += 1
        notes += len(getattr(item, "import_notes", []) or [])
except SourceError as exc:
    error = exc.rejection.code
print(json.dumps({"importer": imp.name, "records": n, "rejected": rej, "notes": notes, "error": error,
                  "parse_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}))
"""


def shared_data() -> Path:
    return Path(os.environ.get("XJIP_SHARED_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")


def build(workdir: Path, marks: int, repeat: int) -> dict[str, Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    data = shared_data()
    ind = (data / "trademarks/records/wipo_gbd_test_fixtures/idtm__unicode.xml").read_bytes()
    tm = re.search(rb"<TradeMarkApplication>.*</TradeMarkApplication>", ind, re.S).group(0)
    head, tail = ind.split(tm)
    files = {"st66_bulk": workdir / f"st66_bulk_{marks}.xml", "st66_bulk_amp": workdir / f"st66_bulk_{marks}_amp.xml",
             "uspto_2001": workdir / f"uspto_2001_x{repeat}.xml"}
    if not files["st66_bulk"].exists() or not files["st66_bulk_amp"].exists():
        body = [tm.replace(b"DID2017000184", b"DIDB%08d" % i) for i in range(marks)]
        files["st66_bulk"].write_bytes(head + b"".join(body) + tail)
        body[marks // 2] = body[marks // 2].replace(b'"id">KingMa<', b'"id">King & Ma<')
        files["st66_bulk_amp"].write_bytes(head + b"".join(body) + tail)
    if not files["uspto_2001"].exists():
        weekly = (data / "patents/real_exports/uspto/us_grants_2001_sample.xml").read_bytes()
        files["uspto_2001"].write_bytes(weekly * repeat)
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--marks", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=40, help="copies of the 23-grant 2001 USPTO sample")
    ap.add_argument("--workdir", default="/tmp/xjip_bench_xml")
    ap.add_argument("--code", action="append", default=[],
                    help="LABEL=DIR: also measure the xjip/ of another checkout (PYTHONPATH); repeatable")
    ap.add_argument("--runs", type=int, default=1, help="runs of each (code, file); the fastest is reported")
    args = ap.parse_args()
    files = build(Path(args.workdir), args.marks, args.repeat)
    info = machine()
    codes = [(label, {**os.environ, "PYTHONPATH": path}) for label, path in (c.split("=", 1) for c in args.code)]
    codes.append((f"this checkout ({info.get('git')})", dict(os.environ)))
    best: dict[tuple[str, str], dict] = {}
    for _run in range(args.runs):
        for name, path in files.items():
            for label, env in codes:  # interleaved: a busy minute weighs on every code alike
                m = measure([PYTHON, "-c", CHILD, str(path)], env=env)
                out = json.loads(m.stdout.strip().splitlines()[-1]) if m.returncode == 0 and m.stdout.strip() else {}
                size_mb = path.stat().st_size / 1e6
                row = {"code": label, "file": name, "size_mb": round(size_mb, 1), "records": out.get("records"),
                       "notes": out.get("notes"), "error": out.get("error") or ("crash" if m.returncode else None),
                       "cpu_s": round(out.get("cpu_s", 0.0), 2), "parse_s": round(out.get("parse_s", 0.0), 2),
                       "rate": round(out["records"] / out["cpu_s"]) if out.get("cpu_s") else None,
                       "mb_s": round(size_mb / out["cpu_s"], 1) if out.get("cpu_s") else None,
                       "peak_rss_mb": round(m.peak_rss_mb) if m.peak_rss_mb else None, "runs": args.runs}
                print(json.dumps(row), flush=True)
                key = (label, name)
                if key not in best or (row["cpu_s"] or 1e9) < (best[key]["cpu_s"] or 1e9):
                    best[key] = row
    rows = [best[(label, name)] for name in files for label, _ in codes]
    command = "bench/xml_stream.py " + shlex.join(sys.argv[1:])
    append_results("Office XML readers, parse only (issue 9 §7, issue 10 §1)", command.strip(), info, rows,
                   [("code", "code"), ("file", "file"), ("size_mb", "MB"), ("records", "records"),
                    ("notes", "notes"), ("error", "error"), ("cpu_s", "parse CPU s"), ("parse_s", "parse wall s"),
                    ("rate", "records/CPU s"), ("mb_s", "MB/CPU s"), ("peak_rss_mb", "peak RSS MB")],
                   ["st66_bulk: one ST.66 document of --marks TradeMarks (made from the GBD fixture "
                    "idtm__unicode.xml); st66_bulk_amp: the same with a bare `&` in the middle mark "
                    "(repaired: the document is read a second time from its start); uspto_2001: the real "
                    "2001 weekly sample repeated (23 grants per copy).",
                    f"Parse only, in a child process; fastest of {args.runs} interleaved run(s) by CPU time "
                    "(start-up excluded); peak RSS of the child."])


if __name__ == "__main__":
    main()
