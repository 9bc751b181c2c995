"""Owner names → one entity behind many spellings.

`name_key(name)` is the matching key; `display_name(name)` the cleaned form shown to users;
`classify(name)` a coarse kind. The DB functions keep `entity` / `entity_alias` in step:
`resolve_many` (bulk, race-safe), `merge` and `split` (both audited). They never touch the
right tables: they return what moved and the caller re-points its rows.

What counts as the same owner (the key):
- width (NFKC), script (OpenCC t2s), case, whitespace, punctuation and brackets do not matter:
  新疆天业（集团）有限公司 = 新疆天业(集团)有限公司 = 新疆天业集团有限公司;
- the legal form at the end does not matter: 股份有限公司 / 有限责任公司 / 有限公司 / 股份公司 /
  公司 and Co., Ltd. / Co.,Ltd / Company Limited / Corp. / Inc. / LLC / GmbH / AG … are dropped.
  新疆金风科技股份有限公司 and 新疆金风科技有限公司 are one key: in patent data this is the same
  company before and after conversion to a joint-stock company (a company keeps its 字号 when
  it converts, and the registry does not give the same 行政区划+字号+行业 to two companies);
- 集团 is kept: X集团有限公司 (the group parent) and X有限公司 / X股份有限公司 (an operating or
  listed subsidiary) are different legal persons with different patents;
- 分公司 / 分厂 / 分院 stay (a branch is not its head office), as do a leading region
  (新疆金风科技 ≠ 金风科技: both exist as registered names);
- a leading postcode or street address glued before the name (830011新疆乌鲁木齐市北京南路40号
  中国科学院新疆理化技术研究所) is cut off; a region that is part of the legal name is not.
Anything finer (two 字号 for one group) is a manual `merge`.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any, Iterable, Sequence

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xjip.hub.models import AuditEvent, Entity, EntityAlias, is_row_id, utcnow
from xjip.i18n import both

KINDS = ("company", "university", "institute", "government", "hospital", "individual", "other")
CHUNK = 2000

_CJK = re.compile(r"[\u3400-\u9fff]")
_BRACKETS = re.compile(r"[()\[\]{}<>【】《》〔〕「」『』]")
_NOT_WORD = re.compile(r"[^\w\u3400-\u9fff]+")
_COUNTRY_TAIL = re.compile(r"\s*\(\s*[A-Za-z]{2}\s*\)\s*$")
_POSTCODE_HEAD = re.compile(r"^\(?\d{6}\)?[\s,，:：]*")
# A house number (40号, 附1号, 3号楼, 1201室) ends a street address glued before the name.
_HOUSE = re.compile(r"\d+\s*(?:号楼|号院|号|室|栋|幢|单元|层)")
_ADDRESS_MARK = re.compile(r"[省市区县州镇乡村路街道]")
_ADMIN_TAIL = re.compile(r"[省市区县州镇乡路街号]$")

_ZH_FORMS = ("股份有限公司", "有限责任公司", "责任有限公司", "有限公司", "股份公司", "公司", "株式会社")
_EN_FORMS = [
    ("ltd", "by", "share"), ("by", "share"),  # machine translations of 股份有限公司
    ("company", "limited"), ("co", "limited"), ("co", "ltd"), ("company", "ltd"), ("pty", "ltd"),
    ("pte", "ltd"), ("kabushiki", "kaisha"), ("l", "l", "c"), ("corporation",), ("corp",), ("incorporated",),
    ("inc",), ("limited",), ("ltd",), ("llc",), ("gmbh",), ("ag",), ("plc",), ("sa",), ("s", "a"), ("nv",),
    ("bv",), ("kk",), ("srl",), ("spa",), ("co",), ("company",),
]


class EntityError(Exception):
    """A merge/split that cannot be done; `code` is `reference.entity.<code>`."""

    def __init__(self, code: str, **params: Any):
        self.code, self.params = code, params
        zh, en = both(f"reference.entity.{code}", **params)
        super().__init__(f"{zh} / {en}")


# --- names ---------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _opencc() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=20_000)  # name_key, display_name and classify of a new name each need it
def _clean(name: str) -> str:
    """Width, script and a glued-on address; keeps spacing and brackets."""
    text = unicodedata.normalize("NFKC", name or "").strip()
    if _CJK.search(text):
        text = _opencc().convert(text)
    text = _COUNTRY_TAIL.sub("", text)
    text = _POSTCODE_HEAD.sub("", text)
    if _CJK.search(text):
        text = _strip_address(text)
    return " ".join(text.split())


def _strip_address(text: str) -> str:
    # "新疆乌鲁木齐市 新疆大学": Chinese legal names have no spaces, so a first part that ends
    # like an address is one.
    parts = text.split()
    if len(parts) > 1 and _ADMIN_TAIL.search(parts[0]) and _CJK.search(parts[-1]):
        text = "".join(parts[1:])
    last = None
    for m in _HOUSE.finditer(text):
        last = m
    if last is not None:
        head, rest = text[: last.end()], text[last.end():].strip(" ,，")
        if len(rest) >= 2 and _ADDRESS_MARK.search(head):
            return rest
    return text


@lru_cache(maxsize=20_000)
def name_key(name: str) -> str:
    """The matching key: '新疆金风科技股份有限公司' → '新疆金风科技'; 'Goldwind Co., Ltd.' → 'goldwind'."""
    text = _clean(name).lower().replace("&", " and ")
    text = _BRACKETS.sub("", text)
    words = [w for w in _NOT_WORD.split(text) if w]
    if not words:
        return ""
    if not _CJK.search(text):
        stripped = _strip_en_forms(words)
        return "".join(stripped or words)
    joined = "".join(words)
    core = _strip_zh_forms(joined)
    return core or joined


def _strip_zh_forms(text: str) -> str:
    changed = True
    while changed:
        changed = False
        for form in _ZH_FORMS:
            if text.endswith(form) and not text[: -len(form)].endswith("分"):
                text = text[: -len(form)]
                changed = True
                break
        # English forms may trail a Chinese name too (…科技有限公司 Co Ltd is rare; ltd alone is not)
    return text


def _strip_en_forms(words: list[str]) -> list[str]:
    words = list(words)
    changed = True
    while changed and len(words) > 1:
        changed = False
        for form in _EN_FORMS:
            n = len(form)
            if len(words) > n and tuple(words[-n:]) == form:
                del words[-n:]
                changed = True
                break
    return words


def display_name(name: str) -> str:
    """The name as shown: half-width letters/digits, simplified script, single spaces, no glued
    address; Chinese names get full-width brackets （） and lose inner spaces."""
    text = _clean(name)
    if _CJK.search(text):
        text = re.sub(r"(?<=[\u3400-\u9fff（）()])\s+|\s+(?=[\u3400-\u9fff（）()])", "", text)
        text = text.replace("(", "（").replace(")", "）")
    else:
        text = re.sub(r"\s*,\s*", ", ", text)
    return text.strip()


_KIND_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("hospital", ("医院", "卫生院", "诊所", "门诊部", "hospital", "clinic")),
    ("university", ("大学", "学院", "学校", "高等专科", "职业技术", "university", "college", "school")),
    ("institute", ("研究所", "研究院", "科学院", "研究中心", "研究会", "实验室", "设计院", "农科院", "试验站",
                   "institute", "academy", "laboratory", "laboratories", "research center", "research centre")),
    ("government", ("人民政府", "政府", "委员会", "管委会", "管理局", "局", "厅", "办公室", "推广站", "检测站", "防疫站",
                    "服务站", "管理站", "法院", "检察院", "中心站", "ministry", "bureau", "government", "administration",
                    "department of")),
    ("company", ("公司", "株式会社", "集团", "厂", "商行", "餐厅", "酒店", "宾馆", "经营部", "门市部", "合作社", "企业",
                 "工作室", "店", "农场", "牧场", "有限合伙",
                 "co", "ltd", "limited", "inc", "corp", "corporation", "llc", "gmbh", "ag", "plc", "company",
                 "technologies", "industries", "s a")),
]
# Keywords split once by script (classify used to test each keyword's script on every call).
_KIND_WORDS_ZH = [(kind, tuple(w for w in words if _CJK.search(w))) for kind, words in _KIND_WORDS]
_KIND_WORDS_LATIN = [(kind, tuple(w for w in words if not _CJK.search(w))) for kind, words in _KIND_WORDS]
_PERSON = re.compile(r"^[\u3400-\u9fff]{2,4}$|^[\u3400-\u9fff]{1,8}(?:[·•・][\u3400-\u9fff]{1,8}){1,3}$")


def classify(name: str) -> str:
    """company | university | institute | government | hospital | individual | other.
    The head noun of a Chinese name is at its end, so the keyword ending last decides
    (石河子大学医学院第一附属医院 → hospital; 新疆大学科技园有限公司 → company)."""
    text = _clean(name)
    if not text:
        return "other"
    if _CJK.search(text):
        compact = _BRACKETS.sub("", "".join(text.split()))
        best, best_end = None, (-1, 0)
        for kind, words in _KIND_WORDS_ZH:
            for w in words:
                pos = compact.rfind(w)
                if pos >= 0 and (pos + len(w), len(w)) > best_end:
                    best, best_end = kind, (pos + len(w), len(w))
        if best is not None:
            return best
        if _PERSON.match(compact):
            return "individual"
        return "other"
    words = [w for w in _NOT_WORD.split(text.lower()) if w]
    joined = " " + " ".join(words) + " "
    found: list[tuple[int, str]] = []
    for kind, keys in _KIND_WORDS_LATIN:
        for w in keys:
            pos = joined.rfind(" " + w + " ")
            if pos >= 0:
                found.append((pos + len(w), kind))
    if found:
        return max(found)[1]
    if 1 < len(words) <= 4 and all(w.isalpha() for w in words):
        return "individual"
    return "other"


# --- database ------------------------------------------------------------------------------

def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _pairs_in(session: Session, sql: str, values: Sequence[Any]) -> dict[Any, Any]:
    """Rows (a, b) of `sql` — ending in `WHERE <column>`, maybe `AND …` after a `{}` — for the
    given values: one `= ANY(array)` parameter on PostgreSQL (a 2,000-item IN list costs the
    driver a parse of 2,000 placeholders, and a cached generic plan), `IN (…)` on SQLite."""
    conn = session.connection()
    out: dict[Any, Any] = {}
    if not values:
        return out
    if conn.dialect.name == "postgresql":
        out.update(tuple(r) for r in conn.exec_driver_sql(sql.format("= ANY(%s)"), (list(values),)))
        return out
    for chunk in _chunks(list(values)):
        out.update(tuple(r) for r in conn.exec_driver_sql(sql.format(f"IN ({','.join('?' * len(chunk))})"),
                                                          tuple(chunk)))
    return out


def _alias_lookup(session: Session, keys: Sequence[str]) -> dict[str, int]:
    return _pairs_in(session, "SELECT alias_key, entity_id FROM entity_alias WHERE alias_key {}", keys)


def _live_ids(session: Session, ids: Iterable[int]) -> dict[int, int]:
    """id → the entity it was (transitively) merged into, or itself."""
    ids = set(ids)
    target = {i: i for i in ids}
    pending = ids
    for _ in range(10):
        if not pending:
            break
        rows: dict[int, int] = _pairs_in(
            session, "SELECT id, merged_into FROM entity WHERE id {} AND merged_into IS NOT NULL", list(pending))
        if not rows:
            break
        for original, current in list(target.items()):
            if current in rows:
                target[original] = rows[current]
        pending = set(rows.values())
    return target


@lru_cache(maxsize=20_000)
def entity_facts(name: str) -> tuple[str, str, str]:
    """(matching key, display name, kind) of an owner name: all that resolving it needs besides
    the database, so that an import's parse process can work it out (see `resolve_many`)."""
    return name_key(name)[:300], display_name(name)[:300], classify(name)


