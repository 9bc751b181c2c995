"""Streaming split of XML files that hold one document or many concatenated documents.

USPTO bulk full-text files (ipg/ipa weekly, see the USPTO "Patent Grant Full Text Data (XML)"
documentation) are not one XML document but thousands of complete documents glued together,
each with its own ``<?xml …?>`` declaration and DOCTYPE. No XML parser accepts that, so the
stream is cut at every XML declaration (XML 1.0 §2.8: the declaration may only appear at the very
start of a document, so ``<?xml`` + whitespace marks a new one) and each document is parsed on
its own. Memory is bounded by the largest document, never by the file.

Files whose documents carry no declaration (the 2001–2004 USPTO weekly grant files begin each
document with its DOCTYPE) are cut at a DOCTYPE that follows a document's root element.

API (kept stable; the USPTO / EPO importers use it too):
  iter_documents(source, max_doc_mb=64) -> (record, start_line, bytes)   split only
  parse_document(data, source_name, record, line, max_mb) -> lxml root  parse one, located errors
  iter_parsed(source, max_doc_mb=64) -> ParsedDocument | Rejection     both, with the policy below
  iter_elements(source, names) -> StreamedElement | Rejection          chosen elements of documents
                                                                        too large to hold (trademark bulk files)

Error policy (iter_parsed, iter_elements): a malformed document among several is a Rejection for
that record and the next documents go on; a malformed single-document file, or a last document cut
short (file truncated mid-document), raises SourceError after the good documents have been yielded.
A document cut short never yields anything it did not hold whole (see `iter_elements`).

Repairs: a document that fails only because of a bare `&` or `<` in its text (see `Repairer`) is
parsed again with them escaped, and carries `notes` saying where (records.Note `xml_repaired`):
the import takes it, and the job shows the note.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from lxml import etree

from xjip.hub.importers.base import HEAD_BYTES, SKIPPED, Source, check_xml_prolog, parse_xml_bytes, xml_error_at_end
from xjip.hub.records import Locator, Note, Rejection, SourceError

_tostring = etree.tostring

CHUNK = 1 << 20
# `<?xml` followed by whitespace: the declaration, not `<?xml-stylesheet …?>`; or a DOCTYPE, which
# starts a new document only once the current one has its root element (`_new_document`).
_DECL = re.compile(rb"<(?:\?xml|!DOCTYPE)[ \t\r\n]")  # one literal prefix: a fast search
_DECL_LEN = 10
_ELEMENT_START = re.compile(rb"<[A-Za-z_:\x80-\xff]")
_WS = b" \t\r\n\x00"
_BOM = b"\xef\xbb\xbf"


def iter_documents(source: Source, *, max_doc_mb: int = 64,
                   chunk_size: int = CHUNK) -> Iterator[tuple[int, int, bytes]]:
    """Yield ``(record_index_1_based, start_line, document_bytes)`` for every document in the
    stream, reading it in chunks. ``start_line`` is the 1-based line of the document's first
    byte in the original file. Raises SourceError('empty_file') when there is no content and
    SourceError('xml_too_large') (located) when one document exceeds ``max_doc_mb``."""
    limit = max_doc_mb * 1024 * 1024
    buf = bytearray()
    record = 0
    line = 1  # line of buf[0] in the original file
    scan = 0  # where to resume looking for the next declaration
    started = False  # leading BOM/whitespace skipped
    with source.open() as fh:
        eof = False
        while True:
            if not eof:
                chunk = fh.read(chunk_size)
                if chunk:
                    buf += chunk
                else:
                    eof = True
            if not started:
                # Leading whitespace before the declaration is illegal for the parser: drop it,
                # counting its lines so locations stay right. A BOM stays (the parser reads it).
                bom = buf.startswith(_BOM)
                body = buf[3:] if bom else buf
                stripped = body.lstrip(_WS)
                if not stripped and not eof:
                    continue
                if not stripped:
                    raise SourceError(Locator(source.name), "empty_file")
                skipped = len(body) - len(stripped)
                line += body[:skipped].count(b"\n")
                buf = bytearray((_BOM if bom else b"") + stripped)
                started = True
                scan = (3 if bom else 0) + 1  # a declaration at 0 starts this document, not the next
            # Cut every complete document held in the buffer.
            while True:
                m = _DECL.search(buf, scan)
                if not m:
                    break
                if not _new_document(buf, m):
                    scan = m.start() + 1  # the DOCTYPE of the document being read
                    continue
                cut = m.start()
                piece = bytes(buf[:cut])
                # `cat`-ed files each keep their BOM: the next document's BOM ends this piece.
                doc = piece.rstrip(_WS)
                doc = doc[:-3] if doc.endswith(_BOM) else piece
                if doc.strip(_WS):
                    record += 1
                    yield record, line, doc
                line += piece.count(b"\n")
                del buf[:cut]
                scan = 1
            if len(buf) > limit:
                raise SourceError(Locator(source.name, record + 1, line), "xml_too_large", limit_mb=max_doc_mb)
            if eof:
                break
            scan = max(1, len(buf) - _DECL_LEN)
    if buf.strip(_WS):
        yield record + 1, line, bytes(buf)
    elif record == 0:
        raise SourceError(Locator(source.name), "empty_file")


def _new_document(buf: bytes | bytearray, m: re.Match[bytes], start: int = 0) -> bool:
    """Whether the declaration or DOCTYPE matched in `buf` begins a new document: always for a
    declaration; for a DOCTYPE, when the document begun at `start` already has an element."""
    return m.group()[1:2] == b"?" or _ELEMENT_START.search(buf, start, m.start()) is not None


# `<!DOCTYPE PATDOC PUBLIC "-//USPTO//DTD ST.32 US PATENT GRANT V2.4 2000-09-20//EN" [`: SGML
# allows a public identifier alone, XML 1.0 §2.8 [75] wants a system literal after it, and the
# parser stops ("SystemLiteral expected"). An empty one is added; the DTD is never loaded anyway.
_PUBLIC_ONLY = re.compile(rb"""(<!DOCTYPE\s+[^\s\[>]+\s+PUBLIC\s+(?:"[^"]*"|'[^']*'))(?=\s*[\[>])""")


def fix_public_doctype(data: bytes) -> bytes:
    """A DOCTYPE with a public identifier and no system literal gets an empty system literal
    (lines unchanged)."""
    m = _PUBLIC_ONLY.search(data, 0, HEAD_BYTES) if b"PUBLIC" in data[:HEAD_BYTES] else None
    if m is None:
        return data  # most documents: no copy
    return data[:m.end()] + b' ""' + data[m.end():]


def parse_document(data: bytes, source_name: str, record: int | None, line: int, max_mb: int = 64) -> Any:
    """Parse one document safely (no entity expansion, no DTD, no network) and return the lxml
    root. Errors are SourceError located at ``record`` and the line in the ORIGINAL file
    (``line`` is the document's first line): ``xml_entities_forbidden``, ``xml_malformed``,
    ``xml_truncated``, ``xml_too_large``."""
    data = fix_public_doctype(_widen_gb(data))
    try:
        # The whole document, not only its first 64 KiB: an internal subset can be long, and a
        # comment placed before it must not hide it. (<!ENTITY cannot occur in content unescaped.)
        check_xml_prolog(data, source_name)
        return parse_xml_bytes(data, source_name, record, max_mb)
    except SourceError as exc:
        rej = exc.rejection
        inner = rej.locator.line
        where = line + inner - 1 if inner else line
        params = dict(rej.params)
        code = rej.code
        if isinstance(params.get("detail"), str):
            params["detail"] = _relocate(params["detail"], line)
        raise SourceError(Locator(source_name, record, where), code, rej.field, **params) from None


_GB_DECL = re.compile(rb"""^(\xef\xbb\xbf)?(<\?xml[^>]*?encoding\s*=\s*["'])(gb2312|gbk|gb_2312-80)(["'])""", re.I)


def _widen_gb(data: bytes) -> bytes:
    """Chinese files declared GB2312 or GBK routinely hold characters outside those sets
    (人名/地名 rare characters such as 镕, 堃): read them as GB18030, the superset
    (GB 18030-2005), instead of failing on 'invalid bytes'. Lines are unchanged."""
    m = _GB_DECL.match(data[:200])
    if not m:
        return data
    return data[: m.start(3)] + b"GB18030" + data[m.end(3):]


_LXML_WHERE = re.compile(r" \(<string>, line \d+\)$")
_LINE_REF = re.compile(r"\bline (\d+)")


def _relocate(detail: str, first_line: int) -> str:
    """lxml counts lines from the document start; rewrite them as lines of the original file."""
    detail = _LXML_WHERE.sub("", detail)
    return _LINE_REF.sub(lambda m: f"line {first_line + int(m.group(1)) - 1}", detail)


@dataclass
class ParsedDocument:
    record: int
    line: int
    data: bytes  # the document as read (for `raw`; before any repair)
    root: Any  # lxml element
    notes: list[Note] = field(default_factory=list)  # repairs made to parse it (`parse_repairing`)

    @property
    def text(self) -> str:
        """The document as text, for ``raw`` (decoded with its declared encoding)."""
        return _decode(self.data, self.root)


def _decode(data: bytes, root: Any) -> str:
    enc = (root.getroottree().docinfo.encoding or "utf-8").lower()
    if enc in ("gb2312", "gbk", "gb_2312-80"):
        enc = "gb18030"
    if enc in ("utf-8", "utf8") and data.startswith(b"\xef\xbb\xbf"):
        enc = "utf-8-sig"
    try:
        return data.decode(enc)
    except (LookupError, UnicodeDecodeError):
        return data.decode("utf-8", "replace")


def parse_repairing(data: bytes, source_name: str, record: int | None, line: int,
                    max_mb: int = 64) -> tuple[Any, list[Note]]:
    """`parse_document`; when that fails, once more with SGML empty elements closed
    (`close_sgml_empty_elements`, the format of the 2001 USPTO files: no note), then with bare
    `&` and `<` escaped (`Repairer`, noted): the root and the notes. A document whose root is
    never closed is cut short (`xml_truncated`, located at its end); one that still fails raises
    the error of the last parse (repairs add no line); one that needed no repair raises its own."""
    try:
        return parse_document(data, source_name, record, line, max_mb), []
    except SourceError as exc:
        if exc.rejection.code in ("xml_truncated", "xml_too_large", "xml_entities_forbidden"):
            raise
        root = root_left_open(data)
        if root is not None:
            end = line + data.count(b"\n")
            raise SourceError(Locator(source_name, record, end), "xml_truncated",
                              detail=f"line {end}: <{root}> not closed") from None
        error = exc
    # The document as read was within the limit (else it failed above); closing tags and
    # escaping lengthen it, at most fivefold (`&` → `&amp;`): that must not turn it away.
    fixed, closed = close_sgml_empty_elements(data)
    if closed:
        try:
            return parse_document(fixed, source_name, record, line, max_mb * 5), []
        except SourceError as exc:
            if exc.rejection.code != "xml_malformed":
                raise
            error = exc
    fixed, repairer = repair(fixed)
    if not repairer.count:
        raise error
    root_el = parse_document(fixed, source_name, record, line, max_mb * 5)
    return root_el, [repair_note(repairer, source_name, record, line)]


_START_NAME = re.compile(rb"<([A-Za-z_:][\w.:\-]*)")
_END_NAME = re.compile(rb"</([A-Za-z_:][\w.:\-]*)\s*>")


def root_left_open(data: bytes) -> str | None:
    """The root element's name when the document never closes it (it was cut short), else None."""
    first = _START_NAME.search(data)
    if first is None:
        return None
    name = first.group(1)
    end = data.find(b"</" + name, first.end())
    if end >= 0 and _END_NAME.match(data, end):
        return None
    tail = data[first.start():data.find(b">", first.start()) + 1]
    if tail.endswith(b"/>"):
        return None  # an empty root
    return name.decode("utf-8", "replace")


def close_sgml_empty_elements(data: bytes) -> tuple[bytes, frozenset[bytes]]:
    """SGML documents written as XML leave the elements their DTD declares EMPTY without an end
    tag: the 2001 USPTO weekly grants (ST.32 v2.4) write ``<CITED-BY-EXAMINER>``, ``<EMI …>``,
    ``<COLSPEC …>``. In a document whose root is closed (not cut short), an element name opened
    and closed nowhere can only be such an element: its start tags become empty-element tags
    (``<EMI …/>``). Returns the names changed (none: the data unchanged). The format's
    convention, not damage: no note. (Set arithmetic over the tag names, no walk in Python: a
    weekly file holds thousands of such documents.)"""
    starts = set(_START_NAME.findall(data))
    if not starts or root_left_open(data) is not None:
        return data, frozenset()
    empty = frozenset(starts - set(_END_NAME.findall(data)))
    if not empty:
        return data, empty
    pattern = re.compile(rb"<(?:" + b"|".join(re.escape(n) for n in sorted(empty, key=len, reverse=True))
                         + rb")(?:\s[^<>]*?)?/?>")
    return pattern.sub(lambda m: m.group(0) if m.group(0).endswith(b"/>") else m.group(0)[:-1] + b"/>", data), empty


def repair_note(repairer: "Repairer", source_name: str, record: int | None, first_line: int,
                start: int = 0) -> Note:
    """The note of a document's repairs from the `start`-th on; lines are lines of the file."""
    listed = [(first_line + line - 1, char) for line, char in repairer.repairs[start:]]
    where_zh = "；".join(f"第 {line} 行“{char}”" for line, char in listed)
    where_en = "; ".join(f"'{char}' line {line}" for line, char in listed)
    more = repairer.count - start - len(listed)
    if more > 0:
        where_zh += f"；另 {more:,} 处"
        where_en += f"; {more:,} more"
    at = listed[0][0] if listed else first_line
    return Note(Locator(source_name, record, at), "xml_repaired",
                params={"count": repairer.count - start, "detail_zh": where_zh, "detail_en": where_en})


def with_notes(doc: ParsedDocument, items: Iterable[Any]) -> Iterator[Any]:
    """The items made from `doc`, its notes on the first one (record or rejection)."""
    notes = doc.notes
    for item in items:
        if notes:
            item.import_notes.extend(notes)
            notes = []
        yield item


def iter_parsed(source: Source, *, max_doc_mb: int = 64, shard: Any = None) -> Iterator[ParsedDocument | Rejection]:
    """Split and parse, applying the error policy of this module's docstring. With a
    `base.Shard`, documents of other parse processes are split but not parsed: `SKIPPED`."""
    docs = iter_documents(source, max_doc_mb=max_doc_mb)
    pending = next(docs, None)
    while pending is not None:
        # Look one ahead: whether this is the last document decides Rejection vs SourceError.
        # (A SourceError raised while reading ahead propagates after the current document.)
        try:
            following = next(docs, None)
            ahead_error: SourceError | None = None
        except SourceError as exc:
            following, ahead_error = None, exc
        record, line, data = pending
        if shard is not None and not shard.take(len(data)):
            yield SKIPPED
            if ahead_error is not None:
                raise ahead_error
            pending = following
            continue
        try:
            root, notes = parse_repairing(data, source.name, record, line, max_doc_mb)
        except SourceError as exc:
            last = following is None and ahead_error is None
            single = record == 1 and last
            if single or (last and exc.rejection.code == "xml_truncated") or exc.rejection.code == "xml_too_large":
                raise
            rej = exc.rejection
            yield Rejection(rej.locator, rej.code, rej.field, rej.params, raw=data.decode("utf-8", "replace"))
        else:
            yield ParsedDocument(record, line, data, root, notes)
        if ahead_error is not None:
            raise ahead_error
        pending = following


# --- sniffing --------------------------------------------------------------------------

_NAME = re.compile(rb"<([A-Za-z_][\w.\-]*)(?::([\w.\-]+))?")


def root_element(head: bytes) -> tuple[str, str, bytes] | None:
    """``(local_name, namespace_uri, start_tag)`` of the first document's root element, read
    from the head bytes without parsing (the head may end mid-document). Skips the XML
    declaration, processing instructions, comments and a DOCTYPE with its internal subset.
    None when no element start is found (not XML, or UTF-16)."""
    pos, n = 0, len(head)
    while True:
        pos = head.find(b"<", pos)
        if pos < 0 or pos + 1 >= n:
            return None
        if head.startswith(b"<?", pos):
            end = head.find(b"?>", pos)
            pos = n if end < 0 else end + 2
        elif head.startswith(b"<!--", pos):
            end = head.find(b"-->", pos)
            pos = n if end < 0 else end + 3
        elif head.startswith(b"<!", pos):
            gt = head.find(b">", pos)
            bracket = head.find(b"[", pos)
            if 0 <= bracket < gt or (gt < 0 and bracket >= 0):  # internal subset: ends at "]>"
                end = head.find(b"]", bracket)
                gt = head.find(b">", end) if end >= 0 else -1
            pos = n if gt < 0 else gt + 1
        else:
            m = _NAME.match(head, pos)
            if not m:
                return None
            prefix, name = (m.group(1), m.group(2)) if m.group(2) else (None, m.group(1))
            end = head.find(b">", pos)
            tag = head[pos: end + 1 if end >= 0 else n]
            attr = b"xmlns:" + prefix if prefix else b"xmlns"
            ns = re.search(re.escape(attr) + rb"""\s*=\s*["']([^"']*)["']""", tag)
            return name.decode("ascii"), (ns.group(1).decode("utf-8", "replace") if ns else ""), tag


# --- reading elements by local name --------------------------------------------------
# Patent XML mixes several namespaces per document (CNIPA business:/base:, ST.96 pat:/com:,
# JPO jp:) and prefixes vary between producers: match on local names only. lxml's "{*}name"
# (any namespace or none) does the matching in C: no Python loop over children per lookup.

def lname(el: Any) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag[tag.rfind("}") + 1:]


_ANY_NS: dict[str, str] = {}


def _any(name: str) -> str:
    tag = _ANY_NS.get(name)
    if tag is None:
        tag = _ANY_NS[name] = "{*}" + name
    return tag


def kids(el: Any, name: str) -> Iterator[Any]:
    """Children of ``el`` with local name ``name``."""
    if el is None:
        return iter(())
    return el.iterchildren(_any(name))


_PATHS: dict[str, tuple[str, ...]] = {}


def kid(el: Any, path: str) -> Any:
    """First element along a '/'-separated path of local names, or None."""
    steps = _PATHS.get(path)
    if steps is None:
        steps = _PATHS[path] = tuple(_any(n) for n in path.split("/"))
    for tag in steps:
        if el is None:
            return None
        el = next(el.iterchildren(tag), None)
    return el


def descendants(el: Any, name: str) -> Iterator[Any]:
    if el is None:
        return iter(())
    return el.iter(_any(name))


def _all_text(el: Any) -> str:
    """All text inside ``el`` (comments and processing instructions left out), like
    ``"".join(el.itertext())`` but in one C call."""
    if len(el) == 0:
        return el.text or ""
    if next(el.iter(etree.Entity), None) is not None:
        return "".join(el.itertext())  # text serialisation would drop unresolved entity references
    return _tostring(el, method="text", encoding="unicode", with_tail=False)


def value(el: Any, path: str | None = None) -> str | None:
    """Whitespace-collapsed text at ``path`` (or of ``el``); None when absent or empty."""
    if path:
        el = kid(el, path)
    if el is None:
        return None
    text = " ".join(_all_text(el).split())
    return text or None


# CJK ideographs, kana, CJK punctuation and full-width forms: Chinese/Japanese text has no
# spaces between words, so whitespace next to these is line-wrapping left by the typesetter.
_CJK = "\u2e80-\u9fff\u3000-\u303f\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
_WS_NEAR_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")


def _is_cjk(ch: str) -> bool:
    return "\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\ufe30" <= ch <= "\ufe4f" \
        or "\uff00" <= ch <= "\uffef"


def _join_words(words: list[str]) -> str:
    """Words joined by one space, except where a side of the gap is CJK (same result as
    collapsing whitespace and then removing it next to CJK with _WS_NEAR_CJK)."""
    text = " ".join(words)
    if len(words) == 1 or text.isascii():
        return text
    out = [words[0]]
    prev_cjk = _is_cjk(words[0][-1])
    for w in words[1:]:
        if not prev_cjk and not _is_cjk(w[0]):
            out.append(" ")
        out.append(w)
        prev_cjk = _is_cjk(w[-1])
    return "".join(out)


def prose(el: Any, skip: frozenset[str] = frozenset()) -> str | None:
    """Running text of an element (abstract paragraph, claim, description paragraph): all
    text including children, children named in ``skip`` left out, whitespace collapsed
    and removed where it only wraps CJK text. (For speed, importers strip unwanted elements
    from the whole document once with ``drop`` and call this without ``skip``.)"""
    if el is None:
        return None
    if skip:
        parts: list[str] = []

        def walk(e: Any) -> None:
            if e.text:
                parts.append(e.text)
            for ch in e:
                if isinstance(ch.tag, str) and lname(ch) not in skip:
                    walk(ch)
                if ch.tail:
                    parts.append(ch.tail)

        walk(el)
        raw = "".join(parts)
    else:
        raw = _all_text(el)
    words = raw.split()
    return _join_words(words) if words else None


def drop(root: Any, *names: str) -> None:
    """Remove every element with one of these local names (their tail text stays)."""
    etree.strip_elements(root, *(f"{{*}}{n}" for n in names), with_tail=False)


def blocks(el: Any, names: frozenset[str], skip: frozenset[str] = frozenset()) -> Iterator[Any]:
    """Outermost descendants of ``el`` whose local name is in ``names`` (paragraphs, headings),
    in document order, not descending into ``skip``."""
    if el is None:
        return
    for ch in el:
        tag = ch.tag
        if tag.__class__ is not str:
            continue
        name = tag[tag.rfind("}") + 1:]
        if name in names:
            yield ch
        elif name not in skip and len(ch):
            yield from blocks(ch, names, skip)


# --- repairing stray `&` and `<` -------------------------------------------------------
# Office exports (and people editing them) leave a bare `&` ("R&D", "AT&T") or `<` ("x < 5")
# in text now and then; XML 1.0 §2.4 forbids both, and the parser stops at the first one,
# losing the whole document. Such a character cannot begin markup, so reading it as text
# is the only sensible meaning: it is escaped, and the document parsed again. Nothing else
# changes: comments, CDATA, processing instructions and the DOCTYPE pass through untouched
# (no entity is declared or expanded; `check_xml_prolog` and the safe parser still apply), and
# a `<` that could begin a tag is left for the parser to report. Our own scanner rather than
# lxml's `recover=True`: recovery drops or re-nests content silently, and says nothing of
# where; here every change is located and reported. (No library found that repairs only these.)

_SPECIAL = re.compile(rb"[<&]")
_NAME_CHARS = rb"[A-Za-z_:\x80-\xff][\w.:\-\x80-\xff]*"
_REF = re.compile(rb"&(?:" + _NAME_CHARS + rb"|#[0-9]+|#x[0-9A-Fa-f]+);")
_REF_PREFIX = re.compile(rb"&(?:" + _NAME_CHARS + rb"|#x?[0-9A-Fa-f]*)?")  # a reference cut by the chunk's end
_STRAY_AMP = re.compile(rb"&(?!(?:" + _NAME_CHARS + rb"|#[0-9]+|#x[0-9A-Fa-f]+);)")
_TAG_NAME = rb"[A-Za-z_:\x80-\xff][^\s/<>=\"']*"
_START_TAG = re.compile(rb"<" + _TAG_NAME + rb"""(?:\s+[^\s/<>="']+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")
_END_TAG = re.compile(rb"</" + _TAG_NAME + rb"\s*>")
_ATTR_VALUE = re.compile(rb""""[^"]*"|'[^']*'""")
_NAME_START = re.compile(rb"[A-Za-z_:\x80-\xff]")
_DOCTYPE_END = re.compile(rb"\]\s*>")
_UNTOUCHED = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"))
REPAIR_CARRY_MAX = 1 << 20  # an unclosed comment/CDATA/tag is passed on unrepaired past this
REPAIRS_LISTED = 10  # locations named in a note; the count covers all


