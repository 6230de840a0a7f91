"""Issue 15's CLI items, each as a user meets it: bad input gets one clear line naming the option or
file and exit status 2 (never a traceback), tables keep every digit and name, progress reaches logs.

Commands run in-process through typer's runner (stdout and stderr are not terminals there, as in a
pipe or CI log); ``--data-dir`` and ``$AUTOTTS_DATA_DIR`` are restored after every test."""

from __future__ import annotations

import gzip
import io
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from autotts.cli import app
from autotts.cli.common import PlainProgress, print_table, progress_bar

STORE = "Qwen3-4B/aime24"
MIRROR = Path(__file__).resolve().parents[2] / "shared" / "replay"  # the stores as shipped beside the checkout
runner = CliRunner()


@pytest.fixture(autouse=True)
def _keep_data_dir(monkeypatch, replay_data):
    # the global --data-dir sets $AUTOTTS_DATA_DIR for the process: restore it after each test
    monkeypatch.setenv("AUTOTTS_DATA_DIR", str(replay_data))


def cli(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output + result.stderr, result.output + result.stderr
    return result


def usage_error(*args: str) -> str:
    """Run a command that must fail as a usage error; its stderr."""
    result = cli(*args)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.strip(), "an error must say what is wrong"
    return result.stderr


# --------------------------------------------------------------------------------------------- β


@pytest.mark.parametrize("bad", ["2", "-1", "1.5", "nan", "inf", "abc", "", " , "])
def test_eval_rejects_every_bad_beta(bad):
    err = usage_error("eval", "-c", "sc", "--store", STORE, "--seeds", "1", "--beta", bad)
    assert "--beta" in err and "[0, 1]" in err


@pytest.mark.parametrize(
    "args",
    [
        ["card", "-c", "sc", "--beta", "2"],
        ["card", "-c", "sc", "--beta", ""],
        ["compare", "sc", "cmc", "--beta", "2"],
        ["compare", "sc", "cmc", "--beta", "nan"],
        ["validate", "{file}", "--betas", "0,3"],
        ["validate", "{file}", "--betas", ""],
        ["discover", "--betas", "0,-1", "--out", "{tmp}/run"],
        ["discover", "--betas", "", "--out", "{tmp}/run"],
        ["robustness", "sc", "--betas", "0,2"],
        ["robustness", "sc", "--beta", "-0.5"],
        ["report", "{tmp}", "--beta", "1.01"],
        ["policy", "register", "x", "sc", "--beta", "7"],
    ],
)
@pytest.mark.slow
def test_every_command_parses_beta_the_same_way(args, tmp_path):
    file = tmp_path / "c.py"
    file.write_text("x = 1\n")
    args = [a.format(file=file, tmp=tmp_path) for a in args]
    err = usage_error(*args)
    assert "[0, 1]" in err


# ---------------------------------------------------------------------- one error path, exit code 2


def test_unknown_executor_is_a_usage_error():
    err = usage_error("eval", "-c", "sc", "--store", STORE, "--executor", "bogus")
    assert "--executor" in err and "process" in err


def test_an_unexpected_exception_becomes_one_line_with_exit_2(monkeypatch):
    import autotts.cli.eval as eval_cmd

    def boom(*_a, **_k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(eval_cmd, "evaluate_cells", boom)
    err = usage_error("eval", "-c", "sc", "--store", STORE, "--seeds", "1")
    assert "disk on fire" in err and "RuntimeError" in err


@pytest.mark.parametrize("name", ["Qwen3-4B/aime99", "Qwen9/aime24", "nonsense"])
def test_an_unknown_store_is_named_with_the_known_ones(name):
    err = usage_error("eval", "-c", "sc", "--store", name)
    assert "unknown store" in err and name in err and STORE in err
    assert "data fetch" not in err  # fetching cannot help


def test_unknown_store_in_other_commands():
    assert "unknown store" in usage_error("compare", "sc", "cmc", "--store", "Qwen3-4B/aime99")
    assert "unknown store" in usage_error("card", "-c", "sc", "--store", "Qwen3-4B/aime99")
    err = usage_error("discover", "--search-stores", "Qwen3-4B/aime99", "--out", "/nonexistent/run")
    assert "--search-stores" in err and "unknown store" in err


# ------------------------------------------------------------------------- controller files


def test_a_file_that_does_not_parse_is_a_load_error_not_a_row(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("class Broken(:\n    pass\n")
    result = cli("eval", "-c", str(bad), "--store", STORE, "--seeds", "1")
    assert result.exit_code == 2
    assert "broken.py" in result.stderr and "does not parse" in result.stderr and "line 1" in result.stderr
    assert "0.00" not in result.stdout  # no result row of zeros
    for args in (["compare", bad, "sc"], ["card", "-c", bad]):  # the same in every command
        err = usage_error(*args, "--store", STORE, "--seeds", "1")
        assert "does not parse" in err and "broken.py" in err


RAISES = """
from autotts.controllers import Controller


class Raises(Controller):
    @classmethod
    def schedule(cls, beta):
        return {}

    def run(self, episode):
        raise ValueError("boom")
"""


@pytest.mark.slow
def test_fail_fast_stops_a_sandboxed_file_at_its_first_failure(tmp_path):
    file = tmp_path / "raises.py"
    file.write_text(RAISES)
    started = time.monotonic()
    result = cli("eval", "-c", str(file), "--store", STORE, "--seeds", "50", "--beta", "0,0.5,1", "--fail-fast")
    assert result.exit_code == 1, result.stderr
    assert "--fail-fast" in result.stderr and "boom" in result.stderr
    assert result.stdout.strip() == ""  # stopped: no table of results
    assert time.monotonic() - started < 120


# ---------------------------------------------------------------------------------------- tables


@pytest.mark.slow
def test_piped_tables_keep_every_digit_and_name():
    result = cli("eval", "-c", "sc", "-c", "cmc", "--store", STORE, "--store", "Qwen3-0.6B/hmmt25", "--seeds", "2")
    assert result.exit_code == 0, result.stderr
    assert "…" not in result.stdout
    as_json = json.loads(
        cli(
            "eval", "-c", "sc", "-c", "cmc", "--store", STORE, "--store", "Qwen3-0.6B/hmmt25", "--seeds", "2", "--json"
        ).stdout
    )
    for row in as_json:
        assert f"{row['tokens']:,.0f}" in result.stdout
        if not row["store"].startswith("mean"):
            assert row["store"] in result.stdout


def _wide_table() -> Table:
    table = Table(title="t")
    for name in ("controller", "store", "acc %", "tokens", "latency", "note"):
        table.add_column(name, no_wrap=True)
    table.add_row("my_very_long_controller_file.py", "Qwen3-8B/aime24", "81.97", "889,912,345", "123,456", "x" * 30)
    return table


def test_on_a_narrow_terminal_numbers_stay_whole_and_columns_drop_with_a_note(capsys):
    out = Console(force_terminal=True, width=60, color_system=None, record=True)
    print_table(_wide_table(), out=out)
    text = out.export_text()
    assert "889,912,345" in text and "81.97" in text
    assert "…" not in text
    assert "not shown at this width" in capsys.readouterr().err


def test_off_a_terminal_tables_print_at_full_width():
    buffer = io.StringIO()
    print_table(_wide_table(), out=Console(file=buffer, force_terminal=False, width=40, color_system=None))
    text = buffer.getvalue()
    assert "889,912,345" in text and "my_very_long_controller_file.py" in text and "x" * 30 in text


# -------------------------------------------------------------------------------------- progress


def test_progress_off_a_terminal_prints_plain_periodic_lines(monkeypatch, capsys):
    monkeypatch.setenv("AUTOTTS_PROGRESS_INTERVAL", "0")
    with progress_bar("evaluating", 4) as advance:
        for _ in range(4):
            advance()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines[0].endswith("evaluating: 0/4 started")
    assert any("2/4 (50%)" in line and "left" in line for line in lines)
    assert lines[-1].split("] ", 1)[1].startswith("evaluating: 4/4 (100%)")


def test_plain_progress_is_rate_limited(capsys):
    plain = PlainProgress("work", 1000, interval=3600)
    for _ in range(1000):
        plain.advance()
    plain.finish()
    assert len(capsys.readouterr().err.splitlines()) == 2  # the start and the end only


def test_json_output_keeps_progress_on_stderr(monkeypatch):
    monkeypatch.setenv("AUTOTTS_PROGRESS_INTERVAL", "0")
    result = cli("eval", "-c", "sc", "--store", STORE, "--seeds", "2", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)[0]["controller"] == "sc"
    assert "evaluating 1 cells: 1/1 (100%)" in result.stderr


def test_a_round_end_prints_its_numbers():
    from autotts.discovery.loop import _figures_line

    line = _figures_line(
        {
            "max_beta": 1.0,
            "accuracy_at_max_beta": 64.9583,
            "tokens_at_max_beta": 455840.7,
            "sc64_accuracy": 63.575,
            "saving_vs_sc64": 0.7538,
        }
    )
    assert line == "64.96% at 455,841 tokens (β=1), SC@64 63.58%, 75.4% fewer tokens at SC@64's accuracy"


# ------------------------------------------------------------------------------------------- help


def test_help_keeps_brackets_and_shows_no_bool_metavar():
    text = cli("discover", "--help").stdout
    assert "[in, out]" in text
    assert "<bool>" not in text
    assert "autotts discover --resume runs/evo --rounds 8\n" in text  # examples stay one per line
    assert "--data-dir" in text  # global, on every command


@pytest.mark.slow
def test_help_of_the_installed_command_names_values_not_python_types():
    """The real entry point (not the test runner's app) shows ``--store STORE``, never ``<list[str]>``."""
    for command in (["eval"], ["discover"], ["data", "fetch"], ["serve"]):
        text = subprocess.run(
            [sys.executable, "-m", "autotts.cli", *command, "--help"], capture_output=True, text=True, check=True
        ).stdout
        options = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("-"))
        assert not re.search(r"<(list|str|int|float|path|bool)", options), (command, options)
    assert "--store STORE" in subprocess.run(
        [sys.executable, "-m", "autotts.cli", "eval", "--help"], capture_output=True, text=True, check=True
    ).stdout


# --------------------------------------------------------------------------------- data commands


def _truncated_mirror(tmp_path: Path, replay_data: Path) -> Path:
    mirror = tmp_path / "mirror"
    (mirror / "Qwen3-4B").mkdir(parents=True)
    whole = (replay_data / "Qwen3-4B" / "aime24.json.gz").read_bytes()
    (mirror / "Qwen3-4B" / "aime24.json.gz").write_bytes(whole[: len(whole) // 2])
    return mirror


def test_fetch_of_a_truncated_store_names_the_file(tmp_path, replay_data):
    mirror = _truncated_mirror(tmp_path, replay_data)
    err = usage_error("data", "fetch", "--from", mirror, "--store", STORE, "--data-dir", tmp_path / "d")
    assert str(mirror / "Qwen3-4B" / "aime24.json.gz") in err and "Aborted" not in err
    assert not (tmp_path / "d" / "Qwen3-4B" / "aime24.json.gz").exists()  # nothing half-installed


def test_import_of_a_truncated_store_names_the_file(tmp_path, replay_data):
    mirror = _truncated_mirror(tmp_path, replay_data)
    source = mirror / "Qwen3-4B" / "aime24.json.gz"
    err = usage_error("data", "import", source, "--name", "mine/x", "--data-dir", tmp_path / "d")
    assert str(source) in err and "not a complete gzip file" in err


def test_plain_fetch_repairs_a_corrupt_installed_store(tmp_path, replay_data):
    mirror = _truncated_mirror(tmp_path, replay_data)
    target = tmp_path / "d" / "Qwen3-4B" / "aime24.json.gz"
    target.parent.mkdir(parents=True)
    target.write_bytes((mirror / "Qwen3-4B" / "aime24.json.gz").read_bytes())  # a truncated install
    result = cli("data", "fetch", "--from", MIRROR, "--store", STORE, "--data-dir", tmp_path / "d")
    assert result.exit_code == 0, result.stderr
    assert "1 installed" in result.stdout
    assert gzip.decompress(target.read_bytes()) == gzip.decompress(
        (replay_data / "Qwen3-4B" / "aime24.json.gz").read_bytes()
    )


def _store_json(branch_counts: list[int]) -> list[dict]:
    return [
        {
            "question": f"q{q}",
            "gold_answer": "1",
            "probe_freq": 500,
            "each_branch": [[["1"], 700, "1"] for _ in range(n)],
        }
        for q, n in enumerate(branch_counts)
    ]


def test_data_check_checks_every_file_and_folder_and_blames_the_short_question(tmp_path):
    good = tmp_path / "stores" / "m" / "good.json"
    short_first = tmp_path / "stores" / "m" / "short.json"
    good.parent.mkdir(parents=True)
    good.write_text(json.dumps(_store_json([4, 4, 4])))
    short_first.write_text(json.dumps(_store_json([2, 4, 4])))  # question 0 has the short list
    result = cli("data", "check", short_first, good)
    assert result.exit_code == 2
    assert "question 0" in result.stderr and "short.json" in result.stderr
    assert f"ok {good}" in result.stdout  # the file after the bad one is still checked
    folder = cli("data", "check", tmp_path / "stores")
    assert folder.exit_code == 2 and f"ok {good}" in folder.stdout and "1 of 2" in folder.stderr
    assert cli("data", "check", tmp_path / "stores" / "m" / "good.json").exit_code == 0


def test_data_dir_is_global_and_read_from_the_environment(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (["--data-dir", empty, "eval"], ["eval", "--data-dir", empty]):
        err = usage_error(*args, "-c", "sc", "--store", STORE, "--seeds", "1")
        assert str(empty) in err
    monkeypatch.setenv("AUTOTTS_DATA_DIR", str(empty))
    assert str(empty) in usage_error("eval", "-c", "sc", "--store", STORE, "--seeds", "1")


def test_traces_report_their_size_and_compress(tmp_path):
    path = tmp_path / "t.jsonl.gz"
    result = cli("eval", "-c", "sc", "--store", STORE, "--seeds", "2", "--beta", "0", "--traces", path)
    assert result.exit_code == 0, result.stderr
    assert "60 episodes" in result.stderr and "kB" in result.stderr or "bytes" in result.stderr
    records = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert len(records) == 60 and json.loads(records[0])


# ------------------------------------------------------------------------------------- discover


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_openai_proposer_without_a_server_fails_before_any_work(tmp_path):
    started = time.monotonic()
    err = usage_error(
        "discover",
        "--proposer",
        "openai",
        "--base-url",
        f"http://127.0.0.1:{_free_port()}/v1",
        "--model",
        "m",
        "--out",
        tmp_path / "run",
    )
    assert "nothing answers at http://127.0.0.1" in err
    assert not (tmp_path / "run").exists() and time.monotonic() - started < 30


def test_a_vanished_server_stops_the_run_instead_of_repairs(tmp_path):
    openai = pytest.importorskip("openai")
    from autotts.discovery.proposers import ProposerUnavailable
    from autotts.discovery.proposers.base import ProposalRequest, ProposerOptions
    from autotts.discovery.proposers.openai_proposer import OpenAIProposer

    port = _free_port()
    proposer = OpenAIProposer(ProposerOptions(base_url=f"http://127.0.0.1:{port}/v1", model="m", retries=0))
    with pytest.raises(ProposerUnavailable, match="cannot reach"):
        proposer.propose(ProposalRequest(1, tmp_path, "prompt", [], 0, None))
    assert openai  # the SDK's connection error is what is recognised


def _stopped_run(tmp_path: Path) -> Path:
    from autotts.discovery.loop import DiscoveryConfig, new_run

    config = DiscoveryConfig(rounds=2, seeds=3, betas=(0.0, 1.0), search_stores=(STORE,), heldout_stores=())
    return new_run(tmp_path / "run", config).root


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--seeds", "5"),
        ("--proposer", "openai"),
        ("--betas", "0,0.5"),
        ("--search-stores", "Qwen3-8B/aime24"),
        ("--selection", "frontier"),
        ("--no-traces", None),
    ],
)
def test_resume_refuses_options_that_conflict_with_the_run(tmp_path, option, value):
    run = _stopped_run(tmp_path)
    before = (run / "run.json").read_text()
    err = usage_error("discover", "--resume", run, option, *([value] if value else []))
    assert option in err and "conflicts" in err
    assert (run / "run.json").read_text() == before


def test_resume_rounds_may_only_extend(tmp_path):
    run = _stopped_run(tmp_path)
    err = usage_error("discover", "--resume", run, "--rounds", "1")
    assert "--rounds" in err and "only extend" in err
    assert json.loads((run / "run.json").read_text())["config"]["rounds"] == 2
