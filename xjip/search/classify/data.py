"""The real labelled records the classifier learns from, read in place from shared/data, and the
IPC titles shipped with the hub (xjip/hub/refdata)."""
from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

SUBCLASS = re.compile(r"^[A-H]\d{2}[A-Z]$")
CODE = re.compile(r"^([A-H]\d{2}[A-Z])\s*0*(\d{1,4})\s*/\s*(\d{1,6})")
REFERENCE = re.compile(r"[（(][^（）()]*[）)]")  # "（用于…入A01C5/00）": other classes' codes, not this one's words


@dataclass
class Example:
    text: str
    subclasses: list[str]              # first = the main classification where the source says so
    groups: list[str] = field(default_factory=list)  # main groups, "A01B1/00"
    source: str = ""
    has_main: bool = False             # True when the first code is the record's main IPC

    @property
    def key(self) -> str:
        return hashlib.sha1(re.sub(r"\s+", "", self.text).encode()).hexdigest()


def main_group(code: str) -> str | None:
    match = CODE.match(code.replace(" ", ""))
    if not match:
        return None
    return f"{match.group(1)}{int(match.group(2))}/00"


def _unique(items: list[str | None]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def labelled_titles(shared_dir: Path) -> Iterator[Example]:
    """lxingy3/chinese-patent-ipc-classifier: 9,740 CN titles with their (multi-label) subclasses."""
    path = shared_dir / "patents" / "cn_ipc_classification" / "lxingy3_chinese-patent-ipc-classifier" / \
        "title_ipc_subclasses.jsonl.gz"
    if not path.is_file():
        return
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            subs = [s for s in rec.get("ipc_subclasses") or [] if SUBCLASS.match(s)]
            if rec.get("title") and subs:
                yield Example(rec["title"], subs, [], "lxingy3_titles", has_main=False)


def export_records(shared_dir: Path) -> Iterator[Example]:
    """The IPC-bearing rows of the real exports (incoPat, Patentics, Derwent), parsed by the hub's
    own importers: title and abstract, IPC codes with the main one first."""
    from xjip.hub.importers.base import detect, iter_sources

    folder = shared_dir / "patents" / "real_exports" / "cn_export"
    if not folder.is_dir():
        return
    for source in iter_sources(folder):
        try:
            importer = detect(source)
            items = importer.parse(source, {})
            for item in items:
                ipc = list(getattr(item, "ipc", None) or [])
                main = getattr(item, "ipc_main", None)
                if main:
                    ipc = [main] + [c for c in ipc if c != main]
                text = "。".join(filter(None, [getattr(item, "title", None) or getattr(item, "title_en", None),
                                              getattr(item, "abstract", None)]))
                subs = _unique([c.replace(" ", "")[:4] if SUBCLASS.match(c.replace(" ", "")[:4]) else None for c in ipc])
                if text and subs:
                    yield Example(text, subs, _unique([main_group(c) for c in ipc]), "real_exports", has_main=True)
        except Exception:  # noqa: BLE001 - a file the importers cannot read adds nothing
            continue


def ipc_titles() -> Iterator[Example]:
    """The IPC's Chinese titles as labelled texts: each subclass's title, and each main group's title
    with its subgroups' titles (one text per main group: 7,469 rows rather than 77,000, which keeps
    training within minutes on two cores and weighs each group once)."""
    from xjip.hub.reference import PACKAGE_DIR, ipc_rows

    texts: dict[str, list[str]] = {}
    for row in ipc_rows(PACKAGE_DIR):
        code, title = row["code"], row["title_zh"]
        if not title or row["level"] not in ("subclass", "main_group", "subgroup"):
            continue
        title = REFERENCE.sub("", title).strip("·• ")
        if not title:
            continue
        if row["level"] == "subclass":
            yield Example(title, [code], [], "ipc_titles", has_main=True)
            continue
        group = main_group(code)
        if group is not None:
            texts.setdefault(group, []).append(title)
    for group, parts in texts.items():
        yield Example("；".join(parts)[:3000], [group[:4]], [group], "ipc_titles", has_main=True)


def subclass_titles() -> dict[str, dict[str, str | None]]:
    from xjip.hub.reference import PACKAGE_DIR, ipc_rows

    return {row["code"]: {"zh": row["title_zh"], "en": row["title_en"]} for row in ipc_rows(PACKAGE_DIR)
            if row["level"] in ("subclass", "main_group")}
