"""Records written out as CSV or Excel for the people who work in spreadsheets: the rows of
`queries.export_records`, headers in the reader's language. Shared by the web download and
`xjip export`."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from xjip.i18n import catalogue, local_time

FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
# A cell a spreadsheet would run as a formula (OWASP "CSV injection"): written as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# Coded columns and the catalogue prefix of their labels (as `web/templates/_macros.html` shows them).
_LABELS = {"status": "status", "patent_type": "kind", "kind": "kind", "mark_kind": "kind", "gi_system": "kind",
           "right_type": "kind", "licence_type": "licence_type", "mark_feature": "mark_feature",
           "confidence": "confidence", "place_method": "place_method"}


def headers(columns: list[str], lang: str) -> list[str]:
    """Column labels as the pages show them (`web.field.*`), the column's own name otherwise."""
    labels = catalogue(lang)
    return [labels.get(f"web.field.{c}") or c for c in columns]


def readable(row: dict[str, Any], lang: str, zone: str | None = None) -> dict[str, Any]:
    """A row as a person reads it: coded values by their labels, times in `zone` (the pages' zone)."""
    labels = catalogue(lang)
    out = dict(row)
    for column, prefix in _LABELS.items():
        value = out.get(column)
        if isinstance(value, str):
            out[column] = labels.get(f"web.{prefix}.{value}") or value
    if zone:
        for column, value in out.items():
            if isinstance(value, dt.datetime):
                out[column] = local_time(value, zone).replace(tzinfo=None)
    return out


def _cell(value: Any, lang: str) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if isinstance(value, (int, float, dt.date)):
        return value
    if isinstance(value, list):
        return ("；" if lang == "zh" else "; ").join(str(v) for v in value if v is not None)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def iter_csv(rows: Iterable[dict[str, Any]], columns: list[str], lang: str, zone: str | None = None) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark (Excel then reads Chinese correctly), one chunk per 500 rows."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")
    writer.writerow(headers(columns, lang))
    for n, row in enumerate(rows, 1):
        row = readable(row, lang, zone)
        writer.writerow([_csv_safe(_cell(row.get(c), lang)) for c in columns])
        if n % 500 == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


class ExportCancelled(Exception):
    """The reader went away: the export stopped writing."""


def write_xlsx(rows: Iterable[dict[str, Any]], columns: list[str], lang: str, out: IO[bytes] | str,
               sheet: str = "records", zone: str | None = None,
               cancelled: Callable[[], bool] | None = None) -> int:
    """A workbook of one sheet, written row by row (XlsxWriter constant_memory: each row goes to
    a temporary file as it is written, so memory stays flat; 200,000 rows in bench/RESULTS.md).
    `cancelled` is asked every 100 rows; when it says so the export stops (ExportCancelled).
    Returns the number of records written."""
    import xlsxwriter

    # Strings stay strings: no formula (OWASP "CSV injection"), URL or number made of a cell's text.
    wb = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False, "default_date_format": "yyyy-mm-dd"})
    try:
        ws = wb.add_worksheet(sheet[:31])
        timestamp = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        ws.write_row(0, 0, headers(columns, lang))
        count = 0
        for count, row in enumerate(rows, 1):
            if cancelled is not None and count % 100 == 0 and cancelled():
                raise ExportCancelled()
            row = readable(row, lang, zone)
            for col, c in enumerate(columns):
                value = _cell(row.get(c), lang)
                if value is None:
                    continue
                if isinstance(value, str):
                    ws.write_string(count, col, value)
                elif isinstance(value, dt.datetime):
                    ws.write_datetime(count, col, value, timestamp)
                else:
                    ws.write(count, col, value)
    except BaseException:
        wb.fileclosed = True  # nothing more is written: no half-made workbook is packaged
        raise
    wb.close()
    return count
