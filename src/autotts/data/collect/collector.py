"""Collecting a replay store from a live OpenAI-compatible server.

Every branch is generated interval by interval: one request of Δ tokens, continuing the same text
(so a server's prefix cache makes each continuation cost only the new tokens), then a probe — the
text so far, an answer-forcing suffix and a few greedy tokens — whose answer is the branch's
intermediate answer after that interval. A branch ends when the server stops it (``finish_reason``
other than ``length``) or at ``max_tokens``; its final answer is its last boxed answer, or the probe
of the finished text when it boxed none. Branch token counts are the sums of the server's
``usage.completion_tokens``; probe tokens are counted apart and never charged to the branch.

Every reply is journaled (fsynced) before anything depends on it, so a killed collection resumes
without regenerating any finished request. The store is written once all branches are done:
atomically, gzip-compressed, with a SHA-256 sidecar of its JSON content.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...backends import Generation, RetryPolicy, ServerClient, token_confidence
from ..answertypes import (
    CHOICE_EXTRACTION,
    CHOICE_INSTRUCTION,
    CHOICE_PROBE_SUFFIX,
    EXACT_RULE,
    AnswerSpec,
    AnswerTypeError,
    canonicaliser,
    check_answer_type,
    choice_candidate,
    option_letters,
    probe_choice,
)
from ..store import ERR, store_name_for
from .answers import (
    DYNASOR_SUFFIX,
    EQUIVALENCE_RULE,
    boxed_answer,
    clean,
    math_verify_version,
    probe_answer,
)
from .journal import Journal
from .questions import SourceQuestion, file_sha256, load_questions

STORE_FORMAT = "autotts-store/1"
DEFAULT_COMPLETION_TEMPLATE = (
    "Problem: {question}\nPlease reason step by step, and put your final answer within \\boxed{}.\n\nSolution:"
)
DEFAULT_CHAT_TEMPLATE = "{question}\nPlease reason step by step, and put your final answer within \\boxed{}."
CHOICE_COMPLETION_TEMPLATE = "Question: {question}\n" + CHOICE_INSTRUCTION + "\n\nSolution:"
CHOICE_CHAT_TEMPLATE = "{question}\n" + CHOICE_INSTRUCTION
PROBE_SUFFIXES = {"math": DYNASOR_SUFFIX, "exact": DYNASOR_SUFFIX, "choice": CHOICE_PROBE_SUFFIX}
CONFIDENCE_DEFINITION = (
    "DeepConf group confidence with the interval as the group: the mean over the interval's generated "
    "tokens of the token confidence -(1/k) * sum of the top-k log-probabilities; null when the server sent "
    "no log-probabilities or the interval is empty"
)


class CollectError(RuntimeError):
    """The collection cannot go on (bad configuration, server refused for good)."""


def check_request_settings(settings: Any, counts: tuple[str, ...], error: type[Exception]) -> None:
    """The checks every user of collect's request shapes shares (``autotts collect`` and the live
    environment): positive counts (the common ones plus ``counts``), the API, the template. ``settings``
    has collect's field names and a ``template()``; ``error`` is raised naming the option."""
    for key in ("branches", "interval", "max_tokens", "probe_tokens", "retries", *counts):
        if getattr(settings, key) < 1:
            raise error(f"--{key.replace('_', '-')} must be at least 1, got {getattr(settings, key)}")
    if settings.top_logprobs < 0:
        raise error(f"--top-logprobs must not be negative, got {settings.top_logprobs}")
    if settings.api not in ("completions", "chat"):
        raise error(f"--api must be completions or chat, got {settings.api!r}")
    if "{question}" not in settings.template():
        raise error("--prompt-template must contain {question}")


