"""Saved searches (table `saved_search`, migration 0020) and their notices: after each commit the
records it changed are matched against every saved query; matches add to the search's
`new_count` until its owner opens it."""
from __future__ import annotations

from typing import Any


def note_new_matches(store: Any, changed: dict[str, list[int]]) -> None:
    return None
