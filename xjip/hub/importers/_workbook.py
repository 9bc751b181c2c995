"""Spreadsheets as rows of values, whatever program saved them.

What an office calls "the Excel export" is one of several containers, told apart by content,
never by the file name:
- ``xlsx``: Office Open XML (.xlsx/.xlsm, ECMA-376), read with openpyxl's sheet parser;
- ``xls``: Excel 97-2003 BIFF (.xls, WPS .et), read with xlrd;
- ``html``: an HTML table saved as .xls (what many Chinese systems call an Excel export);
- ``xmlss``: XML Spreadsheet 2003 (``urn:schemas-microsoft-com:office:spreadsheet``);
- a password-protected workbook: an OOXML package encrypted into a CFB container
  (MS-OFFCRYPTO 2.3.4: streams ``EncryptionInfo`` and ``EncryptedPackage``), or a BIFF workbook
  with a FILEPASS record. It cannot be read without the password and says so.

Formula cells are data, never code (nothing is evaluated): a cell yields the value the file
stores for it (Excel and WPS cache each formula's last result); a ``HYPERLINK(url, "text")``
without a stored result yields its display text; any other formula without one is empty.

`sheets(source, kind)` yields `Sheet`s lazily; `Sheet.rows()` yields (row number, values) with
values a list (None for empty cells). Memory stays flat for xlsx, HTML and XML Spreadsheet
(streamed); an .xls (at most 65,536 rows) is read whole, as xlrd does.
"""
from __future__ import annotations

import codecs
import datetime as dt
import io
import re
import warnings
from dataclasses import dataclass
from typing import IO, Any, Callable, Iterator

from xjip.hub.records import Locator, SourceError

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File Binary (MS-CFB 2.2)
ZIP_MAGIC = b"PK\x03\x04"
XMLSS_NS = "urn:schemas-microsoft-com:office:spreadsheet"
_SS = "{" + XMLSS_NS + "}"

WORKBOOK_KINDS = ("xlsx", "xls", "html", "xmlss")

_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html\b|<table\b|<meta\b|<head\b|<body\b|<style\b)",
                         re.I | re.S)
_XML_DECL_LINE = re.compile(rb"^\s*<\?xml\b[^>]*>")


def kind_of(head: bytes) -> str | None:
    """The container of a source from its first bytes: one of WORKBOOK_KINDS, "cfb" (an OLE
    container that is no workbook we know yet: checked when opened), or None (text: CSV/TSV,
    XML, JSON, SQL… for the other readers)."""
    body = head[3:] if head.startswith(codecs.BOM_UTF8) else head
    if head.startswith(OLE_MAGIC):
        return "cfb"
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            body = head.decode("utf-16")[:4000].encode("utf-8")
        except UnicodeDecodeError:
            return None
    if body.lstrip().startswith(b"<"):
        window = body[:8192]
        if XMLSS_NS.encode() in window and b"Workbook" in window:
            return "xmlss"
        if _HTML_START.match(_XML_DECL_LINE.sub(b"", body, count=1)):
            return "html"
    return None


def describe(kind: str) -> str:
    """Catalogue id of a container's name in words ("Excel 97-2003 workbook")."""
    return f"tabular.kind.{kind}"


def _kind_error(source_name: str, code: str, kind: str, detail: str = "") -> SourceError:
    from xjip.i18n import both

    zh, en = both(describe(kind))
    return SourceError(Locator(source_name), code, kind=f"{zh} / {en}", kind_zh=zh, kind_en=en, detail=detail)


# --- cells -----------------------------------------------------------------------------

_HYPERLINK = re.compile(r'^\s*=?\s*HYPERLINK\s*\((?P<args>.*)\)\s*$', re.I | re.S)
_STRING_ARG = re.compile(r'"((?:[^"]|"")*)"')


def hyperlink_text(formula: str | None, text_only: bool = False) -> str | None:
    """The display text of `HYPERLINK(url, "text")` (its second argument when a string literal;
    the URL when there is none, unless `text_only`). None for any other formula: nothing is
    evaluated."""
    if not formula:
        return None
    m = _HYPERLINK.match(formula)
    if not m:
        return None
    literals = _STRING_ARG.findall(m.group("args"))
    args = _split_args(m.group("args"))
    if len(args) >= 2:
        second = args[1].strip()
        if second.startswith('"') and second.endswith('"') and len(second) >= 2:
            return second[1:-1].replace('""', '"')
        return None  # a computed display text: no value without evaluating
    if len(args) == 1 and literals and not text_only:
        return literals[0].replace('""', '"')
    return None


