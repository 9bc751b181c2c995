"""Streaming split of XML files that hold one document or many concatenated documents.

USPTO bulk full-text files (ipg/ipa weekly, see the USPTO "Patent Grant Full Text Data (XML)"
documentation) are not one XML document but thousands of complete documents glued together,
each with its own ``<?xml …?>`` declaration and DOCTYPE. No XML parser accepts that, so the
stream is cut at every XML declaration (XML 1.0 §2.8: the declaration may only appear at the very
start of a document, so ``<?xml`` + whitespace marks a new one) and each document is parsed on
its own. Memory is bounded by the largest document, never by the file.

API (kept stable; the USPTO / EPO importers use it too):
  iter_documents(source, max_doc_mb=64) -> (record, start_line, bytes)   split only
  parse_document(data, source_name, record, line, max_mb) -> lxml root  parse one, located errors
  iter_parsed(source, max_doc_mb=64) -> ParsedDocument | Rejection     both, with the policy below

Error policy (iter_parsed): a malformed document among several is a Rejection for that record and
the next documents go on; a malformed single-document file, or a last document cut short (file
truncated mid-document), raises SourceError after the good documents have been yielded.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

from lxml import etree

from xjip.hub.importers.base import SKIPPED, Source, check_xml_prolog, parse_xml_bytes
from xjip.hub.records import Locator, Rejection, SourceError

_tostring = etree.tostring

CHUNK = 1 << 20
# `<?xml` followed by whitespace: the declaration, not `<?xml-stylesheet …?>`.
_DECL = re.compile(rb"<\?xml[ \t\r\n]")
_DECL_LEN = 6
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


def parse_document(data: bytes, source_name: str, record: int | None, line: int, max_mb: int = 64) -> Any:
    """Parse one document safely (no entity expansion, no DTD, no network) and return the lxml
    root. Errors are SourceError located at ``record`` and the line in the ORIGINAL file
    (``line`` is the document's first line): ``xml_entities_forbidden``, ``xml_malformed``,
    ``xml_truncated``, ``xml_too_large``."""
    data = _widen_gb(data)
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
        if code in ("xml_truncated", "xml_malformed"):
            # Truncated = the parser ran out of input: the error sits on the document's last
            # line. Anything earlier (bad tag, not XML at all) is malformed.
            last = data.rstrip().count(b"\n") + 1
            detail = str(params.get("detail", ""))
            code = "xml_truncated" if (inner or 1) >= last and "mismatch" not in detail else "xml_malformed"
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
    data: bytes  # the document as read (for `raw`)
    root: Any  # lxml element

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
            root = parse_document(data, source.name, record, line, max_doc_mb)
        except SourceError as exc:
            last = following is None and ahead_error is None
            single = record == 1 and last
            if single or (last and exc.rejection.code == "xml_truncated") or exc.rejection.code == "xml_too_large":
                raise
            rej = exc.rejection
            yield Rejection(rej.locator, rej.code, rej.field, rej.params, raw=data.decode("utf-8", "replace"))
        else:
            yield ParsedDocument(record, line, data, root)
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