def _insert_entities(session: Session, items: list[tuple[str, str]], source: str,
                     facts: dict[str, tuple[str, str, str]] | None = None) -> dict[str, int]:
    """Insert entities + aliases for (key, name) pairs; returns key → id. One statement each
    (a unique violation raises IntegrityError: the caller's savepoint handles the race)."""
    conn = session.connection()
    known = [(facts or {}).get(name) or entity_facts(name) for _, name in items]
    names = [f[1] for f in known]
    keys = [key for key, _ in items]
    kinds = [f[2] for f in known]
    aliases = [name[:300] for _, name in items]
    if conn.dialect.name == "postgresql":
        # Whole columns as arrays: one statement, planned once, whatever the batch size.
        now = utcnow()
        ids = {k: i for i, k in conn.exec_driver_sql(
            "INSERT INTO entity (name, name_key, kind, created_at) "
            "SELECT n, k, t, %s FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[]) AS u(n, k, t) "
            "RETURNING id, name_key", (now, names, keys, kinds)).all()}
        conn.exec_driver_sql(
            "INSERT INTO entity_alias (entity_id, alias, alias_key, source) "
            "SELECT e, a, k, %s FROM unnest(%s::int[], %s::varchar[], %s::varchar[]) AS u(e, a, k)",
            (source, [ids[k] for k in keys], aliases, keys))
        return ids
    ent = Entity.__table__
    created = ent.c.created_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    now = utcnow()
    stamp = created(now) if created else now
    conn.exec_driver_sql("INSERT INTO entity (name, name_key, kind, created_at) VALUES (?, ?, ?, ?)",
                         [(n, k, t, stamp) for n, k, t in zip(names, keys, kinds)])
    ids = _pairs_in(session, "SELECT name_key, id FROM entity WHERE name_key {}", keys)
    conn.exec_driver_sql("INSERT INTO entity_alias (entity_id, alias, alias_key, source) VALUES (?, ?, ?, ?)",
                         [(ids[k], a, k, source) for k, a in zip(keys, aliases)])
    return ids


