"""``autotts policy``: the policy registry (register, list, show, diff, approve, reject, revoke,
promote, resolve, audit, mirror)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from .common import beta_callback, console, err_console, fail, parse_floats, print_table, resolve_stores

app = typer.Typer(
    help="The policy registry: versions with evidence, approvals, aliases and an audit log.",
    no_args_is_help=True,
)

REGISTRY_HELP = "Registry file (default $AUTOTTS_REGISTRY, else registry.sqlite in the data directory)."
MLFLOW_HELP = "Also mirror versions, evidence and aliases into this MLflow tracking server (or $AUTOTTS_MLFLOW_URI)."


def _who(by: str | None) -> str:
    return by or os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"


@contextmanager
def _registry(path: Path | None, mlflow_uri: str | None = None) -> Iterator[Any]:
    from ..governance.registry import Registry, RegistryError

    mirror = None
    if mlflow_uri:
        from ..governance.mlflow_mirror import MlflowMirror

        mirror = MlflowMirror(mlflow_uri)
    try:
        with Registry.open(path, mirror=mirror) as reg:
            yield reg
    except RegistryError as exc:
        fail(str(exc), code=1)


@app.command("register")
def register_command(
    name: str = typer.Argument(..., help="Policy name (e.g. evo)."),
    controller: str = typer.Argument(..., help="Registry name, FILE.py[:Class] or a discovery RUN folder."),
    beta: float = typer.Option(..., "--beta", "-b", callback=beta_callback("--beta"), help="The β the policy runs at."),
    by: str = typer.Option(None, "--by", help="Who registers it (default $USER)."),
    store: list[str] = typer.Option(None, "--store", "-s", help="Held-out stores for the evidence (default: heldout)."),
    seeds: int = typer.Option(20, "--seeds", min=1, help="Seeds per question in the held-out evidence."),
    card_seeds: int = typer.Option(2, "--card-seeds", min=1, help="Seeds for the policy card's traces."),
    card_beta: list[str] = typer.Option(None, "--card-beta", help="β grid of the card (default 0,0.5,1 and --beta)."),
    quick_store: str = typer.Option("Qwen3-4B/aime24", "--quick-store", help="Store of the validation quick run."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes (0 = all cores)."),
    trusted: bool = typer.Option(False, "--trusted", help="Run a controller file in-process, not in the sandbox."),
    robustness: Path = typer.Option(
        None, "--robustness", help="An `autotts robustness` result (robustness.json or its folder) for this policy."
    ),
    registry: Path = typer.Option(None, "--registry", help=REGISTRY_HELP),
    mlflow_uri: str = typer.Option(None, "--mlflow-uri", envvar="AUTOTTS_MLFLOW_URI", help=MLFLOW_HELP),
) -> None:
    """Collect the evidence bundle (held-out evaluation with intervals vs SC@64 and CMC, policy card,
    validation verdict) and add an immutable version.

    Examples:

      autotts policy register evo evo --beta 1

      autotts policy register mine my_controller.py --beta 0.5 --seeds 50

      autotts policy register evo-run runs/evo --beta 1 --store Qwen3-4B/aime25

      autotts policy register evo evo --beta 1 --robustness results/robustness-evo
    """
    from ..data import StoreError, StoreNotInstalled, load_store
    from ..governance.evidence import EvidencePlan

    ref = controller
    if Path(controller).is_dir():
        from ..report.runs import ReportInputError, chosen_candidate

        try:
            ref = str(chosen_candidate(Path(controller))[0])
        except ReportInputError as exc:
            fail(str(exc))
    try:
        stores = resolve_stores(store, None if store else "heldout")
        for s in [*stores, quick_store]:
            load_store(s)
    except (StoreNotInstalled, StoreError, ValueError) as exc:
        fail(str(exc))
    card_betas = tuple(parse_floats(card_beta, "--card-beta")) or (0.0, 0.5, 1.0)
    plan = EvidencePlan(tuple(stores), seeds, card_seeds, card_betas, quick_store)
    with _registry(registry, mlflow_uri) as reg:
        version, new = reg.register(
            name,
            ref,
            beta,
            by=_who(by),
            plan=plan,
            trusted=trusted,
            jobs=jobs or None,
            on_step=lambda text: err_console.print(f"[dim]evidence:[/] {text}", highlight=False),
            robustness=robustness,
        )
        summary = reg.evidence(version)
    vs = summary["vs_sc64"]
    d, s = vs["accuracy_difference"], vs["token_saving_percent"]
    console.print(
        f"{'registered' if new else 'already registered as'} {version.ref} (id {version.id[:12]}…): "
        f"{d[0]:+.2f} points [{d[1]:+.2f}, {d[2]:+.2f}] vs SC@64, saving {s[0]:.1f}% [{s[1]:.1f}, {s[2]:.1f}]; "
        f"validation {'passed' if summary['validation']['ok'] else 'FAILED: ' + str(summary['validation']['reason'])}",
        highlight=False,
    )


@app.command("list")
def list_command(
    registry: Path = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every version with its status (pending, approved, rejected, revoked) and aliases."""
    with _registry(registry) as reg:
        rows = reg.list()
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    table = Table(title=f"policies ({len(rows)} versions)")
    for column in ("version", "β", "controller", "status", "aliases", "created", "by", "id"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            f"{r['name']}@{r['version']}",
            f"{r['beta']:g}",
            r["controller"],
            r["status"],
            ", ".join(r["aliases"]),
            r["created"][:19],
            r["by"],
            r["id"][:12],
        )
    print_table(table)


