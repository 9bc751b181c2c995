"""The query language of the one search box, as patent searchers write it.

    库尔勒香梨 种植                 words: all must match (AND), in any field
    TI=香梨 AND PA=(新疆 OR 兵团)    fields: TI AB CL TX PA IN AGC IPC AN PN AD PD GD REGION TYPE STATUS PT
    IPC=A01B*  IPC=A01B1/00         IPC by prefix (wildcard) or exact symbol
    AN=202223220665.2  PN=CN218751475U   numbers in any form (with or without office, check digit, kind)
    AD=2019..2021  AD>=2020-06-01   date ranges (year, year-month or day)
    "香梨 种植"~3   香梨 W/3 种植     phrases, proximity (within n words)
    a OR b, NOT c, a AND (b OR c)    operators; NOT binds tightest, then AND, then OR
Chinese field names work too (名称= 申请人= 分类号= 申请日= …). The grammar is lark's LALR(1);
a syntax error names the column and what was expected there, in Chinese and English.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import tantivy

from xjip.hub import numbers
from xjip.i18n import both
from xjip.search import text
from xjip.search.index import SCHEMA

MAX_QUERY = 1000  # characters: longer is refused with a message, not cut silently
MAX_CLAUSES = 64

FIELDS = {
    "TI": "ti", "AB": "ab", "CL": "cl", "TX": "tx", "PA": "pa", "IN": "inv", "AGC": "agc", "IPC": "ipc",
    "AN": "num", "PN": "num", "AD": "ad", "PD": "pd", "GD": "gd", "REGION": "region", "TYPE": "rtype",
    "STATUS": "status", "PT": "kind",
    "名称": "ti", "标题": "ti", "摘要": "ab", "权利要求": "cl", "全文": "tx", "申请人": "pa", "专利权人": "pa",
    "权利人": "pa", "发明人": "inv", "代理机构": "agc", "分类号": "ipc", "申请号": "num", "公开号": "num",
    "公告号": "num", "申请日": "ad", "公开日": "pd", "授权日": "gd", "地区": "region", "类型": "rtype",
}
DATE_FIELDS = ("ad", "pd", "gd")

GRAMMAR = r"""
?start: expr?
?expr: or_expr
?or_expr: and_expr (OR and_expr)*
?and_expr: near_expr (AND? near_expr)*
?near_expr: unary (NEAR unary)*
?unary: NOT unary -> not_
      | atom
?atom: LPAR expr RPAR -> group
     | FIELD OP value -> field
     | PHRASE SLOP? -> phrase
     | WORD -> word
?value: LPAR expr RPAR -> group
      | PHRASE SLOP? -> phrase
      | WORD -> word

