"""Search and "AI+" information service (issue 11): one index over every right the hub holds,
kept current through the hub's after-commit hook (`xjip.hub.pipeline.AFTER_COMMIT_HOOKS`)."""
