"""The value score against a public value signal on a real export (issue 12 §3), as measured by
bench/value_agreement.py: the signal read from the file, its match to the scored patents, and the
agreement figures, the same on SQLite and PostgreSQL."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.value_agreement import agreement, matched, partial, scored, signals_in  # noqa: E402
from xjip.hub.pipeline import run_import  # noqa: E402
from xjip.indicators.facts import number_key  # noqa: E402

ZEBRA = Path("patents/real_exports/cn_export/ptics_cn_斑马智行_中国21.xlsx")


def test_agreement_and_partial_by_hand():
    same = agreement([1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 5.0, 9.0])
    assert same["rho"] == pytest.approx(1.0) and same["auc"] == pytest.approx(1.0) and same["top"] == 1
    reverse = agreement([4.0, 3.0, 2.0, 1.0], [0.0, 1.0, 5.0, 9.0])
    assert reverse["rho"] == pytest.approx(-1.0) and reverse["auc"] == pytest.approx(0.0)
    # all-zero signal (a young portfolio nobody has cited yet): nothing to compare, never a figure
    assert agreement([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])["rho"] is None
    # partial rank correlation: (0.5 - 0.6*0.4) / sqrt((1-0.36)(1-0.16)) = 0.26 / 0.7332
    assert partial(0.5, 0.6, 0.4) == pytest.approx(0.26 / (0.64 * 0.84) ** 0.5)
    assert partial(None, 0.6, 0.4) is None


def test_signal_read_from_the_patentics_export(shared_data):
    signals, circular, rows = signals_in(shared_data / ZEBRA)
    assert rows == 20
    assert set(signals) == {"cited_by", "impact"}
    # family size and claims are what the score is built from: named, not used
    assert "同族数" in circular
    # CN217161623U (utility model): 被引用数 0, keyed by publication and application number
    assert signals["cited_by"][number_key("CN217161623U")] == 0
    assert signals["cited_by"][number_key("CN202220035483.9")] == 0
    assert sum(1 for v in signals["cited_by"].values() if v > 0) > 0


def test_score_against_citations_received_on_a_real_export(ref_store, shared_data):
    job = run_import(ref_store, shared_data / ZEBRA)
    assert job.status == "done", job.error
    keys, scores, held = scored(ref_store)
    assert held["patents"] == 20 and held["scorable"] == 19  # one utility model: no facts, not scored
    pairs = matched(keys, scores, signals_in(shared_data / ZEBRA)[0]["cited_by"])
    ids = sorted(pairs)
    assert len(ids) == 19
    # no sub-indicator of the score reads citations received
    assert all(next(x for x in scores[i]["dimensions"]["technical"]["subs"] if x["name"] == "citations_received")
               ["score"] is None for i in ids)
    a = agreement([scores[i]["total"] for i in ids], [pairs[i] for i in ids])
    # measured by bench/value_agreement.py (bench/RESULTS.md): n 19, 3 cited, ρ 0.299, AUC 0.698
    assert (a["n"], a["top"]) == (19, 3)
    assert a["rho"] == pytest.approx(0.299, abs=0.001) and a["auc"] == pytest.approx(0.698, abs=0.001)
