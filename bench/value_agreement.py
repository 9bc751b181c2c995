#!/usr/bin/env python
"""Patent value score vs a public value signal, on REAL records (issue 12 §3: "Compare the score
with a public value signal where the real records carry one ... and write down how well they agree").

Every table export under ../shared/data/patents/real_exports/cn_export/ (incoPat, Patentics,
Derwent Innovation: files other people's tools wrote) is imported with a plain `xjip import FILE`
into a fresh database; the indicator facts are rebuilt (`facts.rebuild`), every scorable patent is
scored (`value.score`, scenario licensing, at the file's latest publication date), and the score
is compared with the value signal the export itself carries, read from the file (the importers do
not keep these columns), keyed by publication / application number:

- Patentics CN (被引用数 citations received, 影响因子 Patentics impact factor),
  Patentics CSV (引用本文专利数 citations received, 非自引用本文专利数 the same without self-citations),
  Derwent Innovation (施引专利计数 citing patents); the incoPat files carry no value column.
- Not used as a signal: 同族数 / 同族专利数 / DWPI 同族 counts and 权利要求数: the score is built from
  the family (technical: family_countries; economic: foreign_grant) and the claims (legal: claims),
  so agreement with them would be circular (the table importers keep no claim count today, so
  the claims sub-indicator is empty for these files all the same). The score does not use citations received (the hub
  does not store them: value.py lists the sub-indicator as unavailable), nor the impact factor.

Scorable: invention patents (the score's facts, `indicator_patent`, exist for invention patents
only; utility models and designs get none). Agreement: Spearman rank correlation (scipy) between
the total score and the signal, and AUC (Mann–Whitney) of the score for "signal in the top
quartile" (signal ≥ its 75th percentile and > 0, since most counts are 0), per file and signal,
and pooled over the files for citations received.

    nice -n 10 .venv/bin/python bench/value_agreement.py                   # SQLite, appends to RESULTS.md
    nice -n 10 .venv/bin/python bench/value_agreement.py --db both         # SQLite and PostgreSQL
    nice -n 10 .venv/bin/python bench/value_agreement.py --no-append
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    PYTHON, append_results, machine, measure, measured_backends, shell_command, throwaway_database,
)
from bench.real_exports import norm, table_rows  # noqa: E402

# signal columns by normalised header -> (signal name, meaning)
SIGNALS = {
    "被引用数": ("cited_by", "citations received (Patentics 被引用数)"),
    "影响因子": ("impact", "Patentics impact factor (影响因子)"),
    "引用本文专利数": ("cited_by", "citations received (Patentics 引用本文专利数)"),
    "非自引用本文专利数": ("cited_by_nonself", "citations received, self-citations left out (非自引用本文专利数)"),
    "施引专利计数": ("cited_by", "citing patents (Derwent 施引专利计数)"),
}
NUMBER_HEADERS = {"公开号", "申请号", "公开公告号", "publicationnumber", "applicationnumber"}
MIN_SUBSET = 30  # the in-force-only comparison is reported where at least this many patents are in force
CIRCULAR = {"同族数", "同族专利数", "dwpi同族专利成员计数", "dwpi同族专利国家地区计数", "同族国家数", "权利要求数",
            "权利要求计数"}


def _num(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(str(value).strip().replace(",", ""))
    except ValueError:
        return None


def signals_in(path: Path) -> tuple[dict[str, dict[str, float]], list[str], int]:
    """({signal name: {number key: value}}, circular columns present, data rows) read from the file."""
    from xjip.indicators.facts import number_key

    rows = table_rows(path)
    for i, row in enumerate(rows[:30]):
        cells = [norm(c) for c in row]
        numbers = [j for j, c in enumerate(cells) if c in NUMBER_HEADERS]
        if not numbers:
            continue
        cols = {SIGNALS[c][0]: j for j, c in enumerate(cells) if c in SIGNALS}
        circular = sorted({str(row[j]) for j, c in enumerate(cells) if c in CIRCULAR})
        out: dict[str, dict[str, float]] = {name: {} for name in cols}
        data = [r for r in rows[i + 1:] if any(c not in (None, "") for c in r)]
        for r in data:
            for name, j in cols.items():
                v = _num(r[j]) if j < len(r) else None
                if v is None:
                    continue
                for k in numbers:
                    key = number_key(str(r[k])) if k < len(r) and r[k] not in (None, "") else None
                    if key:
                        out[name][key] = max(v, out[name].get(key, v))
        return out, circular, len(data)
    return {}, [], 0


def agreement(scores: list[float], signal: list[float]) -> dict[str, Any]:
    import numpy as np
    from scipy import stats

    n = len(scores)
    if n < 3 or len(set(signal)) < 2 or len(set(scores)) < 2:
        return {"n": n, "rho": None, "p": None, "auc": None, "top": None}
    rho, p = stats.spearmanr(scores, signal)
    q3 = float(np.percentile(signal, 75))
    top = [s >= q3 and s > 0 for s in signal]
    pos = [a for a, t in zip(scores, top) if t]
    neg = [a for a, t in zip(scores, top) if not t]
    auc = None
    if pos and neg:
        u = stats.mannwhitneyu(pos, neg, alternative="two-sided").statistic
        auc = float(u) / (len(pos) * len(neg))
    return {"n": n, "rho": float(rho), "p": float(p), "auc": auc, "top": len(pos)}


def partial(rho_xy: float | None, rho_xz: float | None, rho_yz: float | None) -> float | None:
    """Partial rank correlation of x and y with z held fixed (from the three Spearman coefficients)."""
    if None in (rho_xy, rho_xz, rho_yz) or abs(rho_xz) >= 1 or abs(rho_yz) >= 1:  # type: ignore[arg-type]
        return None
    return (rho_xy - rho_xz * rho_yz) / ((1 - rho_xz ** 2) * (1 - rho_yz ** 2)) ** 0.5  # type: ignore[operator]


def scored(store: Any) -> tuple[dict[str, int], dict[int, dict[str, Any]], dict[str, Any]]:
    """Rebuild the facts, score every invention patent with facts at the latest publication date.
    Returns ({number key: patent id}, {patent id: score (+ age_days)}, counts)."""
    from sqlalchemy import func, select

    from xjip.hub import models as m
    from xjip.indicators import facts, value

    with store.session() as s:
        facts.rebuild(s)
    with store.session() as s:
        P = m.Patent
        patents = s.scalar(select(func.count()).select_from(P)) or 0
        ids = list(s.scalars(select(m.IndicatorPatent.patent_id).order_by(m.IndicatorPatent.patent_id)))
        day = s.scalar(select(func.max(P.pub_date))) or dt.date.today()
        keys: dict[str, int] = {}
        for pid, *nums in s.execute(select(P.id, P.app_number, P.pub_number, P.grant_number).where(P.id.in_(ids))):
            for n in nums:
                k = facts.number_key(n)
                if k:
                    keys[k] = pid
        granted = s.scalar(select(func.count()).select_from(m.IndicatorPatent)
                           .where(m.IndicatorPatent.granted_on.is_not(None))) or 0
        out = value.score(s, ids, day.year, "licensing", day) if ids else {}
        for pid, filed in s.execute(select(m.IndicatorPatent.patent_id, m.IndicatorPatent.filed_on)):
            if pid in out:
                out[pid]["age_days"] = (day - filed).days if filed else None
    return keys, out, {"patents": patents, "scorable": len(ids), "granted": granted, "score_date": day.isoformat()}


def scored_at(url: str, data_dir: Path) -> tuple[dict[str, int], dict[int, dict[str, Any]], dict[str, Any]]:
    from xjip.hub.store import Store
    from xjip.settings import Settings

    store = Store(Settings.from_env(database_url=url, data_dir=str(data_dir)))
    try:
        return scored(store)
    finally:
        store.engine.dispose()


def matched(keys: dict[str, int], scores: dict[int, Any], by_key: dict[str, float]) -> dict[int, float]:
    """{scored patent id: signal} (a patent named by several rows, e.g. its A and B publications: the largest)."""
    pairs: dict[int, float] = {}
    for key, v in by_key.items():
        pid = keys.get(key)
        if pid is not None and pid in scores:
            pairs[pid] = max(v, pairs.get(pid, v))
    return pairs


def compare(ids: list[int], scores: dict[int, dict[str, Any]], pairs: dict[int, float]
            ) -> tuple[dict[str, Any], list[float], list[float], list[float]]:
    """Agreement of the total score, of each dimension and of age alone with the signal; the
    score's agreement with age held fixed (partial rank correlation)."""
    total = [scores[i]["total"] for i in ids]
    sig = [pairs[i] for i in ids]
    age = [float(scores[i].get("age_days") or 0) for i in ids]
    a = agreement(total, sig)
    dims = {d: agreement([scores[i]["dimensions"][d]["score"] or 0.0 for i in ids], sig)["rho"]
            for d in ("legal", "technical", "economic")}
    by_age = agreement(age, sig)
    score_age = agreement(total, age)["rho"]
    row = {"matched": len(ids), "signal_nonzero": sum(1 for v in sig if v > 0), "top": a["top"], "rho": fmt(a["rho"]),
           "p": fmt(a["p"]), "auc": fmt(a["auc"]), "rho_legal": fmt(dims["legal"]),
           "rho_technical": fmt(dims["technical"]), "rho_economic": fmt(dims["economic"]),
           "rho_age": fmt(by_age["rho"]), "auc_age": fmt(by_age["auc"]), "rho_score_age": fmt(score_age),
           "rho_given_age": fmt(partial(a["rho"], score_age, by_age["rho"]))}
    return row, total, sig, age