def resolve_many(session: Session, names: Iterable[str | None], source: str = "import",
                 facts: dict[str, tuple[str, str, str]] | None = None) -> dict[str, int]:
    """Map each name to its entity id, creating entities and aliases for unseen keys.

    One SELECT over the alias keys (chunked), then bulk inserts of what is missing inside a
    savepoint. If another process inserted the same key meanwhile (unique violation on
    alias_key or name_key), the savepoint is rolled back and each missing key is retried
    alone: looked up again, inserted if still absent. Works on SQLite and PostgreSQL.
    Names with an empty key (blank, punctuation only) are left out of the result."""
    by_key: dict[str, str] = {}
    key_of: dict[str, str] = {}
    for name in names:
        if not name or name in key_of:
            continue
        known = facts.get(name) if facts else None
        key = known[0] if known else name_key(name)[:300]
        if key:
            key_of[name] = key
            by_key.setdefault(key, name)
    found = _alias_lookup(session, list(by_key))
    missing = [k for k in by_key if k not in found]
    if missing:
        # An entity whose own key has no alias (its alias was split off): link, don't duplicate.
        orphans: dict[str, int] = _pairs_in(session, "SELECT name_key, id FROM entity WHERE name_key {}", missing)
        if orphans:
            try:
                with session.begin_nested():
                    session.execute(insert(EntityAlias.__table__), [
                        dict(entity_id=i, alias=by_key[k][:300], alias_key=k, source=source)
                        for k, i in orphans.items()])
                found.update(orphans)
            except IntegrityError:
                pass
        missing = [k for k in missing if k not in found]
    if missing:
        items = [(k, by_key[k]) for k in missing]
        try:
            with session.begin_nested():
                found.update(_insert_entities(session, items, source, facts))
        except IntegrityError:
            for item in items:
                found[item[0]] = _insert_one(session, item, source)
    live = _live_ids(session, found.values())
    return {name: live[found[key]] for name, key in key_of.items()}