@dataclass
class CollectConfig:
    """Everything that defines a collection. Fields in :data:`FINGERPRINT_FIELDS` decide what the
    store holds; a journal is only resumed under the same values of those."""

    base_url: str
    model: str
    questions: str
    out: str
    api: str = "completions"
    question_field: str | None = None
    answer_field: str | None = None
    limit: int | None = None
    branches: int = 128
    interval: int = 500
    max_tokens: int = 32768
    temperature: float = 0.7
    top_p: float = 1.0
    seed: int = 0
    prompt_template: str | None = None
    system: str | None = None
    probe_suffix: str | None = None  # None: the answer type's (Dynasor's for math and exact)
    probe_tokens: int = 20
    cleaning: str = "basic"
    top_logprobs: int = 5
    concurrency: int = 8
    timeout: float = 600.0
    retries: int = 8
    keep_text: bool = False
    name: str | None = None
    api_key: str | None = field(default=None, repr=False)
    extra_body: dict[str, Any] = field(default_factory=dict)
    answer_type: str = "math"  # math, choice or exact (autotts.data.answertypes)
    choices_field: str | None = None
    shuffle_options: int | None = None  # seed of the per-question option order (choice)

    def template(self) -> str:
        if self.prompt_template is not None:
            return self.prompt_template
        if self.answer_type == "choice":
            return CHOICE_CHAT_TEMPLATE if self.api == "chat" else CHOICE_COMPLETION_TEMPLATE
        return DEFAULT_CHAT_TEMPLATE if self.api == "chat" else DEFAULT_COMPLETION_TEMPLATE

    def suffix(self) -> str:
        """The probe suffix: the one given, else the answer type's."""
        return self.probe_suffix if self.probe_suffix is not None else PROBE_SUFFIXES[self.answer_type]

    def validate(self) -> None:
        check_request_settings(self, ("concurrency",), CollectError)
        if self.probe_suffix is not None and not self.probe_suffix:
            raise CollectError("--probe-suffix must not be empty")
        try:
            check_answer_type(self.answer_type)
        except AnswerTypeError as exc:
            raise CollectError(f"--answer-type: {exc}") from None
        if self.answer_type != "choice" and (self.shuffle_options is not None or self.choices_field is not None):
            raise CollectError("--shuffle-options and --choices-field need --answer-type choice")

    def store_name(self) -> str:
        return self.name or store_name_for(Path(self.out))


FINGERPRINT_FIELDS = (
    "model",
    "api",
    "question_field",
    "answer_field",
    "limit",
    "branches",
    "interval",
    "max_tokens",
    "temperature",
    "top_p",
    "seed",
    "prompt_template",
    "system",
    "probe_suffix",
    "probe_tokens",
    "top_logprobs",
    "extra_body",
)


def journal_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name.removesuffix(".gz").removesuffix(".json") + ".journal.jsonl")