class Repairer:
    """Escapes the `&` and `<` of a document that cannot begin a reference or markup, fed in
    pieces (a construct cut by a piece's end waits for the next). `repairs` lists
    (line in the document, character) of the first REPAIRS_LISTED; `count` counts all."""

    def __init__(self) -> None:
        self.carry = b""
        self.lines = 0  # newlines before `carry`
        self.count = 0
        self.repairs: list[tuple[int, str]] = []

    def feed(self, data: bytes, final: bool = False) -> bytes:
        buf = self.carry + data if self.carry else data
        out: list[bytes] = []
        n = len(buf)
        emitted = scan = 0  # buf[:emitted] is in `out`; the next `<` or `&` is looked for from `scan`
        cursor, line = 0, self.lines + 1  # line of buf[cursor]

        def note(i: int, char: str) -> None:
            nonlocal cursor, line
            self.count += 1
            if len(self.repairs) < REPAIRS_LISTED:
                line += buf.count(b"\n", cursor, i)
                cursor = i
                self.repairs.append((line, char))

        def replace(i: int, end: int, new: bytes) -> None:
            nonlocal emitted, scan
            out.append(buf[emitted:i])
            out.append(new)
            emitted = scan = end

        wait = None  # where a construct cut by the piece's end starts
        while True:
            m = _SPECIAL.search(buf, scan)
            if m is None:
                break
            i = m.start()
            if buf[i] == 0x26:  # &
                ref = _REF.match(buf, i)
                if ref:
                    scan = ref.end()
                elif not final and n - i < 64 and _REF_PREFIX.fullmatch(buf, i):
                    wait = i
                    break
                else:
                    note(i, "&")
                    replace(i, i + 1, b"&amp;")
                continue
            end = self._markup_end(buf, i, final)
            if end is None:
                wait = i
                break
            if end > 0:
                tag = buf[i:end]
                if tag[1:2] not in (b"!", b"?", b"/") and (b"&" in tag or b"<" in tag[1:]):
                    replace(i, end, self._fix_attributes(tag, lambda c, at=i: note(at, c)))
                else:
                    scan = end
            elif end == 0:  # could begin a tag, but none parses: left for the parser to report
                scan = i + 1
            else:  # cannot begin markup
                note(i, "<")
                replace(i, i + 1, b"&lt;")
        if wait is not None and n - wait > REPAIR_CARRY_MAX:
            wait = None  # nothing worth waiting for: passed on as it is
        stop = n if wait is None else wait
        out.append(buf[emitted:stop])
        self.lines += buf.count(b"\n", 0, stop)
        self.carry = b"" if wait is None else buf[wait:]
        return b"".join(out)

    @staticmethod
    def _markup_end(buf: bytes, i: int, final: bool) -> int | None:
        """End of the markup starting with the `<` at i; None when the piece ends first; 0 for
        a `<` that looks like a tag but is not one; -1 for a `<` that cannot begin markup."""
        n = len(buf)
        if i + 1 >= n:
            return None if not final else -1
        nxt = buf[i + 1:i + 2]
        if nxt == b"!" or nxt == b"?":
            for opener, closer in _UNTOUCHED:
                if buf.startswith(opener, i):
                    j = buf.find(closer, i + len(opener))
                    return (None if not final else n) if j < 0 else j + len(closer)
                if not final and opener.startswith(buf[i:i + len(opener)]) and n - i < len(opener):
                    return None
            if buf.startswith(b"<!DOCTYPE", i):
                gt = buf.find(b">", i)
                bracket = buf.find(b"[", i, gt if gt >= 0 else n)
                if bracket >= 0:
                    m = _DOCTYPE_END.search(buf, bracket)
                    return m.end() if m else (None if not final else n)
                return gt + 1 if gt >= 0 else (None if not final else n)
            if not final and n - i < 9:
                return None
            return 0
        if nxt == b"/":
            m = _END_TAG.match(buf, i)
            if m:
                return m.end()
            return None if not final and buf.find(b">", i) < 0 else 0
        if _NAME_START.match(nxt):
            m = _START_TAG.match(buf, i)
            if m:
                return m.end()
            return None if not final and buf.find(b">", i) < 0 else 0
        return -1

    @staticmethod
    def _fix_attributes(tag: bytes, note: Callable[[str], None]) -> bytes:
        def value(m: re.Match[bytes]) -> bytes:
            v = m.group(0)
            quote, inner = v[:1], v[1:-1]
            fixed = _STRAY_AMP.sub(b"&amp;", inner)
            for _ in range(len(_STRAY_AMP.findall(inner))):
                note("&")
            if b"<" in fixed:
                for _ in range(fixed.count(b"<")):
                    note("<")
                fixed = fixed.replace(b"<", b"&lt;")
            return quote + fixed + quote

        return _ATTR_VALUE.sub(value, tag)


