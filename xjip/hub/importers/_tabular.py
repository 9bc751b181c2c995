"""Streaming reader for tabular sources: CSV/TSV and XLSX, shared by every template importer
(patent bibliographic exports, trademark / GI / copyright / … templates).

API (kept stable; other importers build on it):
  iter_rows(source, *, required=None, aliases=None) -> Row | Rejection
  header_of(source) -> list[str]           the original header cells
  load_mapping(path) -> {source column: field}   a user column-mapping file (JSON or CSV)
  normalise_header(text) -> str            the form headers and alias keys are compared in
  HeaderMap                                header → canonical fields (also used for SQL dumps)
  head_rows(head) -> list[list[str]]       best-effort first rows from the first bytes (for sniff)
  iter_text_lines(source) -> (line, text)  decoded lines, encoding errors located

Headers are compared after normalisation: NFKC (full-width → half-width), lower-case, and
whitespace, punctuation and control characters removed, so '申请（专利权）人', '申请(专利权)人'
and ' 申请 (专利权) 人 ' are one header. `aliases` maps headers (normalised here) to canonical
fields; the first alias given for a field is the name shown when that column is missing.
`required` holds canonical fields; an entry 'a|b' means "at least one of a or b".

The header row is the first non-empty row, except that when `aliases` are given, leading
rows that match no alias (the "检索式：…" preamble some databases write above the table) are
skipped: the header is the first row, among the first 30 non-empty ones, that holds at least
two known headers (one when only one field is known); failing that, the first non-empty row.

Memory stays flat: CSV is decoded line by line, XLSX is read with openpyxl read_only.
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
from typing import IO, Any, Iterable, Iterator

from xjip.hub.importers.base import SKIPPED, Source, detect_encoding
from xjip.hub.records import Locator, Rejection, SourceError

HEADER_SCAN_ROWS = 30
_CSV_FIELD_LIMIT = 64 * 1024 * 1024  # full-text description columns exceed csv's 128 KiB default
_DELIMITERS = (",", "\t", ";", "|")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls / .et (Excel 97-2003 BIFF)
# Encodings a Chinese export can legitimately be in. Anything else charset-normalizer guesses
# (cp1252, latin-1, …) means mojibake for Chinese data, so it is refused rather than imported.
_ACCEPTED_ENCODINGS = {"utf-8", "utf-8-sig", "gb18030", "gbk", "gb2312"}

if csv.field_size_limit() < _CSV_FIELD_LIMIT:
    csv.field_size_limit(_CSV_FIELD_LIMIT)


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
    """Maps a header row to canonical fields; turns cell lists into (values, raw, columns)."""

    def __init__(self, header: Iterable[Any], aliases: dict[str, str] | None = None):
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
        for i, norm in enumerate(self.normalised):
            if not norm:
                continue
            canonical = lookup.get(norm) if aliases is not None else norm
            if canonical:
                self.positions.setdefault(canonical, []).append(i)
        # One column per field is the usual case: a flat list of pairs is the fast path.
        self._single = [(f, p[0]) for f, p in self.positions.items() if len(p) == 1]
        self._multi = [(f, p) for f, p in self.positions.items() if len(p) > 1]
        self._static_columns = {f: self.keys[i] for f, i in self._single}

    def known(self) -> int:
        return len(self.positions)

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
                        values[name] = v
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
        return value or None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date()
    return value


def _alias_hits(cells: list[Any], aliases: dict[str, str]) -> int:
    known = {normalise_header(a) for a in aliases}
    return len({normalise_header(c) for c in cells if c not in (None, "")} & known)


def _is_blank(cells: list[Any]) -> bool:
    return not any(c is not None and (not isinstance(c, str) or c.strip()) for c in cells)


def _find_header(rows: Iterator[Any], aliases: dict[str, str] | None) -> tuple[Any, list[Any] | None]:
    """Pick the header among rows = iterator of (line, cells, …) items.
    Returns (header item, None) when a row matches (the iterator is then right after it), else
    (first non-empty item, the non-empty items read after it), or (None, None) when all blank."""
    need = min(2, len(set(aliases.values()))) if aliases else 0
    buffered: list[Any] = []
    for item in rows:
        if _is_blank(item[1]):
            continue
        if aliases is None or _alias_hits(item[1], aliases) >= need:
            return item, None
        buffered.append(item)
        if len(buffered) >= HEADER_SCAN_ROWS:
            break
    if not buffered:
        return None, None
    return buffered[0], buffered[1:]


# --- public entry points ---------------------------------------------------------------

def iter_rows(source: Source, *, required: set[str] | None = None, aliases: dict[str, str] | None = None,
              shard: Any = None) -> Iterator[Row | Rejection]:
    """Every data row of a CSV/TSV/XLSX source, as `Row`s (or `Rejection`s for rows that hold a
    formula). Raises SourceError: empty_file, encoding (located at the line), missing_columns,
    read_error, unknown_format (old binary .xls)."""
    head = source.head()
    kind = _kind(head, source.name)
    if kind == "xlsx":
        yield from _iter_sheet(source, required, aliases)
    else:
        yield from _iter_csv(source, head, required, aliases, shard)



def header_of(source: Source, *, aliases: dict[str, str] | None = None) -> list[str]:
    """The header row (original cells, stripped) as `iter_rows` would pick it."""
    head = source.head()
    if _kind(head, source.name) == "xlsx":
        it = _sheet_iter(source, aliases)
        try:
            _, header, _ = next(it)
        except StopIteration:
            raise SourceError(Locator(source.name), "empty_file") from None
        finally:
            it.close()
        return HeaderMap(header).header
    rows = _csv_physical_rows(source, head)
    try:
        picked, _ = _find_header(rows, aliases)
    finally:
        rows.close()
    if picked is None:
        raise SourceError(Locator(source.name), "empty_file")
    return HeaderMap(picked[1]).header


def load_mapping(path: str | Path) -> dict[str, str]:
    """A user column-mapping file → {source column: field}. JSON: an object
    {"原列名": "field", …} or a list of {"source_column": …, "field": …}; CSV: rows
    `source_column,field` (header row optional). Errors → SourceError('mapping')."""
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
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.startswith(_OLE_MAGIC):
        raise SourceError(Locator(name), "unknown_format",
                          detail="Excel 97-2003 (.xls): save as .xlsx or CSV / 请另存为 .xlsx 或 CSV")
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
    if name in ("gbk", "gb2312"):
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
            try:
                text = block.decode(enc)
            except UnicodeDecodeError as exc:
                # The good lines before the bad one come through first; the error names its line.
                bad = exc.start + len(block) - len(exc.object)  # utf-8-sig reports past its BOM
                start = block.rfind(b"\n", 0, bad) + 1
                if start:
                    yield _LINE.findall(block[:start].decode(enc))
                raise SourceError(Locator(source.name, line=line + block.count(b"\n", 0, start)), "encoding",
                                  detail=f"{encoding}: bytes {block[max(bad - 8, 0):bad + 8]!r}") from None
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


def _iter_csv(source: Source, head: bytes, required: set[str] | None,
              aliases: dict[str, str] | None, shard: Any = None) -> Iterator[Row]:
    rows = _csv_physical_rows(source, head)
    picked, pending = _find_header(rows, aliases)
    if picked is None:
        raise SourceError(Locator(source.name), "empty_file")
    header_line, header = picked
    hmap = HeaderMap(header, aliases)
    missing = hmap.missing(required)
    if missing:
        raise SourceError(Locator(source.name, line=header_line), "missing_columns", columns="、".join(missing))
    record = 0
    name = source.name
    apply = hmap.apply
    for line, cells in _chain(pending or [], rows):
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
        yield Row(Locator(name, record, line), values, raw, columns)


def _chain(first: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from first
    yield from rest


# --- XLSX ------------------------------------------------------------------------------

def _load_workbook(source: Source) -> Any:
    import openpyxl

    fh: IO[bytes] = source.open()
    if not fh.seekable():  # gz-wrapped workbook: openpyxl needs random access
        with fh:
            fh = io.BytesIO(fh.read())
    try:
        # read_only: rows are streamed from the sheet XML, memory stays flat.
        return openpyxl.load_workbook(fh, read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001 - zipfile/KeyError/XML errors of a broken workbook
        raise SourceError(Locator(source.name), "read_error", detail=f"XLSX: {exc}") from None


def _sheet_rows(ws: Any) -> Iterator[tuple[int, list[Any], tuple[Any, ...]]]:
    """(row number, values, read-only cells) for every row of a sheet."""
    ws.reset_dimensions()  # some exporters write a wrong <dimension>; do not trust it
    for n, cells in enumerate(ws.iter_rows(), 1):  # read-only rows come contiguous from row 1
        yield n, [getattr(c, "value", None) for c in cells], cells


def _sheet_iter(source: Source, aliases: dict[str, str] | None) -> Iterator[Any]:
    """The header item, then every later item, of the first sheet that has a header
    (a row with known headers; failing that, the first non-empty row of the first non-empty sheet)."""
    wb = _load_workbook(source)
    try:
        fallback = None
        for ws in wb.worksheets:
            rows = _sheet_rows(ws)
            picked, pending = _find_header(rows, aliases)
            if picked is None:
                continue
            if pending is None:  # a real match (or aliases=None): the iterator is right after it
                yield picked
                yield from rows
                return
            if fallback is None:
                fallback = ws
        if fallback is None:
            return
        rows = _sheet_rows(fallback)
        picked, pending = _find_header(rows, None)
        yield picked
        yield from rows
    finally:
        wb.close()


def _iter_sheet(source: Source, required: set[str] | None,
                aliases: dict[str, str] | None) -> Iterator[Row | Rejection]:
    from openpyxl.utils import get_column_letter

    it = _sheet_iter(source, aliases)
    try:
        header_row, header, _ = next(it)
    except StopIteration:
        raise SourceError(Locator(source.name), "empty_file") from None
    hmap = HeaderMap(header, aliases)
    missing = hmap.missing(required)
    if missing:
        it.close()
        raise SourceError(Locator(source.name, line=header_row, cell=f"A{header_row}"), "missing_columns",
                          columns="、".join(missing))
    sheet_columns = {key: get_column_letter(i + 1) for i, key in enumerate(hmap.keys)}
    width = len(hmap.keys)
    name = source.name
    record = 0
    for n, values_list, cells in it:
        if _is_blank(values_list):
            continue
        record += 1
        values, raw, columns = hmap.apply(values_list)
        formula = next(((i, c.value) for i, c in enumerate(cells[:width])
                        if getattr(c, "data_type", None) == "f"), None)
        if formula is not None:
            # Never evaluate or carry a formula (formula injection): refuse the whole record.
            i, text = formula
            raw = {k: (v if v is None or isinstance(v, (str, int, float, dt.date)) else str(v))
                   for k, v in raw.items()}
            yield Rejection(Locator(name, record, n, f"{get_column_letter(i + 1)}{n}"), "formula",
                            field=hmap.keys[i], params={"value": str(text)}, raw=raw)
            continue
        yield Row(Locator(name, record, n), values, raw, columns, sheet_columns)


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
