"""The public API, the registries and the built-in controllers on a store the test builds (quick tier:
nothing installed is needed)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import autotts
from autotts import controllers
from autotts.controllers.base import BUILTIN_CONTROLLERS, CONTROLLERS
from autotts.data import register_store, unregister_store
from autotts.discovery.proposers import PROPOSERS, ProposerUnavailable, proposer_class
from autotts.discovery.screen import screen_source
from autotts.evaluation import Cell, ControllerSpec
from autotts.registry import Registry, RegistryError
from synthetic import tiny_store

pytestmark = pytest.mark.synthetic
SRC = Path(autotts.__file__).parent


@pytest.fixture(scope="module")
def tiny() -> str:
    store = register_store("synthetic/tiny", tiny_store())
    yield store.name
    unregister_store(store.name)


def test_root_api_is_the_workflow_and_resolves_lazily() -> None:
    assert set(autotts.__all__) >= {"load_store", "Episode", "Controller", "register", "evaluate", "validate"}
    assert len(autotts.__all__) <= 20
    for name in autotts.__all__:
        assert getattr(autotts, name) is not None, name
    # the heavy workflow entries (matplotlib) are not imported by `import autotts`
    code = "import sys, autotts; print('autotts.report.discovery_report' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    from autotts.discovery.loop import discover

    assert autotts.discover is discover
    with pytest.raises(AttributeError):
        autotts.no_such_name  # noqa: B018


def test_every_builtin_controller_is_in_the_lazy_table_and_loads_named() -> None:
    for name in BUILTIN_CONTROLLERS:
        cls = CONTROLLERS.get(name)
        assert issubclass(cls, controllers.Controller)
        assert cls.name == name
    # no controller module registers itself behind the table's back
    for path in (SRC / "controllers").rglob("*.py"):
        assert "@register(" not in path.read_text(), path


def test_registry_rejects_a_taken_name_and_lists_known_ones_when_a_name_is_unknown() -> None:
    registry: Registry[type] = Registry("widget", "autotts.test-widgets", {"a": "collections:OrderedDict"})
    assert registry.get("a").__name__ == "OrderedDict"
    with pytest.raises(ValueError, match="already registered"):
        registry.add("a", dict)
    with pytest.raises(RegistryError, match="unknown widget 'b'; known: a"):
        registry.get("b")
    def only_dicts(name: str, obj: type) -> None:
        if obj is not dict:
            raise RegistryError(f"{name} is not dict")

    picky: Registry[type] = Registry("widget", "autotts.test-widgets", {"d": "collections:OrderedDict"}, only_dicts)
    for _ in range(2):  # a refused entry is refused on every lookup, not cached
        with pytest.raises(RegistryError, match="d is not dict"):
            picky.get("d")
    broken: Registry[type] = Registry("widget", "autotts.test-widgets", {"x": "no_such_module_here:X"})
    with pytest.raises(RegistryError, match="not installed"):
        broken.get("x")


def test_a_package_adds_a_controller_and_a_proposer_through_entry_points(tmp_path: Path) -> None:
    """A user's installed package declares entry points; autotts finds both without being touched."""
    package = tmp_path / "site" / "my_policies"
    package.mkdir(parents=True)
    package.joinpath("__init__.py").write_text(
        textwrap.dedent(
            """
            from autotts.controllers import Controller, majority

            class FirstTwo(Controller):
                def run(self, episode):
                    ids = episode.spawn(2)
                    episode.read_full(ids)
                    return majority(episode.answer(i) for i in ids)

            class Proposes:
                pass
            """
        )
    )
    info = tmp_path / "site" / "my_policies-1.0.dist-info"
    info.mkdir()
    info.joinpath("METADATA").write_text("Metadata-Version: 2.1\nName: my-policies\nVersion: 1.0\n")
    info.joinpath("entry_points.txt").write_text(
        "[autotts.controllers]\nfirst-two = my_policies:FirstTwo\n\n[autotts.proposers]\nmine = my_policies:Proposes\n"
    )
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path / "site")!r})
        from autotts import registered
        from autotts.controllers.base import get_controller_class
        from autotts.discovery.proposers import proposer_class, PROPOSERS
        assert "first-two" in registered(), registered()
        cls = get_controller_class("first-two")
        print(cls.__name__, cls.name, proposer_class("mine").__name__, "mine" in PROPOSERS.names())
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["FirstTwo", "first-two", "Proposes", "True"]