@app.command("show")
def show_command(
    ref: str = typer.Argument(..., help="NAME@VERSION or NAME@ALIAS."),
    source: bool = typer.Option(False, "--source", help="Print the controller source."),
    registry: Path = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A version: its record, evidence, decisions and aliases."""
    with _registry(registry) as reg:
        info = reg.show(ref)
        text = reg.source(reg.get(ref)) if source else None
    if as_json:
        print(json.dumps({**info, **({"source": text} if text else {})}, indent=1))
        return
    rec, ev = info["record"], info["evidence"]
    console.print(f"[bold]{info['ref']}[/]  status: {info['status']}  aliases: {', '.join(info['aliases']) or '—'}")
    console.print(
        f"controller {rec['controller']['ref']} ({rec['controller']['kind']}), β={rec['beta']:g}, "
        f"registered {rec['created']} by {rec['by']}",
        highlight=False,
    )
    console.print(
        f"id {rec['id']}\nsource {rec['source_sha256']}\nmanifest {rec['manifest_sha256']}\n"
        f"evidence {rec['evidence_sha256']}",
        highlight=False,
    )
    for key, label in (("vs_sc64", "vs SC@64"), ("vs_cmc", "vs CMC")):
        console.print(f"{label}: {ev[key]['verdict']}", highlight=False)
    console.print(f"validation: {'passed' if ev['validation']['ok'] else 'failed: ' + str(ev['validation']['reason'])}")
    for d in info["decisions"]:
        extra = f" (override: {d['override']})" if d.get("override") else ""
        console.print(f"{d['at'][:19]} {d['action']} by {d['by']}: {d['note']}{extra}", highlight=False)
    if text:
        console.print(text, highlight=False, markup=False)


@app.command("diff")
def diff_command(
    a: str = typer.Argument(..., help="NAME@VERSION"),
    b: str = typer.Argument(..., help="NAME@VERSION"),
    registry: Path = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Source diff, β and the evidence figures that differ between two versions."""
    with _registry(registry) as reg:
        info = reg.diff(a, b)
    if as_json:
        print(json.dumps(info, indent=1))
        return
    console.print(
        f"{info['a']} → {info['b']}: β {info['beta'][0]:g} → {info['beta'][1]:g}; status "
        f"{info['status'][0]} → {info['status'][1]}; source {'same' if info['same_source'] else 'differs'}"
    )
    if info["source_diff"]:
        console.print(info["source_diff"], highlight=False, markup=False)
    for key in ("vs SC@64 (pooled): accuracy_difference", "vs SC@64 (pooled): token_saving_percent"):
        if key in info["figures"]:
            console.print(f"{key}: {info['figures'][key][0]} → {info['figures'][key][1]}", highlight=False)
    console.print(f"{len(info['figures'])} evidence figures differ")


@app.command("approve")
def approve_command(
    ref: str = typer.Argument(..., help="NAME@VERSION"),
    by: str = typer.Option(..., "--by", help="Who approves."),
    note: str = typer.Option(..., "--note", help="Why."),
    criteria: Path = typer.Option(None, "--criteria", help="Criteria TOML (default: the built-in criteria)."),
    override: str = typer.Option(None, "--override", help="Approve despite failing criteria, for this reason."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes for re-verifying the evidence."),
    registry: Path = typer.Option(None, "--registry", help=REGISTRY_HELP),
    mlflow_uri: str = typer.Option(None, "--mlflow-uri", envvar="AUTOTTS_MLFLOW_URI", help=MLFLOW_HELP),
) -> None:
    """Check a version against the approval criteria and record the approval (approver, time, criteria,
    each criterion's value, evidence hashes). Refuses, listing the failures, unless --override.

    Examples:

      autotts policy approve evo@1 --by alice --note "held-out evidence reviewed"

      autotts policy approve evo@2 --by alice --note "pilot" --criteria team.toml --override "pilot on 1% traffic"
    """
    from ..governance.approval import CriteriaError, load_criteria

    try:
        rules = load_criteria(criteria)
    except CriteriaError as exc:
        fail(str(exc))
    with _registry(registry, mlflow_uri) as reg:
        ok, results = reg.approve(ref, by=by, note=note, criteria=rules, override=override, jobs=jobs or None)
    for r in results:
        mark = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "[dim]skip[/]"}[r.ok]
        console.print(f"{mark} {r.name}: {r.detail}", highlight=False)
    if not ok:
        failed = [r.name for r in results if r.ok is False]
        fail(
            f"{ref} not approved: {len(failed)} criteria failed ({', '.join(failed)}); "
            "--override REASON records an exception",
            code=1,
        )
    console.print(f"{ref} approved by {by}" + (f" (override: {override})" if override else ""))


def _decision(action: str):
    def command(
        ref: str = typer.Argument(..., help="NAME@VERSION"),
        by: str = typer.Option(..., "--by", help="Who decides."),
        note: str = typer.Option(..., "--note", help="Why."),
        registry: Path = typer.Option(None, "--registry", help=REGISTRY_HELP),
        mlflow_uri: str = typer.Option(None, "--mlflow-uri", envvar="AUTOTTS_MLFLOW_URI", help=MLFLOW_HELP),
    ) -> None:
        with _registry(registry, mlflow_uri) as reg:
            removed = getattr(reg, action)(ref, by=by, note=note)
        console.print(f"{ref} {action}d by {by}" + (f"; alias removed: {', '.join(removed)}" if removed else ""))

    command.__doc__ = {
        "reject": "Record a rejection of a version (it cannot be promoted to production).",
        "revoke": "Withdraw an approval; the version loses the production alias.",
    }[action]
    return command


app.command("reject")(_decision("reject"))
app.command("revoke")(_decision("revoke"))


@app.command("promote")
def promote_command(
    ref: str = typer.Argument(..., help="NAME@VERSION"),
    alias: str = typer.Option("production", "--alias", "-a", help="Alias to move (production needs an approval)."),
    by: str = typer.Option(None, "--by", help="Who moves it (default $USER)."),
    registry: Path = typer.Option(None, "--registry", help=REGISTRY_HELP),
    mlflow_uri: str = typer.Option(None, "--mlflow-uri", envvar="AUTOTTS_MLFLOW_URI", help=MLFLOW_HELP),
) -> None:
    """Point an alias (default production) at a version; production only at an approved one."""
    with _registry(registry, mlflow_uri) as reg:
        previous = reg.promote(ref, alias, by=_who(by))
    console.print(f"{ref.rpartition('@')[0]}@{alias} → {ref}" + (f" (was version {previous})" if previous else ""))


@app.command("resolve")
def resolve_command(
    ref: str = typer.Argument(..., help="NAME@production, NAME@ALIAS or NAME@VERSION."),
    allow_unapproved: bool = typer.Option(False, "--allow-unapproved", help="Accept an unapproved version (recorded)."),
    registry: Path = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What a live command would run for REF: controller, β, version and status."""
    from ..governance.registry import UnapprovedPolicy

    with _registry(registry) as reg:
        try:
            policy = reg.resolve(ref, allow_unapproved=allow_unapproved)
        except UnapprovedPolicy as exc:
            fail(str(exc), code=1)
    info = {
        "ref": policy.version.ref,
        "id": policy.version.id,
        "kind": policy.kind,
        "class": policy.class_ref,
        "beta": policy.beta,
        "status": policy.status,
        "source_sha256": policy.version.record["source_sha256"],
    }
    if as_json:
        print(json.dumps(info, indent=1))
    else:
        console.print(" ".join(f"{k}={v}" for k, v in info.items()), highlight=False)


@app.command("audit")
def audit_command(
    registry: Path = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check the audit chain and every stored hash against the content; name any tampered entry.
    Exit 1 when something does not match."""
    with _registry(registry) as reg:
        findings = reg.audit()
        seq, head = reg.head()
    if as_json:
        print(
            json.dumps(
                {
                    "ok": not findings,
                    "entries": seq,
                    "head": head,
                    "findings": [{"entry": f.seq, "problem": f.what} for f in findings],
                },
                indent=1,
            )
        )
    elif findings:
        for f in findings:
            err_console.print(f"[bold red]tampered:[/] {f}", highlight=False)
    else:
        console.print(f"audit log intact: {seq} entries, head {head}", highlight=False)
    raise typer.Exit(1 if findings else 0)


@app.command("mirror")
def mirror_command(
    mlflow_uri: str = typer.Option(..., "--mlflow-uri", envvar="AUTOTTS_MLFLOW_URI", help="MLflow tracking server."),
    registry: Path = typer.Option(None, "--registry", help=REGISTRY_HELP),
) -> None:
    """Copy every version, its evidence, decisions and aliases into an MLflow model registry (idempotent)."""
    from ..governance.mlflow_mirror import MlflowMirror

    mirror = MlflowMirror(mlflow_uri)
    with _registry(registry) as reg:
        names = sorted({r["name"] for r in reg.list()})
        for name in names:
            mirror.sync(reg, name)
    console.print(f"mirrored {len(names)} policies to {mlflow_uri}")
