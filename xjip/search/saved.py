"""Saved searches (table `saved_search`, migration 0020) and their notices: after each commit
the records it changed are matched against every saved query (restricted to those records, so the
cost is one small query per saved search); matches add to the search's `new_count` until its
owner opens it."""
from __future__ import annotations

from typing import Any

import tantivy
from sqlalchemy import delete as sa_delete, select

from xjip.hub import models as m
from xjip.hub.models import utcnow

SAMPLE = 20
NOTICE_TYPES = frozenset(m.RIGHT_MODELS)  # owners and laws are not "newly imported records"


def save(store: Any, username: str, name: str, query: str, filters: dict[str, Any]) -> int:
    with store.session() as s:
        row = m.SavedSearch(username=username, name=name[:100], query=query, filters=filters, new_count=0,
                            new_sample=[], seen_at=utcnow())
        s.add(row)
        s.flush()
        return row.id


def _item(row: m.SavedSearch) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "query": row.query, "filters": row.filters or {},
            "new_count": row.new_count or 0, "new_sample": row.new_sample or [], "created_at": row.created_at,
            "seen_at": row.seen_at}


def notices(store: Any, username: str, only_new: bool = True) -> list[dict[str, Any]]:
    with store.reading() as s:
        stmt = select(m.SavedSearch).where(m.SavedSearch.username == username)
        if only_new:
            stmt = stmt.where(m.SavedSearch.new_count > 0)
        return [_item(r) for r in s.execute(stmt.order_by(m.SavedSearch.id)).scalars()]


def mark_seen(store: Any, username: str, saved_id: int) -> dict[str, Any] | None:
    if not m.is_row_id(saved_id):
        return None
    with store.session() as s:
        row = s.get(m.SavedSearch, saved_id)
        if row is None or row.username != username:
            return None
        row.new_count, row.new_sample, row.seen_at = 0, [], utcnow()
        return _item(row)


def delete_saved(store: Any, username: str, saved_id: int) -> bool:
    if not m.is_row_id(saved_id):
        return False
    with store.session() as s:
        return bool(s.execute(sa_delete(m.SavedSearch).where(m.SavedSearch.id == saved_id,
                                                          m.SavedSearch.username == username)).rowcount)


delete = delete_saved  # the route's name for it


def note_new_matches(store: Any, changed: dict[str, list[int]]) -> None:
    """Count, for every saved search, the changed records it matches."""
    from xjip.search import documents, service
    from xjip.search.index import SCHEMA
    from xjip.search.query import Q, QueryError

    keys = [f"{t}:{i}" for t, ids in changed.items() if t in NOTICE_TYPES for i in ids]
    if not keys:
        return
    with store.reading() as s:
        saved = s.execute(select(m.SavedSearch.id, m.SavedSearch.query, m.SavedSearch.filters)).all()
    if not saved:
        return
    pair = service._backend(store).searcher()
    if pair is None:
        return
    _index, searcher = pair
    only = Q.term_set_query(SCHEMA, "key", keys)
    for saved_id, query, filters in saved:
        try:
            q, _ = service.build_query(store, query, service.Filters(
                **{k: v for k, v in (filters or {}).items() if k in service.FILTER_KEYS and k != "synthetic"}))
        except (QueryError, TypeError, ValueError):
            continue
        result = searcher.search(Q.boolean_query([(tantivy.Occur.Must, q), (tantivy.Occur.Must, only)]), SAMPLE,
                                 count=True)
        if not result.count:
            continue
        addrs = [a for _s, a in result.hits]
        sample = [[documents.INDEXED_TYPES[t], int(r)] for t, r in
                  zip(searcher.fast_field_values("tnum", addrs), searcher.fast_field_values("rid", addrs))]
        with store.session() as s:
            row = s.get(m.SavedSearch, saved_id)
            if row is None:
                continue
            row.new_count = (row.new_count or 0) + int(result.count)
            row.new_sample = ((row.new_sample or []) + sample)[-SAMPLE:]
    return None


__all__ = ["save", "notices", "mark_seen", "delete", "note_new_matches"]