def test_unknown_proposer_is_a_clear_error() -> None:
    assert "evolve" in PROPOSERS
    with pytest.raises(ProposerUnavailable, match="unknown proposer 'gpt-9'; known: anthropic, claude-code"):
        proposer_class("gpt-9")


def test_the_static_screen_allows_exactly_the_candidate_api() -> None:
    for name in controllers.__all__:
        assert screen_source(f"from autotts.controllers import {name}\n") == [], name
    assert screen_source("from autotts.controllers.votes import majority\n") == []
    assert screen_source("from autotts.env import EpisodeBatch\n") == []
    for hidden in ("register", "get_controller_class", "CONTROLLERS", "load_file_controller"):
        findings = screen_source(f"from autotts.controllers import {hidden}\n")
        assert [f.rule for f in findings] == ["imports"], hidden
    assert [f.rule for f in screen_source("from autotts.controllers.base import CONTROLLERS\n")] == ["imports"]
    assert [f.rule for f in screen_source("from autotts.data import load_store\n")] == ["imports"]


def test_the_candidate_api_notes_and_prompt_name_the_same_list() -> None:
    from autotts.discovery.prompt import task_statement
    from autotts.discovery.workspace import api_documentation

    task = task_statement(beta_rule=True, traces=True, betas=[0.0, 1.0], stores=["s"], agent=False)
    notes = api_documentation()
    for name in controllers.__all__:
        assert name in task and f"`{name}`" in notes, name


def test_no_module_of_a_lower_layer_imports_a_higher_one() -> None:
    order = ["registry", "data", "env", "controllers", "evaluation", "sandbox", "discovery", "report"]
    rank = {name: i for i, name in enumerate(order)}
    for path in SRC.rglob("*.py"):
        layer = path.relative_to(SRC).parts[0].removesuffix(".py")
        if layer not in rank:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level and node.module:
                # a relative import's first part names the package it reaches, from the layer's root
                depth = len(path.relative_to(SRC).parts) - 1
                if node.level <= depth:
                    continue
                target = node.module.split(".")[0]
                if target in rank:
                    assert rank[target] <= rank[layer], f"{path}: {layer} imports {target}"


@pytest.mark.parametrize("name", ["sc", "asc", "esc", "parallel-probe", "sac", "short-m", "cmc", "evo"])
def test_builtin_decides_the_same_played_fast_or_traced(tiny: str, name: str) -> None:
    """The fast path (what evaluation plays without traces) and the traced run() agree per episode."""
    from autotts.evaluation import evaluate

    cells = [Cell(ControllerSpec(name), beta, tiny, 4) for beta in (0.0, 0.5, 1.0)]
    fast = evaluate(cells, executor="serial")
    traced = evaluate(cells, executor="serial", want_traces=True)
    for a, b in zip(fast, traced, strict=True):
        assert a.answers == b.answers, (name, a.beta)
        assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.latency, b.latency), (name, a.beta)
        assert not a.failures
    assert fast[-1].mean_tokens >= fast[0].mean_tokens  # β is the budget knob


def test_root_evaluate_runs_registry_names_in_process(tiny: str) -> None:
    [result] = autotts.evaluate([Cell(ControllerSpec("sc"), 1.0, tiny, 3)], jobs=1)
    assert result.correct.shape == (3, 8)
    golds = [q.gold for q in autotts.load_store(tiny).questions]
    expected = [[a == g for a, g in zip(row, golds, strict=True)] for row in result.answers]
    assert result.correct.tolist() == expected