def _split_args(text: str) -> list[str]:
    """Top-level arguments of a formula call (quotes and parentheses respected)."""
    out, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch in ",;" and depth == 0:  # ';' where a locale writes it so
                out.append(text[start:i])
                start = i + 1
    out.append(text[start:])
    return out


_OOXML_ESCAPE = re.compile(r"_x[0-9A-Fa-f]{4}_")


def _unescape_ooxml(text: str) -> str:
    """ECMA-376 ST_Xstring escapes (`_x000D_` is a carriage return) as the characters."""
    if "_x" not in text or not _OOXML_ESCAPE.search(text):
        return text
    from openpyxl.utils.escape import unescape

    return unescape(text)


@dataclass
class Sheet:
    name: str
    rows: Callable[[], Iterator[tuple[int, list[Any]]]]


# --- entry point -----------------------------------------------------------------------

def sheets(source: Any, kind: str) -> Iterator[Sheet]:
    """The sheets of a workbook source, in order. Raises SourceError: password_protected,
    workbook_unreadable (located, naming what the file is), html_no_table."""
    if kind == "cfb":
        kind = _cfb_kind(source)
    if kind == "xlsx":
        yield from _xlsx_sheets(source)
    elif kind == "xls":
        yield from _xls_sheets(source)
    elif kind == "html":
        yield from _html_sheets(source)
    elif kind == "xmlss":
        yield from _xmlss_sheets(source)
    else:  # pragma: no cover - kind_of returns nothing else
        raise ValueError(kind)


def _read_all(source: Any) -> bytes:
    with source.open() as fh:
        return fh.read()


# --- CFB: .xls or an encrypted package ------------------------------------------------------

def _cfb_streams(data: bytes) -> list[str]:
    import os

    from xlrd.compdoc import CompDoc, CompDocError

    try:
        with open(os.devnull, "w") as log:
            doc = CompDoc(data, logfile=log)
    except (CompDocError, ValueError, IndexError, Exception):  # noqa: BLE001 - a broken container
        return []
    return [entry.name for entry in doc.dirlist]


def _cfb_kind(source: Any) -> str:
    """An OLE container: an Excel 97-2003 workbook, or a password-protected OOXML package."""
    data = _read_all(source)
    streams = set(_cfb_streams(data))
    if {"EncryptionInfo", "EncryptedPackage"} & streams:
        raise _kind_error(source.name, "password_protected", "encrypted")
    if not streams & {"Workbook", "Book", "WORKBOOK", "BOOK"}:
        raise _kind_error(source.name, "workbook_unreadable", "cfb",
                          "no Workbook stream / 没有工作簿数据流" if streams else "damaged container / 文件已损坏")
    return "xls"


# --- xlsx ------------------------------------------------------------------------------

def _open_xlsx(source: Any) -> Any:
    import openpyxl

    fh: IO[bytes] = source.open()
    if not fh.seekable():  # gz-wrapped workbook: zip needs random access
        with fh:
            fh = io.BytesIO(fh.read())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no default style" and the like: not the reader's business
            return openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - zipfile/KeyError/XML errors of a broken workbook
        raise _kind_error(source.name, "workbook_unreadable", "xlsx", str(exc)[:200]) from None


def _xlsx_sheets(source: Any) -> Iterator[Sheet]:
    wb = _open_xlsx(source)
    try:
        for ws in wb.worksheets:
            path = getattr(ws, "_worksheet_path", None)
            if path is None:
                continue
            strings = getattr(ws, "_shared_strings", None) or []
            yield Sheet(ws.title, lambda wb=wb, path=path, strings=strings: _xlsx_rows(wb, path, strings))
    finally:
        wb.close()


def _xlsx_rows(wb: Any, path: str, strings: Any) -> Iterator[tuple[int, list[Any]]]:
    """Rows of one sheet from its XML, in order. openpyxl's own sheet parser reads the cells
    (shared and inline strings, number formats, dates, the 1904 epoch); a subclass keeps each
    formula's stored result and its text side by side, which read-only mode does not offer.
    The <dimension> a sheet declares is not trusted (exporters write "A1" for 7,000 rows)."""
    from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser

    class _Parser(WorkSheetParser):
        def parse_cell(self, element: Any) -> dict[str, Any]:
            cell = super().parse_cell(element)
            formula = element.find(FORMULA_TAG)
            if formula is not None and cell["value"] is None:
                cell["value"] = hyperlink_text(formula.text)
            return cell

    with wb._archive.open(path) as src, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parser = _Parser(src, strings, data_only=True, epoch=wb.epoch,
                         date_formats=wb._date_formats, timedelta_formats=wb._timedelta_formats)
        for number, cells in parser.parse():
            if not cells:
                continue
            width = max(c["column"] for c in cells)
            values: list[Any] = [None] * width
            for c in cells:
                value = c["value"]
                if value.__class__ is str:
                    value = _unescape_ooxml(value)
                elif c["data_type"] == "e":
                    value = None  # #N/A, #REF!…: no data
                values[c["column"] - 1] = value
            yield number, values


