"""Semantic search ("AI+", issue 11 §5): the shipped encoder and a static model distilled from it,
vectors kept current in the background from the hub's after-commit hook, the "semantic" ranker
and hybrid fusion. Importing this package subscribes the hook and registers the ranker."""
from __future__ import annotations

from xjip.hub.pipeline import AFTER_COMMIT_HOOKS
from xjip.search.rankers import register_ranker
from xjip.search.semantic.embed import after_commit
from xjip.search.semantic.search import SELF, semantic_ranker

if after_commit not in AFTER_COMMIT_HOOKS:
    AFTER_COMMIT_HOOKS.append(after_commit)
register_ranker(SELF, semantic_ranker)
