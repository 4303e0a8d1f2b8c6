"""Witness commands: run a C2SP tlog-witness, and have the log's checkpoints cosigned.

    insutrace witness init --dir W --name NAME        a new witness key; prints its vkey
    insutrace witness vkey --dir W                    the witness's verifier key
    insutrace witness serve --dir W --log-vkey KEY    serve add-checkpoint (state in W)
    insutrace cosign [--witness "VKEY URL"]...        send the latest checkpoint to witnesses

``--log-vkey`` and ``--witness`` take the key itself or a file holding it; ``cosign``
defaults to INSUTRACE_WITNESSES. It prints one JSON line per witness and exits 1 if a
witness refuses the checkpoint as inconsistent with what it cosigned (a fork or rollback).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Annotated, Protocol

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from insutrace.trace.errors import MalformedInput
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteVerifier
from insutrace.trace.witness import CosignatureSigner, Witness

__all__ = ["key_or_file", "load_witness_key", "register", "witness_app", "witness_specs"]

witness_app = typer.Typer(help="Run a C2SP tlog-witness for InsuTrace logs.", no_args_is_help=True)

_KEY = "witness.key"
_STATE = "witness.db"


class _State(Protocol):
    def ledger(self) -> Ledger: ...


def key_or_file(value: str) -> str:
    """A key given inline, or read from the file ``value`` names."""
    text = value.strip()
    path = Path(text)
    # a key string is never a file name; one too long for the file system is not either
    if len(text) < 1024 and path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return text


def witness_specs(specs: list[str]) -> str:
    """``--witness`` values ('<vkey or key file> <URL>') as INSUTRACE_WITNESSES text."""
    out = []
    for spec in specs:
        parts = spec.split()
        out.append(" ".join([key_or_file(parts[0]), *parts[1:]]) if parts else spec)
    return ";".join(out)


def _save_witness_key(signer: CosignatureSigner, path: Path) -> None:
    pem = signer.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(f"# witness: {signer.name}\n".encode() + pem)


def load_witness_key(directory: Path) -> CosignatureSigner:
    path = directory / _KEY
    if not path.is_file():
        raise MalformedInput(f"{path}: no witness key (run `insutrace witness init` first)")
    first, _, pem = path.read_bytes().partition(b"\n")
    if not first.startswith(b"# witness: "):
        raise MalformedInput(f"{path}: a witness key file starts with '# witness: <name>'")
    key = load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise MalformedInput(f"{path}: not an Ed25519 private key")
    return CosignatureSigner(first[11:].decode().strip(), key)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


DirOption = Annotated[Path, typer.Option("--dir", help="The witness's directory (key, state).")]


@witness_app.command("init")
def init(
    directory: DirOption,
    name: Annotated[str, typer.Option(help="The witness's name, a scheme-less URL.")],
) -> None:
    """Create the witness key in DIR and print its verifier key."""
    if not name or any(c.isspace() or c == "+" for c in name):
        raise _fail(f"witness name {name!r} must be non-empty, without spaces or '+'")
    signer = CosignatureSigner(name, Ed25519PrivateKey.generate())
    try:
        _save_witness_key(signer, directory / _KEY)
    except FileExistsError:
        raise _fail(f"{directory / _KEY} exists: a witness keeps its key") from None
    typer.echo(signer.verifier.vkey)


@witness_app.command("vkey")
def vkey(directory: DirOption) -> None:
    """Print the witness's verifier key (for the logs that call it and their verifiers)."""
    try:
        typer.echo(load_witness_key(directory).verifier.vkey)
    except MalformedInput as exc:
        raise _fail(str(exc)) from None


@witness_app.command("serve")
def serve(
    directory: DirOption,
    log_vkey: Annotated[
        list[str], typer.Option(help="A log's checkpoint key (or a file with it); repeatable.")
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8100,
) -> None:
    """Serve POST /add-checkpoint for the logs named by --log-vkey."""
    import uvicorn

    from insutrace.api.witness_app import create_witness_app

    try:
        signer = load_witness_key(directory)
        logs = [NoteVerifier.parse(key_or_file(v)) for v in log_vkey]
    except MalformedInput as exc:
        raise _fail(str(exc)) from None
    witness = Witness(directory / _STATE, signer, logs)
    typer.echo(
        f"witness {signer.name} for {', '.join(v.name for v in logs)} on {host}:{port}", err=True
    )
    uvicorn.run(create_witness_app(witness), host=host, port=port, log_level="warning")


def cosign(
    ctx: typer.Context,
    witness: Annotated[
        list[str] | None,
        typer.Option(help="'<witness vkey> <URL prefix>' (default INSUTRACE_WITNESSES)."),
    ] = None,
) -> None:
    """Send the latest checkpoint to the witnesses and store their cosignatures."""
    from insutrace.api.witnessing import Witnessing, parse_witnesses

    state: _State = ctx.obj
    try:
        text = witness_specs(witness) if witness else os.environ.get("INSUTRACE_WITNESSES", "")
        endpoints = parse_witnesses(text)
    except MalformedInput as exc:
        raise _fail(str(exc)) from None
    if not endpoints:
        raise _fail("no witnesses: pass --witness '<vkey> <URL>' or set INSUTRACE_WITNESSES")
    witnessing = Witnessing(state.ledger(), endpoints, quorum=0)
    try:
        outcomes = witnessing.cosign_latest()
    finally:
        witnessing.close()
    for outcome in outcomes:
        typer.echo(json.dumps(dataclasses.asdict(outcome), ensure_ascii=False))
    if any(o.inconsistent for o in outcomes):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(witness_app, name="witness")
    app.command("cosign")(cosign)