OR.3: /(OR|\|\|)(?![^\s()"=:<>~])/i
AND.3: /(AND|&&)(?![^\s()"=:<>~])/i
NOT.3: /NOT(?![^\s()"=:<>~])/i
NEAR.3: /(W|NEAR)\/\d{1,3}(?![^\s()"=:<>~])/i
FIELD.2: /[A-Za-z\u4e00-\u9fff]{1,12}(?=\s*(>=|<=|=|:|>|<))/
OP: ">=" | "<=" | "=" | ":" | ">" | "<"
LPAR: "("
RPAR: ")"
PHRASE: /"[^"]*"/
SLOP: /~\d{1,3}/
WORD: /[^\s()"=:<>~]+/
%ignore /\s+/
"""

EXPECTED_WORDS = {"WORD": "word", "PHRASE": "phrase", "LPAR": "(", "RPAR": ")", "OP": "=", "FIELD": "field",
                  "NOT": "NOT", "AND": "AND", "OR": "OR", "NEAR": "W/n", "SLOP": "~n", "$END": "end"}


class QueryError(ValueError):
    """A query that cannot be run; `code` is `search.error.<code>`; `column` counts from 1."""

    def __init__(self, code: str, column: int | None = None, **params: Any):
        self.code, self.column, self.params = code, column, {"column": column, **params}
        zh, en = both(f"search.error.{code}", **self.params)
        self.message_zh, self.message_en = zh, en
        super().__init__(f"{en} / {zh}")

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "column": self.column, "message_zh": self.message_zh,
                "message_en": self.message_en, "params": self.params}


@lru_cache(maxsize=1)
def _parser():  # noqa: ANN202
    from lark import Lark

    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=False, propagate_positions=True)


# --- AST -----------------------------------------------------------------------------------

@dataclass
class Node:
    kind: str  # and | or | not | word | phrase | near | field
    column: int
    children: list["Node"] | None = None
    value: str = ""
    slop: int = 0
    field: str = ""
    op: str = "="


def _to_node(tree: Any) -> Node:
    from lark import Token, Tree

    if isinstance(tree, Token):
        if tree.type == "WORD":
            return Node("word", tree.column, value=str(tree))
        if tree.type == "PHRASE":
            return Node("phrase", tree.column, value=str(tree)[1:-1])
        raise QueryError("unexpected", tree.column, found=str(tree), expected="word")
    rule = tree.data
    toks = tree.children
    col = getattr(tree.meta, "column", 1) if not tree.meta.empty else 1
    if rule == "start":
        return _to_node(toks[0]) if toks else Node("empty", 1)
    if rule == "word":
        return Node("word", toks[0].column, value=str(toks[0]))
    if rule == "phrase":
        slop = int(str(toks[1])[1:]) if len(toks) > 1 else 0
        return Node("phrase", toks[0].column, value=str(toks[0])[1:-1], slop=slop)
    if rule == "group":
        return _to_node(toks[1])
    if rule == "not_":
        return Node("not", toks[0].column, [_to_node(toks[1])])
    if rule == "field":
        name = str(toks[0])
        key = FIELDS.get(name.upper()) or FIELDS.get(name)
        if key is None:
            raise QueryError("unknown_field", toks[0].column, field=name, known="TI AB CL TX PA IN AGC IPC AN PN AD PD GD REGION TYPE STATUS PT")
        return Node("field", toks[0].column, [_to_node(toks[2])], field=key, op=str(toks[1]))
    if rule in ("or_expr", "and_expr", "near_expr"):
        parts = [c for c in toks if not (isinstance(c, Token) and c.type in ("OR", "AND"))]
        if rule == "near_expr":
            nodes, dists = [], []
            for c in toks:
                if isinstance(c, Token) and c.type == "NEAR":
                    dists.append(int(str(c).split("/")[1]))
                else:
                    nodes.append(_to_node(c))
            for n in nodes:
                if n.kind not in ("word", "phrase"):
                    raise QueryError("near_terms", n.column)
            return Node("near", col, nodes, slop=max(dists))
        return Node("or" if rule == "or_expr" else "and", col, [_to_node(c) for c in parts])
    raise QueryError("unexpected", col, found=rule, expected="word")


def parse(query: str) -> Node:
    """The query's syntax tree; QueryError (with the column) when it is not a query."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

    if query is None or not query.strip():
        raise QueryError("empty", 1)
    if len(query) > MAX_QUERY:
        raise QueryError("too_long", MAX_QUERY + 1, limit=MAX_QUERY, length=len(query))
    if "\x00" in query:
        raise QueryError("bad_character", query.index("\x00") + 1, found="NUL")
    if query.count('"') % 2:
        raise QueryError("unclosed_quote", query.rfind('"') + 1)
    try:
        tree = _parser().parse(query)
    except UnexpectedToken as exc:
        found = "end" if exc.token.type == "$END" else str(exc.token)
        expected = sorted({EXPECTED_WORDS.get(e, e) for e in exc.expected})
        at_end = exc.token.type == "$END" or not exc.column or exc.column < 1
        raise QueryError("unexpected", len(query.rstrip()) + 1 if at_end else exc.column,
                         found=found, expected=", ".join(expected)) from None
    except UnexpectedEOF as exc:
        expected = sorted({EXPECTED_WORDS.get(e, e) for e in exc.expected})
        raise QueryError("unexpected", len(query) + 1, found="end", expected=", ".join(expected)) from None
    except UnexpectedCharacters as exc:
        raise QueryError("unexpected", exc.column, found=query[exc.pos_in_stream:exc.pos_in_stream + 1],
                         expected="word") from None
    except UnexpectedInput as exc:  # pragma: no cover - the three above are all lark raises here
        raise QueryError("unexpected", getattr(exc, "column", 1), found="?", expected="word") from None
    return _to_node(tree)


# --- compilation to tantivy ------------------------------------------------------------------

Q = tantivy.Query
SHOULD, MUST, MUST_NOT = tantivy.Occur.Should, tantivy.Occur.Must, tantivy.Occur.MustNot
DEFAULT_FIELDS = (("ti", 3.0), ("pa", 2.0), ("tx", 1.0), ("inv", 1.0), ("agc", 1.0))
SUB = {"ti": "ti_sub", "tx": "tx_sub", "pa": "pa_sub"}


def _or(queries: list[tantivy.Query]) -> tantivy.Query | None:
    queries = [q for q in queries if q is not None]
    if not queries:
        return None
    if len(queries) == 1:
        return queries[0]
    return Q.boolean_query([(SHOULD, q) for q in queries])


def _and(queries: list[tantivy.Query]) -> tantivy.Query | None:
    queries = [q for q in queries if q is not None]
    if not queries:
        return None
    if len(queries) == 1:
        return queries[0]
    return Q.boolean_query([(MUST, q) for q in queries])


def _boost(q: tantivy.Query | None, b: float) -> tantivy.Query | None:
    return None if q is None or b == 1.0 else Q.boost_query(q, b) if q is not None else q


def _boosted(q: tantivy.Query | None, b: float) -> tantivy.Query | None:
    if q is None:
        return None
    return q if b == 1.0 else Q.boost_query(q, b)


def _token_query(token: str, fields: tuple[tuple[str, float], ...]) -> tantivy.Query | None:
    parts = []
    for name, boost in fields:
        parts.append(_boosted(Q.term_query(SCHEMA, name, token), boost))
        if name in SUB:
            parts.append(_boosted(Q.term_query(SCHEMA, SUB[name], token), boost * 0.5))
    return _or(parts)


def _phrase_query(toks: list[str], fields: tuple[tuple[str, float], ...], slop: int) -> tantivy.Query | None:
    return _or([_boosted(Q.phrase_query(SCHEMA, name, toks, slop), boost) for name, boost in fields])


def _pinyin_query(words: list[str]) -> tantivy.Query | None:
    """`kuerle xiangli` → the syllables ku er le xiang li in a row, each matching any reading of a
    character (`text.pinyin_tokens`)."""
    syllables: list[str] = []
    for word in words:
        split = text.pinyin_syllables(word)
        if not split:
            return None
        syllables += split
    if not syllables or len(syllables) > 30:
        return None
    if len(syllables) == 1 and len(syllables[0]) < 2:
        return None
    patterns = [f"([a-z]+_)*{s}(_[a-z]+)*" for s in syllables]
    if len(patterns) == 1:
        return Q.regex_query(SCHEMA, "py", patterns[0])
    return Q.regex_phrase_query(SCHEMA, "py", patterns)


def text_query(value: str, fields: tuple[tuple[str, float], ...], *, phrase: bool = False, slop: int = 0,
               pinyin: bool = True, synonyms: bool = True) -> tantivy.Query | None:
    """A word or phrase over text fields: one token → a term in each field (and its sub-word
    field); several tokens (a Chinese compound the segmenter splits, or a phrase) → the phrase,
    within `slop`, or — for a typed compound only — all of its tokens anywhere."""
    toks = text.tokens(value)
    alts: list[tantivy.Query | None] = []
    if toks:
        if len(toks) == 1:
            alts.append(_token_query(toks[0], fields))
        else:
            phrase_q = _phrase_query(toks, fields, slop)
            alts.append(phrase_q if phrase else _or([phrase_q, _and([_token_query(t, fields) for t in toks])]))
            whole = text.fold(value).strip()
            if not phrase and 2 <= len(whole) <= 3 and text.is_cjk(whole):
                # 香梨 segments as 香 + 梨, but it is a piece of 库尔勒香梨 (`text._sub_words`)
                alts.append(_token_query(whole, fields))
    if synonyms and not phrase:
        for other in text.synonyms(value):
            if other != text.fold(value):
                alts.append(_boosted(text_query(other, fields, synonyms=False, pinyin=False), 0.8))
    if pinyin and any(name in ("ti", "pa") for name, _ in fields):
        words = text.fold(value).split()
        if words and all(w.isascii() and w.isalpha() for w in words):
            alts.append(_pinyin_query(words))
    if not phrase and re.fullmatch(r"[A-Za-z0-9./\-]{5,}", value.strip()) and any(c.isdigit() for c in value):
        alts.append(_boosted(number_query(value, prefix=True), 5.0))
    return _or(alts)


def number_terms(value: str) -> list[str]:
    """The compact forms a typed number is looked up by (the index holds every reduced form of a
    stored number: `documents.number_forms`)."""
    raw = value.strip().upper()
    forms = {"".join(ch for ch in raw if ch.isalnum())}
    for canon in (numbers.canonical_cn_app, numbers.canonical_pub):
        try:
            c = canon(raw)
        except Exception:  # noqa: BLE001 - not that kind of number: the compact form stands
            continue
        if c:
            forms.add("".join(ch for ch in c.upper() if ch.isalnum()))
    return sorted(f for f in forms if f)


def number_query(value: str, prefix: bool = False) -> tantivy.Query | None:
    """A number in any form; `prefix`: also numbers that begin with it (a list's text box given
    the first digits of an application number)."""
    terms = number_terms(value)
    if not terms:
        return None
    exact = Q.term_set_query(SCHEMA, "num", terms)
    if prefix and len(terms[0]) >= 6:
        return _or([exact, Q.regex_query(SCHEMA, "num", re.escape(terms[0]) + ".*")])
    return exact


_DATE = re.compile(r"^(\d{4})(?:[-./]?(\d{1,2}))?(?:[-./]?(\d{1,2}))?$")


def _date_bounds(value: str, column: int) -> tuple[int, int]:
    """A year, year-month or day → (first day, last day) as yyyymmdd."""
    m = _DATE.match(value.strip())
    if not m:
        raise QueryError("bad_date", column, value=value)
    y, mo, d = int(m.group(1)), m.group(2), m.group(3)
    try:
        if d:
            day = dt.date(y, int(mo), int(d))
            return _ymd(day), _ymd(day)
        if mo:
            first = dt.date(y, int(mo), 1)
            last = (dt.date(y + (first.month == 12), first.month % 12 + 1, 1) - dt.timedelta(days=1))
            return _ymd(first), _ymd(last)
        if y < 1:
            raise ValueError
        return y * 10000 + 101, y * 10000 + 1231
    except ValueError:
        raise QueryError("bad_date", column, value=value) from None


def _ymd(d: dt.date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


def date_query(field: str, op: str, value: str, column: int) -> tantivy.Query:
    value = value.strip()
    if ".." in value:
        a, _, b = value.partition("..")
        lo = _date_bounds(a, column)[0] if a else None
        hi = _date_bounds(b, column)[1] if b else None
        if lo is None and hi is None:
            raise QueryError("bad_date", column, value=value)
        if lo is not None and hi is not None and hi < lo:
            raise QueryError("date_order", column, start=a, end=b)
    else:
        first, last = _date_bounds(value, column)
        lo, hi = {"=": (first, last), ":": (first, last), ">=": (first, None), ">": (last + 1, None),
                  "<=": (None, last), "<": (None, first - 1)}[op]
    return Q.range_query(SCHEMA, field, tantivy.FieldType.Integer, lo, hi)


_IPC_OK = re.compile(r"^[A-H](\d{2}([A-Z](\d{1,4}(/\d{0,6})?)?)?)?\*?$")


def ipc_query(value: str, column: int) -> tantivy.Query:
    raw = value.strip().upper().replace(" ", "")
    if raw in ("*", ""):
        return Q.exists_query("ipc") if hasattr(Q, "exists_query") else Q.regex_query(SCHEMA, "ipc", ".+")
    if not _IPC_OK.match(raw):
        raise QueryError("bad_ipc", column, value=value)
    if raw.endswith("*"):
        prefix = raw[:-1]
        return Q.regex_query(SCHEMA, "ipc", re.escape(prefix) + ".*")
    canon = numbers.canonical_ipc(raw) or raw
    if "/" not in canon:  # a section, class or subclass given whole: every symbol under it
        field = {1: "ipc_sec", 3: "ipc_cls", 4: "ipc_sub"}.get(len(canon))
        if field:
            return Q.term_query(SCHEMA, field, canon)
    if canon.endswith("/00"):
        return _or([Q.term_query(SCHEMA, "ipc", canon), Q.term_query(SCHEMA, "ipc_grp", canon)])
    return Q.term_query(SCHEMA, "ipc", canon)


RegionResolver = Callable[[str], list[str]]


def region_query(value: str, column: int, resolve: RegionResolver | None) -> tantivy.Query:
    v = value.strip()
    codes = [v] if v.isdigit() else (resolve(v) if resolve else [])
    if not codes:
        raise QueryError("unknown_region", column, value=value)
    parts = []
    for code in codes:
        if len(code) == 2:
            parts.append(Q.term_query(SCHEMA, "prov", code))
        elif len(code) == 6 and code.endswith("00") and not code.startswith("6590"):
            parts.append(Q.term_query(SCHEMA, "pref", code))
        else:
            parts += [Q.term_query(SCHEMA, "county", code), Q.term_query(SCHEMA, "pref", code),
                      Q.regex_query(SCHEMA, "region", re.escape(code) + ".*")]
    return _or(parts)  # type: ignore[return-value]


class Compiler:
    def __init__(self, resolve_region: RegionResolver | None = None):
        self.resolve_region = resolve_region
        self.clauses = 0
        self.terms: list[str] = []  # what to highlight

    def compile(self, node: Node, fields: tuple[tuple[str, float], ...] = DEFAULT_FIELDS) -> tantivy.Query | None:
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise QueryError("too_many_terms", node.column, limit=MAX_CLAUSES)
        k = node.kind
        if k == "empty":
            raise QueryError("empty", 1)
        if k == "word":
            self.terms.append(node.value)
            if node.value.endswith("*") and len(node.value) > 1 and fields != DEFAULT_FIELDS:
                return self._prefix(node.value[:-1], fields)
            return text_query(node.value, fields)
        if k == "phrase":
            self.terms.append(node.value)
            return text_query(node.value, fields, phrase=True, slop=node.slop)
        if k == "near":
            vals = [c.value for c in node.children or []]
            self.terms += vals
            toks = [t for v in vals for t in text.tokens(v)]
            if len(toks) == 1:
                return _token_query(toks[0], fields)
            return _phrase_query(toks, fields, node.slop) if toks else None
        if k == "and":
            musts, nots = [], []
            for child in node.children or []:
                if child.kind == "not":
                    q = self.compile(child.children[0], fields)  # type: ignore[index]
                    if q is not None:
                        nots.append(q)
                else:
                    q = self.compile(child, fields)
                    if q is not None:
                        musts.append(q)
            if not musts and not nots:
                return None
            if not musts:
                musts = [Q.all_query()]
            return Q.boolean_query([(MUST, q) for q in musts] + [(MUST_NOT, q) for q in nots])
        if k == "or":
            return _or([self.compile(c, fields) for c in node.children or []])
        if k == "not":
            q = self.compile(node.children[0], fields)  # type: ignore[index]
            return Q.boolean_query([(MUST, Q.all_query()), (MUST_NOT, q)]) if q is not None else None
        if k == "field":
            return self._field(node)
        raise QueryError("unexpected", node.column, found=k, expected="word")

    def _prefix(self, stem: str, fields: tuple[tuple[str, float], ...]) -> tantivy.Query | None:
        toks = text.tokens(stem)
        if len(toks) != 1:
            return text_query(stem, fields)
        return _or([Q.regex_query(SCHEMA, name, re.escape(toks[0]) + ".*") for name, _ in fields])

    def _field(self, node: Node) -> tantivy.Query | None:
        child = node.children[0]  # type: ignore[index]
        f, col = node.field, node.column
        if f in DATE_FIELDS:
            if child.kind != "word":
                raise QueryError("bad_date", col, value=child.value or "(…)")
            return date_query(f, node.op, child.value, col)
        if node.op not in ("=", ":"):
            raise QueryError("bad_operator", col, op=node.op)
        if f in ("ipc", "num", "region", "rtype", "status", "kind"):
            values = self._values(child, col)
            if f == "ipc":
                return _or([ipc_query(v, col) for v in values])
            if f == "num":
                return _or([number_query(v) for v in values])
            if f == "region":
                return _or([region_query(v, col, self.resolve_region) for v in values])
            return _or([Q.term_query(SCHEMA, f, v) for v in values])
        fields = ((f, 1.0),)
        return self.compile(child, fields)

    def _values(self, node: Node, col: int) -> list[str]:
        """Exact-value fields take a word, a phrase or an OR of them."""
        if node.kind in ("word", "phrase"):
            return [node.value]
        if node.kind == "or":
            return [v for c in node.children or [] for v in self._values(c, col)]
        raise QueryError("exact_values", col)


def compile_query(query: str, resolve_region: RegionResolver | None = None) -> tuple[tantivy.Query, list[str]]:
    """(tantivy query, words to highlight). QueryError for a syntax error, an unknown field, a bad
    date or number, or a query with nothing to search for."""
    node = parse(query)
    compiler = Compiler(resolve_region)
    q = compiler.compile(node)
    if q is None:
        raise QueryError("nothing_to_search", 1)
    return q, compiler.terms
