"""Investigation commands: back-traces, recall lists, dossiers, the permit gate, credit status.

``register(app)`` adds them to the ``insutrace`` command line::

    insutrace backtrace (--wall P/S | --building B | --label URI | --batch B | --incident I)
    insutrace recall-list BATCH
    insutrace dossier (subject as above) -o FILE.json [--html FILE] [--pdf FILE]
    insutrace dossier render FILE.json [--html FILE] [--pdf FILE] [--case N] [--investigator N]
    insutrace verify-dossier FILE [--vkey KEY-OR-FILE]                no network, no database
    insutrace gate evaluate PROJECT STAGE [--on YYYY-MM-DD] [--policy NAME]
    insutrace credit status CODE-OR-NAME [--on YYYY-MM-DD]
    insutrace credit proposals [--on YYYY-MM-DD] [--policy NAME]

Every command but ``verify-dossier`` and ``dossier render`` reads the ledger named by the global options; all of
them print JSON (UTF-8) on stdout and report ledger errors as one line on stderr.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer

from insutrace.render.dossier_html import CaseInfo, render_html
from insutrace.trace.clock import SystemClock
from insutrace.trace.domain.credit import credit_proposals, credit_status
from insutrace.trace.domain.fields import local_date
from insutrace.trace.domain.gate import STAGES, Stage, evaluate
from insutrace.trace.domain.read import recall_list
from insutrace.trace.dossier import (
    DossierCheck,
    build_dossier,
    derive_trace,
    load_dossier,
    verify_dossier,
)
from insutrace.trace.errors import MalformedInput
from insutrace.trace.ledger import Ledger
from insutrace.trace.policy import load_policy
from insutrace.trace.store import Store

__all__ = ["COMMANDS", "credit_app", "gate_app", "register"]


class _State(Protocol):
    """What the commands use of ``insutrace.cli.main.State`` (``ctx.obj``)."""

    @property
    def store(self) -> Store: ...

    def ledger(self) -> Ledger: ...


def _state(ctx: typer.Context) -> _State:
    state: _State = ctx.obj
    return state


def _print(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def _day(text: str | None) -> date:
    if text is None:
        return local_date(SystemClock().now())
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise MalformedInput(f"--on: expected a date YYYY-MM-DD, got {text!r}") from None


Wall = Annotated[str | None, typer.Option("--wall", help="A wall section: PROJECT/SECTION.")]
Building = Annotated[str | None, typer.Option("--building", help="A building id.")]
Label = Annotated[str | None, typer.Option("--label", help="A label's GS1 Digital Link URI.")]
Batch = Annotated[str | None, typer.Option("--batch", help="A batch id: GTIN14.LOT.")]
Incident = Annotated[str | None, typer.Option("--incident", help="An incident id.")]
Upstream = Annotated[
    bool, typer.Option("--upstream-only", help="Leave out the recall lists (downstream).")
]


def _query(
    wall: str | None,
    building: str | None,
    label: str | None,
    batch: str | None,
    incident: str | None,
    upstream_only: bool,
) -> dict[str, Any]:
    given = [
        (kind, value)
        for kind, value in (("section", wall), ("building", building), ("label", label),
                            ("batch", batch), ("incident", incident))
        if value
    ]  # fmt: skip
    if len(given) != 1:
        raise MalformedInput("name exactly one of --wall, --building, --label, --batch, --incident")
    kind, value = given[0]
    if kind == "section" and not value.partition("/")[2]:
        raise MalformedInput(f"--wall: expected PROJECT/SECTION, got {value!r}")
    return {"kind": kind, "id": value, "downstream": not upstream_only}


def backtrace(
    ctx: typer.Context,
    wall: Wall = None,
    building: Building = None,
    label: Label = None,
    batch: Batch = None,
    incident: Incident = None,
    upstream_only: Upstream = False,
) -> None:
    """Back-trace a wall, building, label, batch or incident: upstream chain and recall list."""
    with _state(ctx).store.read() as tx:
        query = _query(wall, building, label, batch, incident, upstream_only)
        found = derive_trace(tx, query).to_json()
    _print(found)


def recall(ctx: typer.Context, batch: Annotated[str, typer.Argument(help="GTIN14.LOT")]) -> None:
    """Every project, wall and holder a batch reached (the recall list)."""
    with _state(ctx).store.read() as tx:
        _print(recall_list(tx, batch))


Case = Annotated[str | None, typer.Option("--case", help="The case number (案件编号).")]
Investigator = Annotated[
    str | None, typer.Option("--investigator", help="The investigator's name (调查人).")
]
Html = Annotated[Path | None, typer.Option("--html", help="Write printable HTML here.")]
Pdf = Annotated[Path | None, typer.Option("--pdf", help="Write a PDF (A4) here.")]
VKey = Annotated[
    str | None,
    typer.Option("--vkey", help="The log's verifier key to pin: the key itself or a file."),
]


def _vkey(text: str | None, vkey_file: Path | None = None) -> str | None:
    """``--vkey``: the key string, or the path of a file holding it (``log.vkey``)."""
    if vkey_file is not None:
        text = str(vkey_file)
    if text is None:
        return None
    path = Path(text)
    if "+" not in text or path.is_file():
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise MalformedInput(f"--vkey: neither a key nor a readable file: {exc}") from None
    return text.strip()


def _render(
    made: dict[str, Any],
    check: DossierCheck,
    html: Path | None,
    pdf: Path | None,
    case: str | None,
    investigator: str | None,
) -> None:
    info = CaseInfo(case, investigator, check)
    if html is not None:
        html.write_text(render_html(made, info), encoding="utf-8")
        sys.stderr.write(f"wrote {html}\n")
    if pdf is not None:
        from insutrace.render.dossier_pdf import render_dossier_pdf

        pdf.write_bytes(render_dossier_pdf(made, info))
        sys.stderr.write(f"wrote {pdf}\n")


dossier_app = typer.Typer(
    help="Investigation dossiers (调查卷宗): export from the ledger, render a verified file.",
)


@dossier_app.callback(invoke_without_command=True)
def dossier(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="The dossier JSON file.")
    ] = None,
    wall: Wall = None,
    building: Building = None,
    label: Label = None,
    batch: Batch = None,
    incident: Incident = None,
    upstream_only: Upstream = False,
    html: Html = None,
    pdf: Pdf = None,
    case: Case = None,
    investigator: Investigator = None,
) -> None:
    """Export a dossier: the back-trace at one signed checkpoint with the entries it rests
    on, each proven against it (then ``insutrace dossier render FILE`` anywhere)."""
    if ctx.invoked_subcommand is not None:
        return
    if output is None:
        raise MalformedInput("dossier: -o FILE.json is needed (or: insutrace dossier render FILE)")
    query = _query(wall, building, label, batch, incident, upstream_only)
    made = build_dossier(_state(ctx).ledger(), query)
    output.write_text(json.dumps(made, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    sys.stderr.write(
        f"wrote {output}: {len(made['entries'])} entries proven against checkpoint size "
        f"{made['log']['checkpoint'].split(chr(10))[1]}\n"
    )
    if html is not None or pdf is not None:
        check = verify_dossier(load_dossier(output.read_bytes()))
        _render(made, check, html, pdf, case, investigator)


@dossier_app.command("render")
def dossier_render(
    file: Annotated[Path, typer.Argument(help="A dossier JSON file.")],
    html: Html = None,
    pdf: Pdf = None,
    case: Case = None,
    investigator: Investigator = None,
    vkey: VKey = None,
) -> None:
    """Render a dossier file as HTML and/or PDF, only after it verifies (no database)."""
    if html is None and pdf is None:
        raise MalformedInput("dossier render: name --html and/or --pdf")
    made = load_dossier(file.read_bytes())
    check = verify_dossier(made, vkey=_vkey(vkey))
    _render(made, check, html, pdf, case, investigator)


def verify_dossier_command(
    file: Annotated[Path, typer.Argument(help="A dossier JSON file.")],
    vkey: VKey = None,
    vkey_file: Annotated[
        Path | None, typer.Option(help="A file holding the log's verifier key (log.vkey).")
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(help="A witness's cosignature key (or a file with it); repeatable."),
    ] = None,
    quorum: Annotated[
        int | None,
        typer.Option(help="Witness cosignatures the checkpoint needs (default: every --witness)."),
    ] = None,
) -> None:
    """Check a dossier offline: checkpoint signature, inclusion proofs, entry signatures,
    and every node, edge, fact and recall list re-derived from the proven entries; with
    --witness, also the witnesses' cosignatures on its checkpoint."""
    dossier = load_dossier(file.read_bytes())
    check = verify_dossier(dossier, vkey=_vkey(vkey, vkey_file))
    if witness:
        from insutrace.cli.witness import key_or_file
        from insutrace.trace.witness import CosignatureVerifier, require_quorum

        verifiers = [CosignatureVerifier.parse(key_or_file(k)) for k in witness]
        note = str(dossier.get("log", {}).get("checkpoint", ""))
        names = require_quorum(note, verifiers, len(verifiers) if quorum is None else quorum)
        sys.stderr.write(f"witnessed: the checkpoint is cosigned by {', '.join(names)}\n")
    subject = check.subject
    print(
        f"ok: {check.entries} entries ({check.cited} cited) proven against checkpoint "
        f"{check.origin} size {check.checkpoint_size} root {check.root.hex()}; every node, "
        f"edge and recall list re-derived; subject {subject.get('kind')} {subject.get('id')}"
    )
    for note in check.notes:
        sys.stderr.write(f"note: {note}\n")


