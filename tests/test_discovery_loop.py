"""The loop in-process with a scripted proposer: a candidate that passes validation but fails later
in the sandbox is a failed round with its reason, the next round sees that reason in its history
and workspace, and held-out results stay in the run folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from autotts.discovery.loop import DiscoveryConfig, DiscoveryLoop, Reporter, new_run
from autotts.discovery.proposers import Proposal, ProposalRequest, Proposer
from discovery_helpers import HELDOUT, SEARCH, VALID

LATE_FAILURE = VALID.replace(
    "        return majority(",
    "        if episode.seed >= 3:\n            raise ValueError('late failure')\n        return majority(",
)


class Scripted(Proposer):
    name = "scripted"

    def __init__(self, sources: list[str]):
        self.sources = sources
        self.requests: list[ProposalRequest] = []

    def propose(self, request: ProposalRequest) -> Proposal:
        self.requests.append(request)
        source = self.sources[len(self.requests) - 1]
        (request.workspace / "candidate.py").write_text(source)
        summary = f"script step {len(self.requests)}"
        return Proposal(source=source, model="script", cost_usd=0.25, summary=summary)


@pytest.mark.slow
def test_failed_round_is_recorded_and_fed_back(tmp_path: Path) -> None:
    config = DiscoveryConfig(
        proposer="scripted",
        rounds=2,
        betas=(0.0, 1.0),
        seeds=5,  # validation's quick run uses 3 seeds, so the failure only shows in the evaluation
        search_stores=(SEARCH,),
        heldout_stores=(HELDOUT,),
        baselines=("sc",),
        baseline_seeds=2,
        jobs=1,
        repairs=0,
    )
    folder = new_run(tmp_path / "run", config)
    proposer = Scripted([LATE_FAILURE, VALID])
    messages: list[str] = []
    reporter = type("Lines", (Reporter,), {"message": lambda self, text: messages.append(text)})()
    summary = DiscoveryLoop(folder, config, proposer, reporter).run()
    # each round's line says what the proposal changed, beside its status and numbers
    assert any(m.startswith("round 2: valid; script step 2; search: ") for m in messages), messages

    first, second = summary["rounds"]
    assert first["status"] == "failed" and "late failure" in first["reason"]
    assert (folder.round_dir(1) / "failures.txt").read_text().count("late failure") >= 1
    assert second["status"] == "valid" and summary["chosen_round"] == 2
    assert summary["total_cost_usd"] == 0.5

    later = proposer.requests[1]
    assert [r.round for r in later.history] == [1] and "late failure" in later.history[0].reason
    assert all(row["store"] == SEARCH for row in later.history[0].results)
    assert "late failure" in (later.workspace / "history" / "summary.md").read_text()
    assert "late failure" in later.prompt and "aime25" not in later.prompt
    assert (folder.round_dir(2) / "heldout.csv").is_file()
    assert not list(later.workspace.rglob("heldout*"))
    assert summary["chosen"]["heldout"]["accuracy_at_max_beta"] > 0
