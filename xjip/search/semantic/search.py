"""Semantic ranking ("AI+"): nearest patents to a described technology, "similar patents", and
hybrid ranking that fuses every registered ranker (lexical from xjip/search, this one) by
reciprocal rank fusion.

Two stages when the distilled model's index is fuller than the encoder's (bulk imports): the
static model recalls `RECALL` candidates over every patent, and the encoder's own vectors rerank
those it has. When the encoder has embedded everything, its exact search alone is used."""
from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select

from xjip.hub import models as m
from xjip.hub import queries
from xjip.hub.store import Store
from xjip.search.rankers import RANKERS, reciprocal_rank_fusion
from xjip.search.semantic.embed import RECORD_TYPE, encoder_for, patent_text
from xjip.search.semantic.encoder import E5_NAME, STATIC_NAME, static
from xjip.search.semantic.index import index_for

RECALL = 200  # candidates the static model hands the encoder (bench/semantic.py: recall@10 vs exact)
MAX_LIMIT = 1000
SELF = "semantic"


def _wants_patents(filters: dict[str, Any] | None) -> bool:
    """Only patents carry embedded technical text: a filter to other rights excludes this ranker."""
    if not filters:
        return True
    for key in ("type", "types", "record_type", "record_types"):
        value = filters.get(key)
        if value:
            values = [value] if isinstance(value, str) else list(value)
            return RECORD_TYPE in values
    return True


def _two_stage(store: Store, e5_query: Any, static_query: np.ndarray | None, limit: int,
               exclude: set[int] | None) -> list[tuple[int, float]]:
    data_dir = store.settings.data_dir
    e5_index, static_index = index_for(data_dir, E5_NAME), index_for(data_dir, STATIC_NAME)
    e5_count = e5_index.count()
    if static_query is None or static_index.count() <= e5_count:
        return e5_index.search(e5_query(), limit, exclude) if e5_count else []
    candidates = static_index.search(static_query, max(RECALL, limit), exclude)
    if not e5_count:
        return candidates[:limit]
    q = e5_query()
    vectors = e5_index.vectors_of([i for i, _ in candidates])
    reranked = sorted(((i, float(vectors[i] @ q)) for i, _ in candidates if i in vectors), key=lambda x: -x[1])
    rest = [(i, s) for i, s in candidates if i not in vectors]
    return (reranked + rest)[:limit]


def semantic_ranker(store: Store, query: str, limit: int, filters: dict[str, Any] | None = None
                    ) -> list[tuple[str, int, float]]:
    """The registered "semantic" ranker: [(record_type, id, cosine)], best first."""
    query = (query or "").strip()
    limit = max(0, min(int(limit), MAX_LIMIT))
    if not query or not limit or not _wants_patents(filters):
        return []
    static_enc = static(store.settings.data_dir)
    static_q = static_enc.queries([query])[0] if static_enc is not None else None
    if static_q is not None and not static_q.any():
        static_q = None  # no known token (emoji, another script): the encoder alone
    hits = _two_stage(store, lambda: encoder_for(store, E5_NAME).queries([query])[0], static_q, limit, None)
    return [(RECORD_TYPE, i, s) for i, s in hits]


def similar(store: Store, patent_id: int, limit: int = 10) -> list[tuple[int, float]]:
    """Patents nearest to one patent's stored vectors; embedded on the spot if not yet queued through."""
    data_dir = store.settings.data_dir
    e5_vec = index_for(data_dir, E5_NAME).vectors_of([patent_id]).get(patent_id)
    static_vec = index_for(data_dir, STATIC_NAME).vectors_of([patent_id]).get(patent_id)
    text = None
    if e5_vec is None or (static_vec is None and static(data_dir) is not None):
        with store.reading() as s:
            row = s.execute(select(m.Patent.title, m.Patent.abstract, m.Patent.first_claim, m.Patent.title_en)
                            .where(m.Patent.id == patent_id)).first()
        if row is None:
            return []
        text = patent_text(*row)
        if not text:
            return []
    if static_vec is None and static(data_dir) is not None:
        static_vec = static(data_dir).passages([text])[0]

    def e5_query() -> Any:
        return e5_vec if e5_vec is not None else encoder_for(store, E5_NAME).passages([text])[0]

    return _two_stage(store, e5_query, static_vec if static_vec is not None and static_vec.any() else None,
                      limit, {patent_id})


def hybrid(store: Store, query: str, limit: int, filters: dict[str, Any] | None = None,
           depth: int = 100) -> tuple[list[tuple[str, int, float]], list[str]]:
    """RRF over every registered ranker (whatever is present: lexical, semantic, others), each
    asked for `depth` results. Returns the fused ranking and the rankers that took part.
    Patents only unless the filters name a type: the lexical ranker also finds applicants and
    laws, which `hydrate` drops, so they would take places and leave a page short."""
    if not (filters or {}).get("type"):
        filters = {**(filters or {}), "type": RECORD_TYPE}
    used, rankings = [], []
    for name, ranker in sorted(RANKERS.items()):
        if name == "hybrid":
            continue
        try:
            ranking = ranker(store, query, max(depth, limit), filters)
        except Exception:  # noqa: BLE001 - a ranker that cannot answer (index not built, bad syntax) sits out
            continue
        used.append(name)
        rankings.append(ranking)
    return reciprocal_rank_fusion(rankings)[:limit], used


def hydrate(store: Store, hits: list[tuple[str, int, float]], masked: bool = True) -> list[dict[str, Any]]:
    """The rows a page lists for ranked hits: patents with their number, title, applicant, IPC."""
    ids = [i for t, i, _ in hits if t == RECORD_TYPE]
    if not ids:
        return []
    cols = (m.Patent.id, m.Patent.pub_number, m.Patent.app_number, m.Patent.key, m.Patent.title, m.Patent.title_en,
            m.Patent.abstract, m.Patent.first_applicant, m.Patent.app_date, m.Patent.ipc_main, m.Patent.is_synthetic)
    with store.reading() as s:
        rows = {r.id: r for r in s.execute(select(*cols).where(m.Patent.id.in_(ids))).all()}
    out = []
    for record_type, i, score in hits:
        p = rows.get(i) if record_type == RECORD_TYPE else None
        if p is None:
            continue
        applicant = p.first_applicant
        if masked and applicant and not queries.is_organisation(applicant):
            applicant = queries.mask_person_name(applicant)
        out.append({"record_type": record_type, "id": p.id, "score": round(float(score), 4),
                    "number": p.pub_number or p.app_number or p.key, "title": p.title or p.title_en,
                    "abstract": (p.abstract or "")[:200] or None, "applicant": applicant,
                    "app_date": p.app_date.isoformat() if p.app_date else None, "ipc_main": p.ipc_main,
                    "is_synthetic": bool(p.is_synthetic)})
    return out
