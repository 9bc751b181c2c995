"""Jinja2 rendering (autoescaped) with the page context every template relies on."""
from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from xjip.hub.queries import TYPES
from xjip.i18n import catalogue, local_time, t
from xjip.web.deps import csrf_token, current_user, lang as request_lang
from xjip.web.middleware import supported_languages

TEMPLATES_DIR = Path(__file__).parent / "templates"

# (section id, [(item id, href, role needed or None)])
NAVIGATION: list[tuple[str, list[tuple[str, str, str | None]]]] = [
    ("data", [("overview", "/", None), ("search", "/search", None), ("regions", "/regions", None), ("entities", "/entities", None)]),
    ("plan", [("indicators", "/indicators", None), ("hv_patents", "/indicators/high-value", None),
              ("plan_tasks", "/plan", None)]),
    ("rights", [(name, f"/records/{name}", None) for name in TYPES]),
    ("gi", [("gi", "/gi", None), ("gi_my", "/gi/my", "enterprise"), ("gi_marks", "/gi/marks/applications", "staff"),
            ("gi_reports", "/gi/reports", "staff"),
            ("gi_clues", "/gi/clues", "staff"), ("gi_census", "/gi/census", None)]),
    ("ai", [("semantic", "/semantic", None), ("classify", "/classify", None)]),
    ("imports", [("import", "/import", "staff"), ("jobs", "/jobs", "staff"), ("templates", "/templates", None)]),
    ("system", [("users", "/users", "admin"), ("search_index", "/search/index", "staff"), ("api", "/docs", None)]),
]


def has_message(msg_id: str, lang: str) -> bool:
    return msg_id in catalogue(lang) or msg_id in catalogue("zh")


def build_environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=select_autoescape(["html", "xml"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    env.filters["tojson_safe"] = _tojson
    env.globals["count_cell"] = count_cell
    return env


def count_cell(n: Any, path: str, **params: Any) -> Markup:
    """A count linking to the list it counts (0 unlinked). A function, not a Jinja macro: the
    overview has ~500 of them, and the macro with its urlencode was half the page's time."""
    if not n:
        return Markup('<span class="zero">0</span>')
    return Markup('<a href="%s">%s</a>') % (_list_url(path, tuple(params.items())), _num(n))


@lru_cache(maxsize=4096)
def _list_url(path: str, params: tuple[tuple[str, Any], ...]) -> str:
    return url_for_params(path, dict(params))


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _tojson(value: Any) -> Markup:
    # For <script type="application/json">: <, > and & escaped so the data cannot close the element.
    text = json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def url_for_params(path: str, params: dict[str, Any] | None = None, **more: Any) -> str:
    merged = {**(params or {}), **more}
    clean = {k: v for k, v in merged.items() if v not in (None, "")}
    return path + ("?" + urlencode(clean) if clean else "")


def make_renderer(env: Environment) -> Callable[..., HTMLResponse]:
    def render(request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200,
               headers: dict[str, str] | None = None) -> HTMLResponse:
        lang = request_lang(request)
        user = current_user(request)
        zone = request.app.state.settings.display_timezone

        def _(msg_id: str, **params: Any) -> str:
            return t(msg_id, lang, **params)

        def label(prefix: str, value: Any) -> str:
            """A code shown to people: its catalogue label when there is one, else the code as is."""
            if value is None or value == "":
                return "—"
            msg_id = f"web.{prefix}.{value}"
            return t(msg_id, lang) if has_message(msg_id, lang) else str(value)

        def field(name: str) -> str:
            """A column's label; a column added to the models before its label shows its own name."""
            msg_id = f"web.field.{name}"
            return t(msg_id, lang) if has_message(msg_id, lang) else name

        def fmt(value: Any) -> str:
            if value is None or value == "" or value == [] or value == {}:
                return "—"
            if isinstance(value, bool):
                return t("web.common.yes" if value else "web.common.no", lang)
            if isinstance(value, dt.datetime):
                return local_time(value, zone).strftime("%Y-%m-%d %H:%M")
            if isinstance(value, dt.date):
                return value.isoformat()
            if isinstance(value, float):
                return f"{value:,.2f}"
            if isinstance(value, (list, tuple)):
                return "；".join(fmt(v) for v in value) if lang == "zh" else "; ".join(fmt(v) for v in value)
            if isinstance(value, dict):
                return "；".join(f"{k}: {fmt(v)}" for k, v in value.items())
            return str(value)

        def duration(seconds: float | None) -> str:
            if seconds is None:
                return "—"
            whole = int(round(seconds))
            if whole < 60:
                return t("web.duration.s", lang, s=whole)
            if whole < 3600:
                minutes, rest = divmod(whole, 60)
                return t("web.duration.ms", lang, m=minutes, s=rest) if rest else t("web.duration.m", lang, m=minutes)
            return t("web.duration.hm", lang, h=whole // 3600, m=whole % 3600 // 60)

        def place_name(place: dict[str, Any] | None) -> str:
            if not place:
                return "—"
            parts = [region(place.get(f"{level}_code"), place.get(level)) for level in ("prefecture", "county")
                     if not (level == "prefecture" and place.get("prefecture_code") == "659000" and place.get("county"))]
            parts = list(dict.fromkeys(p for p in parts if p))  # a GI placed at its prefecture: named once
            return " · ".join(parts) if parts else "—"

        def region(code: str | None, name: str | None) -> str | None:
            """A region by name in the page's language (English names: refdata/regions)."""
            from xjip.hub.region_names import region_name

            return name if lang == "zh" and name else (region_name(code, lang) or name)

        def country_name(code: str | None) -> str | None:
            from xjip.web.record_view import country_name as name

            return name(code, lang)

        def place_words(place: dict[str, Any] | None) -> str:
            from xjip.web.record_view import place_words as words

            return words(place, lang)

        def gi_category(value: str | None) -> str | None:
            from xjip.web.record_view import gi_category as words

            return words(value, lang)

        def region_name(code: str | None) -> str | None:
            from xjip.hub.region_names import region_name as name

            return name(code, lang)

        flashes = [(kind, t(msg_id, lang, **params)) for kind, msg_id, params in request.session.pop("flash", [])]
        nav = [(section, [(item, href) for item, href, role in items if role is None or (user and user.has(role))])
               for section, items in NAVIGATION]
        path = request.url.path
        query = dict(request.query_params)
        switch = {code: url_for_params(path, {k: v for k, v in query.items() if k != "lang"}, lang=code)
                  for code in supported_languages()}
        base = {"request": request, "lang": lang, "_": _, "label": label, "field": field, "fmt": fmt, "duration": duration,
                "place_name": place_name, "place_words": place_words, "country_name": country_name,
                "region_name": region_name, "region": region,
                "gi_category": gi_category,
                "url": url_for_params, "user": user, "csrf_token": csrf_token(request), "nav": nav, "path": path,
                "lang_switch": switch, "flashes": flashes, "languages": supported_languages(),
                "max_upload_mb": request.app.state.settings.max_upload_mb,
                "time_zone": label("timezone", zone), "utc_offset": local_time(dt.datetime.now(dt.timezone.utc), zone).strftime("%z")}
        body = env.get_template(template).render({**base, **(context or {})})
        response = HTMLResponse(body, status_code=status, headers=headers)
        return response

    return render
