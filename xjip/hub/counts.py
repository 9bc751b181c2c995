"""Kept counts of the rights (`right_count`): what the overview shows, without recounting a
million rows per request.

Each right table carries database triggers (created by migration 0010, SQL below) that add a
row's contribution to `right_count` when it is inserted, and take it away when it is deleted or
its counted columns change. They run inside the writing statement's own transaction, whatever
wrote (the import pipeline, the owner method's place updates, a hand edit in SQL), so the kept
counts can never disagree with the committed rows. Triggers rather than Python bookkeeping in
the writers: the write path has many writers (COPY, INSERT … ON CONFLICT, UPDATE by key), and a
count kept beside only some of them would drift.

- SQLite: row triggers (one UPSERT per written row; SQLite has no statement triggers).
- PostgreSQL: statement triggers over the transition tables (`REFERENCING NEW TABLE`): one
  grouped UPSERT per statement, so a COPY of 20,000 rows costs one small aggregate. Rows are
  upserted in key order so two writers lock counter rows in the same order (no deadlock).

A row of `right_count` is one combination of the dimensions the overview groups by: record type,
real or synthetic, year (0 = no date), status ('' = none), place bucket (`bucket_sql`), and
whether the title and the party are missing. `check` compares the kept counts with a full
recount; `rebuild` replaces them by one (`xjip db check-counts [--repair]`).

GI per-prefecture figures are not kept here: a GI counts in every prefecture of its protected
area (rows of `gi_area`), and the GI register is small (Xinjiang has about a hundred), so the
overview counts those live.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

TABLE = "right_count"
DIMS = ("record_type", "is_synthetic", "year", "status", "bucket", "no_title", "no_party")

# Place buckets besides a prefecture or XPCC city code.
XINJIANG = "xinjiang"  # placed in Xinjiang (650000), no prefecture known
OUTSIDE = "other"  # placed in another province of China
ABROAD = "abroad"  # not placed in China, and the owner is foreign (places.ABROAD)
UNRESOLVED = "none"  # truly not placed
XPCC_NODE = "659000"


@dataclass(frozen=True)
class Counted:
    record_type: str
    table: str
    date: str
    title: str
    party: str | None
    status: str | None
    province: bool  # the patent table's 国省代码 column


def counted() -> list[Counted]:
    from xjip.hub.queries import TYPES

    return [Counted(name, spec.model.__tablename__, spec.date, spec.title, spec.party, spec.status,
                    name == "patent") for name, spec in TYPES.items()]


def bucket_sql(c: Counted, p: str) -> str:
    """The place bucket of a row, `p` being the column prefix (`NEW.`, `t.`). The list filters
    (queries._place_condition) use this same expression, so a list's total is the overview's."""
    province = (f" WHEN {p}province_code IS NOT NULL AND {p}province_code <> '65' THEN '{OUTSIDE}'"
                f" WHEN {p}province_code = '65' THEN '{XINJIANG}'") if c.province else ""
    return (f"(CASE WHEN {p}prefecture_code = '{XPCC_NODE}' THEN COALESCE({p}county_code, '{XPCC_NODE}')"
            f" WHEN substr({p}prefecture_code, 1, 2) = '65' THEN {p}prefecture_code"
            f" WHEN {p}prefecture_code IS NOT NULL THEN '{OUTSIDE}'"
            f" WHEN substr({p}region_code, 1, 2) = '65' THEN '{XINJIANG}'"
            f" WHEN {p}region_code IS NOT NULL THEN '{OUTSIDE}'{province}"
            f" WHEN {p}place_method = '{ABROAD}' THEN '{ABROAD}'"
            f" ELSE '{UNRESOLVED}' END)")


def _missing(column: str | None, p: str) -> str:
    if column is None:
        return "0"
    return f"(CASE WHEN {p}{column} IS NULL OR {p}{column} = '' THEN 1 ELSE 0 END)"


def dims_sql(c: Counted, p: str, dialect: str) -> list[str]:
    if dialect == "postgresql":
        year = f"COALESCE(CAST(EXTRACT(YEAR FROM {p}{c.date}) AS INTEGER), 0)"
        synthetic = f"COALESCE({p}is_synthetic, false)"
    else:
        year = f"COALESCE(CAST(strftime('%Y', {p}{c.date}) AS INTEGER), 0)"
        synthetic = f"COALESCE({p}is_synthetic, 0)"
    status = f"COALESCE({p}{c.status}, '')" if c.status else "''"
    return [f"'{c.record_type}'", synthetic, year, status, bucket_sql(c, p), _missing(c.title, p),
            _missing(c.party, p)]


def _watched(c: Counted) -> list[str]:
    cols = ["is_synthetic", c.date, c.title, "prefecture_code", "county_code", "region_code", "place_method"]
    cols += [x for x in (c.status, c.party, "province_code" if c.province else None) if x]
    return list(dict.fromkeys(cols))


_COLS = ", ".join(DIMS)
_UPSERT = f"ON CONFLICT ({_COLS}) DO UPDATE SET n = {TABLE}.n + excluded.n"


def trigger_ddl(dialect: str) -> list[str]:
    """CREATE statements of the counting triggers of every right table."""
    out = []
    for c in counted():
        t = c.table
        if dialect == "postgresql":
            def grouped(source: str, c: Counted = c) -> str:
                return f"SELECT {', '.join(dims_sql(c, 'r.', dialect))}, d FROM {source} r"
            bodies = {
                "ins": (f"SELECT {_COLS}, count(*) AS n FROM ({grouped('new_rows').replace(', d FROM', ', 1 AS d FROM')})"
                        f" AS x({_COLS}, d) GROUP BY {_COLS}", "INSERT", "NEW TABLE AS new_rows"),
                "del": (f"SELECT {_COLS}, -count(*) AS n FROM ({grouped('old_rows').replace(', d FROM', ', 1 AS d FROM')})"
                        f" AS x({_COLS}, d) GROUP BY {_COLS}", "DELETE", "OLD TABLE AS old_rows"),
                "upd": (f"SELECT {_COLS}, sum(d) AS n FROM ({grouped('old_rows').replace(', d FROM', ', -1 AS d FROM')}"
                        f" UNION ALL {grouped('new_rows').replace(', d FROM', ', 1 AS d FROM')})"
                        f" AS x({_COLS}, d) GROUP BY {_COLS} HAVING sum(d) <> 0", "UPDATE",
                        "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            }
            for suffix, (select, event, referencing) in bodies.items():
                fn = f"xjip_count_{t}_{suffix}"
                out.append(f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                           f"INSERT INTO {TABLE} ({_COLS}, n) SELECT * FROM ({select}) AS g ORDER BY {_COLS} "
                           f"{_UPSERT}; RETURN NULL; END $$")
                out.append(f"CREATE TRIGGER trg_count_{t}_{suffix} AFTER {event} ON {t} REFERENCING {referencing} "
                           f"FOR EACH STATEMENT EXECUTE FUNCTION {fn}()")
        else:
            def upsert(p: str, d: int, c: Counted = c) -> str:
                return (f"INSERT INTO {TABLE} ({_COLS}, n) VALUES ({', '.join(dims_sql(c, p, dialect))}, {d}) "
                        f"{_UPSERT};")
            changed = " OR ".join(f"OLD.{x} IS NOT NEW.{x}" for x in _watched(c))
            out.append(f"CREATE TRIGGER trg_count_{t}_ins AFTER INSERT ON {t} BEGIN {upsert('NEW.', 1)} END")
            out.append(f"CREATE TRIGGER trg_count_{t}_del AFTER DELETE ON {t} BEGIN {upsert('OLD.', -1)} END")
            out.append(f"CREATE TRIGGER trg_count_{t}_upd AFTER UPDATE ON {t} WHEN {changed} "
                       f"BEGIN {upsert('OLD.', -1)} {upsert('NEW.', 1)} END")
    return out


def drop_ddl(dialect: str) -> list[str]:
    out = []
    for c in counted():
        for suffix in ("ins", "del", "upd"):
            out.append(f"DROP TRIGGER IF EXISTS trg_count_{c.table}_{suffix}"
                       + (f" ON {c.table}" if dialect == "postgresql" else ""))
            if dialect == "postgresql":
                out.append(f"DROP FUNCTION IF EXISTS xjip_count_{c.table}_{suffix}()")
    return out


def _key(row: Any) -> tuple[Any, ...]:
    rt, synthetic, year, status, bucket, no_title, no_party = row[:7]
    return rt, bool(synthetic), int(year), status, bucket, int(no_title), int(no_party)


def _dialect(session: Session | Any) -> str:
    bind = session.get_bind() if isinstance(session, Session) else session
    return bind.dialect.name


def recount(session: Session) -> dict[tuple[Any, ...], int]:
    """The counts from the right tables themselves (a full scan of each)."""
    dialect = _dialect(session)
    out: dict[tuple[Any, ...], int] = {}
    for c in counted():
        dims = dims_sql(c, "t.", dialect)
        sql = f"SELECT {', '.join(dims)}, count(*) FROM {c.table} t GROUP BY 2, 3, 4, 5, 6, 7"
        for row in session.execute(text(sql)):
            out[_key(row)] = out.get(_key(row), 0) + int(row[7])
    return out


def kept(session: Session) -> dict[tuple[Any, ...], int]:
    rows = session.execute(text(f"SELECT {_COLS}, n FROM {TABLE} WHERE n <> 0"))
    return {_key(r): int(r[7]) for r in rows}


def check(session: Session) -> dict[str, Any]:
    """Kept counts against a full recount: {'ok', 'kept', 'recounted', 'differences': [...]}."""
    have, truth = kept(session), recount(session)
    diffs = [{"key": dict(zip(DIMS, k)), "kept": have.get(k, 0), "recounted": truth.get(k, 0)}
             for k in sorted(set(have) | set(truth), key=str) if have.get(k, 0) != truth.get(k, 0)]
    return {"ok": not diffs, "kept": sum(have.values()), "recounted": sum(truth.values()), "groups": len(truth),
            "differences": diffs[:100], "different_groups": len(diffs)}


def rebuild(session: Session) -> int:
    """Replace the kept counts by a full recount, in the caller's transaction. Writers are held
    off meanwhile (PostgreSQL: SHARE locks on the right tables; SQLite: the transaction holds the
    write lock from its BEGIN IMMEDIATE), so no row slips between the recount and the insert."""
    if _dialect(session) == "postgresql":
        session.execute(text(f"LOCK TABLE {', '.join(c.table for c in counted())} IN SHARE MODE"))
    truth = recount(session)
    session.execute(text(f"DELETE FROM {TABLE}"))
    if truth:
        session.execute(text(f"INSERT INTO {TABLE} ({_COLS}, n) VALUES "
                             f"(:record_type, :is_synthetic, :year, :status, :bucket, :no_title, :no_party, :n)"),
                        [dict(zip((*DIMS, "n"), (*k, n))) for k, n in truth.items()])
    return len(truth)


def install(conn: Any) -> None:
    """Create the triggers (used by the migration; `conn` is a SQLAlchemy Connection)."""
    for sql in trigger_ddl(conn.dialect.name):
        conn.exec_driver_sql(sql)


def uninstall(conn: Any) -> None:
    for sql in drop_ddl(conn.dialect.name):
        conn.exec_driver_sql(sql)
