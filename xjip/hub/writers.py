"""How each kind of record is written: natural-key upsert of the main row, its children, and
its raw source record. Called by `pipeline.BatchWriter` inside the batch's transaction.
Patents, the bulk of large sources, are written in two steps: `prepare_patents` needs no
database and may run in a parse process (`xjip.hub.parallel`); `store_patents` does the rest.

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

from sqlalchemy import JSON, Date, DateTime, Table, delete, or_, select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError

from xjip.hub import merge
from xjip.hub import models as m
from xjip.hub import places
from xjip.hub.records import BaseRecord, Locator, Party, Rejection
from xjip.hub.store import dump_json

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
                 coalesce: bool, nothing: bool, fill: bool = False):
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
        elif fill:  # the stored value stays; the new row only fills what is empty (an older publication's row)
            sql += "DO UPDATE SET " + ", ".join(f"{quote(c)} = coalesce({name}.{quote(c)}, excluded.{quote(c)})"
                                                for c in update)
        elif coalesce:  # a NULL in the new row keeps the stored value (a second source adds, never erases)
            sql += "DO UPDATE SET " + ", ".join(f"{quote(c)} = coalesce(excluded.{quote(c)}, {name}.{quote(c)})"
                                                for c in update)
        else:
            sql += "DO UPDATE SET " + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
        self.sql = sql
        self.plain_sql = f"INSERT INTO {name} ({cols}) {values}"
        self.copy_direct = f"COPY {name} ({cols}) FROM STDIN"
        # Binary COPY when every column has a plain type: large text goes over as it is, not
        # escaped character by character (raw XML is full of newlines and tabs).
        self.binary_types = _binary_types([table.c[c] for c in all_columns]) if dialect.name == "postgresql" else None
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

    def convert(self, params: list[list[Any]]) -> list[list[Any]]:
        """Values as the driver takes them (dates, JSON) and strings cut to their column's length.
        Pure: a parse process runs it before handing rows over (see `prepare_patents`)."""
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
        return params

    def _ready(self, params: list[list[Any]], converted: bool) -> None:
        if not converted:
            self.convert(params)
        if self.defaults:
            extra = self._default_values()  # one value per batch (= per transaction)
            for row in params:
                row.extend(extra)

    def run(self, session: Any, params: list[list[Any]], converted: bool = False) -> None:
        if params:
            self._ready(params, converted)
            self._upsert(session, params)

    def _upsert(self, session: Any, rows: list[list[Any]]) -> None:
        if self.copy is not None and len(rows) >= COPY_MIN_ROWS and self._unique(rows):
            prepare_sql, copy_sql, insert_sql, _ = self.copy
            with session.connection().connection.dbapi_connection.cursor() as cur:
                cur.execute(prepare_sql)
                _copy(cur, copy_sql, rows)
                cur.execute(insert_sql)
            return
        session.connection().exec_driver_sql(self.sql, list(map(tuple, rows)))

    def insert_new(self, session: Any, params: list[list[Any]], converted: bool = False) -> None:
        """Rows the caller knows are not stored yet (keys looked up in this transaction): a plain
        INSERT, or on PostgreSQL a COPY straight into the table, without the staging table and
        the conflict check; large text is then written (and TOAST-compressed) once, not twice.
        Should another process have stored one of the keys meanwhile, the unique constraint
        stops the insert and the rows go through the upsert instead."""
        if not params:
            return
        self._ready(params, converted)
        try:
            with session.begin_nested():
                if self.copy is not None and len(params) >= COPY_MIN_ROWS:
                    with session.connection().connection.dbapi_connection.cursor() as cur:
                        if self.binary_types:
                            _copy(cur, self.copy_direct + " (FORMAT BINARY)", params, self.binary_types)
                        else:
                            _copy(cur, self.copy_direct, params)
                else:
                    session.connection().exec_driver_sql(self.plain_sql, list(map(tuple, params)))
        except IntegrityError:
            self._upsert(session, params)

    def _unique(self, params: list[list[Any]]) -> bool:
        """INSERT … SELECT … ON CONFLICT cannot touch a row twice: COPY only batches whose
        conflict keys are distinct (executemany applies repeats one after the other)."""
        index = self.copy[3] if self.copy else []
        if len(index) == 1:
            i = index[0]
            return len({row[i] for row in params}) == len(params)
        return len({tuple(row[i] for i in index) for row in params}) == len(params)


def _copy(cur: Any, sql: str, rows: list[list[Any]], types: list[str] | None = None) -> None:
    with cur.copy(sql) as copy:
        if types:
            copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def _binary_types(columns: list[Any]) -> list[str] | None:
    """PostgreSQL type names for a binary COPY of these columns, or None when one of them is
    not a plain string, integer, boolean, date, timestamp or JSON (its values wrapped by the
    column's bind processor, as `_Upsert.convert` leaves them)."""
    from sqlalchemy import Boolean, Integer, String

    out = []
    for col in columns:
        t = col.type
        if isinstance(t, JSON):
            out.append("json")
        elif isinstance(t, String):
            out.append("text")
        elif isinstance(t, Boolean):
            out.append("bool")
        elif isinstance(t, Integer):
            out.append("int8" if "big" in type(t).__name__.lower() else "int4")
        elif isinstance(t, DateTime):
            out.append("timestamptz" if t.timezone else "timestamp")
        elif isinstance(t, Date):
            out.append("date")
        else:
            return None
    return out


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
        if proc(sample) == dump_json(sample):
            return _json_dumps  # what the processor calls, without its per-value checks
    if isinstance(type_, DateTime):
        memo: list[tuple[Any, Any]] = [(None, None)]

        def datetime_proc(value: Any) -> Any:
            last = memo[0]  # (value, result) swapped as one reference: safe between import threads
            if value is not last[0]:
                last = memo[0] = (value, proc(value))
            return last[1]

        return datetime_proc
    return proc


_encode_str = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _json_dumps(value: Any) -> str:
    """`store.dump_json`, byte for byte; lists of strings (IPC codes, inventors) without the
    encoder's per-call set-up."""
    if value.__class__ is list:
        for v in value:
            if v.__class__ is not str:
                return dump_json(value)
        return "[" + ", ".join(map(_encode_str, value)) + "]"
    return dump_json(value)


_STATEMENTS: dict[tuple[Any, ...], _Upsert] = {}
COPY_MIN_ROWS = 20  # below this, executemany is as quick as COPY + INSERT … SELECT (tests, batch 50, use both)


def _statement(ctx: Any, table: Table, columns: tuple[str, ...], index: tuple[str, ...], coalesce: bool,
               nothing: bool, fill: bool = False) -> _Upsert:
    return statement_for(ctx.session.get_bind().dialect, table, columns, index, coalesce, nothing, fill)


def statement_for(dialect: Any, table: Table, columns: tuple[str, ...], index: tuple[str, ...], coalesce: bool,
                  nothing: bool, fill: bool = False) -> _Upsert:
    key = (dialect.name, table.name, columns, index, coalesce, nothing, fill)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = _Upsert(dialect, table, columns, index, coalesce, nothing, fill)
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
                  *, coalesce: bool = True, nothing: bool = False, converted: bool = False) -> None:
    """`upsert` for rows already laid out as lists in `columns` order (the hot paths); with
    `converted`, their values went through `_Upsert.convert` already."""
    if params:
        _statement(ctx, table, columns, tuple(index), coalesce, nothing).run(ctx.session, params, converted)


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


