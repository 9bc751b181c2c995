"""Entity merge/split with the records that follow: `xjip.hub.entities` moves the aliases and
audits; the records that pointed at the moved owner are re-pointed here, in the same transaction.
The web page, the JSON API and `xjip entities merge|split` all call these two functions."""
from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.hub.store import mark_changed

# (table, owner entity id column, owner name column)
ENTITY_COLUMNS: list[tuple[type[m.Base], str, str]] = [
    (m.Patent, "first_applicant_entity_id", "first_applicant"),
    (m.PatentParty, "entity_id", "name"),
    (m.Trademark, "owner_entity_id", "owner_name"),
    (m.GeographicalIndication, "applicant_entity_id", "applicant"),
    (m.GIMarkUser, "entity_id", "user_name"),
    (m.Copyright, "owner_entity_id", "owner_name"),
    (m.PlantVariety, "applicant_entity_id", "applicant"),
    (m.RightTransaction, "to_entity_id", "to_party"),
    (m.Pledge, "pledgor_entity_id", "pledgor"),
    (m.Institution, "entity_id", "name"),
]
CHUNK = 500
RECORD_TYPES = {model: name for name, model in m.RIGHT_MODELS.items()}


def _mark(session: Session, model: type[m.Base], column: Any, ids: list[int]) -> None:
    """The records about to be re-pointed, for the after-commit hooks (the search index)."""
    if model is m.PatentParty:
        rows = session.execute(select(m.PatentParty.patent_id).where(column.in_(ids))).scalars().all()
        mark_changed(session, "patent", rows)
    elif model in RECORD_TYPES:
        mark_changed(session, RECORD_TYPES[model], session.execute(select(model.id).where(column.in_(ids))).scalars().all())


def merge_entities(session: Session, keep_id: int, merge_ids: Iterable[int], actor: str,
                   source: str = "web") -> dict[str, Any]:
    from xjip.hub import entities

    result = entities.merge(session, keep_id, merge_ids, actor, source=source)
    moved = 0
    if result["merged_ids"]:
        mark_changed(session, "entity", [keep_id, *result["merged_ids"]])
        for model, column, _name in ENTITY_COLUMNS:
            col = getattr(model, column)
            _mark(session, model, col, result["merged_ids"])
            moved += session.execute(update(model).where(col.in_(result["merged_ids"])).values({column: keep_id})
                                     .execution_options(synchronize_session=False)).rowcount or 0
    return {**result, "records_repointed": moved}


def split_entity(session: Session, entity_id: int, aliases: Iterable[str], new_name: str, actor: str,
                 source: str = "web") -> dict[str, Any]:
    """Records of `entity_id` whose owner name has the key of a moved alias follow it to the new entity."""
    from xjip.hub import entities

    result = entities.split(session, entity_id, aliases, new_name, actor, source=source)
    keys = {entities.name_key(a) for a in result["aliases"]}
    new_id = result["new_entity_id"]
    mark_changed(session, "entity", [entity_id, new_id])
    moved = 0
    for model, column, name_column in ENTITY_COLUMNS:
        col, name_col = getattr(model, column), getattr(model, name_column)
        ids = [row_id for row_id, name in session.execute(select(model.id, name_col).where(col == entity_id))
               if name and entities.name_key(name) in keys]
        if ids:
            _mark(session, model, model.id, ids)
        for start in range(0, len(ids), CHUNK):
            moved += session.execute(update(model).where(model.id.in_(ids[start:start + CHUNK]))
                                     .values({column: new_id})
                                     .execution_options(synchronize_session=False)).rowcount or 0
    return {**result, "records_repointed": moved}
