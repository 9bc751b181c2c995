"""`xjip serve`, `xjip stats`, `xjip export`, `xjip user add|list|passwd`."""
from __future__ import annotations

import sys
from typing import Any

import click

from xjip.cli import emit, format_option
from xjip.i18n import both, t


def _lang(ctx: click.Context) -> str:
    return ctx.obj.settings.default_language


@click.command()
@click.option("--host", help="Address to bind (default: settings.host)")
@click.option("--port", type=int, help="Port to bind (default: settings.port)")
@click.option("--workers", type=click.IntRange(min=1),
              help="Web worker processes (default: one per core; imports run in the parent) / 工作进程数")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the web platform (uvicorn) / 启动网站服务."""
    import uvicorn

    from xjip.app import create_app, default_workers, serve_workers

    settings = ctx.obj.settings
    host, port = host or settings.host, port or settings.port
    workers = workers or default_workers()
    click.echo(t("web.cli.serve.listening", _lang(ctx), host=host, port=port), err=True)
    if workers > 1:
        click.echo(t("perf.serve.workers", _lang(ctx), n=workers), err=True)
        serve_workers(settings, host, port, workers)
        return
    # Forwarded headers are believed only from `trusted_proxies` (create_app), never by uvicorn's default.
    uvicorn.run(create_app(settings), host=host, port=port, proxy_headers=False, server_header=False)


def _place_name(row: dict[str, Any], name: str, lang: str) -> str:
    """A prefecture in the output's language (English names: refdata/regions/region_names_en.csv)."""
    from xjip.hub.region_names import region_name

    return (region_name(row["code"], lang) or name) if row["name"] and lang != "zh" else name


def _render_stats(lang: str):  # noqa: ANN202
    def render(data: dict[str, Any]) -> None:
        click.echo(f"{t('web.cli.stats.title', lang)} — {t('web.overview.total', lang)}: {data['total']:,}")
        click.echo(f"\n{t('web.cli.stats.by_type', lang)}")
        for row in data["by_type"]:
            click.echo(f"  {t('web.type.' + row['record_type'], lang):<24} {row['total']:>9,}  "
                       f"({t('web.quality.real', lang)} {row['real']:,} / {t('web.quality.synthetic', lang)} {row['synthetic']:,})")
        click.echo(f"\n{t('web.cli.stats.by_prefecture', lang)}")
        for row in data["by_prefecture"]:
            if not row["total"]:
                continue
            name = row["name"] or t("web.place.unresolved" if row["kind"] == "unresolved" else f"perf.place.{row['kind']}",
                                    lang)
            counts = ", ".join(f"{t('web.type.' + k, lang)} {v:,}" for k, v in row["counts"].items() if v)
            click.echo(f"  {row['code']:<7} {_place_name(row, name, lang):<{20 if lang == 'zh' else 40}} {row['total']:>9,}  {counts}")
        click.echo(f"\n{t('web.cli.stats.by_year', lang)}")
        totals: dict[int, int] = {}
        for rows in data["by_year"].values():
            for y in rows:
                totals[y["year"]] = totals.get(y["year"], 0) + y["count"]
        for year in sorted(totals, reverse=True)[:30]:
            click.echo(f"  {year}  {totals[year]:>9,}")
        click.echo(f"\n{t('web.cli.stats.quality', lang)}")
        for q in data["quality"]:
            if q["total"]:
                click.echo(f"  {t('web.type.' + q['record_type'], lang):<24} {t('web.quality.unplaced', lang)} {q['unplaced']:,} · "
                           f"{t('web.quality.missing_title', lang)} {q['missing_title']:,} · "
                           f"{t('web.quality.missing_date', lang)} {q['missing_date']:,} · "
                           f"{t('web.quality.missing_party', lang)} {q['missing_party'] if q['missing_party'] is not None else '—'}")
    return render


@click.command()
@format_option
@click.pass_context
def stats(ctx: click.Context, fmt: str) -> None:
    """Counts by type, prefecture, year and data quality (the overview page's data) / 数据统计."""
    from xjip.hub.queries import overview

    with ctx.obj.store.reading() as s:
        data = overview(s)
    emit(data, fmt, _render_stats(_lang(ctx)))


@click.command("export")
@click.argument("record_type")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False), required=True,
              help="File to write: .csv (UTF-8 with BOM) or .xlsx / 输出文件")