def fmt(v: float | None, digits: int = 3) -> str | None:
    return None if v is None else f"{v:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=None,
                    help="folder of exports (default: ../shared/data/patents/real_exports/cn_export)")
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    ap.add_argument("--workdir", default=os.environ.get("XJIP_BENCH_DIR", "/tmp/xjip_bench"))
    ap.add_argument("--no-append", action="store_true", help="Print only; do not append to bench/RESULTS.md")
    args = ap.parse_args()
    from xjip.settings import _default_shared_data

    root = Path(args.root or Path(_default_shared_data()) / "patents" / "real_exports" / "cn_export")
    files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix != ".md")
    backends = measured_backends(args.db)
    workdir = Path(args.workdir)
    rows: list[dict[str, Any]] = []
    for backend in backends:
        pooled: dict[str, tuple[list[float], list[float], list[float]]] = {}
        for path in files:
            signals, circular, in_file = signals_in(path)
            with throwaway_database(backend, workdir, "value") as db:
                got = measure([PYTHON, "-m", "xjip.cli", "--database-url", db.url, "--data-dir", str(db.data_dir),
                               "import", str(path), "--quiet", "--format", "json"])
                if got.returncode not in (0, 1):
                    print(f"{backend} {path.name}: import exit {got.returncode}: {got.stderr[-500:]}", flush=True)
                keys, scores, held = scored_at(db.url, db.data_dir)
            base = {"db": backend, "file": path.name, "rows": in_file, **held,
                    "excluded_circular": ", ".join(circular) or "–"}
            if not signals:
                rows.append({**base, "signal": "none in this export", "matched": 0})
                print(f"{backend} {path.name}: no value column; {held['scorable']} scorable", flush=True)
                continue
            for name, by_key in signals.items():
                pairs = matched(keys, scores, by_key)
                everyone = sorted(pairs)
                in_force = [i for i in everyone if scores[i]["dimensions"]["legal"]["subs"][0]["value"]]
                for label, ids in (("", everyone), (" (in force only)", in_force)):
                    if label and len(ids) < MIN_SUBSET:
                        continue
                    row, total, sig, age = compare(ids, scores, pairs)
                    row = {**base, "signal": name + label, **row}
                    rows.append(row)
                    if name == "cited_by" and not label:
                        t, g, ag = pooled.setdefault(backend, ([], [], []))
                        t.extend(total)
                        g.extend(sig)
                        ag.extend(age)
                    print(f"{backend} {path.name} {row['signal']}: n={len(ids)} nonzero={row['signal_nonzero']} "
                          f"rho={row['rho']} (p={row['p']}) auc={row['auc']} top={row['top']} | "
                          f"legal {row['rho_legal']} "
                          f"technical {row['rho_technical']} economic {row['rho_economic']} | age alone rho "
                          f"{row['rho_age']} auc {row['auc_age']}; score~age {row['rho_score_age']}; rho given age "
                          f"{row['rho_given_age']}", flush=True)
        for backend_name, (t, g, ag) in pooled.items():
            a = agreement(t, g)
            by_age = agreement(ag, g)
            score_age = agreement(t, ag)["rho"]
            given_age = fmt(partial(a["rho"], score_age, by_age["rho"]))
            rows.append({"db": backend_name, "file": "all files (pooled)", "signal": "cited_by", "matched": a["n"],
                         "signal_nonzero": sum(1 for v in g if v > 0), "top": a["top"], "rho": fmt(a["rho"]),
                         "p": fmt(a["p"]), "auc": fmt(a["auc"]), "rho_age": fmt(by_age["rho"]),
                         "auc_age": fmt(by_age["auc"]), "rho_score_age": fmt(score_age), "rho_given_age": given_age})
            print(f"{backend_name} pooled cited_by: n={a['n']} rho={fmt(a['rho'])} p={fmt(a['p'])} auc={fmt(a['auc'])} "
                  f"age alone rho {fmt(by_age['rho'])} auc {fmt(by_age['auc'])}; rho given age {given_age}", flush=True)
    if args.no_append:
        return
    columns = [("db", "database"), ("file", "file"), ("rows", "rows in file"), ("patents", "patents stored"),
               ("scorable", "scorable (invention)"), ("granted", "of which granted"), ("score_date", "scored at"),
               ("signal", "signal"), ("matched", "n (scored, with signal)"), ("signal_nonzero", "signal > 0"),
               ("top", "top quartile"), ("rho", "Spearman ρ"), ("p", "p"), ("auc", "AUC top quartile"),
               ("rho_legal", "ρ legal"), ("rho_technical", "ρ technical"), ("rho_economic", "ρ economic"),
               ("rho_age", "ρ age alone"), ("auc_age", "AUC age alone"), ("rho_score_age", "ρ score~age"),
               ("rho_given_age", "ρ given age (partial)"),
               ("excluded_circular", "columns not used (circular)")]
    notes = ["score: `xjip.indicators.value.score`, scenario licensing (weights 0.3/0.3/0.4), at the file's latest "
             "publication date; signals read from the export file by publication/application number (the importers "
             "do not keep them); the score uses neither citations received nor the impact factor",
             "cited_by = citations received (Patentics 被引用数 / 引用本文专利数, Derwent 施引专利计数); "
             "cited_by_nonself = 非自引用本文专利数; impact = Patentics 影响因子",
             "top quartile: signal ≥ its 75th percentile and > 0; AUC = chance that a top-quartile patent scores "
             "above one outside it (0.5 = chance); p: Spearman's two-sided p-value",
             "scorable: invention patents (facts exist for inventions only); the incoPat exports carry no value column"]
    append_results("Patent value score vs public value signals on real exports (issue 12 §3)", shell_command(),
                   machine(), rows, columns, notes)


if __name__ == "__main__":
    main()
