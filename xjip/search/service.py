"""Search, facets, analysis and export of a result set: the functions the page, the JSON API and
the CLI all call. Records are read back from the hub (`xjip.hub.queries`) for display, with its
masking; the index only finds them."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator

import tantivy
from markupsafe import escape
from sqlalchemy import select

from xjip.hub import models as m
from xjip.hub import queries
from xjip.search import documents, text
from xjip.search.index import SCHEMA, RebuildRunning, TantivyBackend, backend_for
from xjip.search.query import Q, QueryError, compile_query
from xjip.search.rankers import get_ranker, reciprocal_rank_fusion

DEFAULT_SIZE = 20
MAX_SIZE = 100
MAX_OFFSET = 10_000  # deepest result a page reaches (tantivy collects offset + size hits)
FACET_SIZE = 20
FACETS = {"rtype": 20, "year": 60, "pref": 40, "county": 40, "ipc_sec": 8, "ipc_cls": 20, "ipc_sub": 20,
          "ipc_grp": 20, "status": 20, "kind": 20, "ent": 20}
FILTER_KEYS = ("type", "year", "pref", "county", "ipc", "status", "kind", "ent", "synthetic")


class IndexNotReady(RuntimeError):
    pass


REGIONS_TTL = 300.0  # seconds: reference data changes with `xjip reference sync`, not per search
_regions_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def _regions(store: Any, session: Any) -> dict[str, Any]:
    """The hub's region index, kept for REGIONS_TTL per database: reading it costs ~10 ms, two
    thirds of a search page when read each time (bench/search.py)."""
    import time

    hit = _regions_cache.get(store.url)
    now = time.monotonic()
    if hit is None or now - hit[0] > REGIONS_TTL:
        hit = (now, queries.region_index(session))
        _regions_cache[store.url] = hit
    return hit[1]


@dataclass
class Filters:
    type: str | None = None
    year: int | None = None
    pref: str | None = None
    county: str | None = None
    ipc: str | None = None  # section, class, subclass or group: the level follows from the code
    status: str | None = None
    kind: str | None = None
    ent: str | None = None
    synthetic: bool | None = None

    def as_params(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in FILTER_KEYS if getattr(self, k) not in (None, "")}
        if self.synthetic is not None:
            out["synthetic"] = "true" if self.synthetic else "false"
        return out

    def clauses(self) -> list[tantivy.Query]:
        out = []
        if self.type:
            out.append(Q.term_query(SCHEMA, "rtype", self.type))
        if self.year is not None:
            out.append(Q.term_query(SCHEMA, "year", int(self.year)))
        for name in ("pref", "county", "status", "kind", "ent"):
            value = getattr(self, name)
            if value:
                out.append(Q.term_query(SCHEMA, name, str(value)))
        if self.ipc:
            code = self.ipc.strip().upper()
            level = "ipc_grp" if "/" in code else {1: "ipc_sec", 3: "ipc_cls", 4: "ipc_sub"}.get(len(code), "ipc")
            out.append(Q.term_query(SCHEMA, level, code))
        if self.synthetic is not None:
            out.append(Q.term_query(SCHEMA, "syn", "1" if self.synthetic else "0"))
        return out


def _region_resolver(store: Any):  # noqa: ANN202
    cache: dict[str, list[str]] = {}

    def resolve(name: str) -> list[str]:
        key = text.fold(name).strip()
        if key in cache:
            return cache[key]
        with store.reading() as s:
            rows = s.execute(select(m.Region.code, m.Region.name_zh)).all()
            aliases = s.execute(select(m.RegionAlias.code, m.RegionAlias.alias)).all()
        exact = [c for c, n in rows if n == key] + [c for c, a in aliases if a == key and len(c) == 6]
        if not exact:
            exact = [c for c, n in rows if n.startswith(key) and len(key) >= 2]
        cache[key] = sorted(set(exact))[:20]
        return cache[key]

    return resolve


def _backend(store: Any) -> TantivyBackend:
    return backend_for(store.settings)


AUTO_BUILD_MAX = 20_000  # records: a smaller hub without an index gets one at its first search
_auto_lock = threading.Lock()


def _searcher(store: Any) -> tuple[tantivy.Index, tantivy.Searcher]:
    backend = _backend(store)
    pair = backend.searcher()
    if pair is None:
        with _auto_lock:
            pair = backend.searcher()
            if pair is None:
                with store.reading() as s:
                    small = sum(documents.count_rows(s).values()) <= AUTO_BUILD_MAX
                if not small:
                    raise IndexNotReady()  # a bigger hub: `xjip search --rebuild` (minutes), not a page's wait
                try:
                    backend.rebuild(store)
                except RebuildRunning:
                    raise IndexNotReady() from None  # another process builds it: ready when it has
                pair = backend.searcher()
    if pair is None:
        raise IndexNotReady()
    return pair


def build_query(store: Any, q: str, filters: Filters | None) -> tuple[tantivy.Query, list[str]]:
    query, terms = compile_query(q, _region_resolver(store))
    clauses = (filters or Filters()).clauses()
    if clauses:
        query = Q.boolean_query([(tantivy.Occur.Must, query)] + [(tantivy.Occur.Must, c) for c in clauses])
    return query, terms


def _hits(searcher: tantivy.Searcher, query: tantivy.Query, limit: int, offset: int = 0, sort: str = "relevance"
          ) -> tuple[int, list[tuple[str, int, float]]]:
    kwargs: dict[str, Any] = {"count": True, "offset": offset}
    if sort == "date":
        kwargs.update(order_by_field="date", order=tantivy.Order.Desc)
    try:
        result = searcher.search(query, max(1, limit), **kwargs)
    except ValueError as exc:  # the engine refused the query (e.g. a regular expression too large)
        raise QueryError("engine", 1, detail=str(exc)[:200]) from None
    addrs = [a for _s, a in result.hits]
    tnums = searcher.fast_field_values("tnum", addrs) if addrs else []
    rids = searcher.fast_field_values("rid", addrs) if addrs else []
    hits = [(documents.INDEXED_TYPES[t], int(r), float(s) if isinstance(s, float) else 0.0)
            for (s, _a), t, r in zip(result.hits, tnums, rids) if t is not None and r is not None]
    return int(result.count or 0), hits


def list_text_ids(store: Any, record_type: str, text_query: str, cap: int) -> list[int] | None:
    """The record lists' text box through the index (`queries.TEXT_SEARCH`): the ids of that type
    the text finds, or None (no index, a text that is no query, more than `cap` hits) for LIKE."""
    if record_type not in documents.MODELS:
        return None
    pair = _backend(store).searcher()
    if pair is None:
        return None
    try:
        query, _ = build_query(store, text_query, Filters(type=record_type))
    except QueryError:
        return None
    total, hits = _hits(pair[1], query, cap + 1)
    if total > cap:
        return None
    return [i for _t, i, _s in hits]


def lexical_ranker(store: Any, query: str, limit: int, filters: dict[str, Any] | None = None
                   ) -> list[tuple[str, int, float]]:
    """The lexical ranker the registry fuses (`rankers.register_ranker('lexical', …)`)."""
    _index, searcher = _searcher(store)
    q, _ = build_query(store, query, Filters(**{k: v for k, v in (filters or {}).items() if k in FILTER_KEYS}))
    return _hits(searcher, q, limit)[1]


# --- display ----------------------------------------------------------------------------------

SNIPPET_COLUMNS = {"patent": ("abstract", "first_claim"), "trademark": ("goods",), "gi": ("protected_area_text", "notes"),
                   "copyright": ("category",), "plant_variety": ("species",), "case": ("result",),
                   "institution": ("address",), "gi_mark_user": ("gi_name",)}


def _pattern(terms: list[str]) -> re.Pattern[str] | None:
    """One regular expression of the query's words (folded, longest first), made once per search."""
    words = sorted({w for t in terms for w in [text.fold(t).strip('"*'), *text.tokens(t)] if w and w.strip()},
                   key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words)) if words else None


