"""GI digital management platform (issue 13): the 3-tier resource library, special-mark users and
their annual reports, coverage, e-commerce infringement clues, census candidates.

Built on the hub's GI tables (`gi`, `gi_area`, `gi_mark_user`) and the part's own tables at the end
of `xjip.hub.models`. Special-mark coverage (`xjip.gi.coverage`) and plan indicator 5 share one
computation, the hub's `xjip.hub.gi_coverage`.
"""
from __future__ import annotations

from typing import Any


class GIError(ValueError):
    """A refused input, located: `code` is the catalogue id suffix (`gi.error.<code>`), `field` the
    form field or column, `record` the row (1-based) when it came from a file."""

    def __init__(self, code: str, field: str | None = None, record: int | None = None, **params: Any):
        self.code, self.field, self.record, self.params = code, field, record, params
        super().__init__(f"{code} {field or ''} {record or ''}".strip())

    def messages(self) -> tuple[str, str]:
        from xjip.i18n import both

        where_zh = where_en = ""
        if self.record is not None:
            where_zh, where_en = f"第{self.record}条记录", f"record {self.record}"
        if self.field:
            where_zh += f"“{self.field}”字段"
            where_en += (", " if where_en else "") + f"field '{self.field}'"
        zh, en = both(f"gi.error.{self.code}", **self.params)
        return (f"{where_zh}：{zh}" if where_zh else zh), (f"{where_en}: {en}" if where_en else en)

    def as_dict(self) -> dict[str, Any]:
        zh, en = self.messages()
        return {"code": self.code, "field": self.field, "record": self.record, "message_zh": zh, "message_en": en}


def coverage(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Special-mark coverage (地理标志专用标志使用覆盖率); see `xjip.gi.coverage.coverage`."""
    from xjip.gi.coverage import coverage as _coverage

    return _coverage(*args, **kwargs)
