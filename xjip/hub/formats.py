"""What each importer reads, in words a clerk can follow (`xjip import-formats`).

The description of importer `name` is the catalogue's ``import.format.<name>`` (Chinese and
English); the import templates share ``import.format.template``, filled with their kind. An
importer without an entry (a new one) falls back to its class docstring, then its module's,
never to another importer's text.
"""
from __future__ import annotations

import sys
from typing import Any

from xjip.i18n import catalogue, t


def describe(importer: Any) -> tuple[str, str]:
    """(中文, English) one-line description of an importer."""
    key = f"import.format.{importer.name}"
    spec = getattr(importer, "spec", None)
    if key not in catalogue("zh") and spec is not None and hasattr(spec, "zh"):
        params = {"zh": spec.zh, "en": spec.en}
        return t("import.format.template", "zh", **params), t("import.format.template", "en", **params)
    if key in catalogue("zh"):
        return t(key, "zh"), t(key, "en")
    doc = type(importer).__doc__ if type(importer).__module__ != "builtins" else None
    if not doc and type(importer).__name__ == "module":
        doc = importer.__doc__
    if not doc:
        module = sys.modules.get(type(importer).__module__)
        doc = module.__doc__ if module is not None and type(importer).__module__ != "builtins" else None
    line = (doc or importer.name).strip().splitlines()[0]
    return line, line


def importer_formats() -> list[dict[str, Any]]:
    """Every importer: name, record types, description in both languages."""
    from xjip.hub.importers.base import load_importers

    out = []
    for name, imp in sorted(load_importers().items()):
        zh, en = describe(imp)
        out.append({"name": name, "record_types": list(getattr(imp, "record_types", ())),
                    "description_zh": zh, "description_en": en, "doc": en})
    return out
