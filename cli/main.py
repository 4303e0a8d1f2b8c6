"""The ``insutrace`` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from typer.core import TyperGroup

from insutrace.trace.errors import LedgerError, MalformedInput, NotFound
from insutrace.trace.export import export_static
from insutrace.trace.keys import Signer, load_signer, save_signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.settings import Settings
from insutrace.trace.store import Store, open_store
from insutrace.trace.verify import Report, default_jobs, verify_export, verify_store


class _Group(TyperGroup):
    """Every ledger error becomes one line on stderr and exit status 1."""

    def invoke(self, ctx: Any) -> Any:  # click.Context, whichever click typer bundles
        try:
            return super().invoke(ctx)
        except LedgerError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    help="InsuTrace: a tamper-evident traceability ledger for building insulation materials.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


@dataclass
class State:
    settings: Settings
    _store: Store | None = None
    creating: bool = False  # only init and demo may create (and migrate) a new database

    @property
    def store(self) -> Store:
        if self._store is None:
            if self.settings.database_url.startswith("sqlite:///"):
                path = Path(self.settings.database_url[len("sqlite:///") :])
                if not self.creating and not path.exists():
                    raise NotFound(
                        f"no ledger at {path}: run `insutrace init` or `insutrace demo` first "
                        "(or pass --home / --db)"
                    )
                path.parent.mkdir(parents=True, exist_ok=True)
            if self.creating:
                from insutrace.api.migrate import upgrade

                upgrade(self.settings.database_url)
            self._store = open_store(
                self.settings.database_url, sqlite_synchronous=self.settings.sqlite_synchronous
            )
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def store_size(self) -> int:
        with self.store.read() as tx:
            return tx.head()[0]

    def log_signer(self) -> NoteSigner | None:
        path = self.settings.log_key_path
        if not path.exists():
            return None
        signer = load_signer(path)
        return NoteSigner(signer.actor, signer.private_key)

    def root_signer(self) -> Signer:
        return load_signer(self.settings.root_key_path)

    def ledger(self) -> Ledger:
        from insutrace.trace.domain import ADMISSION, REGISTRY

        return Ledger(self.store, log_signer=self.log_signer(), types=REGISTRY, admission=ADMISSION)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@app.callback()
def main_options(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(help="Data directory (keys, blobs, SQLite file).", envvar="INSUTRACE_HOME"),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(help="URL of an InsuTrace server, for `remote`.", envvar="INSUTRACE_SERVER"),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(help="Your organisation's key file (signs locally).", envvar="INSUTRACE_KEY"),
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="Your API token.", envvar="INSUTRACE_TOKEN")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL (sqlite:///… or postgresql://…).",
            envvar="INSUTRACE_DATABASE_URL",
        ),
    ] = None,
) -> None:
    """Global options."""
    base = Settings() if home is None else Settings(home=home)
    if db:
        base = Settings(home=base.home, database_url=db, origin=base.origin)
    ctx.obj = State(base)
    ctx.call_on_close(ctx.obj.close)
    ctx.meta[remote.REMOTE] = remote.Remote(server, key, token)


@app.command()
def init(
    ctx: typer.Context,
    origin: Annotated[str | None, typer.Option(help="Checkpoint origin and log key name.")] = None,
) -> None:
    """Create a new ledger: its root authority key, its log key and the genesis entry."""
    state: State = ctx.obj
    s = state.settings
    origin = origin or s.origin
    state.creating = True
    if state.store_size() > 0:
        raise fail(f"{s.database_url} already holds a ledger; nothing was written")
    if s.root_key_path.exists() or s.log_key_path.exists():
        raise fail(f"keys already exist in {s.keys_dir}; move them away first; nothing was written")
    root, log = Signer.generate("root"), Signer.generate(origin)
    ledger = Ledger(state.store, log_signer=NoteSigner(origin, log.private_key))
    try:
        ledger.initialize(root, origin=origin)
    except LedgerError as exc:
        raise fail(str(exc)) from None
    save_signer(root, s.root_key_path)
    save_signer(log, s.log_key_path)
    remote.write_anchors(s, root, ledger.log_verifier().vkey())
    out.print(f"created ledger {origin} in {s.database_url}; keys in {s.keys_dir}")


def _print_report(report: Report, what: str) -> None:
    if report.error is not None:
        raise fail(f"{what} does not verify: {report.error}")
    for note in report.notes:
        err.print(f"warning: {note}")
    out.print(
        f"ok: {report.size} entries, chain and signatures verified; "
        f"{report.checkpoints} checkpoint(s) verified, latest at size {report.checkpoint_size}; "
        f"root {report.root.hex()}"
    )


@app.command()
def verify(
    ctx: typer.Context,
    directory: Annotated[
        Path | None, typer.Argument(help="A static export to verify instead of the database.")
    ] = None,
    root_key: Annotated[str | None, typer.Option(help="Trusted root public key (base64).")] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(help="A witness's cosignature key (or a file with it); repeatable."),
    ] = None,
    quorum: Annotated[
        int | None,
        typer.Option(help="Cosignatures the latest checkpoint needs (default: every --witness)."),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Worker processes verifying the ledger (default: every core; 1: one process).",
        ),
    ] = None,
) -> None:
    """Verify the whole ledger (or a static export): chain, signatures, Merkle root, checkpoints;
    with --witness, also that the latest checkpoint carries the witnesses' cosignatures."""
    state: State = ctx.obj
    anchor = root_key or _read_anchor(state.settings.keys_dir / "root.pub")
    if directory is not None:
        with progress("verifying export", None) as tick:
            report = verify_export(directory, root_key=anchor, progress=tick)
        _print_report(report, str(directory))
        _check_witnesses(report, (directory / "checkpoint").read_text(), witness, quorum)
        return
    with progress("verifying", state.store_size()) as tick:
        report = verify_store(
            state.store, root_key=anchor, progress=tick, jobs=jobs or default_jobs()
        )
    _print_report(report, "the ledger")
    if witness:
        with state.store.read() as tx:
            latest = tx.latest_checkpoint()
        _check_witnesses(report, latest[1] if latest else "", witness, quorum)