# Where a record came from, not what it says: left out of its derived text (`key_locator`: the
# cell of its key, which an importer may attach; a row moved in the file is the same row; the
# notes of a repaired document).
_PLACE_ATTRS = ("locator", "raw", "key_locator", "import_notes")


def derived_text(record: BaseRecord) -> str:
    """What the importer made of a source record: every field but where it came from (repr of
    the values in field order: deterministic, and several times cheaper than JSON)."""
    values = record.__dict__.copy()
    for name in _PLACE_ATTRS:
        values.pop(name, None)
    return repr(values)


def content_hash_of(record: BaseRecord, text: str | None) -> str:
    """sha1 of the stored raw text AND of what the importer derived from it. A record is
    unchanged only when both are: the same row read another way (another --mapping, another
    importer, a newer version of one that reads a column differently) is a change, and the
    records whose fields it changes are updated."""
    payload = f"{text if text is not None else ''}\x1e{derived_text(record)}"
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
            address_of: Callable[[BaseRecord], tuple[str | None, Any]] | None = None,
            given_place: Callable[[BaseRecord], bool] | None = None,
            owner_of: Callable[[BaseRecord], Party | None] | None = None) -> list[Prepared]:
    """Reject missing keys and keys already met in this job's source (in this batch, an earlier
    batch, or before a resume), drop unchanged records, resolve places. The job's place figures
    count every record read, unchanged ones too (a re-import reports the same share); records
    placed by the source itself (`given_place`) count as addressed and placed."""
    seen = check_keys(env_of(ctx), record_type, records, ctx.rejections)
    prior: dict[str, tuple[str, int | None, str | None]] = {
        key: (h, job_id, locator) for key, h, job_id, locator in rows_by_key(
            ctx, "SELECT record_key, content_hash, import_job_id, locator FROM source_record "
                 "WHERE record_type = ? AND source = ? AND record_key", [record_type, ctx.source_name[:300]], list(seen))}
    out: list[Prepared] = []
    counts = ctx.counts
    place_of = ctx.resolver.place
    place_owner = getattr(ctx.resolver, "place_owner", None)
    unchanged: list[tuple[str, str]] = []
    for key, rec in seen.items():
        text = raw_text(rec)
        h = content_hash_of(rec, text)
        before = prior.get(key)
        if before is not None and before[1] == ctx.job_id:  # written by this job already (e.g. before a resume)
            first = re.search(r"#(\d+)", before[2] or "")
            ctx.rejections.append(_duplicate(rec, key, int(first.group(1)) if first else before[2]))
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
        elif given_place is not None and given_place(rec):
            counts["addressed"] += 1
            counts["placed"] += 1
        method = "given" if address_of is None and given_place is not None and given_place(rec) else None
        if owner_of is not None and (place is None or not (place.region_code or place.prefecture_code)):
            owner = owner_of(rec)
            place = places.settle(place, _owner_place(place_owner, owner) if owner else None, None)
            if place is None and owner is not None:
                place = places.abroad(owner.country)
        if method is None and (address_of is not None or owner_of is not None):
            method = places.method_of(place)
        if before is not None and before[0] == h:
            counts["unchanged"] += 1
            if method:
                unchanged.append((key, method))
            continue
        if method:
            count_method(counts, method)
        out.append(Prepared(key, rec, h, place, text))
    model = m.RIGHT_MODELS.get(record_type)
    if model is not None:
        count_unchanged_methods(ctx, model, unchanged)
    return out


def provenance(ctx: Any, rec: BaseRecord) -> dict[str, Any]:
    return {"source": ctx.source_name[:300], "source_format": ctx.source_format, "licence": ctx.licence,
            "imported_at": ctx.now, "import_job_id": ctx.job_id, "is_synthetic": bool(rec.is_synthetic)}


def _owner_place(place_owner: Callable[[str | None, str | None], Any] | None, party: Party) -> Any:
    return place_owner(party.name, party.country) if place_owner is not None and party.name else None


def count_method(counts: dict[str, int], method: str) -> None:
    """The job's records per place method (`import_job.place_methods`, via pipeline)."""
    key = "place:" + method
    counts[key] = counts.get(key, 0) + 1


def count_unchanged_methods(ctx: Any, model: type[m.Base], items: list[tuple[str, str]]) -> None:
    """Unchanged records count with the method they are stored with when that came after
    parsing (the owner method, at the end of an earlier job); otherwise as parsed."""
    if not items:
        return
    ask = [key for key, method in items if method == "none" or method in places.REFINABLE]
    stored = dict(rows_by_key(ctx, f"SELECT key, place_method FROM {model.__table__.name} WHERE key", [], ask)) \
        if ask else {}
    for key, method in items:
        count_method(ctx.counts, "owner" if stored.get(key) == "owner" else method)


