"""Running an approved policy live, in front of an inference server (``autotts serve``, ``autotts run``).

* :mod:`.config` — the backend and branch sampling (collect's request shapes and seeds);
* :mod:`.episode` — :class:`LiveEpisode`: the replay ``Episode`` whose branches a server generates;
* :mod:`.policy` — which policy may run (the approval rule, in one place) and where its code runs;
* :mod:`.service` — concurrent episodes with admission, deadlines, cancellation, monitoring;
* :mod:`.server` — the OpenAI-compatible HTTP endpoint (FastAPI + uvicorn);
* :mod:`.monitor` — Prometheus metrics, the JSONL decision log, decision drift against replay;
* :mod:`.batch` — ``autotts run``: a questions file answered live, summarised, compared with replay.

The design is in ``docs/live.md``.
"""

from .config import LiveConfig, LiveConfigError
from .episode import Backend, LiveAborted, LiveBranch, LiveEpisode
from .policy import PolicyError, PolicySource, build_policy, load_policy
from .service import LiveResult, LiveService, Overloaded

__all__ = [
    "Backend",
    "LiveAborted",
    "LiveBranch",
    "LiveConfig",
    "LiveConfigError",
    "LiveEpisode",
    "LiveResult",
    "LiveService",
    "Overloaded",
    "PolicyError",
    "PolicySource",
    "build_policy",
    "load_policy",
]
