"""How each kind of record is written: natural-key upsert of the main row, its children, and
its raw source record. Called by `pipeline.BatchWriter` inside the batch's transaction."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from typing import Any, Callable, Iterable

from sqlalchemy import Table, delete, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from xjip.hub import models as m
from xjip.hub.records import BaseRecord, Party, Rejection

Writer = Callable[[Any, list[BaseRecord]], list[int]]
WRITERS: dict[str, Writer] = {}

# Max length of string columns: longer values are cut rather than failing the whole batch on PostgreSQL.
_LIMITS: dict[tuple[str, str], int] = {}


def _limit(table: Table, column: str) -> int | None:
    key = (table.name, column)
    if key not in _LIMITS:
        col = table.c.get(column)
        _LIMITS[key] = getattr(col.type, "length", None) or 0 if col is not None else 0
    return _LIMITS[key] or None


def _fit(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    for name, value in row.items():
        if isinstance(value, str):
            limit = _limit(table, name)
            if limit and len(value) > limit:
                row[name] = value[:limit]
    return row


def _insert(dialect: str, table: Table):  # noqa: ANN202
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def upsert(ctx: Any, table: Table, rows: list[dict[str, Any]], index: list[str], *,
           coalesce: bool = True, nothing: bool = False) -> None:
    """INSERT … ON CONFLICT (index) DO UPDATE, on SQLite and PostgreSQL alike. With `coalesce`,
    a NULL in the new row keeps the stored value (a second source adds, never erases)."""
    if not rows:
        return
    columns = sorted({c for row in rows for c in row})
    rows = [_fit(table, {c: row.get(c) for c in columns}) for row in rows]
    stmt = _insert(ctx.dialect, table)
    if nothing:
        stmt = stmt.on_conflict_do_nothing(index_elements=index)
    else:
        update_cols = [c for c in columns if c not in index and c != "id"]
        set_ = {c: (func.coalesce(stmt.excluded[c], table.c[c]) if coalesce else stmt.excluded[c])
                for c in update_cols}
        stmt = stmt.on_conflict_do_update(index_elements=index, set_=set_) if set_ else \
            stmt.on_conflict_do_nothing(index_elements=index)
    ctx.session.execute(stmt, rows)


def ids_by_key(ctx: Any, model: type[m.Base], keys: Iterable[str]) -> dict[str, int]:
    keys = list(keys)
    out: dict[str, int] = {}
    for chunk in _chunks(keys, 5000):
        out.update(ctx.session.execute(select(model.key, model.id).where(model.key.in_(chunk))).all())
    return out


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _none_if_empty(value: Any) -> Any:
    return None if value in ("", [], {}) else value


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def prefecture_of(code: str | None) -> str | None:
    """GB/T 2260: a county's prefecture is its first four digits + '00'; XPCC cities (6590xx)
    sit under the statistical node 659000."""
    if not code or len(code) < 6 or not code[:6].isdigit():
        return None
    code = code[:6]
    if code.endswith("0000"):
        return None
    return code[:4] + "00"


# --- the generic flow ------------------------------------------------------------------

@dataclasses.dataclass
class Prepared:
    key: str
    record: BaseRecord
    hash: str
    place: Any = None


def _hash(record: BaseRecord) -> str:
    from xjip.hub.pipeline import content_hash

    return content_hash(record)


def prepare(ctx: Any, record_type: str, records: list[BaseRecord],
            address_of: Callable[[BaseRecord], tuple[str | None, Any]] | None = None) -> list[Prepared]:
    """Dedupe the batch, reject keys already seen in this job, drop unchanged records, resolve places."""
    seen: dict[str, BaseRecord] = {}
    for rec in records:
        key = (rec.natural_key() or "").strip()
        if not key or key.endswith(":") or key in ("|",):
            ctx.rejections.append(Rejection(rec.locator, "missing_field", field="key", raw=rec.raw))
            continue
        if key in seen:
            first = seen[key].locator.record if seen[key].locator else None
            ctx.rejections.append(Rejection(rec.locator, "duplicate_key", field="key",
                                            params={"key": key, "first": first}, raw=rec.raw))
            continue
        seen[key] = rec
    prior: dict[str, tuple[str, int | None, str | None]] = {}
    for chunk in _chunks(list(seen), 2000):
        stmt = select(m.SourceRecord.record_key, m.SourceRecord.content_hash, m.SourceRecord.import_job_id,
                      m.SourceRecord.locator).where(
            m.SourceRecord.record_type == record_type, m.SourceRecord.source == ctx.source_name,
            m.SourceRecord.record_key.in_(chunk))
        for key, h, job_id, locator in ctx.session.execute(stmt):
            prior[key] = (h, job_id, locator)
    out: list[Prepared] = []
    for key, rec in seen.items():
        if address_of is not None:
            address, on = address_of(rec)
            place = ctx.resolver.place(address, on) if address else None
            if address:
                ctx.counts["addressed"] += 1
                if place is not None and getattr(place, "prefecture_code", None) or (
                        place is not None and getattr(place, "region_code", None)):
                    ctx.counts["placed"] += 1
        else:
            place = None
        h = _hash(rec)
        before = prior.get(key)
        if before and before[1] == ctx.job_id:
            first = re.search(r"#(\d+)", before[2] or "")
            ctx.rejections.append(Rejection(rec.locator, "duplicate_key", field="key",
                                            params={"key": key, "first": int(first.group(1)) if first else before[2]},
                                            raw=rec.raw))
            continue
        if before and before[0] == h:
            ctx.counts["unchanged"] += 1
            continue
        out.append(Prepared(key, rec, h, place))
    return out


def provenance(ctx: Any, rec: BaseRecord) -> dict[str, Any]:
    return {"source": ctx.source_name[:300], "source_format": ctx.source_format, "licence": ctx.licence,
            "imported_at": ctx.now, "import_job_id": ctx.job_id, "is_synthetic": bool(rec.is_synthetic)}


def place_columns(place: Any, fallback_region: str | None = None) -> dict[str, Any]:
    if place is not None and (getattr(place, "region_code", None) or getattr(place, "prefecture_code", None)):
        return {"region_code": place.region_code, "prefecture_code": place.prefecture_code,
                "county_code": place.county_code, "place_method": (getattr(place, "method", None) or "gazetteer")[:20]}
    if fallback_region:
        return {"region_code": fallback_region, "place_method": "province_code"}
    return {}


def finish(ctx: Any, model: type[m.Base], record_type: str, prepared: list[Prepared],
           rows: list[dict[str, Any]]) -> dict[str, int]:
    """Upsert main rows and source records; count inserted/updated; return key → id."""
    if not prepared:
        return {}
    keys = [p.key for p in prepared]
    existing = set(ids_by_key(ctx, model, keys))
    upsert(ctx, model.__table__, rows, ["key"])
    ids = ids_by_key(ctx, model, keys)
    ctx.counts["inserted"] += sum(1 for k in keys if k not in existing)
    ctx.counts["updated"] += sum(1 for k in keys if k in existing)
    from xjip.hub.pipeline import _raw_text

    source_rows = [{
        "record_type": record_type, "record_key": p.key[:300], "source": ctx.source_name[:300],
        "source_format": ctx.source_format, "locator": str(p.record.locator)[:400] if p.record.locator else None,
        "licence": ctx.licence, "content_hash": p.hash, "raw": _raw_text(p.record), "import_job_id": ctx.job_id,
        "imported_at": ctx.now, "is_synthetic": bool(p.record.is_synthetic)} for p in prepared]
    upsert(ctx, m.SourceRecord.__table__, source_rows, ["record_type", "record_key", "source"], coalesce=False)
    return ids


def simple_row(ctx: Any, model: type[m.Base], p: Prepared, **extra: Any) -> dict[str, Any]:
    """Columns named like the record's fields, plus provenance, place and `extra`."""
    columns = model.__table__.c
    row: dict[str, Any] = {"key": p.key}
    for f in dataclasses.fields(p.record):
        if f.name in columns and f.name not in ("locator", "raw", "is_synthetic", "key", "id"):
            value = getattr(p.record, f.name)
            row[f.name] = _none_if_empty(_jsonable(value) if isinstance(value, (list, dict)) else value)
    row.update(provenance(ctx, p.record))
    row.update(extra)
    return {k: v for k, v in row.items() if k in columns}