def _insert_one(session: Session, item: tuple[str, str], source: str) -> int:
    key, name = item
    for _ in range(5):
        hit = _alias_lookup(session, [key])
        if key in hit:
            return hit[key]
        owner = session.execute(select(Entity.id).where(Entity.name_key == key)).scalar()
        try:
            with session.begin_nested():
                if owner is not None:
                    session.execute(insert(EntityAlias.__table__), [
                        dict(entity_id=owner, alias=name[:300], alias_key=key, source=source)])
                    return owner
                return _insert_entities(session, [item], source)[key]
        except IntegrityError:
            continue
    raise RuntimeError(f"could not resolve owner name {name!r} after retries")


def _get(session: Session, entity_id: int) -> Entity:
    entity = session.get(Entity, entity_id) if is_row_id(entity_id) else None
    if entity is None:
        raise EntityError("not_found", entity_id=entity_id)
    return entity


def merge(session: Session, keep_id: int, merge_ids: Iterable[int], actor: str | None,
          source: str = "hub") -> dict[str, Any]:
    """Fold `merge_ids` into `keep_id`: their aliases move to it and they get `merged_into`.
    Returns {keep_id, merged_ids, alias_ids, aliases}; the caller re-points its entity_id
    columns from merged_ids to keep_id."""
    merge_ids = sorted(set(merge_ids))
    keep = _get(session, keep_id)
    if keep.merged_into is not None:
        raise EntityError("already_merged", entity_id=keep_id, into=keep.merged_into)
    if keep_id in merge_ids:
        raise EntityError("merge_self", entity_id=keep_id)
    for mid in merge_ids:
        other = _get(session, mid)
        if other.merged_into is not None:
            raise EntityError("already_merged", entity_id=mid, into=other.merged_into)
    moved = session.execute(select(EntityAlias.id, EntityAlias.alias).where(
        EntityAlias.entity_id.in_(merge_ids)).order_by(EntityAlias.id)).all() if merge_ids else []
    if merge_ids:
        session.execute(update(EntityAlias).where(EntityAlias.entity_id.in_(merge_ids))
                        .values(entity_id=keep_id).execution_options(synchronize_session=False))
        # Entities merged earlier into a merged one now point straight at the kept one.
        session.execute(update(Entity).where(Entity.id.in_(merge_ids) | Entity.merged_into.in_(merge_ids))
                        .values(merged_into=keep_id).execution_options(synchronize_session=False))
    result = {"keep_id": keep_id, "merged_ids": merge_ids, "alias_ids": [r[0] for r in moved],
              "aliases": [r[1] for r in moved]}
    session.add(AuditEvent(tag=f"{source}:entity:merge", actor=actor, details=dict(result)))
    session.flush()
    session.expire_all()
    return result


