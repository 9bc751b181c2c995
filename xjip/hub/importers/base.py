"""What every importer shares: opening sources (file, folder, .gz, .zip), decoding text,
parsing XML safely, parsing dates, and the registry that picks an importer from content.

An importer is a module-level object with
  name: str                                   e.g. "cn_biblio"
  record_types: tuple[str, ...]               what it yields
  sniff(head: bytes, name: str) -> int        0 = not mine; higher = more certain (max 100)
  parse(source: Source, options: dict) -> ItemStream
and registers itself with `register(importer)` in its module. An importer of tables may also
have `sniff_rows(rows: list[list[str]], name) -> int`: for a workbook (xlsx, .xls, an HTML table
or XML Spreadsheet saved as .xls) detection reads its first rows from the workbook itself, not
from a byte window (a re-saved xlsx can hold megabytes of shared strings before its sheet).
"""
from __future__ import annotations

import codecs
import datetime as dt
import gzip
import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Protocol

from xjip.hub.records import ItemStream, Locator, RecordError, SourceError

HEAD_BYTES = 64 * 1024
MAX_ZIP_MEMBERS = 100_000
MAX_ZIP_RATIO = 200  # decompressed / compressed, per zip member or gzip stream: beyond it a bomb is likely
# Below this many decompressed bytes the ratio is not held against a source: a small file of
# repeated rows may compress well, and cannot hurt.
RATIO_FLOOR = 1 << 20


@dataclass
class Source:
    """One logical input: a file, a member of a zip, or a gunzipped stream."""

    name: str  # what errors show: "folder/file.xml", "archive.zip!/member.csv"
    opener: Callable[[], IO[bytes]]  # fresh binary stream, decompressed
    size: int | None = None  # size on disk (compressed)
    total: int | None = None  # decompressed size when known (progress is counted against it)
    bytes_read: int = 0  # decompressed bytes read by the latest stream opened with `open()`

    def open(self) -> IO[bytes]:
        return _Counting(self.opener(), self)

    def head(self, n: int = HEAD_BYTES) -> bytes:
        with self.open() as fh:
            return fh.read(n)


def _gzip_input(stream: Any) -> Any:
    """The compressed stream under a gzip one (what the ratio is measured against), else None."""
    return stream.fileobj if isinstance(stream, gzip.GzipFile) else None


class _Counting:
    """Passes reads through and records progress on the Source (seek/tell kept for openpyxl)."""

    def __init__(self, inner: IO[bytes], source: Source):
        self._inner, self._source = inner, source
        self._compressed = _gzip_input(inner)
        source.bytes_read = 0

    def _count(self, n: int) -> None:
        self._source.bytes_read += n
        if self._compressed is not None and self._source.bytes_read > RATIO_FLOOR:
            # A gzip stream says its size only in a trailer that can lie (and wraps at 4 GiB):
            # its ratio is watched as it is read, as the zip members' is checked up front.
            taken = max(self._compressed.tell(), 1)
            if self._source.bytes_read > MAX_ZIP_RATIO * taken:
                raise SourceError(Locator(self._source.name), "archive_ratio",
                                  ratio=self._source.bytes_read // taken, limit=MAX_ZIP_RATIO)

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n)
        self._count(len(data))
        return data

    def read1(self, n: int = -1) -> bytes:
        data = self._inner.read1(n) if hasattr(self._inner, "read1") else self._inner.read(n)
        self._count(len(data))
        return data

    def readinto(self, buf: Any) -> int:
        n = self._inner.readinto(buf)  # type: ignore[attr-defined]
        self._count(n or 0)
        return n

    def readline(self, limit: int = -1) -> bytes:
        data = self._inner.readline(limit)
        self._count(len(data))
        return data

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def readable(self) -> bool:
        return True

    def __enter__(self) -> "_Counting":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Shard:
    """One of `count` parse processes working through the same source side by side. Records
    fall into windows (a window is one batch: up to `max_items` records, closed once it holds
    `max_bytes` of input), in order; process `index` parses windows index, index + count, …
    and only steps over the records of the others (split, not parsed, yielded as `SKIPPED`).
    Every process sees the same records with the same sizes, so all agree on the windows."""

    def __init__(self, index: int, count: int, max_items: int, max_bytes: int):
        self.index, self.count, self.max_items, self.max_bytes = index, count, max_items, max_bytes
        self.window = -1  # window of the latest record
        self._items = self._bytes = 0

    def take(self, size: int) -> bool:
        """Count the next record (`size`: its length in the source); True if it is this
        process's to parse."""
        if self.window < 0 or self._items >= self.max_items or self._bytes >= self.max_bytes:
            self.window += 1
            self._items = self._bytes = 0
        self._items += 1
        self._bytes += size
        return self.window % self.count == self.index


