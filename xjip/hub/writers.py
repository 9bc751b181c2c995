"""How each kind of record is written: natural-key upsert of the main row, its children, and
its raw source record. Called by `pipeline.BatchWriter` inside the batch's transaction.

Speed (see bench/PROFILE.md): statements are compiled once per (table, columns, conflict
target) and run as one DBAPI `executemany` per batch with plain parameter lists; values are
converted with SQLAlchemy's own bind processors, so rows are stored exactly as the ORM stores
them. The raw record is serialised once: that text is both what `source_record.raw` keeps and
what the content hash is computed on."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from functools import lru_cache
from typing import Any, Callable, Iterable

from sqlalchemy import JSON, Date, DateTime, Table, delete, select

from xjip.hub import models as m
from xjip.hub.records import BaseRecord, Locator, Party, Rejection

Writer = Callable[[Any, list[BaseRecord]], list[int]]
WRITERS: dict[str, Writer] = {}


# --- statements ------------------------------------------------------------------------

class _Upsert:
    """INSERT … ON CONFLICT for a fixed column list, compiled once: the SQL text, per-column
    value converters and the length limits of string columns (longer values are cut rather
    than failing the whole batch on PostgreSQL; cut on SQLite too, so both hold the same).
    Columns left out that have a Python-side default (`updated_at`, empty JSON lists) get it on
    insert and are left alone on update, as a SQLAlchemy Core insert does."""

    def __init__(self, dialect: Any, table: Table, columns: tuple[str, ...], index: tuple[str, ...],
                 coalesce: bool, nothing: bool):
        quote = dialect.identifier_preparer.quote
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        name = quote(table.name)
        self.defaults = [c for c in table.c if c.name not in columns and c.default is not None
                         and not c.primary_key and (c.default.is_scalar or c.default.is_callable)]
        all_columns = (*columns, *(c.name for c in self.defaults))
        cols = ", ".join(quote(c) for c in all_columns)
        values = f"VALUES ({', '.join(mark for _ in all_columns)})"
        sql = f"INSERT INTO {name} ({cols}) {values} ON CONFLICT ({', '.join(quote(c) for c in index)}) "
        update = [c for c in columns if c not in index and c != "id"]
        if nothing or not update:
            sql += "DO NOTHING"
        elif coalesce:  # a NULL in the new row keeps the stored value (a second source adds, never erases)
            sql += "DO UPDATE SET " + ", ".join(f"{quote(c)} = coalesce(excluded.{quote(c)}, {name}.{quote(c)})"
                                                for c in update)
        else:
            sql += "DO UPDATE SET " + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
        self.sql = sql
        self.copy: tuple[str, str, str, list[int]] | None = None
        if dialect.name == "postgresql":
            # Large batches: COPY into a session-local staging table, then one INSERT … SELECT
            # with the same conflict clause (PostgreSQL docs, "Populating a Database", 14.4).
            stage = quote(f"_xjip_stage_{table.name}")
            self.copy = (f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                         f"SELECT * FROM {name} WITH NO DATA; TRUNCATE {stage}",  # types only, no constraints
                         f"COPY {stage} ({cols}) FROM STDIN",
                         sql.replace(values, f"SELECT {cols} FROM {stage}", 1),
                         [columns.index(c) for c in index])
        self.converters: list[tuple[int, Callable[[Any], Any]]] = []
        self.limits: list[tuple[int, int]] = []
        for i, c in enumerate(columns):
            col = table.c[c]
            fn = _converter(col.type, dialect)
            if fn is not None:
                self.converters.append((i, fn))
            length = getattr(col.type, "length", None)
            if length:
                self.limits.append((i, length))
        self.default_converters = [_converter(c.type, dialect) for c in self.defaults]

    def _default_values(self) -> list[Any]:
        out = []
        for col, fn in zip(self.defaults, self.default_converters):
            value = col.default.arg(None) if col.default.is_callable else col.default.arg
            out.append(fn(value) if fn is not None and value is not None else value)
        return out

    def run(self, session: Any, params: list[list[Any]]) -> None:
        converters, limits = self.converters, self.limits
        for row in params:
            for i, fn in converters:
                v = row[i]
                if v is not None:
                    row[i] = fn(v)
            for i, n in limits:
                v = row[i]
                if v.__class__ is str and len(v) > n:
                    row[i] = v[:n]
        if self.defaults:
            extra = self._default_values()  # one value per batch (= per transaction)
            for row in params:
                row.extend(extra)
        if self.copy is not None and len(params) >= COPY_MIN_ROWS and self._unique(params):
            prepare_sql, copy_sql, insert_sql, _ = self.copy
            with session.connection().connection.dbapi_connection.cursor() as cur:
                cur.execute(prepare_sql)
                with cur.copy(copy_sql) as copy:
                    for row in params:
                        copy.write_row(row)
                cur.execute(insert_sql)
            return
        session.connection().exec_driver_sql(self.sql, list(map(tuple, params)))

    def _unique(self, params: list[list[Any]]) -> bool:
        """INSERT … SELECT … ON CONFLICT cannot touch a row twice: COPY only batches whose
        conflict keys are distinct (executemany applies repeats one after the other)."""
        index = self.copy[3] if self.copy else []
        if len(index) == 1:
            i = index[0]
            return len({row[i] for row in params}) == len(params)
        return len({tuple(row[i] for i in index) for row in params}) == len(params)


def _converter(type_: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """SQLAlchemy's bind processor of a column type, with C-speed equivalents for the
    frequent SQLite date/datetime cases and a one-entry memo for datetimes (a batch stamps
    every row with the same `imported_at`)."""
    impl = type_.dialect_impl(dialect)
    proc = impl.bind_processor(dialect)
    if proc is None:
        return None
    if dialect.name == "sqlite" and isinstance(type_, Date) and not isinstance(type_, DateTime) \
            and proc(dt.date(1999, 2, 3)) == "1999-02-03":
        return dt.date.isoformat
    if dialect.name == "sqlite" and isinstance(type_, JSON):
        sample = ["A01B1/00", "中文", {"k": None}]
        if proc(sample) == json.dumps(sample):
            return json.dumps  # what the processor calls, without its per-value checks
    if isinstance(type_, DateTime):
        memo: list[tuple[Any, Any]] = [(None, None)]

        def datetime_proc(value: Any) -> Any:
            last = memo[0]  # (value, result) swapped as one reference: safe between import threads
            if value is not last[0]:
                last = memo[0] = (value, proc(value))
            return last[1]

        return datetime_proc
    return proc


_STATEMENTS: dict[tuple[Any, ...], _Upsert] = {}
COPY_MIN_ROWS = 20  # below this, executemany is as quick as COPY + INSERT … SELECT (tests, batch 50, use both)


def _statement(ctx: Any, table: Table, columns: tuple[str, ...], index: tuple[str, ...], coalesce: bool,
               nothing: bool) -> _Upsert:
    dialect = ctx.session.get_bind().dialect
    key = (dialect.name, table.name, columns, index, coalesce, nothing)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = _Upsert(dialect, table, columns, index, coalesce, nothing)
    return stmt


def upsert(ctx: Any, table: Table, rows: list[dict[str, Any]], index: list[str], *,
           coalesce: bool = True, nothing: bool = False) -> None:
    """INSERT … ON CONFLICT (index) DO UPDATE, on SQLite and PostgreSQL alike. With `coalesce`,
    a NULL in the new row keeps the stored value (a second source adds, never erases)."""
    if not rows:
        return
    columns = tuple(sorted(set().union(*rows)))
    upsert_values(ctx, table, columns, [list(map(row.get, columns)) for row in rows], index,
                  coalesce=coalesce, nothing=nothing)


def upsert_values(ctx: Any, table: Table, columns: tuple[str, ...], params: list[list[Any]], index: list[str],
                  *, coalesce: bool = True, nothing: bool = False) -> None:
    """`upsert` for rows already laid out as lists in `columns` order (the hot paths)."""
    if params:
        _statement(ctx, table, columns, tuple(index), coalesce, nothing).run(ctx.session, params)


def rows_by_key(ctx: Any, sql: str, params: list[Any], keys: list[str]) -> list[tuple[Any, ...]]:
    """Rows of `sql` (ending in `AND <key column>`) for the given keys: `= ANY(array)` on
    PostgreSQL, planned for each call with the actual keys (a cached generic plan of a long IN
    list may scan the whole index and filter, a cost growing with the table), `IN (…)` on SQLite."""
    if not keys:
        return []
    conn = ctx.session.connection()
    if conn.dialect.name == "postgresql":
        with conn.connection.dbapi_connection.cursor() as cur:
            cur.execute(sql.replace("?", "%s") + " = ANY(%s)", [*params, keys], prepare=False)
            return cur.fetchall()
    out: list[tuple[Any, ...]] = []
    cur = conn.connection.dbapi_connection.cursor()
    try:
        for chunk in _chunks(keys, 5000):
            cur.execute(f"{sql} IN ({','.join('?' * len(chunk))})", [*params, *chunk])
            out.extend(cur.fetchall())
    finally:
        cur.close()
    return out


def ids_by_key(ctx: Any, model: type[m.Base], keys: Iterable[str]) -> dict[str, int]:
    return dict(rows_by_key(ctx, f"SELECT key, id FROM {model.__table__.name} WHERE key", [], list(keys)))


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _none_if_empty(value: Any) -> Any:
    return None if value in ("", [], {}) else value


@lru_cache(maxsize=None)
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _jsonable(value: Any) -> Any:
    cls = value.__class__
    if cls is list:
        return [v if v.__class__ is str else _jsonable(v) for v in value]
    if cls is str or cls is int or value is None:
        return value
    if dataclasses.is_dataclass(value):
        return {k: _jsonable(getattr(value, k)) for k in _field_names(cls)}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
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
    raw_text: str | None = None


def raw_text(record: BaseRecord) -> str | None:
    """The raw record as stored in `source_record.raw`: XML text as read, a row as JSON
    (columns in the source's order)."""
    raw = record.raw
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return json.dumps(raw, ensure_ascii=False, default=str)


def _record_json(record: BaseRecord) -> str:
    return json.dumps({k: getattr(record, k) for k in _field_names(type(record)) if k not in ("locator", "raw")},
                      ensure_ascii=False, sort_keys=True, default=str)


def content_hash_of(record: BaseRecord, text: str | None) -> str:
    """sha1 of the stored raw text (of the parsed fields when the importer keeps no raw)."""
    payload = text if text is not None else _record_json(record)
    return hashlib.sha1(payload.encode("utf-8", "surrogatepass")).hexdigest()


def _key_location(rec: BaseRecord) -> tuple[str, Locator | None]:
    """Field and locator for a duplicate-key rejection. An importer may attach `key_field`
    (the source's own name of the field that gave the natural key, e.g. '申请号') and
    `key_locator` (that field's cell) to a record; otherwise the field is 'key'."""
    return getattr(rec, "key_field", None) or "key", getattr(rec, "key_locator", None) or rec.locator


def _duplicate(rec: BaseRecord, key: str, first: Any) -> Rejection:
    field, locator = _key_location(rec)
    return Rejection(locator, "duplicate_key", field=field, params={"key": key, "first": first}, raw=rec.raw)


def prepare(ctx: Any, record_type: str, records: list[BaseRecord],
            address_of: Callable[[BaseRecord], tuple[str | None, Any]] | None = None) -> list[Prepared]:
    """Reject missing keys and keys already met in this job's source (in this batch, an earlier
    batch, or before a resume), drop unchanged records, resolve places."""
    seen: dict[str, BaseRecord] = {}
    repeats: list[tuple[BaseRecord, str]] = []
    for rec in records:
        key = (rec.natural_key() or "").strip()
        if not key or key.endswith(":") or key in ("|",):
            ctx.rejections.append(Rejection(rec.locator, "missing_field", field="key", raw=rec.raw))
            continue
        if key in seen:
            repeats.append((rec, key))
            continue
        seen[key] = rec
    earlier = ctx.seen.first_of(record_type, list(seen)) if ctx.seen is not None else {}
    for key, first in earlier.items():
        ctx.rejections.append(_duplicate(seen.pop(key), key, first))
    for rec, key in repeats:
        first = earlier.get(key)
        if first is None:
            loc = seen[key].locator
            first = loc.record if loc else None
        ctx.rejections.append(_duplicate(rec, key, first))
    if ctx.seen is not None:
        ctx.seen.add(record_type, [(k, r.locator.record if r.locator else None) for k, r in seen.items()])
    prior: dict[str, tuple[str, int | None, str | None]] = {
        key: (h, job_id, locator) for key, h, job_id, locator in rows_by_key(
            ctx, "SELECT record_key, content_hash, import_job_id, locator FROM source_record "
                 "WHERE record_type = ? AND source = ? AND record_key", [record_type, ctx.source_name[:300]], list(seen))}
    out: list[Prepared] = []
    counts = ctx.counts
    place_of = ctx.resolver.place
    for key, rec in seen.items():
        text = raw_text(rec)
        h = content_hash_of(rec, text)
        before = prior.get(key)
        if before is not None:
            if before[1] == ctx.job_id:  # written by this job already (e.g. before a resume)
                first = re.search(r"#(\d+)", before[2] or "")
                ctx.rejections.append(_duplicate(rec, key, int(first.group(1)) if first else before[2]))
                continue
            if before[0] == h:
                counts["unchanged"] += 1
                continue
        place = None
        if address_of is not None:
            address, on = address_of(rec)
            if address:
                place = place_of(address, on)
                counts["addressed"] += 1
                if place is not None and (getattr(place, "prefecture_code", None)
                                          or getattr(place, "region_code", None)):
                    counts["placed"] += 1
        out.append(Prepared(key, rec, h, place, text))
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


_SOURCE_COLUMNS = ("record_type", "record_key", "source", "source_format", "locator", "licence", "content_hash",
                   "raw", "import_job_id", "imported_at", "is_synthetic")


def finish(ctx: Any, model: type[m.Base], record_type: str, prepared: list[Prepared],
           rows: list[dict[str, Any]] | list[list[Any]], columns: tuple[str, ...] | None = None) -> dict[str, int]:
    """Upsert main rows (dicts, or lists in `columns` order) and source records; count
    inserted/updated; return key → id."""
    if not prepared:
        return {}
    keys = [p.key for p in prepared]
    ids = ids_by_key(ctx, model, keys)
    existing = len(ids)
    if columns is None:
        upsert(ctx, model.__table__, rows, ["key"])  # type: ignore[arg-type]
    else:
        upsert_values(ctx, model.__table__, columns, rows, ["key"])  # type: ignore[arg-type]
    new = [k for k in keys if k not in ids]
    if new:
        ids.update(ids_by_key(ctx, model, new))
    ctx.counts["inserted"] += len(new)
    ctx.counts["updated"] += existing
    ctx.existing_keys = set(keys).difference(new)
    source, fmt, licence, job_id, now = ctx.source_name[:300], ctx.source_format, ctx.licence, ctx.job_id, ctx.now
    params = [[record_type, p.key[:300], source, fmt, str(p.record.locator) if p.record.locator else None, licence,
               p.hash, p.raw_text, job_id, now, bool(p.record.is_synthetic)] for p in prepared]
    upsert_values(ctx, m.SourceRecord.__table__, _SOURCE_COLUMNS, params, ["record_type", "record_key", "source"],
                  coalesce=False)
    return ids


@lru_cache(maxsize=None)
def _row_fields(record_cls: type, model: type[m.Base]) -> tuple[str, ...]:
    """Record fields that are columns of `model` (provenance and keys excluded)."""
    columns = model.__table__.c
    return tuple(f for f in _field_names(record_cls)
                 if f in columns and f not in ("locator", "raw", "is_synthetic", "key", "id"))


@lru_cache(maxsize=None)
def _column_names(model: type[m.Base]) -> frozenset[str]:
    return frozenset(model.__table__.c.keys())


def simple_row(ctx: Any, model: type[m.Base], p: Prepared, **extra: Any) -> dict[str, Any]:
    """Columns named like the record's fields, plus provenance, place and `extra`."""
    rec = p.record
    row: dict[str, Any] = {"key": p.key}
    for name in _row_fields(type(rec), model):
        value = getattr(rec, name)
        if value.__class__ is list or isinstance(value, (list, dict)):
            value = _jsonable(value) if value else None
        elif value == "":
            value = None
        row[name] = value
    row.update(provenance(ctx, rec))
    if extra:
        columns = _column_names(model)
        row.update((k, v) for k, v in extra.items() if k in columns)
    return row


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
    # Rows as lists in a fixed column order (what simple_row + place_columns give, without a
    # dict per row): record fields, then derived, provenance and place columns.
    fields, get = _patent_fields()
    common = [ctx.source_name[:300], ctx.source_format, ctx.licence, ctx.now, ctx.job_id]
    rows = []
    for p in prepared:
        r = p.record
        row = [p.key, *get(r)]
        for i, v in enumerate(row):
            if v.__class__ is list:
                row[i] = _jsonable(v) if v else None
            elif v == "":
                row[i] = None
        first = r.applicants[0] if r.applicants else None
        place = p.place
        if place is not None and (place.region_code or place.prefecture_code):
            where = [place.region_code, place.prefecture_code, place.county_code,
                     (getattr(place, "method", None) or "gazetteer")[:20]]
        elif r.province_code and len(r.province_code) == 2:
            where = [f"{r.province_code}0000", None, None, "province_code"]
        else:
            where = [None, None, None, None]
        row += [r.claims[0] if r.claims else None, len(r.claims) or None, first.name if first else None,
                entity_ids.get(first.name) if first else None, *common, bool(r.is_synthetic), *where]
        rows.append(row)
    ids = finish(ctx, m.Patent, "patent", prepared, rows, _PATENT_COLUMNS)
    _write_patent_children(ctx, prepared, ids, entity_ids)
    return list(ids.values())


@lru_cache(maxsize=None)
def _patent_fields() -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]:
    from operator import attrgetter

    from xjip.hub.records import PatentRecord

    fields = _row_fields(PatentRecord, m.Patent)
    return fields, attrgetter(*fields)