def request_seed(seed: int, q: int, b: int, k: int) -> int:
    """A per-request sampling seed: distinct per branch and interval, the same on every resume."""
    digest = hashlib.sha256(f"{seed}:{q}:{b}:{k}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


# ---------------------------------------------------------------------- branch state


@dataclass
class BranchState:
    q: int
    b: int
    texts: list[str] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    prompt_tokens: list[int] = field(default_factory=list)
    finish: list[str] = field(default_factory=list)
    asked: list[int] = field(default_factory=list)  # max_tokens of each interval request
    confidence: list[float | None] = field(default_factory=list)
    probes: dict[int, tuple[str, int]] = field(default_factory=dict)  # interval -> (reply, tokens)
    final_probe: tuple[str, int] | None = None

    @property
    def generated(self) -> int:
        return sum(self.tokens)

    def finished(self, max_tokens: int) -> bool:
        if not self.finish:
            return False
        # "length" short of what was asked means another limit was hit (the server's context window):
        # asking again would fail the same way, so the branch ends there
        short = self.tokens[-1] < self.asked[-1]
        return self.finish[-1] != "length" or self.generated >= max_tokens or short

    def probe_due(self, max_tokens: int) -> list[int]:
        """Intervals that end short of the branch's end and still lack their probe."""
        last = len(self.texts) - 1 if self.finished(max_tokens) else len(self.texts)
        return [k for k in range(last) if k not in self.probes]

    def apply(self, record: dict[str, Any]) -> None:
        kind = record["kind"]
        if kind == "interval":
            if record["k"] != len(self.texts):  # records of one branch are written in order
                raise CollectError(f"journal: branch q{self.q}/b{self.b} interval {record['k']} out of order")
            self.texts.append(record["text"])
            self.tokens.append(record["tokens"])
            self.prompt_tokens.append(record.get("prompt_tokens", 0))
            self.finish.append(record["finish"])
            self.asked.append(record.get("asked", record["tokens"]))
            self.confidence.append(record.get("confidence"))
        elif kind == "probe":
            self.probes[record["k"]] = (record["reply"], record["tokens"])
        elif kind == "final_probe":
            self.final_probe = (record["reply"], record["tokens"])


# ---------------------------------------------------------------------- progress


@dataclass
class Progress:
    """Counters for progress lines: requests, tokens (generation and probes), rate, ETA."""

    total_branches: int
    max_tokens: int
    started: float = field(default_factory=time.monotonic)
    branches_done: int = 0
    intervals: int = 0
    probes: int = 0
    gen_tokens: int = 0
    probe_tokens: int = 0
    session_tokens: int = 0  # generated in this process (the rate excludes resumed work)
    remaining_upper: int = 0  # generation tokens still possible for unfinished branches

    def line(self, retries: int) -> str:
        elapsed = max(1e-9, time.monotonic() - self.started)
        rate = self.session_tokens / elapsed
        eta = _duration(self.remaining_upper / rate) if rate > 0 and self.remaining_upper else "-"
        return (
            f"collect: branches {self.branches_done}/{self.total_branches}, intervals {self.intervals}, "
            f"probes {self.probes}, tokens {self.gen_tokens + self.probe_tokens:,} "
            f"(generated {self.gen_tokens:,} + probes {self.probe_tokens:,}), {rate:,.1f} tok/s, "
            f"ETA <= {eta}, retries {retries}, elapsed {_duration(elapsed)}"
        )


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


# ---------------------------------------------------------------------- the collector


@dataclass
class CollectResult:
    out: Path
    sha256: str
    questions: int
    branches: int
    gen_tokens: int
    probe_tokens: int
    requests: int
    retries: int
    elapsed: float
    resumed_records: int


class Collector:
    def __init__(
        self,
        config: CollectConfig,
        *,
        fresh: bool = False,
        on_progress: Callable[[str], None] | None = None,
        progress_every: float = 5.0,
        client: ServerClient | None = None,
    ) -> None:
        config.validate()
        self.config = config
        self.fresh = fresh
        self.on_progress = on_progress or (lambda _line: None)
        self.progress_every = progress_every
        self.questions: list[SourceQuestion] = _load(config)
        self.questions_sha256 = file_sha256(config.questions)
        self.client = client
        self.served_models: list[str] | None = None  # what GET /models listed, for the metadata
        self.journal = Journal(journal_path(config.out))
        self.states: dict[tuple[int, int], BranchState] = {}
        self.progress = Progress(len(self.questions) * config.branches, config.max_tokens)

    # ---------------------------------------------------------------- public

    def fingerprint_config(self) -> dict[str, Any]:
        cfg = {k: getattr(self.config, k) for k in FINGERPRINT_FIELDS}
        cfg["prompt_template"] = self.config.template()
        cfg["probe_suffix"] = self.config.suffix()
        # fields added after the first release enter only when set, so older journals still resume
        for key, default in (("answer_type", "math"), ("choices_field", None), ("shuffle_options", None)):
            if getattr(self.config, key) != default:
                cfg[key] = getattr(self.config, key)
        cfg["questions_sha256"] = self.questions_sha256
        return cfg

    def run(self) -> CollectResult:
        return asyncio.run(self.run_async())

    async def run_async(self) -> CollectResult:
        cfg = self.config
        fp_config = self.fingerprint_config()
        fingerprint = hashlib.sha256(json.dumps(fp_config, sort_keys=True).encode()).hexdigest()
        records = self.journal.start({"fingerprint": fingerprint, "config": fp_config}, fresh=self.fresh)
        try:
            for qi in range(len(self.questions)):
                for b in range(cfg.branches):
                    self.states[(qi, b)] = BranchState(qi, b)
            for record in records:
                key = (record.get("q"), record.get("b"))
                if key not in self.states:
                    raise CollectError(f"{self.journal.path}: record for unknown branch q={key[0]} b={key[1]}")
                self.states[key].apply(record)
        except BaseException:
            self.journal.close()
            raise
        self._count_resumed()
        own_client = self.client is None
        if own_client:
            self.client = ServerClient(
                cfg.base_url,
                cfg.model,
                api=cfg.api,
                api_key=cfg.api_key,
                timeout=cfg.timeout,
                retry=RetryPolicy(attempts=cfg.retries),
                extra_body=cfg.extra_body,
                rng_seed=cfg.seed,
            )
        self.served_models = await self.client.served_models()
        started = time.monotonic()
        semaphore = asyncio.Semaphore(cfg.concurrency)
        reporter = asyncio.create_task(self._report_loop())
        try:
            tasks = [asyncio.create_task(self._branch(state, semaphore)) for state in self.states.values()]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
        finally:
            reporter.cancel()
            self.journal.close()
            if own_client:
                await self.client.close()
        elapsed = time.monotonic() - started
        self.on_progress(self.progress.line(self.client.stats.retries))
        store = self.build_store(elapsed)
        sha = write_store(store, Path(cfg.out))
        return CollectResult(
            out=Path(cfg.out),
            sha256=sha,
            questions=len(self.questions),
            branches=cfg.branches,
            gen_tokens=self.progress.gen_tokens,
            probe_tokens=self.progress.probe_tokens,
            requests=self.client.stats.requests,
            retries=self.client.stats.retries,
            elapsed=elapsed,
            resumed_records=len(records),
        )

    # ---------------------------------------------------------------- requests

    def _messages(self, question: SourceQuestion) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": self.config.system}] if self.config.system else []
        messages.append({"role": "user", "content": self.config.template().replace("{question}", question.text)})
        return messages

    def _prompt(self, question: SourceQuestion, partial: str) -> str:
        if self.config.api == "chat":
            return partial  # the partial assistant message; the question goes in messages_prefix
        return self.config.template().replace("{question}", question.text) + partial

    async def _request(self, state: BranchState, partial: str, **kwargs: Any) -> Generation:
        question = self.questions[state.q]
        return await self.client.generate(
            self._prompt(question, partial),
            messages_prefix=self._messages(question) if self.config.api == "chat" else None,
            **kwargs,
        )

    async def _branch(self, state: BranchState, semaphore: asyncio.Semaphore) -> None:
        cfg = self.config
        if self._complete(state):
            return
        async with semaphore:
            while True:
                for k in state.probe_due(cfg.max_tokens):
                    await self._probe(state, k)
                if state.finished(cfg.max_tokens):
                    break
                await self._interval(state)
            if self._own_answer("".join(state.texts)) is None and state.final_probe is None:
                reply = await self._request(
                    state,
                    "".join(state.texts) + cfg.suffix(),
                    max_tokens=cfg.probe_tokens,
                    temperature=0.0,
                    seed=request_seed(cfg.seed, state.q, state.b, -1),
                )
                self.journal.append(
                    {"kind": "final_probe", "q": state.q, "b": state.b, "reply": reply.text, "tokens": reply.tokens}
                )
                state.final_probe = (reply.text, reply.tokens)
                self.progress.probes += 1
                self.progress.probe_tokens += reply.tokens
                self.progress.session_tokens += reply.tokens
        self.progress.branches_done += 1

    async def _interval(self, state: BranchState) -> None:
        cfg = self.config
        k = len(state.texts)
        want = min(cfg.interval, cfg.max_tokens - state.generated)
        reply = await self._request(
            state,
            "".join(state.texts),
            max_tokens=want,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            seed=request_seed(cfg.seed, state.q, state.b, k),
            top_logprobs=cfg.top_logprobs,
        )
        if reply.tokens > want:
            raise CollectError(
                f"{cfg.base_url}: asked for at most {want} tokens, usage says {reply.tokens} (q{state.q}/b{state.b})"
            )
        confidence = interval_confidence(reply)
        record = {
            "kind": "interval",
            "q": state.q,
            "b": state.b,
            "k": k,
            "text": reply.text,
            "tokens": reply.tokens,
            "prompt_tokens": reply.prompt_tokens,
            "finish": reply.finish_reason,
            "asked": want,
            "confidence": confidence,
        }
        self.journal.append(record)
        state.apply(record)
        self.progress.intervals += 1
        self.progress.gen_tokens += reply.tokens
        self.progress.session_tokens += reply.tokens
        self.progress.remaining_upper -= reply.tokens
        if state.finished(cfg.max_tokens):
            self.progress.remaining_upper -= cfg.max_tokens - state.generated

    async def _probe(self, state: BranchState, k: int) -> None:
        cfg = self.config
        reply = await self._request(
            state,
            "".join(state.texts[: k + 1]) + cfg.suffix(),
            max_tokens=cfg.probe_tokens,
            temperature=0.0,
            seed=request_seed(cfg.seed, state.q, state.b, k),
        )
        record = {"kind": "probe", "q": state.q, "b": state.b, "k": k, "reply": reply.text, "tokens": reply.tokens}
        self.journal.append(record)
        state.apply(record)
        self.progress.probes += 1
        self.progress.probe_tokens += reply.tokens
        self.progress.session_tokens += reply.tokens

    def _complete(self, state: BranchState) -> bool:
        return (
            state.finished(self.config.max_tokens)
            and not state.probe_due(self.config.max_tokens)
            and (state.final_probe is not None or self._own_answer("".join(state.texts)) is not None)
        )

    def _own_answer(self, text: str) -> str | None:
        """A finished branch's own answer, before cleaning: its last boxed answer (math, exact), or
        its concluding letter (choice: a boxed letter or an "answer is"); None sends it to a probe."""
        if self.config.answer_type == "choice":
            return choice_candidate(text, cues_only=True)
        return boxed_answer(text)

    def _letters(self, question: SourceQuestion) -> tuple[str, ...] | None:
        return option_letters(len(question.choices)) if question.choices else None

    def _probe_answer(self, reply: str, letters: tuple[str, ...] | None) -> str:
        if self.config.answer_type == "choice":
            return probe_choice(reply, letters or (), self.config.suffix().endswith("("))
        return probe_answer(reply, self.config.cleaning)

    def _final_answer(self, own: str, letters: tuple[str, ...] | None) -> str:
        if self.config.answer_type == "choice":
            return own if own in (letters or ()) else ERR
        return clean(own, self.config.cleaning)

    def _count_resumed(self) -> None:
        p = self.progress
        for state in self.states.values():
            p.intervals += len(state.texts)
            p.probes += len(state.probes) + (state.final_probe is not None)
            p.gen_tokens += state.generated
            p.probe_tokens += sum(t for _, t in state.probes.values()) + (state.final_probe or ("", 0))[1]
            if self._complete(state):
                p.branches_done += 1
            elif not state.finished(self.config.max_tokens):
                p.remaining_upper += self.config.max_tokens - state.generated

    async def _report_loop(self) -> None:
        while True:
            await asyncio.sleep(self.progress_every)
            self.on_progress(self.progress.line(self.client.stats.retries if self.client else 0))

    # ---------------------------------------------------------------- the store

    def build_store(self, elapsed: float = 0.0) -> dict[str, Any]:
        """The extended store: upstream-shaped questions, each with an ``autotts`` object of extras."""
        cfg = self.config
        questions = []
        for qi, question in enumerate(self.questions):
            letters = self._letters(question)
            canon = canonicaliser(AnswerSpec(cfg.answer_type, letters), question.gold)
            gold = canon(question.gold) if question.gold is not None else ""
            branches, extras = [], []
            for b in range(cfg.branches):
                state = self.states[(qi, b)]
                probe_raw = [self._probe_answer(state.probes[k][0], letters) for k in range(len(state.texts) - 1)]
                text = "".join(state.texts)
                own = self._own_answer(text)
                if own is not None:  # "boxed" also for a choice's "answer is X": the branch's own conclusion
                    final_raw, source = self._final_answer(own, letters), "boxed"
                else:
                    final_raw, source = self._probe_answer(state.final_probe[0], letters), "probe"
                probes = [canon(a) for a in probe_raw]
                final = canon(final_raw)
                branches.append([probes, state.generated, final])
                extra: dict[str, Any] = {
                    "finish_reason": state.finish[-1],
                    "interval_tokens": list(state.tokens),
                    "prompt_tokens": list(state.prompt_tokens),
                    "probe_tokens": [state.probes[k][1] for k in range(len(state.texts) - 1)],
                    "final_probe_tokens": state.final_probe[1] if state.final_probe else 0,
                    "confidence": list(state.confidence),
                    "probe_raw": probe_raw,
                    "probe_replies": [state.probes[k][0] for k in range(len(state.texts) - 1)],
                    "final_raw": final_raw,
                    "final_source": source,
                    "final_probe_reply": state.final_probe[0] if state.final_probe else None,
                }
                if cfg.keep_text:
                    extra["text"] = text
                extras.append(extra)
            own_extras: dict[str, Any] = {"gold_raw": question.gold, "branches": extras}
            if question.choices is not None:
                own_extras["choices"] = list(question.choices)
                own_extras["choice_order"] = list(question.choice_order or range(len(question.choices)))
            questions.append(
                {
                    "question": question.text,
                    "gold_answer": gold,
                    "probe_freq": cfg.interval,
                    "final_answers_trace": [br[2] for br in branches],
                    "each_branch": branches,
                    "autotts": own_extras,
                }
            )
        return {"format": STORE_FORMAT, "metadata": self.metadata(elapsed), "questions": questions}

    def metadata(self, elapsed: float) -> dict[str, Any]:
        from ... import __version__

        cfg = self.config
        stats = self.client.stats if self.client else None
        return {
            "name": cfg.store_name(),
            "model": cfg.model,
            "server": cfg.base_url,
            "server_models": self.served_models,
            "api": cfg.api,
            "prompt_template": cfg.template(),
            "system": cfg.system,
            "sampling": {
                "temperature": cfg.temperature,
                "top_p": cfg.top_p,
                "max_tokens": cfg.max_tokens,
                "seed": cfg.seed,
                "seed_rule": "per request: sha256('seed:question:branch:interval')[:4] & 0x7fffffff",
                "extra_body": cfg.extra_body,
            },
            "interval": cfg.interval,
            "branches": cfg.branches,
            "probe": {
                "suffix": cfg.suffix(),
                "tokens": cfg.probe_tokens,
                "temperature": 0.0,
                "cleaning": cfg.cleaning if cfg.answer_type != "choice" else None,
                "extraction": CHOICE_EXTRACTION
                if cfg.answer_type == "choice"
                else "probe text up to the brace closing the suffix's \\boxed{; ERR when unclosed or empty",
                "final_answer": "the finished branch's last \\boxed{X} or 'answer is X', else a probe of it"
                if cfg.answer_type == "choice"
                else "last non-empty \\boxed{} of the finished branch, else a probe of it",
            },
            "answer_type": self.answer_type_metadata(),
            "confidence": {"definition": CONFIDENCE_DEFINITION, "top_logprobs": cfg.top_logprobs}
            if cfg.top_logprobs
            else None,
            "equivalence": {"library": "math-verify", "version": math_verify_version(), "rule": EQUIVALENCE_RULE}
            if cfg.answer_type == "math"
            else None,
            "questions_file": str(cfg.questions),
            "questions_sha256": self.questions_sha256,
            "collected_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "autotts_version": __version__,
            "tokens": {"generated": self.progress.gen_tokens, "probes": self.progress.probe_tokens},
            "run": {
                "elapsed_s": round(elapsed, 3),
                "requests": stats.requests if stats else 0,
                "retries": stats.retries if stats else 0,
            },
        }


    def answer_type_metadata(self) -> dict[str, Any]:
        """``metadata.answer_type``: how this store's answers are compared (read back by the loader)."""
        cfg = self.config
        out: dict[str, Any] = {"name": cfg.answer_type}
        if cfg.answer_type == "choice":
            counts = {len(q.choices or ()) for q in self.questions}
            out["options"] = counts.pop() if len(counts) == 1 else None  # else per question (autotts.choices)
            out["shuffle_seed"] = cfg.shuffle_options
            out["shuffle_rule"] = "numpy.random.default_rng([seed, question index]).permutation(options)"
            out["extraction"] = CHOICE_EXTRACTION
        elif cfg.answer_type == "exact":
            out["rule"] = EXACT_RULE
        else:
            out["rule"] = EQUIVALENCE_RULE
        return out


def _load(config: CollectConfig) -> list[SourceQuestion]:
    return load_questions(
        config.questions,
        config.question_field,
        config.answer_field,
        config.limit,
        answer_type=config.answer_type,
        choices_field=config.choices_field,
        shuffle_seed=config.shuffle_options,
    )


def interval_confidence(reply: Generation) -> float | None:
    if not reply.top_logprobs:
        return None
    values = [token_confidence(top) for top in reply.top_logprobs if top]
    return round(sum(values) / len(values), 6) if values else None


def write_store(store: dict[str, Any], out: Path) -> str:
    """Write ``store`` as gzip JSON atomically, and ``OUT.sha256`` (SHA-256 of the JSON content, the
    checksum ``autotts data import`` verifies). Returns the checksum."""
    content = json.dumps(store, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    sha = hashlib.sha256(content).hexdigest()
    out.parent.mkdir(parents=True, exist_ok=True)
    compressed = out.suffix == ".gz"
    with tempfile.NamedTemporaryFile(dir=out.parent, delete=False, suffix=".part") as tmp:
        if compressed:
            with gzip.GzipFile(fileobj=tmp, mode="wb", mtime=0) as gz:
                gz.write(content)
        else:
            tmp.write(content)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, out)
    side = out.with_name(out.name + ".sha256")
    with tempfile.NamedTemporaryFile("w", dir=out.parent, delete=False, suffix=".part") as tmp:
        tmp.write(f"{sha}  {out.name}\n")
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, side)
    return sha


