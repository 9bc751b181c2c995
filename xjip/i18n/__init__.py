"""The one translation catalogue for every user-facing string (web, CLI, import errors).

Catalogues are flat JSON files `catalogue/<area>.<lang>.json` (all areas of a language are
merged; ids are prefixed by area) mapping a message id to a `str.format` template. Chinese (zh) is the reference language; a missing id in another
language falls back to zh, then to the id itself. Adding Uyghur, Kazakh or Russian is adding
`*.ug.json`, `*.kk.json`, `*.ru.json`. (JSON rather than gettext .po/.mo: no compile step, and the
ids double as stable error codes in the JSON API.)
"""
from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

CATALOGUE_DIR = Path(__file__).parent / "catalogue"
REFERENCE_LANGUAGE = "zh"


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted(CATALOGUE_DIR.glob(f"*.{lang}.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def languages() -> list[str]:
    return list(_languages())


@lru_cache(maxsize=1)
def _languages() -> tuple[str, ...]:  # every request asks; the catalogue files are the package's
    return tuple(sorted({p.name.split(".")[-2] for p in CATALOGUE_DIR.glob("*.*.json")}))


class _SafeDict(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def t(msg_id: str, lang: str = REFERENCE_LANGUAGE, /, **params: Any) -> str:
    template = catalogue(lang).get(msg_id) or catalogue(REFERENCE_LANGUAGE).get(msg_id) or msg_id
    return template.format_map(_SafeDict(params)) if params else template


def both(msg_id: str, /, **params: Any) -> tuple[str, str]:
    """(中文, English) — import errors and CLI errors are always reported in both."""
    return t(msg_id, "zh", **params), t(msg_id, "en", **params)


@lru_cache(maxsize=None)
def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def local_time(value: dt.datetime, zone: str) -> dt.datetime:
    """A stored time (naive values are UTC, as the store writes them) in the zone people read."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(_zone(zone))