_PATENT_COLUMNS = ("key", *_patent_fields()[0], "first_claim", "claims_count", "first_applicant",
                   "first_applicant_entity_id", "source", "source_format", "licence", "imported_at", "import_job_id",
                   "is_synthetic", "region_code", "prefecture_code", "county_code", "place_method")
_PARTY_COLUMNS = ("patent_id", "role", "seq", "name", "address", "country", "entity_id", "region_code",
                  "prefecture_code", "county_code", "place_method")


def _write_patent_children(ctx: Any, prepared: list[Prepared], ids: dict[str, int],
                           entity_ids: dict[str, int]) -> None:
    # Only patents stored before this batch can have party rows to replace.
    existing = getattr(ctx, "existing_keys", None)
    with_parties = [ids[p.key] for p in prepared if p.record.applicants and (existing is None or p.key in existing)]
    for chunk in _chunks(with_parties, 2000):
        ctx.session.execute(delete(m.PatentParty).where(m.PatentParty.patent_id.in_(chunk)))
    parties, events, family, texts = [], [], [], []
    place_of = ctx.resolver.place
    for p in prepared:
        r, pid = p.record, ids[p.key]
        for seq, party in enumerate(r.applicants):
            address = domestic_address(party)
            # the first applicant's address is the one `prepare` resolved
            place = p.place if seq == 0 else (place_of(address, r.app_date) if address else None)
            if place is not None and (place.region_code or place.prefecture_code):
                where = [place.region_code, place.prefecture_code, place.county_code,
                         (getattr(place, "method", None) or "gazetteer")[:20]]
            else:
                where = [None, None, None, None]
            parties.append([pid, party.role or "applicant", seq, party.name, party.address, party.country,
                            entity_ids.get(party.name), *where])
        for ev in r.events:
            events.append({"patent_id": pid, "event_key": _event_key(ev), "category": ev.category,
                           "event_date": ev.date, "code": ev.code, "description": ev.description,
                           "details": _jsonable(ev.details) or {}, "source": ctx.source_name[:300]})
        for fm in r.family:
            family.append({"patent_id": pid, "number": fm.number, "country": fm.country, "kind": fm.kind,
                           "date": fm.date, "granted": fm.granted})
        if r.claims or r.description:
            texts.append([pid, r.claims or None, r.description])
    upsert_values(ctx, m.PatentParty.__table__, _PARTY_COLUMNS, parties, ["patent_id", "role", "seq"],
                  coalesce=False)
    upsert(ctx, m.PatentEvent.__table__, _dedupe(events, ("patent_id", "event_key")), ["patent_id", "event_key"],
           nothing=True)
    upsert(ctx, m.PatentFamilyMember.__table__, _dedupe(family, ("patent_id", "number")), ["patent_id", "number"])
    upsert_values(ctx, m.PatentText.__table__, ("patent_id", "claims", "description"), texts, ["patent_id"])


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


__all__ = ["WRITERS", "upsert", "upsert_values", "prefecture_of", "raw_text", "content_hash_of"]
