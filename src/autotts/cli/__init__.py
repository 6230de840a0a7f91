"""The ``autotts`` command. Each command lives in its own thin module that only handles arguments
and presentation; the work is done by the library."""

from __future__ import annotations

from pathlib import Path

import typer

from . import card as card_cmd
from . import collect as collect_cmd
from . import compare as compare_cmd
from . import data as data_cmd
from . import discover as discover_cmd
from . import eval as eval_cmd
from . import policy as policy_cmd
from . import report as report_cmd
from . import reproduce as reproduce_cmd
from . import robustness as robustness_cmd
from . import run as run_cmd
from . import serve as serve_cmd
from . import validate as validate_cmd
from . import verify as verify_cmd
from .common import DATA_DIR_ENV, global_options, guard_commands

app = typer.Typer(
    name="autotts",
    help="Discover test-time-scaling policies for reasoning models by search over a replay environment.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _global(
    data_dir: Path = typer.Option(
        None,
        "--data-dir",
        help=f"Data directory of the stores, for every command (default ${DATA_DIR_ENV}, else ~/.cache/autotts).",
    ),
) -> None:
    """Discover test-time-scaling policies for reasoning models by search over a replay environment."""
    global_options(data_dir)


app.add_typer(data_cmd.app, name="data")
app.command("eval")(eval_cmd.eval_command)
app.command("reproduce")(reproduce_cmd.reproduce_command)
app.command("discover")(discover_cmd.discover_command)
app.command("validate")(validate_cmd.validate_command)
app.command("report")(report_cmd.report_command)
app.command("card")(card_cmd.card_command)
app.command("compare")(compare_cmd.compare_command)
app.command("robustness")(robustness_cmd.robustness_command)
app.command("verify")(verify_cmd.verify_command)
app.add_typer(policy_cmd.app, name="policy")
app.command("collect")(collect_cmd.collect_command)
app.command("serve")(serve_cmd.serve_command)
app.command("run")(run_cmd.run_command)

guard_commands(app)  # after every command is registered: one error path and --data-dir for all


def main() -> None:
    app()