class _Skipped:
    def __repr__(self) -> str:
        return "SKIPPED"


SKIPPED: Any = _Skipped()  # a record another parse process takes (see Shard)


def shard_of(options: dict[str, Any] | None) -> Shard | None:
    """The Shard a parse process works on (`options["_shard"]`), if any. An importer that honours
    it says so with `can_shard(source)`, and yields exactly one item per record (the record, a
    Rejection or SKIPPED)."""
    return (options or {}).get("_shard")


class Importer(Protocol):
    name: str
    record_types: tuple[str, ...]

    def sniff(self, head: bytes, name: str) -> int: ...

    def parse(self, source: Source, options: dict[str, Any]) -> ItemStream: ...


REGISTRY: dict[str, Importer] = {}


def register(importer: Importer) -> Importer:
    REGISTRY[importer.name] = importer
    return importer


def load_importers() -> dict[str, Importer]:
    """Import every importer module so that each registers itself."""
    import importlib
    import pkgutil

    import xjip.hub.importers as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in ("base",) and not mod.name.startswith("_"):
            importlib.import_module(f"xjip.hub.importers.{mod.name}")
    return REGISTRY


def detect(source: Source, forced: str | None = None) -> Importer:
    importers = load_importers()
    if forced:
        if forced not in importers:
            raise SourceError(Locator(source.name), "unknown_format", detail=f"--format {forced}")
        return importers[forced]
    head = source.head()
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise SourceError(Locator(source.name), "empty_file")
    from xjip.hub.importers import _tabular

    scores = {imp.name: imp.sniff(head, source.name) for imp in importers.values()}
    kind = _tabular.workbook_kind(head)
    rows: list[list[str]] | None = None
    if kind is not None:
        try:
            rows = _tabular.preview_rows(source)
        except SourceError:
            if max(scores.values(), default=0) <= 0:
                raise  # a workbook that cannot be read says what it is (password, damaged…)
            rows = []
        for imp in importers.values():
            if hasattr(imp, "sniff_rows"):
                scores[imp.name] = max(scores[imp.name], imp.sniff_rows(rows, source.name))
    best = max(scores.items(), key=lambda kv: (kv[1], kv[0]), default=(None, 0))
    if best[1] <= 0 and kind is None:
        binary = _binary_kind(head)
        if binary:
            raise SourceError(Locator(source.name), "not_a_table", kind=binary)
        if not head.lstrip().startswith((b"<", b"PK", b"\x1f\x8b")):
            detect_encoding(head, source.name)  # undecodable text: say so (located) rather than "unknown format"
    if best[1] <= 0:
        raise SourceError(Locator(source.name), "unknown_format", detail=_preview(head, kind, rows))
    return importers[best[0]]


_BINARY = ((b"%PDF", "PDF"), (b"\x89PNG", "PNG image / PNG 图片"), (b"\xff\xd8\xff", "JPEG image / JPEG 图片"),
           (b"GIF8", "GIF image / GIF 图片"), (b"Rar!", "RAR archive / RAR 压缩包"),
           (b"7z\xbc\xaf\x27\x1c", "7-Zip archive / 7-Zip 压缩包"), (b"{\\rtf", "RTF document / RTF 文档"))


