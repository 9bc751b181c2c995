"""Ranker registry: the lexical index and the semantic ("AI+") part each register a ranker here,
so hybrid ranking can fuse whichever are present without one importing the other's internals.

A ranker takes (store, query text, limit, filters) and returns [(record_type, record_id, score)],
best first. Filters are the search page's facet selections (a dict; a ranker ignores keys it cannot
apply and says so by not narrowing)."""
from __future__ import annotations

from typing import Any, Protocol


class Ranker(Protocol):
    def __call__(self, store: Any, query: str, limit: int, filters: dict[str, Any] | None = None
                 ) -> list[tuple[str, int, float]]: ...


RANKERS: dict[str, Ranker] = {}


def register_ranker(name: str, ranker: Ranker) -> None:
    RANKERS[name] = ranker


def get_ranker(name: str) -> Ranker | None:
    return RANKERS.get(name)


def reciprocal_rank_fusion(rankings: list[list[tuple[str, int, float]]], k: int = 60,
                           weights: list[float] | None = None) -> list[tuple[str, int, float]]:
    """Cormack, Clarke & Büttcher (SIGIR 2009): score = Σ w / (k + rank). Scale-free, so a BM25
    score and a cosine need no calibration against each other."""
    fused: dict[tuple[str, int], float] = {}
    for index, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[index]
        for rank, (record_type, record_id, _score) in enumerate(ranking, start=1):
            key = (record_type, record_id)
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
    return [(t, i, s) for (t, i), s in sorted(fused.items(), key=lambda item: -item[1])]