# ---------------------------------------------------------------------- dry run


@dataclass(frozen=True)
class Estimate:
    """Upper bounds of a collection's tokens (every branch runs to ``max_tokens``), and their price."""

    questions: int
    branches: int
    requests: int
    output_tokens: int
    input_tokens: int
    input_tokens_uncached: int
    usd: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate(config: CollectConfig, prices: tuple[float, float] | None = None) -> Estimate:
    """Tokens a collection may use, before anything is sent.

    Output tokens are exact upper bounds (Δ-token intervals up to ``max_tokens``, plus every probe's
    tokens). Input tokens are estimated from the prompt's characters (4 per token) and the interval
    lengths: every request re-sends its branch's text, which a server with a prefix cache does not
    recompute (``input_tokens_uncached`` is what it computes) but a hosted API may bill.
    ``prices``: US dollars per million input and output tokens.
    """
    config.validate()
    questions = _load(config)
    n = math.ceil(config.max_tokens / config.interval)  # intervals per branch at most
    suffix = max(1, len(config.suffix()) // 4)
    out_tokens = requests = in_tokens = in_uncached = 0
    for question in questions:
        prompt = max(1, len(config.template().replace("{question}", question.text)) // 4)
        for k in range(n):
            done = min(config.max_tokens, k * config.interval)
            in_tokens += prompt + done  # the interval request
            if k < n - 1:
                in_tokens += prompt + done + config.interval + suffix  # its probe
        in_tokens += prompt + config.max_tokens + suffix  # a final probe, at most
        out_tokens += config.max_tokens + n * config.probe_tokens
        in_uncached += prompt + n * suffix
        requests += 2 * n
    out_tokens *= config.branches
    in_tokens *= config.branches
    in_uncached *= config.branches
    requests *= config.branches
    usd = None
    if prices is not None:
        usd = round((in_tokens * prices[0] + out_tokens * prices[1]) / 1e6, 4)
    return Estimate(len(questions), config.branches, requests, out_tokens, in_tokens, in_uncached, usd)