def place_columns(place: Any, fallback_region: str | None = None) -> dict[str, Any]:
    if place is not None and (getattr(place, "region_code", None) or getattr(place, "prefecture_code", None)):
        return {"region_code": place.region_code, "prefecture_code": place.prefecture_code,
                "county_code": place.county_code, "place_method": (getattr(place, "method", None) or "gazetteer")[:20]}
    if fallback_region:
        return {"region_code": fallback_region, "place_method": "province_code"}
    if place is not None and getattr(place, "method", None) == "abroad":
        return {"place_method": "abroad"}
    return {}


_SOURCE_COLUMNS = ("record_type", "record_key", "source", "source_format", "locator", "licence", "content_hash",
                   "raw", "import_job_id", "imported_at", "is_synthetic")


def finish(ctx: Any, model: type[m.Base], record_type: str, prepared: list[Prepared],
           rows: list[dict[str, Any]] | list[list[Any]], columns: tuple[str, ...] | None = None) -> dict[str, int]:
    """Upsert main rows (dicts, or lists in `columns` order) and source records; count
    inserted/updated; return key → id."""
    if not prepared:
        return {}
    source, fmt, licence, job_id, now = ctx.source_name[:300], ctx.source_format, ctx.licence, ctx.job_id, ctx.now
    sources = [[record_type, p.key[:300], source, fmt, str(p.record.locator) if p.record.locator else None, licence,
                p.hash, p.raw_text, job_id, now, bool(p.record.is_synthetic)] for p in prepared]
    return store_rows(ctx, model, [p.key for p in prepared], rows, columns, sources)


def store_rows(ctx: Any, model: type[m.Base], keys: list[str], rows: list[dict[str, Any]] | list[list[Any]],
               columns: tuple[str, ...] | None, sources: list[list[Any]], converted: bool = False,
               sources_known_new: set[str] | None = None, fill_keys: set[str] | None = None,
               known_ids: dict[str, int] | None = None) -> dict[str, int]:
    """Upsert main rows and their source records (lists in `_SOURCE_COLUMNS` order); count
    inserted/updated; return key → id. With `columns`, rows whose key is not stored yet are
    inserted plainly (`_Upsert.insert_new`); so are the source records of `sources_known_new`.
    Rows of `fill_keys` only fill the stored row's empty columns. `known_ids`: the ids of the
    stored keys, when the caller has looked them up already."""
    ids = dict(known_ids) if known_ids is not None else ids_by_key(ctx, model, keys)
    existing = len(ids)
    if columns is None:
        upsert(ctx, model.__table__, rows, ["key"])  # type: ignore[arg-type]
    else:
        table = model.__table__
        stmt = _statement(ctx, table, columns, ("key",), True, False)  # type: ignore[arg-type]
        fresh = [row for key, row in zip(keys, rows) if key not in ids]
        if len(fresh) < len(rows):
            fill_keys = fill_keys or set()
            stmt.run(ctx.session, [row for key, row in zip(keys, rows) if key in ids and key not in fill_keys],
                     converted)
            if fill_keys:
                _statement(ctx, table, columns, ("key",), True, False, fill=True).run(  # type: ignore[arg-type]
                    ctx.session, [row for key, row in zip(keys, rows) if key in fill_keys], converted)
        stmt.insert_new(ctx.session, fresh, converted)
    new = [k for k in keys if k not in ids]
    if new:
        ids.update(ids_by_key(ctx, model, new))
    ctx.counts["inserted"] += len(new)
    ctx.counts["updated"] += existing
    ctx.existing_keys = set(keys).difference(new)
    stmt = _statement(ctx, m.SourceRecord.__table__, _SOURCE_COLUMNS, ("record_type", "record_key", "source"),
                      False, False)
    if sources_known_new:
        stmt.insert_new(ctx.session, [r for r in sources if r[1] in sources_known_new])
        sources = [r for r in sources if r[1] not in sources_known_new]
    stmt.run(ctx.session, sources)
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


@dataclasses.dataclass
class PrepareEnv:
    """What preparing rows needs besides the records, none of it a database session: a parse
    process builds one of its own (see `xjip.hub.parallel`)."""
    dialect: Any
    place: Callable[[str | None, Any], Any]
    source_name: str
    source_format: str
    licence: str | None
    job_id: int
    now: dt.datetime
    seen: Any = None  # pipeline.SeenKeys of the job's source
    entity_facts: bool = False  # work out owner-name facts here (a parse process: the writer is busier)
    # owner name, country → place by name or organisation list (places.OwnerPlacer.place)
    place_owner: Callable[[str | None, str | None], Any] | None = None


@dataclasses.dataclass
class PatentBatch:
    """A batch of patents made ready for the store without touching it: keys checked against
    the job's earlier records, raw text and content hash, places, and rows in column order with
    values converted for the dialect. `store_patents` adds what needs the database: unchanged
    records, owner entity ids, row ids. Plain tuples and lists, so it crosses a process
    boundary cheaply."""
    rejections: list[Rejection]
    # per record: (key, hash, raw text, locator text, (file, record, line, cell) and field of the
    # key for a duplicate rejection, synthetic, addressed, placed, applicant names, patent row,
    # party rows, event dicts, family dicts, text row or None)
    entries: list[tuple[Any, ...]]
    facts: dict[str, tuple[str, str, str]] = dataclasses.field(default_factory=dict)  # entities.entity_facts

    def __len__(self) -> int:
        return len(self.entries)


def env_of(ctx: Any, with_seen: bool = True) -> PrepareEnv:
    return PrepareEnv(ctx.session.get_bind().dialect, ctx.resolver.place, ctx.source_name, ctx.source_format,
                      ctx.licence, ctx.job_id, ctx.now, ctx.seen if with_seen else None,
                      place_owner=getattr(ctx.resolver, "place_owner", None))


@register("patent")
def write_patents(ctx: Any, records: list[BaseRecord]) -> list[int]:
    # keys met in earlier batches are checked by `store_patents`, wherever the batch was prepared
    return store_patents(ctx, prepare_patents(env_of(ctx, with_seen=False), records))