def split(session: Session, entity_id: int, aliases: Iterable[str], new_name: str, actor: str | None,
          source: str = "hub") -> dict[str, Any]:
    """Move the given aliases (spellings or keys) of `entity_id` to a new entity named
    `new_name` (or back to the entity that was merged under that name). Returns
    {entity_id, new_entity_id, alias_ids, aliases}; the caller re-points the records."""
    source_entity = _get(session, entity_id)
    keys = {name_key(a) for a in aliases if a and name_key(a)}
    if not keys:
        raise EntityError("split_empty")
    rows = session.execute(select(EntityAlias.id, EntityAlias.alias, EntityAlias.alias_key, EntityAlias.entity_id)
                           .where(EntityAlias.alias_key.in_(sorted(keys)))).all()
    owned = {r.alias_key: r for r in rows if r.entity_id == entity_id}
    for key in sorted(keys):
        if key not in owned:
            raise EntityError("alias_not_owned", alias=key, entity_id=entity_id)
    new_key = name_key(new_name)
    if not new_key:
        raise EntityError("empty_name")
    existing = session.execute(select(Entity).where(Entity.name_key == new_key)).scalar()
    if existing is not None and existing.merged_into != entity_id:
        raise EntityError("name_taken", name=new_name, entity_id=existing.id)
    if existing is not None:  # undo an earlier merge: the split-off part gets its old entity back
        existing.merged_into = None
        existing.name = display_name(new_name)[:300]
        new_id = existing.id
    else:
        new = Entity(name=display_name(new_name)[:300], name_key=new_key, kind=classify(new_name),
                     country=source_entity.country)
        session.add(new)
        session.flush()
        new_id = new.id
    alias_ids = sorted(r.id for r in owned.values())
    session.execute(update(EntityAlias).where(EntityAlias.id.in_(alias_ids))
                    .values(entity_id=new_id, source="split").execution_options(synchronize_session=False))
    result = {"entity_id": entity_id, "new_entity_id": new_id, "alias_ids": alias_ids,
              "aliases": [owned[k].alias for k in sorted(owned)]}
    session.add(AuditEvent(tag=f"{source}:entity:split", actor=actor, details=dict(result)))
    session.flush()
    session.expire_all()
    return result


def entity_counts(session: Session) -> dict[str, int]:
    """Live entities and aliases (for reports)."""
    return {
        "entities": session.scalar(select(func.count()).select_from(Entity).where(Entity.merged_into.is_(None))) or 0,
        "aliases": session.scalar(select(func.count()).select_from(EntityAlias)) or 0,
    }
