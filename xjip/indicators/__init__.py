"""The plan's 7 indicators, the high-value patent list, patent value and plan monitoring
(issue 12), computed from the hub's records through its query functions and models.

Importing this package subscribes `facts.on_commit` to the hub's after-commit hook, so every
import keeps the per-patent facts current (the CLI and the web app import it)."""
from __future__ import annotations

from xjip.hub.pipeline import AFTER_COMMIT_HOOKS
from xjip.indicators import facts

if facts.on_commit not in AFTER_COMMIT_HOOKS:
    AFTER_COMMIT_HOOKS.append(facts.on_commit)