def check_keys(env: PrepareEnv, record_type: str, records: list[BaseRecord],
               rejections: list[Rejection]) -> dict[str, BaseRecord]:
    """key → record for the records of a batch whose key is present and met for the first time
    in the job's source; the others become rejections."""
    seen: dict[str, BaseRecord] = {}
    repeats: list[tuple[BaseRecord, str]] = []
    for rec in records:
        key = (rec.natural_key() or "").strip()
        if not key or key.endswith(":") or key in ("|",):
            rejections.append(Rejection(rec.locator, "missing_field", field="key", raw=rec.raw))
            continue
        if key in seen:
            repeats.append((rec, key))
            continue
        seen[key] = rec
    earlier = env.seen.first_of(record_type, list(seen)) if env.seen is not None else {}
    for key, first in earlier.items():
        rejections.append(_duplicate(seen.pop(key), key, first))
    for rec, key in repeats:
        first = earlier.get(key)
        if first is None:
            loc = seen[key].locator
            first = loc.record if loc else None
        rejections.append(_duplicate(rec, key, first))
    if env.seen is not None:
        env.seen.add(record_type, [(k, r.locator.record if r.locator else None) for k, r in seen.items()])
    return seen


def _patent_keys(records: list[BaseRecord], rejections: list[Rejection]) -> list[tuple[str, BaseRecord]]:
    """(key, record) for every patent of a batch that has a key, repeats included: rows about
    an application met before are merged into its record by `store_patents`, not refused."""
    out = []
    for rec in records:
        key = (rec.natural_key() or "").strip()
        if not key:
            rejections.append(Rejection(rec.locator, "missing_field", field="key", raw=rec.raw))
            continue
        out.append((key, rec))
    return out


def prepare_patents(env: PrepareEnv, records: list[BaseRecord]) -> PatentBatch:
    rejections: list[Rejection] = []
    keyed = _patent_keys(records, rejections)
    fields, get = _patent_fields()
    common = [env.source_name[:300], env.source_format, env.licence, env.now, env.job_id]
    place_of = env.place
    place_owner = env.place_owner
    rows, entries = [], []
    party_rows: list[list[Any]] = []
    text_rows: list[list[Any]] = []
    pub_rows: list[list[Any]] = []
    for key, r in keyed:
        text = raw_text(r)
        # the row's own publication names its source record when it is not the application's
        # first row (see `_merge_round`); then every publication, and the numbers shown
        own = r.pub_number or r.grant_number
        pubs = merge.publications_of(r)
        shown = merge.numbers_of(pubs) if pubs else None
        if shown is not None:
            for name, value in shown.items():
                setattr(r, name, value)
        compare = {"title": r.title, "app_date": merge.iso(r.app_date)}
        latest = merge.latest_date(pubs)
        names = [party.name for party in r.applicants]
        row = [key, *get(r)]
        for i, v in enumerate(row):
            if v.__class__ is list:
                row[i] = _jsonable(v) if v else None
            elif v == "":
                row[i] = None
        first_address = domestic_address(r.applicants[0]) if r.applicants else None
        place = place_of(first_address, r.app_date) if first_address else None
        placed = place is not None and bool(place.region_code or place.prefecture_code)
        # without an address: the first applicant's name, then the 国省代码 (xjip.hub.places)
        by_name = None if placed or not r.applicants else _owner_place(place_owner, r.applicants[0])
        settled = places.settle(place, by_name, r.province_code)
        if settled is None:  # placed nowhere in China: abroad when the applicant (or office) is foreign
            settled = places.abroad(r.applicants[0].country if r.applicants else None, r.country)
        method = places.method_of(settled)
        if method == "abroad":
            where = [None, None, None, "abroad"]
        elif settled is not None and method != "none":
            where = [settled.region_code, settled.prefecture_code, settled.county_code, method]
        else:
            where = [None, None, None, None]
        # the entity id column holds None until `store_patents` knows the owner's entity
        stated = r.stated_claims_count if r.first_claim_only or not r.claims else None
        row += [r.claims[0] if r.claims else None, stated or (None if r.first_claim_only else len(r.claims) or None),
                names[0] if names else None,
                None, *common, bool(r.is_synthetic), *where]
        rows.append(row)
        parties = []
        for seq, party in enumerate(r.applicants):
            if seq == 0:
                at = place if placed else by_name  # the first applicant's, resolved above
            else:
                address = domestic_address(party)
                at = place_of(address, r.app_date) if address else None
                if at is None or not (at.region_code or at.prefecture_code):
                    at = _owner_place(place_owner, party)
            if at is not None and (at.region_code or at.prefecture_code):
                party_where = [at.region_code, at.prefecture_code, at.county_code,
                               (getattr(at, "method", None) or "gazetteer")[:20]]
            else:
                party_where = [None, None, None, None]
            parties.append([None, party.role or "applicant", seq, party.name, party.address, party.country, None,
                            *party_where])
        party_rows.extend(parties)
        events = [{"patent_id": None, "event_key": _event_key(ev), "category": ev.category, "event_date": ev.date,
                   "code": ev.code, "description": ev.description, "details": _jsonable(ev.details) or {},
                   "source": env.source_name[:300]} for ev in r.events]
        family = [{"patent_id": None, "number": fm.number, "country": fm.country, "kind": fm.kind, "date": fm.date,
                   "granted": fm.granted} for fm in r.family]
        # a first claim alone is `patent.first_claim`; as text-row claims it would replace a
        # full text's stored claims (the upsert keeps stored values only against NULLs)
        claims = None if r.first_claim_only else r.claims or None
        text_row = [None, claims, r.description] if (claims or r.description) else None
        if text_row is not None:
            text_rows.append(text_row)
        publications = [[None, *p, env.source_name[:300]] for p in pubs]
        pub_rows.extend(publications)
        dup_field, dup_loc = _key_location(r)
        loc = r.locator
        entries.append((key, content_hash_of(r, text), text, str(loc) if loc else None,
                        (dup_loc.file, dup_loc.record, dup_loc.line, dup_loc.cell) if dup_loc else None, dup_field,
                        bool(r.is_synthetic), bool(first_address), placed, names, row, parties, events, family,
                        text_row, publications, compare, own, latest, method))
    statement_for(env.dialect, m.Patent.__table__, _PATENT_COLUMNS, ("key",), True, False).convert(rows)
    statement_for(env.dialect, m.PatentParty.__table__, _PARTY_COLUMNS, _PARTY_INDEX, False, False).convert(party_rows)
    statement_for(env.dialect, m.PatentText.__table__, _TEXT_COLUMNS, ("patent_id",), True, False).convert(text_rows)
    statement_for(env.dialect, m.PatentPublication.__table__, _PUB_COLUMNS, _PUB_INDEX, True, False).convert(pub_rows)
    facts = {}
    if env.entity_facts:
        from xjip.hub.entities import entity_facts

        facts = {n: entity_facts(n) for e in entries for n in e[9] if n}
    return PatentBatch(rejections, entries, facts)


