"""Product listings exported from an e-commerce platform's search: CSV with a header row, XLSX or
JSON (a list of objects, or JSON lines). Columns listing_id, title, shop, seller_location, price,
listed_at, optional url; the Chinese headers platforms print are accepted too.

Every refused row is located (file, record, field) with its reason in Chinese and English; the
rows that pass are returned whole, so nothing is half-read."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from xjip.gi import GIError
from xjip.gi.monitor import MAX_SCAN

COLUMNS = ("listing_id", "title", "shop", "seller_location", "price", "listed_at", "url")
REQUIRED = ("listing_id", "title")
ALIASES = {
    "listing_id": ("商品id", "商品编号", "宝贝id", "商品编码", "编号", "id", "itemid", "item_id", "链接id"),
    "title": ("标题", "商品标题", "商品名称", "宝贝标题", "宝贝名称", "名称", "name"),
    "shop": ("店铺", "店铺名称", "店铺名", "商家", "卖家", "商家名称", "seller", "store"),
    "seller_location": ("发货地", "所在地", "卖家所在地", "商家所在地", "店铺所在地", "发货地址", "location", "产地"),
    "price": ("价格", "售价", "单价", "现价", "价格(元)", "价格（元）"),
    "listed_at": ("上架时间", "上架日期", "发布时间", "发布日期", "上架", "date"),
    "url": ("链接", "商品链接", "网址", "地址链接"),
}
MAX_ROWS = 1_000_000
MAX_PRICE = 10_000_000.0  # yuan; a price above is a typo or a placeholder
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M",
                 "%Y年%m月%d日")


def _key(header: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(header or "").strip().lower().lstrip("\ufeff"))


HEADER_MAP = {_key(c): c for c in COLUMNS} | {_key(a): c for c, names in ALIASES.items() for a in names}


@dataclass
class ListingFile:
    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    read: int = 0


def _reject(out: ListingFile, record: int, err: GIError) -> None:
    err.record = record
    out.rejections.append({"file": out.name, **err.as_dict()})


def parse_price(value: Any) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().replace("¥", "").replace("￥", "").replace(",", "").replace("元", "")
    text = text.split("-")[0].strip()  # a range '19.9-39.9': its low end
    try:
        price = float(text)
    except ValueError:
        raise GIError("bad_price", "price", value=str(value)[:40]) from None
    if not 0 <= price <= MAX_PRICE or price != price:
        raise GIError("bad_price", "price", value=str(value)[:40])
    return price


def parse_date(value: Any) -> dt.date | None:
    if value is None or str(value).strip() == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for fmt in _DATE_FORMATS:
        try:
            day = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if not 2000 <= day.year <= dt.date.today().year + 1:
            break
        return day
    raise GIError("bad_listed_at", "listed_at", value=text[:40])


def normalise_row(values: dict[str, Any]) -> dict[str, Any]:
    """Mapped values → a listing; GIError (with the field) when one is refused."""
    lid = str(values.get("listing_id") if values.get("listing_id") is not None else "").strip()
    if not lid:
        raise GIError("missing_field", "listing_id")
    if len(lid) > 200:
        raise GIError("too_long", "listing_id", limit=200)
    title = str(values.get("title") or "").strip()
    if not title:
        raise GIError("missing_field", "title")
    if len(title) > MAX_SCAN:
        raise GIError("title_too_long", "title", length=len(title), limit=MAX_SCAN)
    row = {"listing_id": lid, "title": title, "shop": (str(values.get("shop") or "").strip()[:300] or None),
           "seller_location": (str(values.get("seller_location") or "").strip()[:300] or None),
           "price": parse_price(values.get("price")), "listed_at": parse_date(values.get("listed_at")),
           "url": (str(values.get("url") or "").strip()[:2000] or None)}
    for name in ("title", "shop", "seller_location", "url"):
        if row[name] and "\x00" in row[name]:
            raise GIError("bad_text", name)
    return row


def _map_header(header: list[Any]) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for i, h in enumerate(header):
        col = HEADER_MAP.get(_key(h))
        if col and col not in mapping.values():
            mapping[i] = col
    missing = [c for c in REQUIRED if c not in mapping.values()]
    if missing:
        raise GIError("missing_column", missing[0], found="、".join(str(h) for h in header[:12]))
    return mapping


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise GIError("bad_encoding")


def _records(name: str, data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    suffix = Path(name).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 - any unreadable workbook is the same refusal
            raise GIError("bad_file", value=name) from None
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise GIError("empty_file", value=name)
        mapping = _map_header(list(header))
        for n, row in enumerate(rows, start=1):
            if row is None or all(v is None or str(v).strip() == "" for v in row):
                continue
            yield n, {col: row[i] if i < len(row) else None for i, col in mapping.items()}
        return
    text = _decode(data)
    if suffix in (".json", ".jsonl", ".ndjson") or text.lstrip()[:1] in ("[", "{"):
        try:
            if text.lstrip().startswith("["):
                items = json.loads(text)
            else:
                items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise GIError("bad_json", value=f"{exc.msg} (line {exc.lineno})") from None
        if not isinstance(items, list):
            raise GIError("bad_json", value="not a list")
        for n, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                yield n, {"__bad__": True}
                continue
            mapped: dict[str, Any] = {}
            for k, v in item.items():
                col = HEADER_MAP.get(_key(k))
                if col and col not in mapped:
                    mapped[col] = v
            yield n, mapped
        return
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise GIError("empty_file", value=name)
    mapping = _map_header(header)
    for n, row in enumerate(reader, start=1):
        if not any(c.strip() for c in row):
            continue
        yield n, {col: row[i] if i < len(row) else None for i, col in mapping.items()}


def read_listings(name: str, data: bytes) -> ListingFile:
    """Read a whole listings file. A file-level problem (no title column, not JSON…) raises
    GIError; row problems and duplicates are rejections with the record number."""
    out = ListingFile(Path(name).name)
    seen: dict[str, int] = {}
    for n, values in _records(name, data):
        out.read += 1
        if out.read > MAX_ROWS:
            raise GIError("too_many_rows", limit=MAX_ROWS)
        if values.get("__bad__"):
            _reject(out, n, GIError("bad_record"))
            continue
        try:
            row = normalise_row(values)
        except GIError as err:
            _reject(out, n, err)
            continue
        if row["listing_id"] in seen:
            _reject(out, n, GIError("duplicate_listing", "listing_id", value=row["listing_id"],
                                    first=seen[row["listing_id"]]))
            continue
        seen[row["listing_id"]] = n
        row["record"] = n
        out.rows.append(row)
    return out