def _check_witnesses(report: Report, note: str, keys: list[str] | None, quorum: int | None) -> None:
    """Exit 1 unless ``note`` has ``quorum`` valid cosignatures of the ``keys`` witnesses."""
    if not keys or not report.ok:
        return
    from insutrace.cli.witness import key_or_file
    from insutrace.trace.witness import CosignatureVerifier, require_quorum

    try:
        verifiers = [CosignatureVerifier.parse(key_or_file(k)) for k in keys]
        if not note:
            raise MalformedInput("no checkpoint has been signed: nothing for witnesses to cosign")
        names = require_quorum(note, verifiers, len(verifiers) if quorum is None else quorum)
    except LedgerError as exc:
        raise fail(f"witnesses: {exc}") from None
    out.print(f"ok: the latest checkpoint is cosigned by {', '.join(names) or 'no witness'}")


def _read_anchor(path: Path) -> str | None:
    return path.read_text().strip() if path.exists() else None


@app.command()
def export(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Target directory (C2SP tlog-tiles layout).")],
) -> None:
    """Write the log as static C2SP tiles, entry bundles, checkpoint and log.vkey."""
    state: State = ctx.obj
    with progress("exporting", state.store_size()) as tick:
        size = export_static(state.ledger(), directory, progress=tick)
    out.print(f"exported {size} entries to {directory}")


@app.command()
def checkpoint(ctx: typer.Context) -> None:
    """Sign a checkpoint at the current size (if newer than the latest)."""
    signed = ctx.obj.ledger().checkpoint()
    out.print(signed.note, end="", highlight=False)


@app.command()
def proof(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(help="Entry index.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the .tlog-proof here.")
    ] = None,
) -> None:
    """A C2SP tlog-proof for one entry: offline evidence that it is in the log."""
    ledger = ctx.obj.ledger()
    if ledger.latest_checkpoint().checkpoint.size <= index:
        ledger.checkpoint()
    text = ledger.tlog_proof(index).text()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")


@app.command()
def rebuild(ctx: typer.Context) -> None:
    """Drop every projection table and replay the log; print the projection digest."""
    state: State = ctx.obj
    before = state.store.projection_digest()
    with progress("replaying", state.store_size()) as tick:
        after = state.ledger().rebuild(progress=tick)
    same = "identical to" if after == before else "DIFFERENT from"
    out.print(f"projections rebuilt: digest {after} ({same} before)")
    if after != before:
        raise typer.Exit(1)


@app.command()
def demo(
    ctx: typer.Context,
    start: Annotated[
        str | None,
        typer.Option(help="First day of the scenario (YYYY-MM-DD); default about 300 days ago."),
    ] = None,
) -> None:
    """Create a ledger on an empty database and fill it with the generated demo scenario:
    organisations, products, batches, reports, custody, labels and scans, a high-rise
    residence, a cold store, an indoor ice rink, a small filed project, existing buildings,
    a recalled batch. The same --start gives the same ledger."""
    state: State = ctx.obj
    state.creating = True
    if state.store_size() > 0:
        raise fail(f"{state.settings.database_url} is not empty; the demo needs a new database")
    try:
        day = date.fromisoformat(start) if start else None
    except ValueError:
        raise fail(f"--start must be YYYY-MM-DD, got {start!r}") from None
    remote._seed_demo(state.settings, remote.demo_start(day))
    out.print(f"demo ledger ready in {state.settings.database_url}")