def store_patents(ctx: Any, batch: PatentBatch) -> list[int]:
    """Rows of applications met for the first time in the job's source are upserted in bulk;
    the rows that follow for an application (its B after its A) are merged into its record."""
    ctx.rejections.extend(batch.rejections)
    firsts, repeats = _split_repeats(ctx, batch.entries)
    changed: list[int] = []
    if firsts:
        ids, again = _store_firsts(ctx, batch.facts, firsts)
        changed.extend(ids.values())
        repeats = again + repeats
    if repeats:
        changed.extend(_merge_repeats(ctx, batch.facts, repeats))
    return changed


def _split_repeats(ctx: Any, entries: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(rows whose application this job's source meets for the first time, rows that follow
    one met before: in this batch, an earlier one, or before a resume)."""
    earlier = ctx.seen.first_of("patent", list(dict.fromkeys(e[0] for e in entries))) if ctx.seen is not None \
        else {}
    firsts, repeats, met = [], [], {}
    for e in entries:
        if e[0] in earlier or e[0] in met:
            repeats.append(e)
        else:
            met[e[0]] = e[4][1] if e[4] else None
            firsts.append(e)
    if ctx.seen is not None and met:
        ctx.seen.add("patent", list(met.items()))
    return firsts, repeats


def _store_firsts(ctx: Any, facts: dict[str, Any], entries: list[tuple[Any, ...]]
                  ) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    """The bulk path: (key → id of the patents written, rows this job had written already,
    e.g. before a resume, which are merged as repeats)."""
    prior: dict[str, tuple[str, int | None, str | None]] = {
        key: (h, job_id, locator) for key, h, job_id, locator in rows_by_key(
            ctx, "SELECT record_key, content_hash, import_job_id, locator FROM source_record "
                 "WHERE record_type = ? AND source = ? AND record_key", ["patent", ctx.source_name[:300]],
            [e[0] for e in entries])}
    counts = ctx.counts
    kept, again = [], []
    unchanged: list[tuple[str, str]] = []
    for e in entries:
        before = prior.get(e[0])
        if before is not None and before[1] == ctx.job_id:  # written by this job already (e.g. before a resume)
            again.append(e)
            continue
        if e[7]:  # place figures count unchanged records too (see `prepare`)
            counts["addressed"] += 1
            if e[8]:
                counts["placed"] += 1
        if before is not None and before[0] == e[1]:
            counts["unchanged"] += 1
            unchanged.append((e[0], e[19]))
            continue
        count_method(counts, e[19])
        kept.append(e)
    count_unchanged_methods(ctx, m.Patent, unchanged)
    if not kept:
        return {}, again
    entity_ids = ctx.resolver.entities(ctx.session, {n for e in kept for n in e[9]}, facts)
    source, fmt, licence, job_id, now = ctx.source_name[:300], ctx.source_format, ctx.licence, ctx.job_id, ctx.now
    rows, sources = [], []
    for key, h, text, where, _dup, _field, synthetic, _a, _p, names, row, *_children in kept:
        if names:
            row[_PATENT_ENTITY] = entity_ids.get(names[0])
        rows.append(row)
        sources.append(["patent", key[:300], source, fmt, where, licence, h, text, job_id, now, synthetic])
    same = _same_patents(ctx, kept)
    for row in rows:
        row[0] = same.get(row[0], row[0])
    # Patents stored before: a row of an older publication than theirs only fills what is
    # empty, and another source that disagrees about them leaves a recorded conflict.
    stored = _stored_patents(ctx, [row[0] for row in rows])
    latest = _latest_dates(ctx, [v[0] for v in stored.values()])
    fill: set[str] = set()
    conflicts: list[dict[str, Any]] = []
    for e, row in zip(kept, rows):
        st = stored.get(row[0])
        if st is None:
            continue
        wins = merge.incoming_wins(latest.get(st[0]), e[18], repeat=False)
        if not wins:
            fill.add(row[0])
        if st[3] != source:
            conflicts += _conflicts(ctx, st, e, wins, source, None)
    ids = store_rows(ctx, m.Patent, [row[0] for row in rows], rows, _PATENT_COLUMNS, sources, converted=True,
                     sources_known_new={e[0][:300] for e in kept if e[0] not in prior}, fill_keys=fill,
                     known_ids={k: v[0] for k, v in stored.items()})
    if same:  # children and counts follow the record's own key
        ids_of = {e[0]: ids[same.get(e[0], e[0])] for e in kept}
        ctx.existing_keys = {e[0] for e in kept if same.get(e[0], e[0]) in ctx.existing_keys}
        fill = {e[0] for e in kept if same.get(e[0], e[0]) in fill}
    else:
        ids_of = ids
    existed = {ids_of[k] for k in ctx.existing_keys}
    _write_patent_children(ctx, kept, ids_of, entity_ids, fill)
    _write_publications(ctx, kept, ids_of, existed)
    if existed:
        _recompute_numbers(ctx, sorted(existed))
    _write_conflicts(ctx, conflicts)
    return ids, again


def _stored_patents(ctx: Any, keys: list[str]) -> dict[str, tuple[Any, ...]]:
    """key → (id, title, app_date, source, import_job_id) of the stored patents among `keys`."""
    return {row[0]: row[1:] for row in rows_by_key(
        ctx, "SELECT key, id, title, app_date, source, import_job_id FROM patent WHERE key", [], keys)}


def _latest_dates(ctx: Any, patent_ids: list[int]) -> dict[int, str]:
    """patent id → ISO date of its latest stored publication."""
    out: dict[int, str] = {}
    for pid, date in rows_by_key(ctx, "SELECT patent_id, date FROM patent_publication "
                                      "WHERE date IS NOT NULL AND patent_id", [], patent_ids):
        text = merge.iso(date)
        if text and (pid not in out or text > out[pid]):
            out[pid] = text
    return out


def _conflicts(ctx: Any, stored: tuple[Any, ...], e: tuple[Any, ...], wins: bool, own: str,
               stored_locator: str | None) -> list[dict[str, Any]]:
    """Conflict rows for what a row (entry `e`, stored under source name `own`) and the stored
    record disagree on; the value the record keeps is the winner's (`merge.incoming_wins`)."""
    out = []
    values = {"title": stored[1], "app_date": merge.iso(stored[2])}
    for field in merge.disagreements(values, e[16]):
        theirs, mine = values[field], e[16][field]
        kept, kept_source = (mine, own) if wins else (theirs, stored[3])
        other, other_source, other_locator = (theirs, stored[3], stored_locator) if wins else (mine, own, e[3])
        out.append({"patent_id": stored[0], "field": field, "kept": kept, "kept_source": kept_source,
                    "other": other, "other_source": (other_source or "")[:300], "other_locator": other_locator,
                    "import_job_id": ctx.job_id, "found_at": ctx.now})
    return out


def _write_conflicts(ctx: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        upsert(ctx, m.PatentConflict.__table__, _dedupe(rows, ("patent_id", "field", "other_source")),
               ["patent_id", "field", "other_source"], coalesce=False)


def _write_publications(ctx: Any, kept: list[tuple[Any, ...]], ids: dict[str, int], existed: set[int]) -> None:
    """Every publication of the rows; a patent new in this batch has none stored yet: plain inserts."""
    fresh, stored = [], []
    seen: set[tuple[int, str]] = set()
    for e in kept:
        pid = ids[e[0]]
        for p in e[15]:
            if (pid, p[1]) in seen:
                continue
            seen.add((pid, p[1]))
            p[0] = pid
            (stored if pid in existed else fresh).append(p)
    stmt = _statement(ctx, m.PatentPublication.__table__, _PUB_COLUMNS, _PUB_INDEX, True, False)
    stmt.insert_new(ctx.session, fresh, converted=True)
    stmt.run(ctx.session, stored, converted=True)


def _recompute_numbers(ctx: Any, patent_ids: list[int]) -> None:
    """The first publication and the grant of patents whose publications came from several
    rows or sources, from all their publications."""
    pubs: dict[int, list[list[Any]]] = {}
    for pid, number, kind, date, granted in rows_by_key(
            ctx, "SELECT patent_id, number, kind, date, is_grant FROM patent_publication WHERE patent_id", [],
            patent_ids):
        pubs.setdefault(pid, []).append([number, None, kind, merge.iso(date), bool(granted)])
    updates = []
    for pid, items in pubs.items():
        shown = merge.numbers_of(items)
        if shown is not None:
            updates.append({"id": pid, **shown})
    if updates:
        convert = _converter(m.Patent.__table__.c.pub_date.type, ctx.session.get_bind().dialect)
        for u in updates:
            for k in ("pub_date", "grant_date"):
                if u[k] is not None:
                    value = dt.date.fromisoformat(u[k])
                    u[k] = convert(value) if convert is not None else value
        ctx.session.execute(sql_text(
            "UPDATE patent SET pub_number = :pub_number, pub_date = :pub_date, grant_number = :grant_number, "
            "grant_date = :grant_date, kind_code = :kind_code WHERE id = :id"), updates)


def _merge_repeats(ctx: Any, facts: dict[str, Any], entries: list[tuple[Any, ...]]) -> list[int]:
    """Rows about applications whose record exists, in rounds of distinct applications (three
    rows of one application take three rounds: each merges into what the previous left)."""
    changed: list[int] = []
    pending = entries
    while pending:
        this_round, later, keys = [], [], set()
        for e in pending:
            (later if e[0] in keys else this_round).append(e)
            keys.add(e[0])
        changed.extend(_merge_round(ctx, facts, this_round))
        pending = later
    return changed


def _record_number(locator_text: str | None) -> int | str | None:
    found = re.search(r"#(\d+)", locator_text or "")
    return int(found.group(1)) if found else locator_text


def _merge_round(ctx: Any, facts: dict[str, Any], entries: list[tuple[Any, ...]]) -> list[int]:
    """Merge rows (one per application) into the stored records of their applications. Each
    row keeps its own source record, named after the file and the row's publication
    ('LYFT.csv#US20200327522A1'), so the record page lists it and a re-import finds it
    unchanged. A row identical to one the source gave already is a duplicate, refused."""
    source = ctx.source_name[:300]
    stored = _stored_patents(ctx, [e[0] for e in entries])
    changed: list[int] = []
    orphans = [e for e in entries if e[0] not in stored]  # its first row is stored under another key
    if orphans:
        ids, again = _store_firsts(ctx, facts, orphans)
        changed.extend(ids.values())
        for e in again:
            ctx.rejections.append(Rejection(Locator(*e[4]) if e[4] else None, "duplicate_key", field=e[5],
                                            params={"key": e[0], "first": "-"}, raw=e[2]))
        entries = [e for e in entries if e[0] in stored]
    if not entries:
        return changed
    theirs: dict[str, list[tuple[Any, ...]]] = {}
    for key, src, h, job_id, locator in rows_by_key(
            ctx, "SELECT record_key, source, content_hash, import_job_id, locator FROM source_record "
                 "WHERE record_type = 'patent' AND record_key", [], [e[0] for e in entries]):
        if src == source or src.startswith(source + "#"):
            theirs.setdefault(key, []).append((src, h, job_id, locator))
    latest = _latest_dates(ctx, [stored[e[0]][0] for e in entries])
    counts = ctx.counts
    kept, fill, conflicts, sources = [], set(), [], []
    unchanged: list[tuple[str, str]] = []
    fmt, licence, job_id, now = ctx.source_format, ctx.licence, ctx.job_id, ctx.now
    for e in entries:
        key, st, ours = e[0], stored[e[0]], theirs.get(e[0], [])
        record = e[4][1] if e[4] else None
        name = f"{source}#{e[17] or f'r{record}'}"[:300]
        twin = next((r for r in ours if r[1] == e[1] and r[0] != name), None)
        if twin is not None:  # the same row again: a duplicate, as before there was merging
            ctx.rejections.append(Rejection(Locator(*e[4]) if e[4] else None, "duplicate_key", field=e[5],
                                            params={"key": key, "first": _record_number(twin[3])}, raw=e[2]))
            continue
        own = next((r for r in ours if r[0] == name), None)
        if own is not None and own[2] == job_id:  # another row of this file about the same publication
            name = f"{source}#r{record}"[:300]
            own = next((r for r in ours if r[0] == name), None)
        if e[7]:
            counts["addressed"] += 1
            if e[8]:
                counts["placed"] += 1
        if own is not None and own[1] == e[1]:
            counts["unchanged"] += 1
            unchanged.append((key, e[19]))
            continue
        count_method(counts, e[19])
        wins = merge.incoming_wins(latest.get(st[0]), e[18], repeat=True)
        if not wins:
            fill.add(key)
        at = next((r[3] for r in ours if r[0] == st[3]), None)
        conflicts += _conflicts(ctx, st, e, wins, name, at)
        kept.append(e)
        sources.append(["patent", key[:300], name, fmt, e[3], licence, e[1], e[2], job_id, now, e[6]])
        counts["merged"] = counts.get("merged", 0) + 1
    count_unchanged_methods(ctx, m.Patent, unchanged)
    if not kept:
        return changed
    entity_ids = ctx.resolver.entities(ctx.session, {n for e in kept for n in e[9]}, facts)
    wins_rows, fill_rows = [], []
    for e in kept:
        row = e[10]
        if e[9]:
            row[_PATENT_ENTITY] = entity_ids.get(e[9][0])
        (fill_rows if e[0] in fill else wins_rows).append(row)
    table = m.Patent.__table__
    _statement(ctx, table, _PATENT_COLUMNS, ("key",), True, False).run(ctx.session, wins_rows, True)
    _statement(ctx, table, _PATENT_COLUMNS, ("key",), True, False, fill=True).run(ctx.session, fill_rows, True)
    ids = {e[0]: stored[e[0]][0] for e in kept}
    ctx.existing_keys = set(ids)
    _write_patent_children(ctx, kept, ids, entity_ids, fill)
    _write_publications(ctx, kept, ids, set(ids.values()))
    _recompute_numbers(ctx, sorted(set(ids.values())))
    _write_conflicts(ctx, conflicts)
    _statement(ctx, m.SourceRecord.__table__, _SOURCE_COLUMNS, ("record_type", "record_key", "source"),
               False, False).run(ctx.session, sources)
    changed.extend(ids.values())
    return changed


def _same_patents(ctx: Any, kept: list[tuple[Any, ...]]) -> dict[str, str]:
    """One patent met once by its application number and once by its publication number alone
    (a CNKI row, an early publication list) is stored once, under the application number:
    - a stored patent keyed by the publication number of a record that has an application number
      takes that application number as its key (its row id, children and history stay);
    - a record without an application number goes to the stored patent with its publication or
      grant number: returned as {record key: stored patent key}.
    Left as they are when both sides are in the same batch."""
    keys = {e[0] for e in kept}
    by_pub = {e[10][_PUB]: e[0] for e in kept if e[10][_APP] and e[10][_PUB] and e[10][_PUB] != e[0]}
    if by_pub:
        stored = [k for (k,) in rows_by_key(ctx, "SELECT key FROM patent WHERE key", [], list(by_pub)) if k not in keys]
        for old in stored:
            ctx.session.execute(sql_text("UPDATE patent SET key = :new WHERE key = :old AND NOT EXISTS "
                                     "(SELECT 1 FROM patent AS other WHERE other.key = :new)"),
                                {"new": by_pub[old], "old": old})
    lone = [e[0] for e in kept if not e[10][_APP]]
    if not lone:
        return {}
    _ensure_number_indexes(ctx.session)
    same: dict[str, str] = {}
    query = select(m.Patent.key, m.Patent.pub_number, m.Patent.grant_number).where(
        or_(m.Patent.pub_number.in_(lone), m.Patent.grant_number.in_(lone)))
    wanted = set(lone)
    for key, pub, grant in ctx.session.execute(query):
        if key in keys:
            continue
        for number in (pub, grant):
            if number in wanted:
                same.setdefault(number, key)
    return same


_NUMBER_INDEXES = ("ix_patent_pub_number", "ix_patent_grant_number")


def _ensure_number_indexes(session: Any) -> None:
    """The publication and grant number indexes, which a bulk load drops (pipeline.BulkIndexes):
    put back, in the batch's transaction, before patents are looked up by these numbers."""
    conn = session.connection()
    for index in m.Patent.__table__.indexes:
        if index.name in _NUMBER_INDEXES:
            index.create(conn, checkfirst=True)


@lru_cache(maxsize=None)
def _patent_fields() -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]:
    from operator import attrgetter

    from xjip.hub.records import PatentRecord

    fields = _row_fields(PatentRecord, m.Patent)
    return fields, attrgetter(*fields)


_PATENT_COLUMNS = ("key", *_patent_fields()[0], "first_claim", "claims_count", "first_applicant",
                   "first_applicant_entity_id", "source", "source_format", "licence", "imported_at", "import_job_id",
                   "is_synthetic", "region_code", "prefecture_code", "county_code", "place_method")
_PATENT_ENTITY = _PATENT_COLUMNS.index("first_applicant_entity_id")
_APP, _PUB, _GRANT = (_PATENT_COLUMNS.index(c) for c in ("app_number", "pub_number", "grant_number"))
_PARTY_COLUMNS = ("patent_id", "role", "seq", "name", "address", "country", "entity_id", "region_code",
                  "prefecture_code", "county_code", "place_method")
_PARTY_INDEX = ("patent_id", "role", "seq")
_TEXT_COLUMNS = ("patent_id", "claims", "description")
_PUB_COLUMNS = ("patent_id", "number", "country", "kind", "date", "is_grant", "source")
_PUB_INDEX = ("patent_id", "number")


def _write_patent_children(ctx: Any, kept: list[tuple[Any, ...]], ids: dict[str, int],
                           entity_ids: dict[str, int], fill: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Parties, events, family and text of the rows. A row that only fills (`fill`: an older
    publication than the record's) leaves the stored parties and text alone but for gaps."""
    # Only patents stored before this batch can have party rows to replace.
    existing = getattr(ctx, "existing_keys", None)
    with_parties = [ids[e[0]] for e in kept if e[9] and e[0] not in fill and (existing is None or e[0] in existing)]
    for chunk in _chunks(with_parties, 2000):
        ctx.session.execute(delete(m.PatentParty).where(m.PatentParty.patent_id.in_(chunk)))
    parties, events, family, texts = [], [], [], []
    filled_texts = []
    for e in kept:
        pid, names = ids[e[0]], e[9]
        for party in (() if e[0] in fill else e[11]):
            party[0] = pid
            party[6] = entity_ids.get(names[party[2]])
            parties.append(party)
        for ev in e[12]:
            ev["patent_id"] = pid
            events.append(ev)
        for fm in e[13]:
            fm["patent_id"] = pid
            family.append(fm)
        if e[14] is not None:
            e[14][0] = pid
            (filled_texts if e[0] in fill else texts).append(e[14])
    # Patents new in this batch have no child rows yet: theirs are inserted plainly.
    old_ids = {ids[k] for k in existing} if existing is not None else None

    def split(rows: list[list[Any]]) -> tuple[list[list[Any]], list[list[Any]]]:
        if old_ids is None:
            return [], rows
        return [r for r in rows if r[0] not in old_ids], [r for r in rows if r[0] in old_ids]

    stmt = _statement(ctx, m.PatentParty.__table__, _PARTY_COLUMNS, _PARTY_INDEX, False, False)
    fresh, stored = split(parties)
    stmt.insert_new(ctx.session, fresh, converted=True)
    stmt.run(ctx.session, stored, converted=True)
    upsert(ctx, m.PatentEvent.__table__, _dedupe(events, ("patent_id", "event_key")), ["patent_id", "event_key"],
           nothing=True)
    upsert(ctx, m.PatentFamilyMember.__table__, _dedupe(family, ("patent_id", "number")), ["patent_id", "number"])
    stmt = _statement(ctx, m.PatentText.__table__, _TEXT_COLUMNS, ("patent_id",), True, False)
    fresh, stored = split(texts)
    stmt.insert_new(ctx.session, fresh, converted=True)
    stmt.run(ctx.session, stored, converted=True)
    _statement(ctx, m.PatentText.__table__, _TEXT_COLUMNS, ("patent_id",), True, False, fill=True).run(
        ctx.session, filled_texts, converted=True)


def _dedupe(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        out[tuple(row[k] for k in key)] = row
    return list(out.values())


# --- the other rights ------------------------------------------------------------------

def _owner_writer(record_type: str, model: type[m.Base], owner: Callable[[Any], tuple[str | None, str | None]],
                  entity_column: str | None, date_of: Callable[[Any], Any] = lambda r: None,
                  extra: Callable[[Any], dict[str, Any]] = lambda r: {},
                  party: Callable[[Any], Party | None] | None = None) -> Writer:
    """Rights with one owner whose address places them (trademarks, copyrights, pledges, …);
    without an address, the owner's name may (xjip.hub.places). `party` gives the owner with
    its country (a foreign owner is not placed by name)."""
    if party is None and entity_column:
        def party(r: Any) -> Party | None:
            name = owner(r)[0]
            return Party(name) if name else None

    def write(ctx: Any, records: list[BaseRecord]) -> list[int]:
        prepared = prepare(ctx, record_type, records, lambda r: (owner(r)[1], date_of(r)), owner_of=party)
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
                         "events": _none_if_empty(_jsonable(r.events))}, lambda r: _first(r.owners))
_owner_writer("copyright", m.Copyright, lambda r: (_party_name(r.owners), domestic_address(_first(r.owners))),
              "owner_entity_id", lambda r: r.reg_date,
              lambda r: {"owner_name": _party_name(r.owners), "owner_address": _party_address(r.owners)},
              lambda r: _first(r.owners))
_owner_writer("plant_variety", m.PlantVariety,
              lambda r: (_party_name(r.applicants), domestic_address(_first(r.applicants))),
              "applicant_entity_id", lambda r: r.app_date,
              lambda r: {"applicant": _party_name(r.applicants), "applicant_address": _party_address(r.applicants)},
              lambda r: _first(r.applicants))
_owner_writer("transaction", m.RightTransaction, lambda r: (r.to_party, r.to_address), "to_entity_id",
              lambda r: r.date)
_owner_writer("pledge", m.Pledge, lambda r: (r.pledgor, r.pledgor_address), "pledgor_entity_id", lambda r: r.reg_date)
_owner_writer("case", m.EnforcementCase, lambda r: (None, r.address or r.authority), None, lambda r: r.accepted_date)
_owner_writer("institution", m.Institution, lambda r: (r.name, r.address), "entity_id",
              lambda r: r.established_date)


@register("gi")
def write_gis(ctx: Any, records: list[BaseRecord]) -> list[int]:
    prepared = prepare(ctx, "gi", records, None, given_place=lambda r: any(r.region_codes))
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
    prepared = prepare(ctx, "gi_mark_user", records, lambda r: (r.address, r.approved_date),
                       owner_of=lambda r: Party(r.user_name) if r.user_name else None)
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