def _binary_kind(head: bytes) -> str | None:
    """What a file that is no table nor text is (a PDF, an image, an archive xjip does not
    open), so that it is not reported as an encoding problem."""
    return next((name for magic, name in _BINARY if head.startswith(magic)), None)


def _preview(head: bytes, kind: str | None = None, rows: list[list[str]] | None = None) -> str:
    """What an unrecognised source begins with, readable: the kind of workbook and its first
    rows (a workbook's bytes say nothing to a person), else the first characters of the text."""
    if kind is not None:
        from xjip.hub.importers import _workbook
        from xjip.i18n import both

        zh, en = both(_workbook.describe("xls" if kind == "cfb" else kind))
        shown = " | ".join(" ".join(c for c in r if c)[:60] for r in (rows or [])[:3])
        return f"{zh} / {en}" + (f": {shown}" if shown else "")
    from xjip.hub.importers._tabular import head_rows

    table = [r for r in head_rows(head, 5) if len(r) > 1]
    if table:  # a table nobody knows: its columns, which a person can then map (job page, --mapping)
        return "列 / columns: " + "、".join(c for c in table[0] if c)[:300]
    # control characters (a binary file's NUL) shown as spaces: PostgreSQL text cannot hold NUL
    text = head[:80].decode("utf-8", "replace")
    return "".join(" " if (c < " " or c == "\x7f") else c for c in text).strip()


# --- opening sources -------------------------------------------------------------------

def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _is_zip(path: Path) -> bool:
    return zipfile.is_zipfile(path) and not path.suffix.lower() == ".xlsx"


def iter_sources(path: str | os.PathLike[str]) -> Iterator[Source]:
    """Every logical input below `path`, in a stable (sorted) order so that resume works."""
    root = Path(path)
    if root.is_dir():
        for child in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
            yield from _file_sources(child, display=str(child.relative_to(root.parent)))
    elif root.is_file():
        yield from _file_sources(root, display=root.name)
    else:
        raise SourceError(Locator(str(path)), "read_error", detail="no such file or folder / 文件或目录不存在")