@app.command("export-epcis")
def export_epcis_cmd(
    ctx: typer.Context,
    output: Annotated[Path, typer.Argument(help="Where to write the EPCIS 2.0 JSON-LD document.")],
    ref: Annotated[
        list[str] | None,
        typer.Option(
            "--ref",
            help="Entries under a ref, e.g. batch:<id>, project:<id>, org:<uscc> (repeatable).",
        ),
    ] = None,
    type_: Annotated[
        list[str] | None, typer.Option("--type", help="Only these entry types (repeatable).")
    ] = None,
    start: Annotated[int, typer.Option("--from", help="First entry index.")] = 0,
    stop: Annotated[int | None, typer.Option("--to", help="Stop before this entry index.")] = None,
    schema: Annotated[
        Path | None, typer.Option(help="Validate against this EPCIS JSON Schema first.")
    ] = None,
) -> None:
    """Write a selection of the ledger as an EPCIS 2.0 JSON-LD document."""
    from insutrace.trace.epcis import export_epcis, validate_epcis

    state: State = ctx.obj
    doc = export_epcis(
        state.ledger(),
        refs=ref or (),
        types=type_ or (),
        start=start,
        stop=stop,
        resolver=state.settings.resolver,
    )
    if schema is not None:
        problems = validate_epcis(doc, _read_schema(schema))
        if problems:
            raise fail(
                f"EPCIS document does not validate: {problems[0]} ({len(problems)} problems); nothing was written"
            )
    output.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    events = len(doc.get("epcisBody", {}).get("eventList", []))
    out.print(f"wrote {events} EPCIS events to {output}")


def _read_schema(path: Path) -> dict[str, Any]:
    """The JSON Schema file ``--schema`` names; a one-line error when it cannot be read."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"cannot read the schema {path}: {exc.strerror}; nothing was written") from None
    except ValueError as exc:
        raise fail(f"the schema {path} is not JSON: {exc}; nothing was written") from None
    if not isinstance(found, dict):
        raise fail(f"the schema {path} is not a JSON object; nothing was written")
    return found


document_app = typer.Typer(
    help="Documents by SHA-256 in the local content-addressed store (INSUTRACE_HOME/blobs).",
    no_args_is_help=True,
)
app.add_typer(document_app, name="document")


@document_app.command("put")
def document_put(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The document (e.g. a report PDF).")],
) -> None:
    """Store a document; print the SHA-256 to cite in entries (e.g. payload.document)."""
    from insutrace.trace.blobs import BlobStore

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from None
    out.print(BlobStore(ctx.obj.settings.blob_dir).put(data), highlight=False)


@document_app.command("get")
def document_get(
    ctx: typer.Context,
    sha256: Annotated[str, typer.Argument(help="The document's SHA-256 (hex).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write it.")],
) -> None:
    """Write a stored document, after checking its bytes against its SHA-256."""
    from insutrace.trace.blobs import BlobStore

    output.write_bytes(BlobStore(ctx.obj.settings.blob_dir).get(sha256))
    out.print(f"wrote {output}")


def _query(ctx: typer.Context, fn: Callable[..., Any], key: str) -> None:
    state: State = ctx.obj
    with state.store.read() as tx:
        result = fn(tx, key)
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=1) + "\n")


@app.command("recall-notice")
def recall_notice_cmd(
    ctx: typer.Context, batch: Annotated[str, typer.Argument(help="Batch id.")]
) -> None:
    """A batch's recall list: walls, projects, holders, recipients, what is in transit (JSON)."""
    from insutrace.trace.domain.read import recall_list

    _query(ctx, recall_list, batch)


@app.command("balance")
def balance_cmd(
    ctx: typer.Context, batch: Annotated[str, typer.Argument(help="Batch id.")]
) -> None:
    """A batch's mass balance: produced = held + in transit + installed + sampled + destroyed."""
    from insutrace.trace.domain.queries import mass_balance

    _query(ctx, mass_balance, batch)


@app.command("walls")
def walls_cmd(
    ctx: typer.Context, building: Annotated[str, typer.Argument(help="Building id.")]
) -> None:
    """A building's wall identification record, façade by façade, and every wall section
    with the standing of the batch in it today (JSON)."""
    from insutrace.trace.clock import SystemClock
    from insutrace.trace.domain.fields import local_date
    from insutrace.trace.domain.queries import wall_identification
    from insutrace.trace.domain.read import building_walls

    today = local_date(SystemClock().now())

    def walls(tx: Any, key: str) -> dict[str, Any]:
        return {**wall_identification(tx, key), "walls": building_walls(tx, key, today)}

    _query(ctx, walls, building)


@app.command("entry-types")
def entry_types_cmd(
    fields: Annotated[
        bool, typer.Option("--fields", help="Add each type's payload fields.")
    ] = False,
) -> None:
    """The entry types the ledger admits: titles, signers, ownership, EPCIS events (Markdown)."""
    from insutrace.trace.domain import REGISTRY
    from insutrace.trace.entrytable import entry_type_table

    sys.stdout.write(entry_type_table(REGISTRY, fields=fields))


from insutrace.cli import investigate, offline, remote, witness  # noqa: E402  (issue 4; issue 6)

remote.register(app)
offline.register(app)
investigate.register(app)
witness.register(app)


def main() -> None:
    try:
        app()
    except LedgerError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
