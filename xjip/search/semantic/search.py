"""Semantic ranking ("AI+"): nearest records of every embedded type (patents, trademarks, GIs,
copyrights, plant varieties, cases, institutions, law articles: `texts.EMBEDDED_TYPES`) to a
described need, "similar records", and hybrid ranking that fuses every registered ranker
(lexical from xjip/search, this one) by reciprocal rank fusion.

Each type has its own vectors (`index.type_index`); a query is searched in every type the filters
allow and the hits merged by cosine, which is comparable across types (one encoder, normalised).

Two stages per type when the distilled model's index is fuller than the encoder's (bulk imports):
the static model recalls `RECALL` candidates, and the encoder's own vectors rerank those it has.
When the encoder has embedded everything, its exact search alone is used."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import numpy as np
from sqlalchemy import select

from xjip.hub import models as m
from xjip.hub import queries
from xjip.hub.store import Store
from xjip.search.rankers import RANKERS, reciprocal_rank_fusion
from xjip.search.semantic.embed import RECORD_TYPE, encoder_for
from xjip.search.semantic.encoder import E5_NAME, STATIC_NAME, static
from xjip.search.semantic.index import index_for, type_index  # noqa: F401 - index_for: bench/semantic.py
from xjip.search.semantic.texts import EMBEDDED_TYPES, texts_of

RECALL = 200  # candidates the static model hands the encoder (bench/semantic.py: recall@10 vs exact)
MAX_LIMIT = 1000
SELF = "semantic"
TYPE_KEYS = ("type", "types", "record_type", "record_types")


def wanted_types(filters: dict[str, Any] | None) -> list[str]:
    """The embedded types a type filter allows (every one without a filter); a filter to types
    that carry no embedded text (owners, transfers) leaves none, and this ranker sits out."""
    for key in TYPE_KEYS:
        value = (filters or {}).get(key)
        if value:
            values = [value] if isinstance(value, str) else list(value)
            return [t for t in EMBEDDED_TYPES if t in values]
    return list(EMBEDDED_TYPES)


def _two_stage(store: Store, record_type: str, e5_query: Callable[[], Any], static_query: np.ndarray | None,
               limit: int, exclude: set[int] | None) -> list[tuple[int, float]]:
    data_dir = store.settings.data_dir
    e5_index, static_index = type_index(data_dir, E5_NAME, record_type), type_index(data_dir, STATIC_NAME, record_type)
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


def _once(make: Callable[[], Any]) -> Callable[[], Any]:
    """The encoder's query vector, computed at the first type that needs it and reused by the rest."""
    return lru_cache(maxsize=1)(make)


def _merge(store: Store, types: list[str], e5_query: Callable[[], Any], static_query: np.ndarray | None,
           limit: int, exclude: set[int] | None = None) -> list[tuple[str, int, float]]:
    hits = [(t, i, s) for t in types for i, s in _two_stage(store, t, e5_query, static_query, limit, exclude)]
    return sorted(hits, key=lambda h: -h[2])[:limit]


def semantic_ranker(store: Store, query: str, limit: int, filters: dict[str, Any] | None = None
                    ) -> list[tuple[str, int, float]]:
    """The registered "semantic" ranker: [(record_type, id, cosine)] over every type the filters
    allow, best first. Other filters (year, place, status…) are the lexical ranker's: not applied."""
    query = (query or "").strip()
    limit = max(0, min(int(limit), MAX_LIMIT))
    types = wanted_types(filters)
    if not query or not limit or not types:
        return []
    static_enc = static(store.settings.data_dir)
    static_q = static_enc.queries([query])[0] if static_enc is not None else None
    if static_q is not None and not static_q.any():
        static_q = None  # no known token (emoji, another script): the encoder alone
    return _merge(store, types, _once(lambda: encoder_for(store, E5_NAME).queries([query])[0]), static_q, limit)


def similar(store: Store, record_id: int, limit: int = 10, record_type: str = RECORD_TYPE) -> list[tuple[int, float]]:
    """Records of the same type nearest to one record's stored vectors; embedded on the spot if not
    yet queued through."""
    if record_type not in EMBEDDED_TYPES:
        return []
    data_dir = store.settings.data_dir
    e5_vec = type_index(data_dir, E5_NAME, record_type).vectors_of([record_id]).get(record_id)
    static_vec = type_index(data_dir, STATIC_NAME, record_type).vectors_of([record_id]).get(record_id)
    text = None
    if e5_vec is None or (static_vec is None and static(data_dir) is not None):
        with store.reading() as s:
            text = texts_of(s, record_type, [record_id]).get(record_id)
        if not text:
            return []
    if static_vec is None and static(data_dir) is not None:
        static_vec = static(data_dir).passages([text])[0]

    def e5_query() -> Any:
        return e5_vec if e5_vec is not None else encoder_for(store, E5_NAME).passages([text])[0]

    return _two_stage(store, record_type, e5_query, static_vec if static_vec is not None and static_vec.any() else None,
                      limit, {record_id})