def register(record_type: str) -> Callable[[Writer], Writer]:
    def deco(fn: Writer) -> Writer:
        WRITERS[record_type] = fn
        return fn
    return deco


def _first(parties: list[Party]) -> Party | None:
    return parties[0] if parties else None


# --- patents ---------------------------------------------------------------------------

def _event_key(ev: Any) -> str:
    payload = json.dumps([ev.category, ev.date.isoformat() if ev.date else None, ev.code, ev.description],
                         ensure_ascii=False)
    return hashlib.sha1(payload.encode()).hexdigest()


@register("patent")
def write_patents(ctx: Any, records: list[BaseRecord]) -> list[int]:
    def address_of(rec: Any) -> tuple[str | None, Any]:
        return domestic_address(_first(rec.applicants)), rec.app_date

    prepared = prepare(ctx, "patent", records, address_of)
    if not prepared:
        return []
    names = {party.name for p in prepared for party in p.record.applicants}
    entity_ids = ctx.resolver.entities(ctx.session, names)
    rows = []
    for p in prepared:
        r = p.record
        first = _first(r.applicants)
        fallback = f"{r.province_code}0000" if r.province_code and len(r.province_code) == 2 else None
        rows.append(simple_row(
            ctx, m.Patent, p,
            first_claim=(r.claims[0] if r.claims else None),
            claims_count=len(r.claims) or None,
            priorities=_none_if_empty(_jsonable(r.priorities)),
            first_applicant=first.name if first else None,
            first_applicant_entity_id=entity_ids.get(first.name) if first else None,
            **place_columns(p.place, fallback)))
    ids = finish(ctx, m.Patent, "patent", prepared, rows)
    _write_patent_children(ctx, prepared, ids, entity_ids)
    return list(ids.values())


