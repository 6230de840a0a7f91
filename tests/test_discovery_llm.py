"""End to end: `autotts discover --proposer openai|anthropic` against loopback servers that speak the
real protocols, through the official SDKs. The scripted model answers with a valid controller, a
broken one (then a repair), and a hostile one; the server also fails the first calls with 429/500 to
exercise the retries."""

from __future__ import annotations

import json

import pytest

from discovery_helpers import (
    BROKEN,
    FAST,
    HELDOUT,
    HOSTILE,
    VALID,
    VALID_DEPTH,
    discover,
    fenced,
    finished_rounds,
    round_info,
)
from fake_servers import FakeServer, Reply, last_user_text

SCRIPT = [
    fenced(VALID),  # round 1
    fenced(BROKEN),  # round 2, first attempt: a syntax error
    fenced(VALID_DEPTH, "Fixed the class statement."),  # round 2, repair
    fenced(HOSTILE),  # round 3
    "I refuse to write code.",  # round 3, repair attempt without a file
]


def responder(body: dict, index: int) -> Reply:
    return Reply(text=SCRIPT[min(index, len(SCRIPT) - 1)], input_tokens=2000, output_tokens=1000)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_discover_with_chat_api(kind: str, tmp_path) -> None:
    run = tmp_path / "run"
    with FakeServer(kind, responder, fail_first=[429, 500]) as server:
        base_url = server.url + ("/v1" if kind == "openai" else "")
        key = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}[kind]
        model = {"openai": "gpt-4o", "anthropic": "claude-sonnet-4-5"}[kind]
        proc = discover(
            [
                "--proposer",
                kind,
                "--base-url",
                base_url,
                "--model",
                model,
                "--rounds",
                "3",
                "--repairs",
                "1",
                "--out",
                str(run),
                *FAST,
            ],
            env={key: "sk-test"},
        )
        requests = list(server.requests)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # retries: two failed calls, then exactly the five scripted calls went through
    assert len(requests) == 5
    if kind == "anthropic":
        assert all(r.get("stream") for r in requests)  # the SDK streamed
    assert finished_rounds(run) == [1, 2, 3]

    first, second, third = (round_info(run, n) for n in (1, 2, 3))
    assert first["status"] == "valid" and first["attempts"] == 1
    assert second["status"] == "valid" and second["attempts"] == 2
    assert third["status"] == "invalid" and third["attempts"] == 2
    assert "no fenced" in third["reason"]
    validation = json.loads((run / "rounds" / "003" / "validation.json").read_text())
    assert not validation["ok"]
    log = (run / "rounds" / "003" / "proposer.log").read_text()
    assert "===== attempt 1" in log and "===== attempt 2" in log and "import os" in log

    # cost from the price table: $2.5/$10 (gpt-4o) or $3/$15 (sonnet) per 1M, 2000 in + 1000 out per call
    per_call = {"openai": (2000 * 2.5 + 1000 * 10) / 1e6, "anthropic": (2000 * 3 + 1000 * 15) / 1e6}[kind]
    assert first["cost_usd"] == pytest.approx(per_call)
    assert second["cost_usd"] == pytest.approx(2 * per_call)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["total_cost_usd"] == pytest.approx(5 * per_call)
    assert summary["chosen_round"] in (1, 2)
    assert summary["chosen"]["heldout"]["accuracy_at_max_beta"] >= 0
    assert "Chosen: round" in proc.stdout and "SC@64" in proc.stdout and "CMC" in proc.stdout

    # the repair turn carries the validator's reason; round 2's prompt carries round 1's history
    repair = last_user_text(requests[2])
    assert "rejected before evaluation" in repair
    round2_prompt = last_user_text(requests[1])
    assert "Round 1 (valid)" in round2_prompt and "class WidthVote" in round2_prompt
    assert "Trace digest" in round2_prompt and ("| NO |" in round2_prompt or "| yes |" in round2_prompt)
    # never a held-out store, its results, or a gold answer
    for request in requests:
        text = json.dumps(request)
        assert HELDOUT not in text and "aime25" not in text and "hmmt25" not in text
        assert "gold_answer" not in text and '\\"gold\\"' not in text


@pytest.mark.slow
def test_max_usd_stops_before_spending_more(tmp_path) -> None:
    run = tmp_path / "run"
    with FakeServer("openai", responder) as server:
        proc = discover(
            [
                "--proposer",
                "openai",
                "--base-url",
                server.url + "/v1",
                "--model",
                "gpt-4o",
                "--rounds",
                "3",
                "--max-usd",
                "0.01",
                "--out",
                str(run),
                *FAST,
                "--no-heldout",
            ],
            env={"OPENAI_API_KEY": "sk-test"},
        )
        calls = len(server.requests)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # one call costs $0.015 > $0.01: round 1 is paid for, then the loop stops before round 2
    assert calls == 1
    assert finished_rounds(run) == [1]
    assert "budget_exhausted" in (run / "journal.jsonl").read_text()