def repair(data: bytes) -> tuple[bytes, Repairer]:
    """A whole document with its stray `&` and `<` escaped (see `Repairer`)."""
    r = Repairer()
    return r.feed(data, final=True), r


# --- streaming chosen elements of large documents --------------------------------------------

_BOUNDARY_KEEP = 16  # bytes kept back at a chunk's end: a boundary cut there is found next round


def _pieces(fh: Any, chunk_size: int = CHUNK) -> Iterator[tuple[int, bytes | None]]:
    """``(offset, bytes)`` pieces of the stream in order, and ``(offset, None)`` where a new
    document begins (a declaration, or a DOCTYPE once the current document has an element)."""
    buf = b""
    base = 0  # stream offset of buf[0]
    has_element = False  # the current document has an element among the pieces already given out
    last = b""  # the last byte given out of it (a `<` whose name is in the next piece)

    def element_in(start: int, end: int) -> bool:
        if last == b"<" and start < end and _NAME_START.match(buf, start):
            return True
        return _ELEMENT_START.search(buf, start, end) is not None

    while True:
        chunk = fh.read(chunk_size)
        eof = not chunk
        buf = buf + chunk if buf else chunk
        limit = len(buf) if eof else len(buf) - _BOUNDARY_KEEP
        pos = token_end = 0
        for m in _DECL.finditer(buf):
            p = m.start()
            if p >= limit:
                break
            if m.group()[1:2] == b"!" and not (has_element or element_in(pos, p)):
                continue  # the DOCTYPE of the document being read
            if p >= 3 and buf[p - 3:p] == _BOM and p - 3 >= pos:
                p -= 3  # the BOM a `cat`-ed file puts before it: parsed with its document
            if p > pos:
                yield base + pos, buf[pos:p]
            yield base + p, None
            pos, token_end, has_element, last = p, m.end(), False, b""
        cut = max(limit, token_end, pos)
        if not eof:  # a BOM (or its start) right before the cut may belong to the next document
            for k in (3, 2, 1):
                if cut - k >= pos and buf[cut - k:cut] == _BOM[:k]:
                    cut -= k
                    break
        if cut > pos:
            has_element = has_element or element_in(pos, cut)
            last = buf[cut - 1:cut]
            yield base + pos, buf[pos:cut]
        base += cut
        buf = buf[cut:]
        if eof:
            return