def _file_sources(path: Path, display: str) -> Iterator[Source]:
    size = path.stat().st_size
    if size and _is_gzip(path):
        total = _gzip_size(path, size)
        if total and total > RATIO_FLOOR and total > MAX_ZIP_RATIO * size:  # says so itself: refused before reading
            raise SourceError(Locator(display), "archive_ratio", ratio=total // size, limit=MAX_ZIP_RATIO)
        yield Source(display, lambda p=path: gzip.open(p, "rb"), size, total)  # type: ignore[misc]
    elif size and zipfile.is_zipfile(path) and not _is_office_zip(path):
        yield from _zip_sources(path, display)
    else:
        yield Source(display, lambda p=path: open(p, "rb"), size, size)  # type: ignore[misc]


def _gzip_size(path: Path, size: int) -> int | None:
    """The ISIZE trailer (RFC 1952): decompressed size mod 2**32, a good progress estimate."""
    if size < 18:
        return None
    with open(path, "rb") as fh:
        fh.seek(-4, os.SEEK_END)
        isize = int.from_bytes(fh.read(4), "little")
    while isize < size:  # wrapped past 4 GiB
        isize += 2**32
    return isize


def _is_office_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return "[Content_Types].xml" in zf.namelist()
    except zipfile.BadZipFile:
        return False


def _zip_sources(path: Path, display: str) -> Iterator[Source]:
    with zipfile.ZipFile(path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > MAX_ZIP_MEMBERS:
        raise SourceError(Locator(display), "archive_members", count=len(infos), limit=MAX_ZIP_MEMBERS)
    # Every member is checked before any is read: one bomb refuses the whole archive.
    for info in infos:
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            raise SourceError(Locator(f"{display}!/{info.filename}"), "archive_ratio",
                              ratio=info.file_size // max(info.compress_size, 1), limit=MAX_ZIP_RATIO)
    for info in sorted(infos, key=lambda i: i.filename):
        base = os.path.basename(info.filename)
        if not base or base.startswith(".") or info.filename.startswith("__MACOSX/"):
            continue

        def opener(p: Path = path, name: str = info.filename) -> IO[bytes]:
            zf = zipfile.ZipFile(p)
            member = zf.open(name)
            head = member.peek(2) if hasattr(member, "peek") else b""
            if head[:2] == b"\x1f\x8b":
                return gzip.GzipFile(fileobj=member)  # type: ignore[return-value]
            return member  # type: ignore[return-value]

        if base.lower().endswith((".xlsx", ".xlsm")):
            # openpyxl needs a seekable file: read the member into memory (xlsx are small).
            def xlsx_opener(p: Path = path, name: str = info.filename) -> IO[bytes]:
                with zipfile.ZipFile(p) as zf:
                    return io.BytesIO(zf.read(name))
            yield Source(f"{display}!/{info.filename}", xlsx_opener, info.compress_size, info.file_size)
        else:
            yield Source(f"{display}!/{info.filename}", opener, info.compress_size, info.file_size)


# --- text ------------------------------------------------------------------------------

BOMS = [(codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]


def detect_encoding(head: bytes, name: str = "") -> str:
    """UTF-8 (with or without BOM), UTF-16 by BOM, else GB18030 (a superset of GBK/GB2312).
    Raises SourceError when the bytes are none of these."""
    for bom, enc in BOMS:
        if head.startswith(bom):
            return enc
    sample = head
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sample's end is not an error.
        if exc.start >= len(sample) - 4:
            return "utf-8"
        bad_at = exc.start
    try:
        text = sample.decode("gb18030")
        if _looks_like_text(text):
            return "gb18030"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4 and _looks_like_text(sample[:exc.start].decode("gb18030", "replace")):
            return "gb18030"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is not None and best.encoding and _looks_like_text(str(best)):
        return best.encoding
    line = head[:bad_at].count(b"\n") + 1
    raise SourceError(Locator(name, line=line), "encoding",
                      detail=f"byte 0x{head[bad_at]:02x} at offset {bad_at} / 第 {bad_at} 字节")


def _looks_like_text(text: str) -> bool:
    if not text:
        return False
    bad = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\r\n\t") or 0xE000 <= ord(ch) <= 0xF8FF)
    return bad / len(text) < 0.01


def open_text(source: Source) -> tuple[IO[str], str]:
    encoding = detect_encoding(source.head(), source.name)
    return io.TextIOWrapper(source.open(), encoding=encoding, errors="strict", newline=""), encoding


# --- XML -------------------------------------------------------------------------------

_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(%\s+)?[^\s>]+\s+(?P<rest>[^>]*)>", re.S)


def check_xml_prolog(head: bytes, name: str) -> None:
    """Refuse internal entity declarations (billion laughs, external entities).
    Unparsed NDATA entities (USPTO image references) cannot expand and are allowed.
    Declarations can only stand in the DOCTYPE before the root element, but the whole buffer is
    scanned: `find` is cheap and a DOCTYPE can be padded past any fixed prefix."""
    if b"<!ENTITY" not in head:
        return
    for m in _ENTITY_DECL.finditer(head):
        if b"NDATA" not in m.group("rest"):
            raise SourceError(Locator(name), "xml_entities_forbidden")


def safe_xml_parser(**kwargs: Any):  # noqa: ANN201
    """An lxml parser that never resolves entities, loads DTDs or touches the network."""
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True, remove_pis=True, **kwargs)


def parse_xml_bytes(data: bytes, name: str, record: int | None = None, max_mb: int = 64):  # noqa: ANN201
    """Parse one XML document held in memory, safely; located errors on failure."""
    from lxml import etree

    if len(data) > max_mb * 1024 * 1024:
        raise SourceError(Locator(name, record), "xml_too_large", limit_mb=max_mb)
    check_xml_prolog(data, name)
    try:
        return etree.fromstring(data, parser=safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position and exc.position[0] else (exc.lineno or None, None)
        msg = str(exc)
        # Truncated only when the parser stopped where the input ends; otherwise malformed.
        tail = data[data.rfind(b"\n") + 1:]
        ended = xml_error_at_end(msg, line, column, data.count(b"\n") + 1, len(_decode_as_declared(tail, data)))
        raise SourceError(Locator(name, record, line), "xml_truncated" if ended else "xml_malformed",
                          detail=msg) from None


def xml_error_at_end(message: str, line: int | None, column: int | None, lines: int, last_chars: int) -> bool:
    """Whether a parse error sits where the input ends (the document was cut short) rather than
    inside it: on its last line, past its last character (libxml2 counts columns in characters,
    from 1). Without a position, the parser's own words decide."""
    if not line:
        return "Premature end of data" in message
    return line >= lines and (column is None or column > last_chars)


_DECLARED = re.compile(rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")


def _decode_as_declared(part: bytes, document: bytes) -> str:
    m = _DECLARED.match(document[:200])
    encoding = m.group(1).decode("ascii") if m else "utf-8"
    if encoding.lower() in ("gb2312", "gbk", "gb_2312-80"):
        encoding = "gb18030"
    try:
        return part.decode(encoding, "ignore")  # a character cut by the end is not one
    except LookupError:
        return part.decode("utf-8", "ignore")


def local(tag: Any) -> str:
    """Tag name without namespace."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def text_of(el: Any) -> str | None:
    """All text inside an element, whitespace collapsed; None when empty."""
    if el is None:
        return None
    text = " ".join("".join(el.itertext()).split())
    return text or None


# --- fields ----------------------------------------------------------------------------

# A time zone after a date (XML Schema `xs:date`, ISO 8601: "2000-05-09-04:00", "…Z", "…+08:00"),
# as USPTO TSDR and WIPO ST.96 write dates: the day is the one written, in the office's zone.
_ZONE = r"(?:Z|[+-]\d{2}:?\d{2})?"
_DATE_PATTERNS = [
    re.compile(r"^(\d{4})(\d{2})(\d{2})" + _ZONE + "$"),
    re.compile(r"^(\d{4})[-./年](\d{1,2})[-./月](\d{1,2})日?(?:[ T].*|" + _ZONE + ")$"),
]


def parse_date(value: Any, field_name: str | None = None) -> dt.date | None:
    """YYYYMMDD, YYYY-MM-DD, YYYY.MM.DD, YYYY/MM/DD, 2023年2月3日, with or without a time zone
    (2000-05-09-04:00, 2000-05-09Z, 2000-05-09+08:00), Excel dates; '', 0 → None.
    An impossible date (2023-02-30) raises RecordError('invalid_date')."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value == 0:
            return None
        value = str(int(value))
    text = str(value).strip()
    if text in ("", "0", "-", "—", "null", "NULL", "None", "nan"):
        return None
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                raise RecordError("invalid_date", field_name, value=text) from None
    raise RecordError("invalid_date", field_name, value=text)


def split_multi(value: Any, seps: str = ";；,，、|") -> list[str]:
    """Split a multi-valued cell ('a;b；c') into stripped, non-empty, de-duplicated parts."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = re.split("[" + re.escape(seps) + "]", str(value))
    seen: dict[str, None] = {}
    for item in items:
        item = item.strip()
        if item and item not in seen:
            seen[item] = None
    return list(seen)


def clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
