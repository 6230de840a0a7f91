"""Executors that fan blocks out: in-process, a local process pool, or a Ray cluster.

Every executor returns the same blocks; only the wall time differs.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

from ..data.lookup import load_store
from ..data.store import Store
from .runner import Block, CellResult, plan_blocks, play_block, score
from .spec import Cell

EXECUTORS = ("process", "serial", "ray")


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _play(args: tuple) -> Block:
    cell_index, cell, lo, hi, want_traces, fail_fast = args
    return play_block(cell_index, cell, lo, hi, want_traces=want_traces, fail_fast=fail_fast)


def evaluate(
    cells: Sequence[Cell],
    *,
    jobs: int | None = None,
    executor: str = "process",
    want_traces: bool = False,
    fail_fast: bool = False,
    on_block: Callable[[Block], None] | None = None,
) -> list[CellResult]:
    """Evaluate cells (in parallel unless ``jobs == 1``); results come back in the order of ``cells``."""
    golds_by_store = {name: [q.gold for q in load_store(name).questions] for name in {c.store for c in cells}}
    plan = plan_blocks(cells)
    blocks = run_blocks(
        cells, plan, jobs=jobs, executor=executor, want_traces=want_traces, fail_fast=fail_fast, on_block=on_block
    )
    by_cell: dict[int, list[Block]] = {}
    for block in blocks:
        by_cell.setdefault(block.cell_index, []).append(block)
    results = []
    for i, cell in enumerate(cells):
        results.append(score(cell, by_cell[i], golds_by_store[cell.store]))
    return results


def run_blocks(
    cells: Sequence[Cell],
    plan: Sequence[tuple[int, int, int]],
    *,
    jobs: int | None,
    executor: str,
    want_traces: bool,
    fail_fast: bool,
    on_block: Callable[[Block], None] | None,
) -> list[Block]:
    tasks = [(i, cells[i], lo, hi, want_traces, fail_fast) for i, lo, hi in plan]
    jobs = jobs or default_jobs()
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if executor == "ray":
        return _run_ray(tasks, on_block)
    if executor == "serial" or jobs == 1 or len(tasks) == 1:
        blocks = []
        for task in tasks:
            blocks.append(_play(task))
            if on_block:
                on_block(blocks[-1])
        return blocks
    # fork shares the stores the parent already loaded; elsewhere workers load their own
    context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    blocks = []
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context) as pool:
        pending = {pool.submit(_play, task) for task in tasks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                block = future.result()  # re-raises a worker's exception (only with fail_fast)
                blocks.append(block)
                if on_block:
                    on_block(block)
    return blocks


def _run_ray(tasks: list[tuple], on_block: Callable[[Block], None] | None) -> list[Block]:
    try:
        import ray
    except ImportError:
        raise RuntimeError("the ray executor needs Ray: pip install 'autotts[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS") or None, ignore_reinit_error=True, log_to_driver=False)
    # stores travel through the object store, so cluster nodes need no data of their own (and no gold)
    store_refs = {name: ray.put(load_store(name).without_gold()) for name in {task[1].store for task in tasks}}
    remote_play = ray.remote(_play_with_store)
    refs = [remote_play.remote(task, store_refs[task[1].store]) for task in tasks]
    blocks = []
    while refs:
        done, refs = ray.wait(refs, num_returns=1)
        block = ray.get(done[0])
        blocks.append(block)
        if on_block:
            on_block(block)
    return blocks


def _play_with_store(args: tuple, store: Store) -> Block:
    cell_index, cell, lo, hi, want_traces, fail_fast = args
    return play_block(cell_index, cell, lo, hi, want_traces=want_traces, fail_fast=fail_fast, store=store)