@dataclass
class StreamedElement:
    """An element of `iter_elements`' names, whole. `document` is the 1-based document of the
    file, `line` the element's first line in the file; `notes` the repairs made to its document
    since the previous element (see `Repairer`). Call `release()` once it has been read."""

    name: str
    element: Any
    line: int
    document: int
    notes: list[Note] = field(default_factory=list)
    ordinal: int = 0  # its place among the elements handed out from its document
    released: set[int] | None = field(default=None, repr=False)  # the document's released ordinals

    def release(self) -> None:
        """`release` the element, and remember it: a document read again (repaired) releases
        the elements it steps over as the caller did the first time."""
        release(self.element)
        if self.released is not None:
            self.released.add(self.ordinal)


def release(el: Any) -> None:
    """Free an element read from `iter_elements` and everything before it: memory stays flat
    however many records a document holds. (Not for an element inside one still being read.)"""
    el.clear()
    node = el
    while (parent := node.getparent()) is not None:
        while node.getprevious() is not None:
            del parent[0]
        node = parent


class _StreamedDocument:
    """One document fed piece by piece to an lxml pull parser.

    Which ends are real: lxml 6 (libxml2 2.14) reports an "end" for every element still open
    when the input runs out, before it raises "Premature end of data"; lxml 5 does not. So an
    end is taken only once the parser has started another of the elements read after it (it
    read past the end tag), or the document has closed without error: an element cut short by
    a truncated file is never handed out, whatever the lxml version. (The parser reports the
    chosen names only, `tag=`: the other elements cost no Python.)"""

    def __init__(self, source_name: str, names: frozenset[str], number: int, first_line: int, start: int,
                 repairing: bool = False):
        self.source_name, self.names, self.number, self.first_line = source_name, names, number, first_line
        self.start = self.end = start  # offsets of the document in the stream
        self.parser: Any = None
        self.head = bytearray()
        self.prolog_tail = b""  # for an `<!ENTITY` cut between two pieces of the prolog
        self.root_started = False
        self.pending: list[Any] = []  # ends not yet known to be real
        self.error: SourceError | None = None
        self.repairer = Repairer() if repairing else None
        self.reported = 0  # repairs already noted
        self.delivered = 0  # elements handed out
        self.released: set[int] = set()  # ordinals of those the caller released
        self.newlines = 0  # newlines fed, and characters since the last one: where the input ends
        self.last_chars = 0

    def feed(self, data: bytes, final: bool = False) -> list[Any]:
        if self.error is not None:
            return []
        if self.repairer is not None:
            data = self.repairer.feed(data, final)
        self._count(data)
        try:
            if self.parser is None:
                self.head += data
                if len(self.head) < HEAD_BYTES and not final:
                    return []
                data = fix_public_doctype(bytes(self.head))
                self.head = bytearray()
                self.parser = etree.XMLPullParser(events=("start", "end"),
                                                  tag=[f"{{*}}{n}" for n in sorted(self.names)],
                                                  resolve_entities=False, no_network=True, load_dtd=False,
                                                  huge_tree=False, remove_comments=True, remove_pis=True)
            if data and not self.root_started:
                # Entity declarations stand before the root element: every piece until an element
                # read starts (a little past the root: checking more costs nothing).
                check_xml_prolog(self.prolog_tail + data, self.source_name)
                self.prolog_tail = data[-16:]
            if data:
                self.parser.feed(data)
            if final:
                self.parser.close()
        except etree.XMLSyntaxError as exc:
            self.error = self._syntax_error(exc, final)
        except SourceError as exc:
            self.error = SourceError(Locator(self.source_name, self.number, self.first_line), exc.rejection.code,
                                     exc.rejection.field, **exc.rejection.params)
        out: list[Any] = []
        if self.parser is None:
            return out
        pending = self.pending
        for event, el in self.parser.read_events():
            if event == "start":
                self.root_started = True
                if pending:
                    out.extend(pending)
                    pending.clear()
            else:
                pending.append(el)
        if final and self.error is None:
            out.extend(pending)
            pending.clear()
        elif self.error is not None:
            pending.clear()  # ends the parser made up at the error, or not known to be real
        return out

    def _count(self, data: bytes) -> None:
        nl = data.rfind(b"\n")
        if nl >= 0:
            self.newlines += data.count(b"\n")
            self.last_chars = len(data[nl + 1:].decode("utf-8", "ignore"))
        else:
            self.last_chars += len(data.decode("utf-8", "ignore"))

    def _syntax_error(self, exc: Any, final: bool) -> SourceError:
        inner, column = (exc.position if exc.position else (None, None))
        truncated = final and xml_error_at_end(str(exc), inner, column, self.newlines + 1, self.last_chars)
        return SourceError(Locator(self.source_name, self.number,
                                   self.first_line + inner - 1 if inner else self.first_line),
                           "xml_truncated" if truncated else "xml_malformed",
                           detail=_relocate(str(exc), self.first_line))

    def element(self, el: Any) -> StreamedElement:
        item = StreamedElement(lname(el), el, self.first_line + (el.sourceline or 1) - 1, self.number,
                               ordinal=self.delivered, released=self.released)
        self.delivered += 1
        if self.repairer is not None and self.repairer.count > self.reported:
            item.notes.append(repair_note(self.repairer, self.source_name, self.number, self.first_line,
                                          start=min(self.reported, len(self.repairer.repairs))))
            self.reported = self.repairer.count
        return item


