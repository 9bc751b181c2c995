"""Keeps the index current: subscribes to the hub's after-commit hook (import batches, entity
merges and splits, edits through `store.mark_changed`) and registers the lexical ranker.
`install()` is idempotent; the CLI part and the web routes call it when they load."""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
_installed = False


def after_commit(store: Any, changed: dict[str, list[int]]) -> None:
    """Re-index what a commit changed. Never raises: the commit has happened; a failure is logged
    and the change stays in the journal for the next rebuild."""
    from xjip.search.index import backend_for

    try:
        backend = backend_for(store.settings)
        gi = changed.get("gi")
        if gi:  # new GI names join the user dictionary before their records are analysed
            from sqlalchemy import select

            from xjip.hub import models as m

            with store.reading() as s:
                backend.add_words([n for (n,) in s.execute(select(m.GeographicalIndication.name)
                                                           .where(m.GeographicalIndication.id.in_(gi[:5000])))])
        backend.update(store, changed)
    except Exception:  # noqa: BLE001
        log.exception("search index update failed for %s", {k: len(v) for k, v in changed.items()})
    try:
        from xjip.search import saved

        saved.note_new_matches(store, changed)
    except Exception:  # noqa: BLE001
        log.exception("saved-search notices failed")


def install() -> None:
    global _installed
    if _installed:
        return
    from xjip.hub.pipeline import AFTER_COMMIT_HOOKS
    from xjip.search import rankers, service

    if after_commit not in AFTER_COMMIT_HOOKS:
        AFTER_COMMIT_HOOKS.append(after_commit)
    rankers.register_ranker("lexical", service.lexical_ranker)
    from xjip.hub import queries

    if service.list_text_ids not in queries.TEXT_SEARCH:
        queries.TEXT_SEARCH.append(service.list_text_ids)
    _installed = True
