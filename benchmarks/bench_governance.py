"""Governance benchmark: what provenance and the approval gate cost, end to end, through the CLI.

1. ``autotts reproduce`` (full Table 1 and curves) then ``autotts verify`` on its folder;
2. ``autotts discover --rounds N`` then ``autotts verify`` on the run folder;
3. ``autotts policy register evo evo --beta 1`` (default evidence) and ``policy approve`` (which
   re-runs the evidence).

Every verify must report every figure equal. Usage::

    python benchmarks/bench_governance.py [--rounds 2] [--skip-reproduce] [--skip-discover]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AUTOTTS = [sys.executable, "-m", "autotts.cli"]


def timed(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    result = subprocess.run([*AUTOTTS, *args], capture_output=True, text=True)
    return time.perf_counter() - started, result


def check_verify(folder: str) -> tuple[float, dict]:
    seconds, result = timed("verify", folder, "--json")
    report = json.loads(result.stdout)
    if result.returncode != 0:
        raise SystemExit(
            f"verify {folder} failed ({result.returncode}): {report['differs']} differ, "
            f"{report['cannot']} cannot be re-run"
        )
    return seconds, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-reproduce", action="store_true")
    parser.add_argument("--skip-discover", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-gov-") as tmp:
        root = Path(tmp)
        if not args.skip_reproduce:
            seconds, result = timed("reproduce", "--out", str(root / "rep"))
            assert result.returncode == 0, result.stderr
            verify_s, report = check_verify(str(root / "rep"))
            print(f"reproduce {seconds:.1f} s; verify {verify_s:.1f} s: {report['equal']} figures equal")
        if not args.skip_discover:
            seconds, result = timed("discover", "--rounds", str(args.rounds), "--out", str(root / "run"))
            assert result.returncode == 0, result.stderr
            verify_s, report = check_verify(str(root / "run"))
            print(
                f"discover ({args.rounds} rounds) {seconds:.1f} s; verify {verify_s:.1f} s: "
                f"{report['equal']} figures equal"
            )
        reg = str(root / "reg.sqlite")
        seconds, result = timed("policy", "register", "evo", "evo", "--beta", "1", "--registry", reg)
        assert result.returncode == 0, result.stderr
        approve_s, result = timed("policy", "approve", "evo@1", "--by", "bench", "--note", "bench", "--registry", reg)
        assert result.returncode == 0, result.stdout + result.stderr
        print(f"policy register evo (default evidence) {seconds:.1f} s; approve (re-verifies) {approve_s:.1f} s")


if __name__ == "__main__":
    main()
