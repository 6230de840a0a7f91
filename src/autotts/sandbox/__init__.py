"""The sandbox: untrusted controllers behind an operating-system boundary.

* :mod:`.protocol` — the policy <-> environment messages (versioned; ``docs/protocol.md``);
* :mod:`.boundary` — bubblewrap namespaces, seccomp, resource limits; refuses when they cannot be built;
* :mod:`.runner` — the policy side, inside the boundary: controller code against remote episodes;
* :mod:`.environment` — the trusted side: the store and the real episodes, every number recomputed;
* :mod:`.pool` — the parent: environment processes, blocks, wall clock, scoring;
* :mod:`.seam` — the one function that decides trusted or sandboxed for every caller.
"""

from .boundary import SandboxError, SandboxUnavailable
from .pool import (
    STOPPING_KINDS,
    SandboxFailure,
    SandboxLimits,
    SandboxPool,
    SandboxViolation,
    evaluate_sandboxed,
    is_file_ref,
    raise_for_stops,
    split_file_ref,
    stopped,
)
from .seam import evaluate_cells, needs_sandbox

__all__ = [
    "STOPPING_KINDS",
    "SandboxError",
    "SandboxFailure",
    "SandboxLimits",
    "SandboxPool",
    "SandboxUnavailable",
    "SandboxViolation",
    "evaluate_cells",
    "evaluate_sandboxed",
    "is_file_ref",
    "needs_sandbox",
    "raise_for_stops",
    "split_file_ref",
    "stopped",
]