@click.option("--year", type=int, help="Application/filing year")
@click.option("--prefecture", help="Prefecture code (XPCC city code), none or other")
@click.option("--county", help="County code")
@click.option("--status", help="Status code")
@click.option("--kind", help="Patent type, mark kind, GI system, …")
@click.option("--synthetic/--real", default=None, help="Synthetic records only, or real ones only")
@click.option("--q", help="Text contained")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many records")
@click.option("--lang", "language", type=click.Choice(["zh", "en"]), help="Header language (default: settings)")
@click.pass_context
def export(ctx: click.Context, record_type: str, out: str, year: int | None, prefecture: str | None,
           county: str | None, status: str | None, kind: str | None, synthetic: bool | None, q: str | None,
           limit: int | None, language: str | None) -> None:
    """Every record of a type matching the filters, as CSV or Excel (the list page's download,
    unmasked and unbounded: an operator's tool) / 导出记录."""
    from pathlib import Path

    from xjip.hub import exports, queries

    if record_type not in queries.TYPES:
        raise click.UsageError(f"{record_type}: 未知记录类型 / unknown record type ({', '.join(queries.TYPES)})")
    path = Path(out)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in exports.FORMATS:
        raise click.UsageError(f"{out}: 文件名须以 .csv 或 .xlsx 结尾 / the file name must end in .csv or .xlsx")
    lang = language or _lang(ctx)
    from xjip.web.errors import bad_filter_message

    try:
        filters = queries.RecordFilters(year=year, prefecture=prefecture, county=county, status=status, kind=kind,
                                        synthetic=synthetic, q=q)
        with ctx.obj.store.reading() as s:
            queries.check_place_filters(s, filters)
    except queries.BadFilter as exc:
        zh, en = both(bad_filter_message(exc.field), value=exc.shown)
        raise click.UsageError(f"--{exc.field}: {zh}\n{en}") from None
    columns = queries.export_columns(record_type)
    count = 0

    def counted(rows: Any) -> Any:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    zone = ctx.obj.settings.display_timezone
    part = path.with_name(path.name + ".part")  # the file appears whole or not at all
    try:
        with ctx.obj.store.reading() as s, open(part, "wb") as fh:
            rows = counted(queries.export_records(s, record_type, filters, masked=False, limit=limit))
            if fmt == "csv":
                for chunk in exports.iter_csv(rows, columns, lang, zone):
                    fh.write(chunk)
            else:
                exports.write_xlsx(rows, columns, lang, fh, sheet=record_type, zone=zone)
        part.replace(path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    click.echo(t("cli.export.written", lang, n=f"{count:,}", path=str(path)))


@click.group()
def user() -> None:
    """Accounts of the web platform / 用户管理."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password / 密码", hide_input=True, confirmation_prompt=True)


def _fail(exc: Any, lang: str) -> None:
    from xjip.i18n import both

    zh, en = both(f"web.error.{exc.code}", **exc.params)
    raise click.ClickException(f"{zh} / {en}")


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["viewer", "staff", "admin"]), default="viewer", show_default=True)
@click.option("--display-name", help="Shown name / 显示名称")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin")
@click.pass_context
def user_add(ctx: click.Context, username: str, role: str, display_name: str | None, password_stdin: bool) -> None:
    """Create an account / 新建用户."""
    from xjip.web.auth import UserError, create_user

    password = _read_password(password_stdin)
    try:
        with ctx.obj.store.session() as s:
            create_user(s, username, password, role, display_name=display_name, actor="cli")
    except UserError as exc:
        _fail(exc, _lang(ctx))
    click.echo(t("web.cli.user.created", _lang(ctx), username=username, role=role))


@user.command("list")
@format_option
@click.pass_context
def user_list(ctx: click.Context, fmt: str) -> None:
    """List accounts / 用户列表."""
    from xjip.web.auth import list_users

    with ctx.obj.store.reading() as s:
        users = list_users(s)

    def render(rows: list[dict[str, Any]]) -> None:
        for u in rows:
            state = "" if u["active"] else " (disabled/停用)"
            click.echo(f"{u['username']:<24} {u['role']:<8} {u['display_name'] or ''}{state}")

    emit(users, fmt, render)


@user.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin")
@click.pass_context
def user_passwd(ctx: click.Context, username: str, password_stdin: bool) -> None:
    """Set an account's password / 修改密码."""
    from xjip.web.auth import UserError, set_password

    password = _read_password(password_stdin)
    try:
        with ctx.obj.store.session() as s:
            set_password(s, username, password, actor="cli")
    except UserError as exc:
        _fail(exc, _lang(ctx))
    click.echo(t("web.cli.user.password_set", _lang(ctx), username=username))


@user.command("logout")
@click.argument("username")
@click.pass_context
def user_logout(ctx: click.Context, username: str) -> None:
    """End every session of an account, e.g. when its cookie may have been copied / 结束该用户的全部登录会话."""
    from xjip.web.auth import UserError, audit, get_user
    from xjip.web.sessions import end_all

    try:
        with ctx.obj.store.session() as s:
            account = get_user(s, username)
            if account is None:
                raise UserError("no_such_user", username=username)
            ended = end_all(s, account.id, "admin")
            audit(s, "cli:user:logout", "cli", username=account.username, sessions_ended=ended)
    except UserError as exc:
        _fail(exc, _lang(ctx))
    click.echo("\n".join(both("security.cli.sessions_ended", username=username, n=ended)))


commands = [serve, stats, export, user]