def iter_elements(source: Source, names: Iterable[str], *, chunk_size: int = CHUNK
                  ) -> Iterator[StreamedElement | Rejection]:
    """Every element whose local name is in `names`, in document order, each once its end tag
    has been read (see `_StreamedDocument`); the document is parsed as it is read, so memory
    stays flat if the consumer `release`s what it has read. Documents are cut as by
    `iter_documents`; the error policy is this module's. A document that breaks for a bare `&`
    or `<` is read again from its start with them escaped (`Repairer`); the elements already
    handed out are not handed out again."""
    wanted = frozenset(names)
    number = 0
    lines = 0  # newlines in the stream before the current piece
    doc: _StreamedDocument | None = None
    ended: _StreamedDocument | None = None  # a document cut at a boundary, finished once another begins
    with source.open() as fh:
        for offset, piece in _pieces(fh, chunk_size):
            if piece is None:
                if doc is not None:
                    ended, doc = doc, None
                continue
            if doc is None:
                stripped = piece.lstrip(_WS)
                if not stripped:
                    lines += piece.count(b"\n")
                    continue
                if ended is not None:
                    yield from _finish(source, ended, last=False)
                    ended = None
                skipped = len(piece) - len(stripped)
                lines += piece.count(b"\n", 0, skipped)
                number += 1
                doc = _StreamedDocument(source.name, wanted, number, lines + 1, offset + skipped)
                piece, offset = stripped, offset + skipped
            doc.end = offset + len(piece)
            for el in doc.feed(piece):
                yield doc.element(el)
            lines += piece.count(b"\n")
    if doc is None:
        doc, ended = ended, None
    if doc is None:
        raise SourceError(Locator(source.name), "empty_file")
    yield from _finish(source, doc, last=True)