def _write_patent_children(ctx: Any, prepared: list[Prepared], ids: dict[str, int],
                           entity_ids: dict[str, int]) -> None:
    with_parties = [ids[p.key] for p in prepared if p.record.applicants]
    for chunk in _chunks(with_parties, 2000):
        ctx.session.execute(delete(m.PatentParty).where(m.PatentParty.patent_id.in_(chunk)))
    parties, events, family, texts = [], [], [], []
    for p in prepared:
        r, pid = p.record, ids[p.key]
        for seq, party in enumerate(r.applicants):
            address = domestic_address(party)
            place = ctx.resolver.place(address, r.app_date) if address else None
            parties.append({"patent_id": pid, "role": party.role or "applicant", "seq": seq, "name": party.name,
                            "address": party.address, "country": party.country,
                            "entity_id": entity_ids.get(party.name), "region_code": None, "prefecture_code": None,
                            "county_code": None, "place_method": None, **place_columns(place)})
        for ev in r.events:
            events.append({"patent_id": pid, "event_key": _event_key(ev), "category": ev.category,
                           "event_date": ev.date, "code": ev.code, "description": ev.description,
                           "details": _jsonable(ev.details) or {}, "source": ctx.source_name[:300]})
        for fm in r.family:
            family.append({"patent_id": pid, "number": fm.number, "country": fm.country, "kind": fm.kind,
                           "date": fm.date, "granted": fm.granted})
        if r.claims or r.description:
            texts.append({"patent_id": pid, "claims": r.claims or None, "description": r.description})
    if parties:
        upsert(ctx, m.PatentParty.__table__, parties, ["patent_id", "role", "seq"], coalesce=False)
    upsert(ctx, m.PatentEvent.__table__, _dedupe(events, ("patent_id", "event_key")), ["patent_id", "event_key"],
           nothing=True)
    upsert(ctx, m.PatentFamilyMember.__table__, _dedupe(family, ("patent_id", "number")), ["patent_id", "number"])
    upsert(ctx, m.PatentText.__table__, texts, ["patent_id"])