def hybrid(store: Store, query: str, limit: int, filters: dict[str, Any] | None = None,
           depth: int = 100) -> tuple[list[tuple[str, int, float]], list[str]]:
    """RRF over every registered ranker (whatever is present: lexical, semantic, others), each
    asked for `depth` results. Returns the fused ranking and the rankers that took part.
    Only the kinds of record `hydrate` lists take part: the lexical ranker also finds owners,
    special-mark users, transfers and pledges, which would take places and leave a page short
    (a page of 10 showed 6 on the real exports, bench/retrieval.py)."""
    used, rankings = [], []
    for name, ranker in sorted(RANKERS.items()):
        if name == "hybrid":
            continue
        try:
            ranking = ranker(store, query, max(depth, limit), filters)
        except Exception:  # noqa: BLE001 - a ranker that cannot answer (index not built, bad syntax) sits out
            continue
        used.append(name)
        rankings.append([hit for hit in ranking if hit[0] in EMBEDDED_TYPES])
    return reciprocal_rank_fusion(rankings)[:limit], used


# per type: (column of the number shown first, columns tried for the class shown: IPC / Nice / category…)
_SHOWN: dict[str, tuple[tuple[str, ...], tuple[str, ...], str | None]] = {
    # type: (number columns, first present wins), (class columns), summary column
    "patent": (("pub_number", "app_number", "key"), ("ipc_main",), "abstract"),
    "trademark": (("reg_number", "app_number", "key"), ("nice_classes",), "goods"),
    "gi": (("registration_no", "announcement_no"), ("category", "nice_class"), "protected_area_text"),
    "copyright": (("key",), ("category",), None),
    "plant_variety": (("grant_number", "key"), ("species",), None),
    "case": (("key",), ("right_type",), "result"),
    "institution": (("credit_code", "licence_number"), ("kind",), None),
}


def _first(row: Any, columns: tuple[str, ...]) -> Any:
    for c in columns:
        value = getattr(row, c, None)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value if v) or None
        if value:
            return value
    return None


def hydrate(store: Store, hits: list[tuple[str, int, float]], masked: bool = True) -> list[dict[str, Any]]:
    """The rows a page lists for ranked hits of any type, in the hits' order: number, title,
    owner (a natural person's name masked when `masked`), date, class (IPC, Nice classes, a GI's
    category…), a short summary and the record page's address (None for a law article). The
    patent-era keys stay: `applicant`, `app_date`, `ipc_main`, `abstract`."""
    by_type: dict[str, list[int]] = {}
    for t, i, _ in hits:
        if t in EMBEDDED_TYPES:
            by_type.setdefault(t, []).append(i)
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    with store.reading() as s:
        for t, ids in by_type.items():
            if t == "law":
                for a, law in s.execute(select(m.LawArticle, m.Law).join(m.Law, m.Law.id == m.LawArticle.law_id)
                                        .where(m.LawArticle.id.in_(ids))):
                    rows[(t, a.id)] = {"number": a.number, "title": f"{law.title} {a.number}", "owner": None,
                                       "date": law.version_date, "class": law.category, "summary": a.text,
                                       "url": None, "is_synthetic": False}
                continue
            spec = queries.TYPES[t]
            numbers, classes, summary = _SHOWN[t]
            for r in s.scalars(select(spec.model).where(spec.model.id.in_(ids))):
                owner = getattr(r, spec.party) if spec.party else None
                if t == "patent":
                    title = r.title or r.title_en
                    summary_text = r.abstract or r.first_claim
                else:
                    title = getattr(r, spec.title)
                    summary_text = getattr(r, summary) if summary else None
                rows[(t, r.id)] = {"number": _first(r, numbers), "title": title, "owner": owner,
                                   "date": getattr(r, spec.date), "class": _first(r, classes), "summary": summary_text,
                                   "url": f"/records/{t}/{r.id}", "is_synthetic": bool(getattr(r, "is_synthetic", False))}
            s.expunge_all()
    out = []
    for t, i, score in hits:
        row = rows.get((t, i))
        if row is None:
            continue  # deleted since it was embedded
        owner = row["owner"]
        if masked and owner and t != "institution" and not queries.is_organisation(owner):
            owner = queries.mask_person_name(owner)
        date = row["date"].isoformat() if row["date"] else None
        summary = (row["summary"] or "")[:200] or None
        out.append({"record_type": t, "id": i, "score": round(float(score), 4), "number": row["number"],
                    "title": row["title"], "owner": owner, "date": date, "class": row["class"], "summary": summary,
                    "url": row["url"], "is_synthetic": row["is_synthetic"],
                    # the keys the patent-only result rows had
                    "applicant": owner, "app_date": date, "ipc_main": row["class"] if t == "patent" else None,
                    "abstract": summary})
    return out