# --- xls (BIFF) ------------------------------------------------------------------------

def _xls_sheets(source: Any) -> Iterator[Sheet]:
    import xlrd

    data = _read_all(source)
    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True, logfile=io.StringIO(),
                                  ignore_workbook_corruption=True)
    except xlrd.XLRDError as exc:
        if "encrypted" in str(exc).lower():
            raise _kind_error(source.name, "password_protected", "xls") from None
        raise _kind_error(source.name, "workbook_unreadable", "xls", str(exc)[:200]) from None
    except Exception as exc:  # noqa: BLE001 - struct/index errors of a damaged BIFF stream
        raise _kind_error(source.name, "workbook_unreadable", "xls", f"{type(exc).__name__}: {exc}"[:200]) from None
    try:
        for index in range(book.nsheets):
            yield Sheet(book.sheet_names()[index], lambda i=index: _xls_rows(book, i))
    finally:
        book.release_resources()


def _xls_rows(book: Any, index: int) -> Iterator[tuple[int, list[Any]]]:
    import xlrd

    sheet = book.sheet_by_index(index)
    for r in range(sheet.nrows):
        values: list[Any] = []
        for cell in sheet.row(r):
            ctype, value = cell.ctype, cell.value
            if ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                value = None
            elif ctype == xlrd.XL_CELL_DATE:
                try:
                    value = xlrd.xldate.xldate_as_datetime(value, book.datemode)
                except (xlrd.xldate.XLDateError, ValueError, OverflowError):
                    pass  # an out-of-range serial stays a number; the field parser says so, located
            elif ctype == xlrd.XL_CELL_BOOLEAN:
                value = bool(value)
            values.append(value)  # a formula cell: xlrd gives the result BIFF stores with it
        yield r + 1, values
    book.unload_sheet(index)


# --- HTML table saved as .xls ----------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)


def _html_encoding(head: bytes) -> str:
    from xjip.hub.importers.base import detect_encoding

    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return name
    m = _META_CHARSET.search(head[:8192])
    if m:
        try:
            name = codecs.lookup(m.group(1).decode("ascii")).name
        except LookupError:
            name = ""
        if name in ("gbk", "gb2312", "gb18030"):
            return "gb18030"  # the superset decodes the other two
        if name:
            return name
    try:
        encoding = detect_encoding(head)
    except SourceError:
        return "gb18030"
    return "gb18030" if codecs.lookup(encoding).name in ("gbk", "gb2312") else encoding


