"""Streaming reader for tabular sources: CSV/TSV and every kind of spreadsheet (xlsx/xlsm,
Excel 97-2003 .xls, HTML tables and XML Spreadsheet 2003 saved as .xls: `_workbook`), shared by
the patent export importer and every template importer (trademark / GI / copyright / …).

API (kept stable; other importers build on it):
  iter_rows(source, *, required=None, aliases=None, layout=None, positions=None, headerless=False)
                                           -> Row | Rejection
  header_of(source) -> list[str]           the original header cells
  load_mapping(path) -> {source column: field}   a user column-mapping file (JSON or CSV)
  split_mapping(mapping) -> (by name, by position, header-less?)
  normalise_header(text) -> str            the form headers and alias keys are compared in
  HeaderMap                                header → canonical fields (also used for SQL dumps)
  head_rows(head) -> list[list[str]]       best-effort first rows from the first bytes (for sniff)
  preview_rows(source) -> list[list[str]]  the first rows of a workbook, read from the workbook
  iter_text_lines(source) -> (line, text)  decoded lines, encoding errors located

Headers are compared after normalisation: NFKC (full-width → half-width), lower-case, and
whitespace, punctuation and control characters removed, so '申请（专利权）人', '申请(专利权)人'
and ' 申请 (专利权) 人 ' are one header. `aliases` maps headers (normalised here) to canonical
fields; the first alias given for a field is the name shown when that column is missing.
`required` holds canonical fields; an entry 'a|b' means "at least one of a or b".
`layout(header)` may choose (aliases, required) once the header row is known (the patent
importer recognises the tool that wrote the export by its header).

The header row is the first non-empty row, except that when `aliases` are given, rows that
match no alias above it (the "检索式：…" preamble, Google's "search URL" line, Derwent's export
banner) are skipped: the header is the first row, among the first 30 non-empty ones, that holds
at least two known headers (one when only one field is known); failing that, the first
non-empty row. A header that spans two rows (group labels merged across the columns above the
labels of their parts, single labels merged down over both) is read as one: each column is
named by its lower label, or by the label above it where the lower is empty, or by both joined
('申请' over '号' → '申请号') when only that names a known field; the two rows are taken
together only when that names more fields than either row alone.

Column positions: a mapping entry '#3' names the third column, whatever its header says. A
mapping made only of positions reads a file without a header row: every row is data.

Formula cells are data: the value the file stores (`_workbook`); a CSV cell holding the text
`=HYPERLINK(url, "text")` yields its display text, as a spreadsheet would show it.

Memory stays flat: CSV is decoded block by block, workbooks are streamed (an .xls is read whole).
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import html
import io
import itertools
import json
import re
import struct
import unicodedata
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

from xjip.hub.importers import _workbook
from xjip.hub.importers.base import SKIPPED, Source, detect_encoding
from xjip.hub.records import Locator, Rejection, SourceError

HEADER_SCAN_ROWS = 30
PREVIEW_ROWS = 30
_CSV_FIELD_LIMIT = 64 * 1024 * 1024  # full-text description columns exceed csv's 128 KiB default
_DELIMITERS = (",", "\t", ";", "|")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = _workbook.OLE_MAGIC
# Encodings a Chinese export can legitimately be in. Anything else charset-normalizer guesses
# (cp1252, latin-1, …) means mojibake for Chinese data, so it is refused rather than imported.
_ACCEPTED_ENCODINGS = {"utf-8", "utf-8-sig", "gb18030", "gbk", "gb2312"}
_POSITION = re.compile(r"^#\s*(\d{1,4})$")

if csv.field_size_limit() < _CSV_FIELD_LIMIT:
    csv.field_size_limit(_CSV_FIELD_LIMIT)

# layout(header) → (aliases, required) or (aliases, required, positions)
Layout = Callable[[list[str]], "tuple[Any, ...]"]


# --- headers ---------------------------------------------------------------------------

def normalise_header(text: Any) -> str:
    """'申请（专利权）人 ' → '申请专利权人'; 'IPC 分类号' → 'ipc分类号'; 'ChDiv_summary' → 'chdivsummary'."""
    if text is None:
        return ""
    out = unicodedata.normalize("NFKC", str(text)).lower()
    return "".join(ch for ch in out if unicodedata.category(ch)[0] not in "PZC")


@dataclass
class Row:
    """One data record. `values`: canonical field → value (non-empty values only; strings
    stripped); `raw`: original header → value as read. `columns` tells which original header
    each canonical value came from (for located errors)."""

    locator: Locator
    values: dict[str, Any]
    raw: dict[str, Any]
    columns: dict[str, str] = field(default_factory=dict, repr=False, compare=False)  # shared: read-only
    sheet_columns: dict[str, str] | None = field(default=None, repr=False, compare=False)

    def column_of(self, name: str) -> str:
        """Original header of a canonical field (or the name itself when unknown)."""
        return self.columns.get(name, name)

    def cell_of(self, name: str) -> str | None:
        """Spreadsheet cell ('C5') of a canonical field or original header; None for CSV."""
        if self.sheet_columns is None or self.locator.line is None:
            return None
        letter = self.sheet_columns.get(self.columns.get(name, name))
        return f"{letter}{self.locator.line}" if letter else None


class HeaderMap:
    """Maps a header row to canonical fields; turns cell lists into (values, raw, columns).
    `positions` ({column index: field}) map columns by place, before any header name."""

    def __init__(self, header: Iterable[Any], aliases: dict[str, str] | None = None,
                 positions: dict[int, str] | None = None):
        self.header = ["" if h is None else str(h).strip().lstrip("\ufeff") for h in header]
        self.keys = _unique_keys(self.header)
        self.normalised = [normalise_header(h) for h in self.header]
        self.display: dict[str, str] = {}
        lookup: dict[str, str] = {}
        if aliases is not None:
            for alias, canonical in aliases.items():
                lookup.setdefault(normalise_header(alias), canonical)
                self.display.setdefault(canonical, alias)
        self.positions: dict[str, list[int]] = {}
        placed = {i: f for i, f in (positions or {}).items() if 0 <= i < len(self.header)}
        for i, canonical in sorted(placed.items()):
            self.positions.setdefault(canonical, []).append(i)
        for i, norm in enumerate(self.normalised):
            if not norm or i in placed:
                continue
            canonical = (lookup.get(norm) or _part_lookup(self.header[i], lookup)) if aliases is not None else norm
            if canonical:
                self.positions.setdefault(canonical, []).append(i)
        self.mapped = {i for p in self.positions.values() for i in p}
        # One column per field is the usual case: a flat list of pairs is the fast path.
        self._single = [(f, p[0]) for f, p in self.positions.items() if len(p) == 1]
        self._multi = [(f, p) for f, p in self.positions.items() if len(p) > 1]
        self._static_columns = {f: self.keys[i] for f, i in self._single}

    def known(self) -> int:
        return len(self.positions)

    def unmapped(self) -> list[str]:
        """The named columns no field takes (for the person who maps them)."""
        return [self.keys[i] for i, h in enumerate(self.header) if h and i not in self.mapped]

    def missing(self, required: set[str] | None) -> list[str]:
        """Display names ('申请号/公开（公告）号') of required entries no column provides."""
        out = []
        for entry in sorted(required or ()):
            options = entry.split("|")
            if not any(opt in self.positions for opt in options):
                out.append("/".join(self.display.get(opt, opt) for opt in options))
        return out

    def apply(self, cells: list[Any] | tuple[Any, ...]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
        n = len(cells)
        keys = self.keys
        raw = dict(zip(keys, cells))
        if n < len(keys):
            raw.update(dict.fromkeys(keys[n:]))
        elif n > len(keys):
            extra = [c for c in cells[len(keys):] if c not in (None, "")]
            if extra:
                raw["_extra"] = extra
        values: dict[str, Any] = {}
        for name, i in self._single:
            if i < n:
                v = cells[i]
                if v.__class__ is str:  # the common case, inlined
                    v = v.strip()
                    if v:
                        values[name] = _display(v) if v[0] == "=" else v
                elif v is not None:
                    v = _clean_value(v)
                    if v is not None:
                        values[name] = v
        if not self._multi:
            return values, raw, self._static_columns
        columns = dict(self._static_columns)
        for name, positions in self._multi:
            for i in positions:  # first non-empty of duplicate columns wins
                v = _clean_value(cells[i]) if i < n else None
                if v is not None:
                    values[name] = v
                    columns[name] = keys[i]
                    break
            else:
                columns[name] = keys[positions[0]]
        return values, raw, columns


_CJK_PART = r"[\u3400-\u9fff（）()/、]+"
_LATIN_PART = r"[A-Za-z][A-Za-z0-9 _./()&]*?"
_BILINGUAL = re.compile(rf"^\s*({_LATIN_PART})\s*[-–—:：]\s*({_CJK_PART})\s*$|^\s*({_CJK_PART})\s*[-–—:：]\s*({_LATIN_PART})\s*$")


def _part_lookup(header: str, lookup: dict[str, str]) -> str | None:
    """A bilingual header ('Title-题名', 'ApplicationNo-申请号', CNKI's style; '申请号 - AN'):
    the field of either half when the whole names none."""
    m = _BILINGUAL.match(header)
    if not m:
        return None
    for part in m.groups():
        if part:
            found = lookup.get(normalise_header(part))
            if found:
                return found
    return None


def _display(value: str) -> str:
    """A cell text that is a HYPERLINK formula with a display text (Patentics writes its numbers
    so, in CSV as well): what it shows. Any other formula-like text stays as it is: data, which
    the export side writes back as text."""
    return _workbook.hyperlink_text(value, text_only=True) or value


def _unique_keys(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    keys = []
    for i, h in enumerate(header):
        key = h or f"column{i + 1}"
        if key in seen:
            seen[key] += 1
            key = f"{key}_{seen[key]}"
        else:
            seen[key] = 1
        keys.append(key)
    return keys


def _clean_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return (_display(value) if value[:1] == "=" else value) or None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date()
    return value


def _is_blank(cells: list[Any]) -> bool:
    return not any(c is not None and (not isinstance(c, str) or c.strip()) for c in cells)


def _label(cells: list[Any], i: int) -> str:
    value = cells[i] if i < len(cells) else None
    return "" if value is None else str(value).strip()


class _Known:
    """Which fields a header row names, for choosing the header row."""

    def __init__(self, aliases: dict[str, str]):
        self.lookup = {normalise_header(a): f for a, f in aliases.items()}
        self.need = min(2, len(set(aliases.values())))

    def field(self, text: str) -> str | None:
        return self.lookup.get(normalise_header(text)) or (_part_lookup(text, self.lookup) if text else None)

    def hits(self, cells: list[Any]) -> int:
        return len({f for f in (self.field(_label(cells, i)) for i in range(len(cells))) if f})


def _combine(top: list[Any], bottom: list[Any], known: _Known) -> list[str]:
    """Two header rows as one (see the module doc): group labels above, part labels below."""
    out: list[str] = []
    group = ""
    for i in range(max(len(top), len(bottom))):
        t, b = _label(top, i), _label(bottom, i)
        if t:
            group = t
        elif not b:
            group = ""
        if not b:
            out.append(t)
        elif known.field(b) or not (t or group):
            out.append(b)
        else:
            joined = f"{t or group}{b}"
            out.append(joined if known.field(joined) else f"{t or group} {b}")
    return out


def _find_header(rows: Iterator[Any], aliases: dict[str, str] | None) -> tuple[Any, list[Any], bool]:
    """Pick the header among rows = iterator of (line, cells) items. Returns (header item,
    items read after it and not part of it, matched?); the iterator goes on after those.
    (None, [], False) when every row is blank."""
    if aliases is None:
        for item in rows:
            if not _is_blank(item[1]):
                return item, [], True
        return None, [], False
    known = _Known(aliases)
    seen: list[tuple[int, Any]] = []  # (position among all rows, item) of the non-blank rows read
    position = -1
    for item in rows:
        position += 1
        if _is_blank(item[1]):
            continue
        seen.append((position, item))
        if known.hits(item[1]) >= known.need:
            nxt: tuple[int, Any] | None = None
            for follow in rows:
                position += 1
                if not _is_blank(follow[1]):
                    nxt = (position, follow)
                    break
            return _best_header(seen, nxt, known)
        if len(seen) >= HEADER_SCAN_ROWS:
            break
    if not seen:
        return None, [], False
    # no single row names enough fields: a header split over two rows, each naming fewer
    for k in range(len(seen) - 1):
        (p1, top), (p2, bottom) = seen[k], seen[k + 1]
        if p2 == p1 + 1:
            cells = _combine(top[1], bottom[1], known)
            if known.hits(cells) >= known.need:
                return (top[0], cells), [it for _, it in seen[k + 2:]], True
    return seen[0][1], [it for _, it in seen[1:]], False


def _best_header(seen: list[tuple[int, Any]], nxt: tuple[int, Any] | None,
                 known: _Known) -> tuple[Any, list[Any], bool]:
    (pos, item) = seen[-1]
    best, best_hits, rest = item, known.hits(item[1]), [nxt[1]] if nxt else []
    if len(seen) > 1 and seen[-2][0] == pos - 1:  # a group row right above
        above = seen[-2][1]
        cells = _combine(above[1], item[1], known)
        hits = known.hits(cells)
        if hits > best_hits:
            best, best_hits = (above[0], cells), hits
    if nxt is not None and nxt[0] == pos + 1:  # the part labels right below
        cells = _combine(item[1], nxt[1][1], known)
        hits = known.hits(cells)
        if hits > best_hits:
            best, best_hits, rest = (item[0], cells), hits, []
    return best, rest, True


# --- public entry points ---------------------------------------------------------------

def split_mapping(mapping: dict[str, str] | None) -> tuple[dict[str, str], dict[int, str], bool]:
    """A user mapping → (by header name, by column index (0-based), no header row?). Entries
    '#N' name the N-th column; a mapping of positions only reads a file without a header."""
    names: dict[str, str] = {}
    positions: dict[int, str] = {}
    for column, target in (mapping or {}).items():
        m = _POSITION.match(str(column).strip())
        if m and int(m.group(1)) >= 1:
            positions[int(m.group(1)) - 1] = target
        else:
            names[column] = target
    return names, positions, bool(positions) and not names


def iter_rows(source: Source, *, required: set[str] | None = None, aliases: dict[str, str] | None = None,
              shard: Any = None, layout: Layout | None = None, positions: dict[int, str] | None = None,
              headerless: bool = False, mappable: bool = False) -> Iterator[Row | Rejection]:
    """Every data row of a CSV/TSV or workbook source, as `Row`s. Raises SourceError:
    empty_file, encoding (located at the line), encoding_changed, missing_columns /
    unmapped_columns (`mappable`: the importer takes column mappings, and the error lists the
    columns no field takes), read_error, password_protected, workbook_unreadable, html_no_table."""
    head = source.head()
    kind = _kind(head, source.name)
    if kind == "csv":
        rows: Iterator[tuple[int, list[Any]]] = _csv_physical_rows(source, head)
        book = None
    else:
        book = _workbook.sheets(source, kind)
        rows = _sheet_rows(source, book, None if headerless else aliases)
        shard = None  # whole workbooks go to one parse process (`can_shard`)
    try:
        yield from _iter_table(source, rows, kind != "csv", required, aliases, shard, layout, positions, headerless,
                               mappable)
    finally:
        rows.close()
        if book is not None:
            book.close()


def header_of(source: Source, *, aliases: dict[str, str] | None = None) -> list[str]:
    """The header row (original cells, stripped) as `iter_rows` would pick it."""
    head = source.head()
    kind = _kind(head, source.name)
    book = None if kind == "csv" else _workbook.sheets(source, kind)
    rows = _csv_physical_rows(source, head) if book is None else _sheet_rows(source, book, aliases)
    try:
        picked, _, _ = _find_header(rows, aliases)
    finally:
        rows.close()
        if book is not None:
            book.close()
    if picked is None:
        raise SourceError(Locator(source.name), "empty_file")
    return HeaderMap(picked[1]).header


def preview_rows(source: Source, max_rows: int = PREVIEW_ROWS) -> list[list[str]]:
    """The first non-empty rows of a source as text, read from the workbook itself (detection
    must not guess from a byte window: a re-saved workbook stores its sheet after megabytes of
    shared strings), or from the head of a text file. Raises the workbook's SourceError
    (password_protected…) so that a file that cannot be read says what it is."""
    head = source.head()
    kind = _kind(head, source.name)
    if kind == "csv":
        return head_rows(head, max_rows)
    out: list[list[str]] = []
    book = _workbook.sheets(source, kind)
    try:
        for sheet in book:
            rows = sheet.rows()
            try:
                for _, values in rows:
                    if not _is_blank(values):
                        out.append(["" if v is None else str(v).strip() for v in values])
                        if len(out) >= max_rows:
                            return out
            finally:
                rows.close()
    finally:
        book.close()
    return out


def table_sample(source: Source, *, aliases: dict[str, str] | None = None, headerless: bool = False,
                 rows: int = 20) -> dict[str, Any]:
    """The header row as `iter_rows` picks it (its line; None when `headerless`) and the first
    `rows` non-empty rows after it, as text: what a person maps the columns from."""
    head = source.head()
    kind = _kind(head, source.name)
    book = None if kind == "csv" else _workbook.sheets(source, kind)
    items = _csv_physical_rows(source, head) if book is None else _sheet_rows(
        source, book, None if headerless else aliases)
    try:
        if headerless:
            header_line, header, pending = None, None, []
        else:
            picked, pending, _ = _find_header(items, aliases)
            if picked is None:
                raise SourceError(Locator(source.name), "empty_file")
            header_line, header = picked
        out: list[tuple[int, list[str]]] = []
        for line, cells in _chain(pending, items):
            if _is_blank(cells):
                continue
            out.append((line, ["" if c is None else str(_clean_value(c) if not isinstance(c, str) else c.strip())
                               for c in cells]))
            if len(out) >= rows:
                break
    finally:
        items.close()
        if book is not None:
            book.close()
    width = max([len(header or [])] + [len(c) for _, c in out])
    if header is None:
        header = [f"#{i + 1}" for i in range(width)]
    header = HeaderMap(header).header
    header += [""] * (width - len(header))
    return {"header": header, "line": header_line, "rows": out, "kind": kind}


def header_key(header: Iterable[Any]) -> str:
    """A header row as a key (cells normalised, trailing empty ones dropped): two files whose
    headers read the same have the same key, whatever the spacing and bracket widths."""
    import hashlib

    cells = [normalise_header(h) for h in header]
    while cells and not cells[-1]:
        cells.pop()
    return hashlib.sha256("\x1f".join(cells).encode("utf-8")).hexdigest()[:32]


def workbook_kind(head: bytes) -> str | None:
    """'xlsx', 'xls'/'cfb', 'html' or 'xmlss' for a spreadsheet container, None for text."""
    return _workbook.kind_of(head)


def _iter_table(source: Source, rows: Iterator[tuple[int, list[Any]]], is_sheet: bool, required: set[str] | None,
                aliases: dict[str, str] | None, shard: Any, layout: Layout | None,
                positions: dict[int, str] | None, headerless: bool, mappable: bool = False
                ) -> Iterator[Row | Rejection]:
    name = source.name
    if headerless:
        first = next((item for item in rows if not _is_blank(item[1])), None)
        if first is None:
            raise SourceError(Locator(name), "empty_file")
        width = max(len(first[1]), max(positions or {0: ""}) + 1)
        header_line, header, pending = None, [f"#{i + 1}" for i in range(width)], [first]
    else:
        picked, pending, _ = _find_header(rows, aliases)
        if picked is None:
            raise SourceError(Locator(name), "empty_file")
        header_line, header = picked
    if layout is not None:
        chosen = layout(header)
        aliases, required = chosen[0], chosen[1]
        if len(chosen) > 2 and chosen[2] is not None:
            positions = chosen[2]
    hmap = HeaderMap(header, aliases, positions)
    missing = hmap.missing(required)
    if missing:
        where = Locator(name, line=header_line, cell=f"A{header_line}" if is_sheet and header_line else None)
        unmapped = hmap.unmapped() if mappable else []
        if unmapped:
            raise SourceError(where, "unmapped_columns", columns="、".join(missing), unmapped="、".join(unmapped))
        raise SourceError(where, "missing_columns", columns="、".join(missing))
    sheet_columns = None
    if is_sheet:
        from openpyxl.utils import get_column_letter

        sheet_columns = {key: get_column_letter(i + 1) for i, key in enumerate(hmap.keys)}
    record = 0
    apply = hmap.apply
    for line, cells in _chain(pending, rows):
        if not any(cells):
            continue
        if shard is not None:  # rows of other parse processes: counted, not mapped
            if _is_blank(cells):
                continue
            if not shard.take(sum(map(len, cells))):
                record += 1
                yield SKIPPED
                continue
        values, raw, columns = apply(cells)
        if not values and _is_blank(cells):
            continue
        record += 1
        if sheet_columns is not None:
            raw = {k: (v if v is None or isinstance(v, (str, int, float, dt.date)) else str(v))
                   for k, v in raw.items()}
        yield Row(Locator(name, record, line), values, raw, columns, sheet_columns)


def _chain(first: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from first
    yield from rest


def _sheet_rows(source: Source, book: Iterator[_workbook.Sheet],
                aliases: dict[str, str] | None) -> Iterator[tuple[int, list[Any]]]:
    """The rows of the first sheet that has a header (a row with known headers; failing that,
    the first non-empty sheet), from its first row: a cover or notes sheet may come first."""
    fallback = None
    for sheet in book:
        if aliases is None:
            yield from sheet.rows()
            return
        rows = sheet.rows()
        try:
            picked, _, matched = _find_header(rows, aliases)
        finally:
            rows.close()
        if matched:
            yield from sheet.rows()
            return
        if picked is not None and fallback is None:
            fallback = sheet
    if fallback is not None:
        yield from fallback.rows()


def load_mapping(path: str | Path) -> dict[str, str]:
    """A user column-mapping file → {source column: field}. JSON: an object
    {"原列名": "field", …} or a list of {"source_column": …, "field": …}; CSV: rows
    `source_column,field` (header row optional). A source column '#N' is the N-th column
    (see `split_mapping`). Errors → SourceError('mapping')."""
    p = Path(path)
    name = p.name

    def fail(detail: str, line: int | None = None) -> SourceError:
        return SourceError(Locator(name, line=line), "mapping", detail=detail)

    try:
        data = p.read_bytes()
    except OSError as exc:
        raise fail(f"{path}: {exc.strerror or exc}") from None
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise fail("empty mapping file / 映射文件为空")
    try:
        text = data.decode(detect_encoding(data[:65536], name))
    except (SourceError, UnicodeDecodeError):
        raise fail("not UTF-8 or GB18030 text / 编码无法识别") from None
    text = text.lstrip("\ufeff")
    mapping: dict[str, str] = {}
    if text.lstrip().startswith(("{", "[")):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise fail(f"JSON: {exc.msg}", exc.lineno) from None
        pairs: list[tuple[Any, Any]]
        if isinstance(obj, dict):
            pairs = list(obj.items())
        elif isinstance(obj, list) and all(isinstance(o, dict) for o in obj):
            pairs = [(o.get("source_column"), o.get("field")) for o in obj]
        else:
            raise fail('expected {"source column": "field"} or [{"source_column", "field"}]')
        for src, dst in pairs:
            if not isinstance(src, str) or not isinstance(dst, str) or not src.strip() or not dst.strip():
                raise fail(f"bad entry {src!r} → {dst!r}")
            mapping[src.strip()] = dst.strip()
    else:
        reader = csv.reader(io.StringIO(text, newline=""))
        for cells in reader:
            line = reader.line_num
            cells = [c.strip() for c in cells]
            if not any(cells):
                continue
            if not mapping and [c.lower() for c in cells[:2]] == ["source_column", "field"]:
                continue
            if len([c for c in cells if c]) != 2 or len(cells) < 2 or not cells[0] or not cells[1]:
                raise fail(f"expected 2 columns 'source_column,field', got {cells!r}", line)
            mapping[cells[0]] = cells[1]
    if not mapping:
        raise fail("no column mapped / 未定义任何列映射")
    return mapping




def iter_text_lines(source: Source) -> Iterator[tuple[int, str]]:
    """(physical line number, decoded line) of a text source (UTF-8 with/without BOM, UTF-16 by
    BOM, GB18030/GBK); SourceError('encoding') located at the first undecodable line."""
    yield from enumerate(_source_lines(source, source.head())[1], 1)


# --- format ----------------------------------------------------------------------------

def _kind(head: bytes, name: str) -> str:
    """'csv' for text, else the workbook container (`_workbook.kind_of`)."""
    kind = _workbook.kind_of(head)
    if kind is not None:
        return kind
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise SourceError(Locator(name), "empty_file")
    return "csv"


# --- CSV -------------------------------------------------------------------------------

def _choose_encoding(source: Source, head: bytes) -> str:
    try:
        encoding = detect_encoding(head, source.name)
    except SourceError:
        encoding = ""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    name = codecs.lookup(encoding).name if encoding else ""
    if name in ("gbk", "gb2312", "gb18030"):
        switched = _utf8_line(head)
        if switched is not None and head[:switched].isascii():
            # UTF-8 Chinese first, then bytes that are not: a file that changes encoding. Read as
            # the UTF-8 it starts in, so that the error names the line where it stops being so.
            return "utf-8"
        return "gb18030"  # a superset: GBK files with the odd GB18030-only character still decode
    if name in _ACCEPTED_ENCODINGS:
        return name
    raise _encoding_error_at(source)


def _encoding_error_at(source: Source) -> SourceError:
    """Locate the first line that is neither UTF-8 nor GB18030 (else the first non-UTF-8 line)."""
    first_non_utf8: tuple[int, bytes] | None = None
    with source.open() as fh:
        for n, line in enumerate(fh, 1):
            try:
                line.decode("utf-8")
                continue
            except UnicodeDecodeError as exc:
                if first_non_utf8 is None:
                    first_non_utf8 = (n, line[max(exc.start - 8, 0):exc.start + 8])
            try:
                line.decode("gb18030")
            except UnicodeDecodeError as exc:
                return SourceError(Locator(source.name, line=n), "encoding",
                                   detail=f"bytes {line[max(exc.start - 8, 0):exc.start + 8]!r}")
    if first_non_utf8 is not None:
        n, snippet = first_non_utf8
        return SourceError(Locator(source.name, line=n), "encoding", detail=f"bytes {snippet!r}")
    return SourceError(Locator(source.name, line=1), "encoding", detail="binary content / 非文本内容")


def _needs_text_wrapper(encoding: str, head: bytes) -> bool:
    """UTF-16, or classic-Mac '\r' line ends: lines are split after decoding."""
    return encoding == "utf-16" or (b"\n" not in head and b"\r" in head)


def _source_lines(source: Source, head: bytes) -> tuple[str, Iterator[str]]:
    """(encoding, decoded lines with their line ends) of a text source. An undecodable byte
    raises SourceError('encoding') at its line, after the complete lines before it."""
    try:
        encoding = _choose_encoding(source, head)
    except SourceError as err:
        return _lines_before_error(head, err)
    if _needs_text_wrapper(encoding, head):
        return encoding, itertools.chain.from_iterable(_text_line_blocks(source, encoding))
    return encoding, _block_lines(source, encoding)


def _lines_before_error(head: bytes, err: SourceError) -> tuple[str, Iterator[str]]:
    """No encoding fits the head: its lines before the located bad line (when they are all UTF-8,
    or all GB18030), then the error."""
    line = err.rejection.locator.line or 1
    parts = head.split(b"\n", line - 1)
    prefix = head[:len(head) - len(parts[-1])] if len(parts) == line else b""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = prefix.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        encoding, text = "utf-8", ""

    def lines() -> Iterator[str]:
        yield from _LINE.findall(text)
        raise err

    return encoding, lines()


_LINE = re.compile(r"[^\n]*\n|[^\n]+")
_BLOCK = 1 << 16


def _block_lines(source: Source, encoding: str) -> Iterator[str]:
    """The lines (with their '\n') of an ASCII-compatible text source, decoded 64 KiB at a time
    (same lines and errors as decoding line by line, at a fraction of the per-line cost)."""
    return itertools.chain.from_iterable(_line_blocks(source, encoding))


def _line_blocks(source: Source, encoding: str) -> Iterator[list[str]]:
    # b'\n' never occurs inside a UTF-8 or GB18030 character, so a block cut after a '\n'
    # decodes exactly as its lines would one by one.
    enc = "utf-8-sig" if encoding in ("utf-8", "utf-8-sig") else encoding
    rest_enc = "utf-8" if encoding == "utf-8-sig" else encoding
    line = 1  # line number of the block's first line
    pending: list[bytes] = []  # read bytes not yet ended by a newline
    with source.open() as fh:
        while True:
            chunk = fh.read(_BLOCK)
            if chunk:
                nl = chunk.rfind(b"\n")
                if nl < 0:
                    pending.append(chunk)
                    continue
                pending.append(chunk[:nl + 1])
                block = b"".join(pending)
                pending = [chunk[nl + 1:]] if nl + 1 < len(chunk) else []
            else:
                block = b"".join(pending)
                if not block:
                    return
            if enc == "gb18030":
                switched = _utf8_line(block)
                if switched is not None:
                    # GB18030 decodes most UTF-8 bytes too, as mojibake: a line that is UTF-8
                    # Chinese means the file changed encoding there; nothing after it is taken.
                    if switched:
                        yield _LINE.findall(block[:switched].decode(enc, errors="replace"))
                    raise SourceError(Locator(source.name, line=line + block.count(b"\n", 0, switched)),
                                      "encoding_changed", before="GB18030/GBK", after="UTF-8")
            try:
                text = block.decode(enc)
            except UnicodeDecodeError as exc:
                # The good lines before the bad one come through first; the error names its line.
                bad = exc.start + len(block) - len(exc.object)  # utf-8-sig reports past its BOM
                start = block.rfind(b"\n", 0, bad) + 1
                if start:
                    yield _LINE.findall(block[:start].decode(enc))
                at = Locator(source.name, line=line + block.count(b"\n", 0, start))
                end = block.find(b"\n", bad)
                if enc != "gb18030" and _decodes(block[start:end if end >= 0 else len(block)], "gb18030") \
                        and not block[bad:bad + 1].isascii():
                    raise SourceError(at, "encoding_changed", before="UTF-8", after="GB18030/GBK") from None
                raise SourceError(at, "encoding", detail=f"{encoding}: bytes {block[max(bad - 8, 0):bad + 8]!r}") from None
            yield _LINE.findall(text)
            if not chunk:
                return
            line += block.count(b"\n")
            enc = rest_enc


_ANY_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")  # what newline="" splits on


def _text_line_blocks(source: Source, encoding: str) -> Iterator[list[str]]:
    """Lines of UTF-16 or classic-Mac ('\r') text, decoded 64 KiB at a time; on an undecodable
    byte the complete lines before it come through, then the error names the byte's line."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    line = 1  # number of the first line not yet yielded
    pending: list[str] = []  # decoded text not yet ended by a newline
    held = ""
    with source.open() as fh:
        while True:
            chunk = fh.read(_BLOCK)
            error = None
            state = decoder.getstate()  # the CJK decoders drop their buffer when they fail
            try:
                text = held + decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                # exc.object = the bytes buffered before + chunk: decode what precedes the bad byte
                error = exc
                decoder.setstate(state)
                text = held + decoder.decode(chunk[:max(exc.start - len(state[0]), 0)])
            held = ""
            if chunk and error is None and text.endswith("\r"):
                text, held = text[:-1], "\r"  # may be the first half of a '\r\n'
            last = not chunk and error is None
            cut = len(text) if last else max(text.rfind("\n"), text.rfind("\r")) + 1
            if cut or (last and pending):
                pending.append(text[:cut])
                lines = _ANY_LINE.findall("".join(pending))
                pending = [text[cut:]] if cut < len(text) else []
                yield lines
                line += len(lines)
            elif text:
                pending.append(text)
            if error is not None:
                raw = error.object
                raise SourceError(Locator(source.name, line=line), "encoding",
                                  detail=f"{encoding}: bytes {raw[max(error.start - 8, 0):error.start + 8]!r}")
            if not chunk:
                return


def _sniff_delimiter(head: bytes, encoding: str) -> str:
    """The candidate giving the most lines with the same (>1) field count, quotes respected."""
    text = head.decode("utf-16" if encoding == "utf-16" else encoding, errors="replace").lstrip("\ufeff")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(head) >= 64 * 1024 and len(lines) > 1:
        lines = lines[:-1]  # probably cut in the middle
    lines = lines[:50]
    best, best_score = ",", (0, 0)
    for delim in _DELIMITERS:
        counts: dict[int, int] = {}
        try:
            for cells in csv.reader(lines, delimiter=delim):
                if len(cells) > 1:
                    counts[len(cells)] = counts.get(len(cells), 0) + 1
        except csv.Error:
            continue
        if counts:
            width, freq = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
            if (freq, width) > best_score:
                best, best_score = delim, (freq, width)
    return best




_CJK = re.compile("[\u4e00-\u9fff]")


def _utf8_line(block: bytes) -> int | None:
    """Offset of the first line of a GB18030 block that is really UTF-8 Chinese (valid UTF-8
    holding CJK ideographs and at least 6 non-ASCII bytes: GBK text is almost never valid UTF-8,
    a short line by chance at most), else None. Cheap when the block is plain GBK: the UTF-8
    check of a GBK line fails at its first Chinese character."""
    if block.isascii():
        return None
    pos = 0
    for raw in block.split(b"\n"):
        if not raw.isascii():
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = ""
            if text and sum(b > 0x7F for b in raw) >= 6 and _CJK.search(text):
                return pos
        pos += len(raw) + 1
    return None


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True
def _csv_physical_rows(source: Source, head: bytes) -> Iterator[tuple[int, list[str]]]:
    """(physical line where the record starts, cells) for every CSV record."""
    encoding, lines = _source_lines(source, head)
    delimiter = _sniff_delimiter(head, encoding)
    reader = csv.reader(lines, delimiter=delimiter)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1  # lines the reader has taken so far
    except csv.Error as exc:
        raise SourceError(Locator(source.name, line=start), "read_error", detail=f"CSV: {exc}") from None




# --- sniffing from the first bytes -----------------------------------------------------

_XML_ROW = re.compile(r"<(?:\w+:)?row\b[^>]*>(.*?)</(?:\w+:)?row>", re.S)
_XML_CELL = re.compile(r"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_XML_T = re.compile(r"<(?:\w+:)?t\b[^>]*>([^<]*)</(?:\w+:)?t>")
_XML_V = re.compile(r"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
_XML_SI = re.compile(r"<(?:\w+:)?si>(.*?)</(?:\w+:)?si>", re.S)


def head_rows(head: bytes, max_rows: int = HEADER_SCAN_ROWS) -> list[list[str]]:
    """Best effort: the first non-empty rows readable from the first bytes of a CSV/TSV or XLSX
    (for `sniff`, which only sees the head). Never raises; [] when nothing is readable."""
    try:
        if head.startswith(_ZIP_MAGIC):
            return _xlsx_head_rows(head, max_rows)
        if not head.strip() or head.startswith(_OLE_MAGIC):
            return []
        try:
            encoding = detect_encoding(head)
        except SourceError:
            # a stray bad byte must not hide the header (the reader reports it, located): the
            # encoding that decodes the head with fewer replacements, if they are stray ones
            bad, encoding = min((head.decode(e, errors="replace").count("\ufffd"), e) for e in ("utf-8", "gb18030"))
            if b"\x00" in head or bad > max(4, len(head) // 1000):
                return []
        if codecs.lookup(encoding).name not in _ACCEPTED_ENCODINGS | {"utf-16"}:
            return []
        delimiter = _sniff_delimiter(head, encoding)
        text = head.decode(encoding, errors="replace").lstrip("\ufeff")
        rows = []
        for cells in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if any(c.strip() for c in cells):
                rows.append([c.strip() for c in cells])
                if len(rows) >= max_rows:
                    break
        return rows
    except Exception:  # noqa: BLE001 - sniffing must never fail
        return []


def _zip_head_members(head: bytes) -> dict[str, str]:
    """Decompress what the head holds of the sheet and shared-string members, walking the zip
    local headers in order (APPNOTE 4.3.7); a member cut by the end of the head is partial."""
    out: dict[str, str] = {}
    pos = 0
    while head.startswith(_ZIP_MAGIC, pos) and pos + 30 <= len(head):
        flags, method = struct.unpack_from("<HH", head, pos + 6)
        csize = struct.unpack_from("<I", head, pos + 18)[0]
        nlen, xlen = struct.unpack_from("<HH", head, pos + 26)
        name = head[pos + 30:pos + 30 + nlen].decode("utf-8", "replace")
        start = pos + 30 + nlen + xlen
        sized = bool(csize) or not flags & 0x08  # bit 3: sizes only in the trailing descriptor
        data = head[start:start + csize] if sized else head[start:]
        wanted = name.startswith("xl/worksheets/") or name == "xl/sharedStrings.xml"
        end = start + csize if sized else None
        if method == 8 and (wanted or not sized):
            d = zlib.decompressobj(-15)
            text = d.decompress(data, 4 << 20)
            if not sized:
                end = start + len(data) - len(d.unused_data) if d.eof else None
        else:
            text = data
        if wanted:
            out[name] = text.decode("utf-8", "replace")
        if end is None:
            break
        pos = end
        if flags & 0x08:
            pos += 16 if head.startswith(b"PK\x07\x08", pos) else 12
    return out


def _xlsx_head_rows(head: bytes, max_rows: int) -> list[list[str]]:
    """The first non-empty rows of the sheets, sheet after sheet (a cover or notes sheet may
    come before the data, as `_sheet_iter` allows), up to `max_rows` in all."""
    members = _zip_head_members(head)
    shared_xml = members.get("xl/sharedStrings.xml", "")
    shared = [html.unescape("".join(_XML_T.findall(si))) for si in _XML_SI.findall(shared_xml)]
    sheets = sorted((k for k in members if k.startswith("xl/worksheets/")),
                    key=lambda k: (k != "xl/worksheets/sheet1.xml", k))
    rows: list[list[str]] = []
    for key in sheets:
        for row_xml in _XML_ROW.findall(members[key]):
            cells = []
            for attrs, body in _XML_CELL.findall(row_xml):
                body = body or ""
                t = re.search(r'\bt="(\w+)"', attrs)
                kind = t.group(1) if t else "n"
                if kind == "s":
                    v = _XML_V.search(body)
                    idx = int(v.group(1)) if v and v.group(1).strip().isdigit() else -1
                    cells.append(shared[idx] if 0 <= idx < len(shared) else "")
                elif kind == "inlineStr":
                    cells.append(html.unescape("".join(_XML_T.findall(body))))
                else:
                    v = _XML_V.search(body)
                    cells.append(html.unescape(v.group(1)) if v else "")
            if any(c.strip() for c in cells):
                rows.append([c.strip() for c in cells])
                if len(rows) >= max_rows:
                    return rows
    return rows
