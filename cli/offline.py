"""Offline commands: sign statements with your own key while offline, send them later.

    insutrace --key FILE offline sign TYPE PAYLOAD [--queue DIR] [--id ID]
    insutrace offline list [--queue DIR]
    insutrace --server URL --token TOKEN offline submit [--queue DIR] [--again]

``sign`` needs no network: the statement names no log position, so it is kept in the
queue directory (``--queue``, INSUTRACE_QUEUE, default ``./outbox``) as its exact bytes
and sent later by ``submit``, which prints one line per receipt and one line per refusal
(with its rule id). A statement sent again is answered with its original receipt: the
ledger knows it by its id. The ledger judges each at its signed time, if it was signed
within the policy's offline window (docs/offline.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from insutrace.trace.clock import Clock, SystemClock
from insutrace.trace.errors import MalformedInput
from insutrace.trace.keys import load_signer

from .remote import _payload, _remote, err, out

__all__ = ["register"]

offline_app = typer.Typer(
    help="Sign statements offline with your key into a queue; submit them later.",
    no_args_is_help=True,
)
Queue = Annotated[
    Path,
    typer.Option("--queue", help="The queue directory.", envvar="INSUTRACE_QUEUE"),
]
DEFAULT_QUEUE = Path("outbox")
CLOCK: Clock = SystemClock()
"""What ``sign`` reads the signing time from."""


def _outbox(queue: Path) -> Any:
    from insutrace.api.client import Outbox

    return Outbox(queue)


@offline_app.command("sign")
def offline_sign(
    ctx: typer.Context,
    type: Annotated[str, typer.Argument(help="Entry type, e.g. label.scan.")],
    payload: Annotated[Path, typer.Argument(help="Payload JSON file, or - for stdin.")],
    queue: Queue = DEFAULT_QUEUE,
    id: Annotated[str | None, typer.Option(help="The statement id (default: a fresh one).")] = None,
) -> None:
    """Sign a statement with your key (--key) now and keep it in the queue."""
    from insutrace.api.client import sign_statement

    key = _remote(ctx).key
    if key is None:
        raise MalformedInput("no key: pass --key FILE (or set INSUTRACE_KEY)")
    data = sign_statement(load_signer(key), type, _payload(payload), id=id, clock=CLOCK)
    item = _outbox(queue).put(data)
    statement = item.statement
    out.print(
        f"queued {item.path.name}: {statement.type} id {statement.id} signed {statement.time}",
        highlight=False,
    )


@offline_app.command("list")
def offline_list(queue: Queue = DEFAULT_QUEUE) -> None:
    """The queued statements in order: state, signed time, type, id, and the answer."""
    for item in _outbox(queue).items():
        s = item.statement
        line = f"{item.path.name}  {item.state:<8} signed {s.time}  {s.type}  id {s.id}"
        if item.receipt is not None:
            line += f"  seq {item.receipt['seq']} logged {item.receipt['logged']}"
        if item.problem is not None:
            line += f"  {item.problem['rule'] or 'refused'}: {item.problem['detail']}"
        out.print(line, highlight=False)


@offline_app.command("submit")
def offline_submit(
    ctx: typer.Context,
    queue: Queue = DEFAULT_QUEUE,
    again: Annotated[
        bool, typer.Option(help="Send the sent and refused ones again too (same bytes).")
    ] = False,
) -> None:
    """Send the pending statements in order (--server, --token); exit 1 on a refusal."""
    outbox = _outbox(queue)
    failed = False
    with _remote(ctx).client() as client:
        outcomes = client.submit_queued(outbox, again=again)
        if not outcomes:
            err.print(f"nothing to send in {queue}", highlight=False)
        for outcome in outcomes:
            name = outcome.item.path.name
            if outcome.receipt is not None:
                r = outcome.receipt
                how = "already logged, original receipt" if r.get("duplicate") else "logged"
                out.print(
                    f"{name}: {how}: seq {r['seq']} leaf {r['leaf']} logged {r['logged']}",
                    highlight=False,
                )
                continue
            failed = True
            what = "not sent" if outcome.item.state == "pending" else "refused"
            err.print(f"{name}: {what}: {outcome.error}", highlight=False)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``offline`` to the main command line."""
    app.add_typer(offline_app, name="offline")