gate_app = typer.Typer(
    help="The permit gate (消防设计审查, 施工许可, 消防验收).", no_args_is_help=True
)


@gate_app.command("evaluate")
def gate_evaluate(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project id.")],
    stage: Annotated[str, typer.Argument(help=" | ".join(STAGES))],
    on: Annotated[str | None, typer.Option(help="Decision date (default: today, CST).")] = None,
    policy: Annotated[
        str | None, typer.Option(help="Jurisdiction policy (default: the project's).")
    ] = None,
) -> None:
    """Evaluate a project at a stage: pass or refuse, with every rule, clause and entry."""
    if stage not in {s.value for s in STAGES}:
        raise MalformedInput(f"stage: expected one of {', '.join(STAGES)}, got {stage!r}")
    chosen = load_policy(policy) if policy else None
    with _state(ctx).store.read() as tx:
        found = evaluate(tx, project, Stage(stage), on=_day(on), policy=chosen)
    _print(found.to_json())


credit_app = typer.Typer(
    help="Credit listings (失信名单): status and proposals.", no_args_is_help=True
)


@credit_app.command("status")
def credit_status_command(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Unified social credit code, or part of a name.")],
    on: Annotated[str | None, typer.Option(help="Date (default: today, CST).")] = None,
) -> None:
    """Current status and history of a subject, by credit code or name."""
    with _state(ctx).store.read() as tx:
        _print(credit_status(tx, query, _day(on)))


@credit_app.command("proposals")
def credit_proposals_command(
    ctx: typer.Context,
    on: Annotated[str | None, typer.Option(help="Date (default: today, CST).")] = None,
    policy: Annotated[
        str, typer.Option(help="Policy with the lab threshold.")
    ] = "cn-national-2025",
) -> None:
    """Subjects flagged for the regulator's review (never listed automatically)."""
    with _state(ctx).store.read() as tx:
        _print(credit_proposals(tx, _day(on), load_policy(policy)))


COMMANDS = ("backtrace", "recall-list", "dossier", "verify-dossier", "gate", "credit")


def register(app: typer.Typer) -> None:
    """Add the investigation commands (:data:`COMMANDS`) to the ``insutrace`` app."""
    app.command("backtrace")(backtrace)
    app.command("recall-list")(recall)
    app.add_typer(dossier_app, name="dossier")
    app.command("verify-dossier")(verify_dossier_command)
    app.add_typer(gate_app, name="gate")
    app.add_typer(credit_app, name="credit")