def _cell_text(el: Any) -> str:
    """A cell's text as shown: <br> and block ends are line breaks, runs of spaces one space."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag.lower() == "br":
            parts.append("\n")
        elif node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if tag.lower() in ("p", "div") and parts and not parts[-1].endswith("\n"):
            parts.append("\n")

    walk(el)
    lines = [" ".join(line.replace("\xa0", " ").split()) for line in "".join(parts).split("\n")]
    return "\n".join(line for line in lines if line)


def _html_sheets(source: Any) -> Iterator[Sheet]:
    yield Sheet("html", lambda: _html_rows(source))


def _html_rows(source: Any) -> Iterator[tuple[int, list[Any]]]:
    """Every table row of the page in document order; colspan and rowspan keep the columns
    where a spreadsheet has them (a merged cell's value in its first cell, the others empty)."""
    from lxml import etree

    head = source.head()
    encoding = _html_encoding(head)
    spans: dict[int, int] = {}  # column → rows still covered by a rowspan from above
    number = 0
    with source.open() as fh:
        try:
            for _, tr in etree.iterparse(fh, events=("end",), tag="tr", html=True, no_network=True,
                                         huge_tree=False, encoding=encoding, remove_comments=True,
                                         remove_pis=True):
                number += 1
                values: list[Any] = []
                col = 0
                for cell in tr:
                    if not isinstance(cell.tag, str) or cell.tag.lower() not in ("td", "th"):
                        continue
                    while spans.get(col):
                        spans[col] -= 1
                        values.append(None)
                        col += 1
                    text = _cell_text(cell)
                    colspan = _span(cell.get("colspan"))
                    rowspan = _span(cell.get("rowspan"))
                    for k in range(colspan):
                        values.append((text or None) if k == 0 else None)
                        if rowspan > 1:
                            spans[col + k] = rowspan - 1
                    col += colspan
                while any(v for c, v in spans.items() if c >= col):
                    if spans.get(col):
                        spans[col] -= 1
                    values.append(None)
                    col += 1
                tr.clear(keep_tail=True)
                yield number, values
        except etree.XMLSyntaxError as exc:
            raise _kind_error(source.name, "workbook_unreadable", "html", str(exc)[:200]) from None
    if number == 0:
        raise _kind_error(source.name, "html_no_table", "html")


def _span(value: Any) -> int:
    try:
        return max(1, min(int(str(value).strip()), 1000))
    except (TypeError, ValueError):
        return 1


# --- XML Spreadsheet 2003 --------------------------------------------------------------

def _xmlss_sheets(source: Any) -> Iterator[Sheet]:
    from xjip.hub.importers.base import check_xml_prolog

    check_xml_prolog(source.head(), source.name)  # entity declarations refused, as for all XML
    names = list(_xmlss_worksheet_names(source))
    for index, name in enumerate(names or ["Sheet1"]):
        yield Sheet(name, lambda i=index: _xmlss_rows(source, i))


def _xmlss_iter(source: Any, fh: IO[bytes], events: tuple[str, ...], tag: Any) -> Any:
    from lxml import etree

    return etree.iterparse(fh, events=events, tag=tag, resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def _xmlss_worksheet_names(source: Any) -> Iterator[str]:
    from lxml import etree

    with source.open() as fh:
        try:
            for _, el in _xmlss_iter(source, fh, ("start",), _SS + "Worksheet"):
                yield el.get(_SS + "Name") or ""
        except etree.XMLSyntaxError as exc:
            raise _kind_error(source.name, "workbook_unreadable", "xmlss", str(exc)[:200]) from None


def _xmlss_rows(source: Any, index: int) -> Iterator[tuple[int, list[Any]]]:
    """Rows of the index-th Worksheet. ss:Index places a cell (or row) after skipped ones;
    ss:MergeAcross leaves the merged cells empty; a formula (ss:Formula) yields the result the
    file stores in its Data."""
    from lxml import etree

    sheet = -1
    number = 0
    with source.open() as fh:
        try:
            for event, el in _xmlss_iter(source, fh, ("start", "end"), (_SS + "Worksheet", _SS + "Row")):
                if el.tag == _SS + "Worksheet":
                    if event == "start":
                        sheet += 1
                        number = 0
                    elif sheet > index:
                        return
                    continue
                if event != "end" or sheet != index:
                    if event == "end":
                        el.clear(keep_tail=True)
                    continue
                at = el.get(_SS + "Index")
                number = int(at) if at and at.isdigit() else number + 1
                values: list[Any] = []
                for cell in el.iterchildren(_SS + "Cell"):
                    at = cell.get(_SS + "Index")
                    if at and at.isdigit() and int(at) - 1 > len(values):
                        values.extend([None] * (int(at) - 1 - len(values)))
                    values.append(_xmlss_value(cell))
                    across = cell.get(_SS + "MergeAcross")
                    if across and across.isdigit():
                        values.extend([None] * min(int(across), 1000))
                el.clear(keep_tail=True)
                yield number, values
        except etree.XMLSyntaxError as exc:
            raise _kind_error(source.name, "workbook_unreadable", "xmlss", str(exc)[:200]) from None


def _xmlss_value(cell: Any) -> Any:
    data = cell.find(_SS + "Data")
    if data is None:
        return hyperlink_text(cell.get(_SS + "Formula"))
    text = "".join(data.itertext())
    kind = data.get(_SS + "Type")
    if not text.strip():
        return hyperlink_text(cell.get(_SS + "Formula"))
    if kind == "Number":
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() and abs(number) < 1e15 else number
    if kind == "DateTime":
        try:
            return dt.datetime.fromisoformat(text.strip()[:19])
        except ValueError:
            return text
    if kind == "Boolean":
        return text.strip() in ("1", "true", "TRUE")
    if kind == "Error":
        return None
    return text
