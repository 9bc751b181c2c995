"""The root `xjip` command. Each part contributes its subcommands from `<part>/commands.py`
(a module-level `commands: list[click.Command]`); the root only wires settings."""
from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import click

from xjip.settings import Settings, SettingsError

PARTS = [
    "xjip.hub.commands",
    "xjip.hub.synth_commands",
    "xjip.web.commands",
    "xjip.search.commands",
    "xjip.indicators.commands",
    "xjip.reports.commands",
    "xjip.gi.commands",
    "xjip.search.ai_commands",
]


class Context:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._store = None

    @property
    def store(self):  # noqa: ANN201
        if self._store is None:
            from xjip.hub.store import open_store

            self._store = open_store(self.settings)
        return self._store


def emit(data: Any, fmt: str, render_text) -> None:  # noqa: ANN001
    """Every listing command supports --format json; text goes through `render_text`."""
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        render_text(data)


format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                             show_default=True, help="Output format / 输出格式")


@click.group()
@click.option("--database-url", envvar="XJIP_DATABASE_URL", help="SQLAlchemy URL (default: SQLite in data dir)")
@click.option("--data-dir", envvar="XJIP_DATA_DIR", help="Data directory")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, data_dir: str | None) -> None:
    """xjip — 新疆知识产权公共服务平台 / Xinjiang IP public-service platform."""
    try:
        ctx.obj = Context(Settings.from_env(database_url=database_url, data_dir=data_dir))
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


for part in PARTS:
    try:
        module = importlib.import_module(part)
    except ModuleNotFoundError as exc:
        if exc.name != part:
            raise
        continue
    for command in getattr(module, "commands", []):
        main.add_command(command)


if __name__ == "__main__":
    sys.exit(main())