def _dedupe(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        out[tuple(row[k] for k in key)] = row
    return list(out.values())


# --- the other rights ------------------------------------------------------------------

def _owner_writer(record_type: str, model: type[m.Base], owner: Callable[[Any], tuple[str | None, str | None]],
                  entity_column: str | None, date_of: Callable[[Any], Any] = lambda r: None,
                  extra: Callable[[Any], dict[str, Any]] = lambda r: {}) -> Writer:
    """Rights with one owner whose address places them (trademarks, copyrights, pledges, …)."""

    def write(ctx: Any, records: list[BaseRecord]) -> list[int]:
        prepared = prepare(ctx, record_type, records, lambda r: (owner(r)[1], date_of(r)))
        if not prepared:
            return []
        entity_ids = ctx.resolver.entities(ctx.session, [owner(p.record)[0] for p in prepared]) \
            if entity_column else {}
        rows = []
        for p in prepared:
            name = owner(p.record)[0]
            cols = dict(extra(p.record))
            if entity_column:
                cols[entity_column] = entity_ids.get(name) if name else None
            rows.append(simple_row(ctx, model, p, **cols, **place_columns(p.place)))
        return list(finish(ctx, model, record_type, prepared, rows).values())

    WRITERS[record_type] = write
    return write


def _party_name(parties: list[Party]) -> str | None:
    return parties[0].name if parties else None


def _party_address(parties: list[Party]) -> str | None:
    return parties[0].address if parties else None


def domestic_address(party: Party | None) -> str | None:
    """Only Chinese (or country-less) addresses are resolved to GB/T 2260 places; a foreign
    owner's address is neither resolved nor counted as unresolved."""
    if party is None or (party.country and party.country.upper() not in ("CN", "CHN")):
        return None
    return party.address


_owner_writer("trademark", m.Trademark, lambda r: (_party_name(r.owners), domestic_address(_first(r.owners))),
              "owner_entity_id", lambda r: r.app_date,
              lambda r: {"owner_name": _party_name(r.owners), "owner_address": _party_address(r.owners),
                         "events": _none_if_empty(_jsonable(r.events))})
_owner_writer("copyright", m.Copyright, lambda r: (_party_name(r.owners), domestic_address(_first(r.owners))),
              "owner_entity_id", lambda r: r.reg_date,
              lambda r: {"owner_name": _party_name(r.owners), "owner_address": _party_address(r.owners)})
_owner_writer("plant_variety", m.PlantVariety,
              lambda r: (_party_name(r.applicants), domestic_address(_first(r.applicants))),
              "applicant_entity_id", lambda r: r.app_date,
              lambda r: {"applicant": _party_name(r.applicants), "applicant_address": _party_address(r.applicants)})
_owner_writer("transaction", m.RightTransaction, lambda r: (r.to_party, r.to_address), "to_entity_id",
              lambda r: r.date)
_owner_writer("pledge", m.Pledge, lambda r: (r.pledgor, r.pledgor_address), "pledgor_entity_id", lambda r: r.reg_date)
_owner_writer("case", m.EnforcementCase, lambda r: (None, r.address or r.authority), None, lambda r: r.accepted_date)
_owner_writer("institution", m.Institution, lambda r: (r.name, r.address), "entity_id",
              lambda r: r.established_date)


@register("gi")
def write_gis(ctx: Any, records: list[BaseRecord]) -> list[int]:
    prepared = prepare(ctx, "gi", records, None)
    if not prepared:
        return []
    entity_ids = ctx.resolver.entities(ctx.session, [p.record.applicant for p in prepared if p.record.applicant])
    rows = []
    for p in prepared:
        codes = [c for c in p.record.region_codes if c]
        prefectures = sorted({prefecture_of(c) or c for c in codes})
        counties = sorted({c for c in codes if prefecture_of(c)})
        cols: dict[str, Any] = {"applicant_entity_id": entity_ids.get(p.record.applicant or "")}
        if codes:
            cols.update(region_code=(counties[0] if len(counties) == 1 else prefectures[0] if len(prefectures) == 1
                                     else "650000"),
                        prefecture_code=prefectures[0] if len(prefectures) == 1 else None,
                        county_code=counties[0] if len(counties) == 1 else None, place_method="given")
        ctx.counts["addressed"] += 1 if codes else 0
        ctx.counts["placed"] += 1 if codes else 0
        rows.append(simple_row(ctx, m.GeographicalIndication, p, name=p.record.name,
                               gi_system=p.record.gi_system, **cols))
    ids = finish(ctx, m.GeographicalIndication, "gi", prepared, rows)
    areas = []
    for p in prepared:
        codes = [c for c in p.record.region_codes if c]
        if codes:
            ctx.session.execute(delete(m.GIArea).where(m.GIArea.gi_id == ids[p.key]))
        for code in dict.fromkeys(codes):
            areas.append({"gi_id": ids[p.key], "region_code": code, "prefecture_code": prefecture_of(code) or code})
    upsert(ctx, m.GIArea.__table__, areas, ["gi_id", "region_code"], coalesce=False)
    return list(ids.values())


@register("gi_mark_user")
def write_gi_mark_users(ctx: Any, records: list[BaseRecord]) -> list[int]:
    prepared = prepare(ctx, "gi_mark_user", records, lambda r: (r.address, r.approved_date))
    if not prepared:
        return []
    names = sorted({p.record.gi_name for p in prepared})
    gi_ids: dict[tuple[str, str | None], int] = {}
    for gi_id, name, system in ctx.session.execute(
            select(m.GeographicalIndication.id, m.GeographicalIndication.name, m.GeographicalIndication.gi_system)
            .where(m.GeographicalIndication.name.in_(names)).order_by(m.GeographicalIndication.id)):
        gi_ids.setdefault((name, system), gi_id)
        gi_ids.setdefault((name, None), gi_id)
    entity_ids = ctx.resolver.entities(ctx.session, [p.record.user_name for p in prepared])
    rows = [simple_row(ctx, m.GIMarkUser, p, gi_id=gi_ids.get((p.record.gi_name, p.record.gi_system))
                       or gi_ids.get((p.record.gi_name, None)), entity_id=entity_ids.get(p.record.user_name),
                       **place_columns(p.place)) for p in prepared]
    return list(finish(ctx, m.GIMarkUser, "gi_mark_user", prepared, rows).values())


__all__ = ["WRITERS", "upsert", "prefecture_of", "tuple_"]