def _finish(source: Source, doc: _StreamedDocument, last: bool) -> Iterator[StreamedElement | Rejection]:
    for el in doc.feed(b"", final=True):
        yield doc.element(el)
    if doc.error is not None and doc.error.rejection.code == "xml_malformed":
        again = _StreamedDocument(source.name, doc.names, doc.number, doc.first_line, doc.start, repairing=True)
        again.end = doc.end
        skip = doc.delivered
        for el in _reread(source, again):
            if again.delivered < skip:  # handed out the first time: stepped over, freed as then
                if again.delivered in doc.released:
                    release(el)
                again.delivered += 1
                continue
            yield again.element(el)
        if again.repairer is not None and again.repairer.count:
            doc = again
    if doc.error is not None:
        rej = doc.error.rejection
        if last and (doc.number == 1 or rej.code == "xml_truncated"):
            raise doc.error
        yield Rejection(rej.locator, rej.code, rej.field, rej.params)


def _reread(source: Source, doc: _StreamedDocument, chunk_size: int = CHUNK) -> Iterator[Any]:
    """The document's bytes read once more from the source (not counted as progress) into `doc`."""
    with source.opener() as fh:
        todo = doc.start
        while todo > 0:
            skipped = fh.read(min(chunk_size, todo))
            if not skipped:
                return
            todo -= len(skipped)
        todo = doc.end - doc.start
        while todo > 0:
            data = fh.read(min(chunk_size, todo))
            if not data:
                break
            todo -= len(data)
            yield from doc.feed(data)
    yield from doc.feed(b"", final=True)