def highlight(value: str | None, terms: list[str] | re.Pattern[str] | None, width: int = 160) -> str:
    """HTML-escaped text with the query's words in <mark>, cut around the first match. Matching is
    on folded text (width, traditional → simplified, case); the original is shown when folding kept
    its length, which it does for Chinese and most Latin text."""
    if not value:
        return ""
    pattern = _pattern(terms) if isinstance(terms, list) else terms
    value = " ".join(str(value).split())
    folded = text.fold(value)
    base = value if len(folded) == len(value) else folded
    spans = [(mt.start(), mt.end()) for mt in pattern.finditer(folded)] if pattern is not None else []
    start = max(0, spans[0][0] - width // 3) if spans else 0
    end = min(len(base), start + width)
    out, pos = [], start
    for a, b in spans:
        if a < start or b > end or a < pos:
            continue
        out.append(str(escape(base[pos:a])))
        out.append(f"<mark>{escape(base[a:b])}</mark>")
        pos = b
    out.append(str(escape(base[pos:end])))
    return ("…" if start > 0 else "") + "".join(out) + ("…" if end < len(base) else "")


def describe(store: Any, hits: list[tuple[str, int, float]], terms: list[str], masked: bool) -> list[dict[str, Any]]:
    """One display row per hit, from the hub, in the hits' order (a record deleted since it was
    indexed is left out)."""
    pattern = _pattern(terms)
    by_type: dict[str, list[int]] = {}
    for t, i, _s in hits:
        by_type.setdefault(t, []).append(i)
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    with store.reading() as s:
        regions = _regions(store, s)
        for t, ids in by_type.items():
            if t == "entity":
                for e in s.execute(select(m.Entity).where(m.Entity.id.in_(ids))).scalars():
                    rows[(t, e.id)] = {"title": e.name, "number": None, "party": None, "date": None,
                                       "kind": e.kind, "url": f"/entities/{e.id}",
                                       "place": queries._place(regions, e.region_code, e.prefecture_code, e.county_code)}
                continue
            if t == "law":
                for a, law in s.execute(select(m.LawArticle, m.Law).join(m.Law, m.Law.id == m.LawArticle.law_id)
                                        .where(m.LawArticle.id.in_(ids))):
                    rows[(t, a.id)] = {"title": f"{law.title} {a.number}", "number": None, "party": None,
                                       "date": law.version_date, "kind": law.category, "url": None, "place": None,
                                       "snippet": highlight(a.text, pattern)}
                continue
            spec = queries.TYPES[t]
            model = spec.model
            for r in s.execute(select(model).where(model.id.in_(ids))).scalars():
                snippet_src = next((getattr(r, c) for c in SNIPPET_COLUMNS.get(t, ()) if getattr(r, c, None)), None)
                if masked and t in ("institution",):
                    snippet_src = None  # an address column; institutions' own are public, kept short anyway
                party = getattr(r, spec.party) if spec.party else None
                rows[(t, r.id)] = {
                    "title": getattr(r, spec.title), "number": getattr(r, spec.number) if spec.number else None,
                    "party": party, "date": getattr(r, spec.date), "status": getattr(r, spec.status) if spec.status else None,
                    "kind": getattr(r, spec.kind) if spec.kind else None, "url": f"/records/{t}/{r.id}",
                    "is_synthetic": bool(getattr(r, "is_synthetic", False)),
                    "place": queries._place(regions, r.region_code, r.prefecture_code, r.county_code),
                    "snippet": highlight(snippet_src, pattern),
                    "ipc_main": getattr(r, "ipc_main", None)}
            s.expunge_all()
    out = []
    for t, i, score in hits:
        row = rows.get((t, i))
        if row is None:
            continue
        row = {"record_type": t, "id": i, "score": round(score, 4), **row}
        row["title_html"] = highlight(str(row["title"] or ""), pattern, width=200)
        out.append(row)
    return out


def _buckets(agg: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [{"value": str(b["key"]), "count": int(b["doc_count"])} for b in agg.get(name, {}).get("buckets", [])]


def search_facets(store: Any, q: str, filters: Filters | None = None) -> dict[str, list[dict[str, Any]]]:
    """The facets of a result set alone (the page asks for them once its results show)."""
    _index, searcher = _searcher(store)
    query, _ = build_query(store, q, filters)
    return facets(searcher, query, store)


def facets(searcher: tantivy.Searcher, query: tantivy.Query, store: Any) -> dict[str, list[dict[str, Any]]]:
    spec = {name: {"terms": {"field": name, "size": size}} for name, size in FACETS.items()}
    agg = searcher.aggregate(query, spec)
    out = {name: _buckets(agg, name) for name in FACETS}
    out["year"].sort(key=lambda b: b["value"], reverse=True)
    names = _names(store, out)
    for name in ("pref", "county", "ent"):
        for b in out[name]:
            b["label"] = names.get((name, b["value"]))
    for name in ("ipc_sub", "ipc_grp", "ipc_cls", "ipc_sec"):
        for b in out[name]:
            b["label"] = names.get(("ipc", b["value"]))
    return out


def _names(store: Any, facet: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], str]:
    names: dict[tuple[str, str], str] = {}
    with store.reading() as s:
        regions = _regions(store, s)
        for name in ("pref", "county"):
            for b in facet.get(name, []):
                info = regions.get(b["value"])
                names[(name, b["value"])] = info.name if info else b["value"]
        ents = [int(b["value"]) for b in facet.get("ent", []) if b["value"].isdigit()]
        if ents:
            for eid, ename in s.execute(select(m.Entity.id, m.Entity.name).where(m.Entity.id.in_(ents))):
                names[("ent", str(eid))] = ename
        codes = [b["value"] for n in ("ipc_sec", "ipc_cls", "ipc_sub", "ipc_grp") for b in facet.get(n, [])]
        if codes:
            for code, title in s.execute(select(m.IpcClass.code, m.IpcClass.title_zh).where(m.IpcClass.code.in_(codes))):
                names[("ipc", code)] = (title or "")[:40]
    return names


def search(store: Any, q: str, filters: Filters | None = None, *, page: int = 1, size: int = DEFAULT_SIZE,
           sort: str = "relevance", mode: str = "lexical", masked: bool = True, with_facets: bool = True
           ) -> dict[str, Any]:
    """One page of results with counts per type and facets. QueryError for a bad query;
    IndexNotReady when no index has been built."""
    filters = filters or Filters()
    size = max(1, min(int(size), MAX_SIZE))
    page = max(1, int(page))
    offset = (page - 1) * size
    if offset + size > MAX_OFFSET:
        raise QueryError("page_too_deep", None, limit=MAX_OFFSET // size)
    if sort not in ("relevance", "date"):
        sort = "relevance"
    _index, searcher = _searcher(store)
    query, terms = build_query(store, q, filters)
    semantic = get_ranker("semantic")
    if mode == "hybrid" and semantic is not None:
        pool = max(100, offset + size)
        lexical = _hits(searcher, query, pool)[1]
        try:
            sem = semantic(store, q, pool, filters.as_params())
        except Exception:  # noqa: BLE001 - the semantic part failing must not take lexical search down
            sem = []
        fused = reciprocal_rank_fusion([lexical, sem])
        total = max(len(fused), _hits(searcher, query, 1)[0])
        hits = fused[offset:offset + size]
    else:
        mode = "lexical"
        total, hits = _hits(searcher, query, size, offset, sort)
    items = describe(store, hits, terms, masked)
    result: dict[str, Any] = {"query": q, "filters": filters.as_params(), "page": page, "size": size, "sort": sort,
                              "mode": mode, "total": total, "items": items, "terms": terms,
                              "pages": (min(total, MAX_OFFSET) + size - 1) // size,
                              "modes": ["lexical", *(["hybrid"] if semantic is not None else [])]}
    if not with_facets:  # the tabs' counts alone (the page loads the other facets after it shows)
        by_type_q = query if not filters.type else build_query(store, q, Filters(**{**filters.__dict__, "type": None}))[0]
        result["by_type"] = _buckets(searcher.aggregate(by_type_q, {"rtype": {"terms": {"field": "rtype", "size": 20}}}),
                                     "rtype")
    if with_facets:
        result["facets"] = facets(searcher, query, store)
        if filters.type:  # the tabs count every type: the query without the type filter
            by_type_q, _ = build_query(store, q, Filters(**{**filters.__dict__, "type": None}))
            result["by_type"] = _buckets(searcher.aggregate(by_type_q, {"rtype": {"terms": {"field": "rtype",
                                                                                              "size": 20}}}), "rtype")
        else:
            result["by_type"] = result["facets"]["rtype"]
    return result


def result_ids(store: Any, q: str, filters: Filters | None, limit: int) -> list[tuple[str, int]]:
    """Every record of a result set (best first), at most `limit`."""
    _index, searcher = _searcher(store)
    query, _ = build_query(store, q, filters)
    return [(t, i) for t, i, _s in _hits(searcher, query, max(1, limit))[1]]


def export_rows(store: Any, q: str, filters: Filters | None, record_type: str, *, masked: bool, limit: int
                ) -> Iterator[dict[str, Any]]:
    """The result set's records of one right type as the hub exports them (its columns, its masking)."""
    ids = [i for t, i in result_ids(store, q, Filters(**{**(filters or Filters()).__dict__, "type": record_type}), limit)
           if t == record_type]
    with store.reading() as s:
        yield from queries.export_records_by_ids(s, record_type, ids, masked=masked)


# --- analysis (检索分析) -------------------------------------------------------------------------

ANALYSIS_AGGS = {"filings": ("year", 100), "grants": ("gyear", 100), "applicants": ("ent", 30), "ipc_sub": ("ipc_sub", 30),
                 "ipc_grp": ("ipc_grp", 30), "prefectures": ("pref", 40), "provinces": ("prov", 40),
                 "status": ("status", 20), "coapplicants": ("copair", 20), "types": ("rtype", 20)}


def analyse(store: Any, q: str, filters: Filters | None = None) -> dict[str, Any]:
    """Counts over the whole result set (not a page): filings and grants by year, top applicants
    (the hub's normalised entities), IPC subclasses and groups, prefectures, provinces, legal
    status and co-applicant pairs. One aggregation pass over the index."""
    from xjip.hub.gazetteer import PROVINCES

    _index, searcher = _searcher(store)
    query, _ = build_query(store, q, filters)
    total = searcher.search(query, 1, count=True).count
    agg = searcher.aggregate(query, {k: {"terms": {"field": f, "size": n}} for k, (f, n) in ANALYSIS_AGGS.items()})
    out: dict[str, Any] = {k: _buckets(agg, k) for k in ANALYSIS_AGGS}
    for k in ("filings", "grants"):
        out[k].sort(key=lambda b: b["value"])
    with store.reading() as s:
        regions = _regions(store, s)
        ent_ids = {int(b["value"]) for b in out["applicants"]}
        for b in out["coapplicants"]:
            ent_ids |= {int(x) for x in b["value"].split("-") if x.isdigit()}
        names = dict(s.execute(select(m.Entity.id, m.Entity.name).where(m.Entity.id.in_(ent_ids))).all()) if ent_ids else {}
        codes = [b["value"] for k in ("ipc_sub", "ipc_grp") for b in out[k]]
        titles = dict(s.execute(select(m.IpcClass.code, m.IpcClass.title_zh).where(m.IpcClass.code.in_(codes))).all()) \
            if codes else {}
    for b in out["applicants"]:
        b["label"] = names.get(int(b["value"]), b["value"])
    for b in out["coapplicants"]:
        a, _, c = b["value"].partition("-")
        b["label"] = f"{names.get(int(a), a)} × {names.get(int(c), c)}" if a.isdigit() and c.isdigit() else b["value"]
    for k in ("ipc_sub", "ipc_grp"):
        for b in out[k]:
            b["label"] = (titles.get(b["value"]) or "")[:40]
    for b in out["prefectures"]:
        info = regions.get(b["value"])
        b["label"] = info.name if info else b["value"]
    for b in out["provinces"]:
        b["label"] = (PROVINCES.get(b["value"]) or (b["value"],))[0]
    return {"query": q, "filters": (filters or Filters()).as_params(), "total": int(total or 0), **out}
