"""Server commands (``serve``, ``db``, ``account``) and the remote commands that sign locally.

    insutrace serve [--host --port --workers --demo-if-empty --log-format --access-log]
    insutrace db upgrade | db current
    insutrace account create --org ORG --role ROLE --name NAME      (prints the token once)
    insutrace account import-key KEYFILE                             (seal under the master key)
    insutrace --server URL --key FILE --token TOKEN remote …          (or INSUTRACE_SERVER,
                                                                       INSUTRACE_KEY, INSUTRACE_TOKEN)
        remote head | append TYPE FILE | write TYPE FILE | entries [filters] | prove SEQ
        remote product-register … | batch-register … | labels BATCH … (label.issue, then print)

``register(app)`` adds all of this to the main command line, including the global
``--server/--key/--token`` options.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from insutrace.trace.errors import MalformedInput
from insutrace.trace.keys import Signer, load_signer
from insutrace.trace.note import NoteVerifier
from insutrace.trace.settings import Settings

__all__ = ["register"]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
REMOTE = "insutrace.remote"


@dataclass
class Remote:
    server: str | None
    key: Path | None
    token: str | None

    def client(self) -> Any:
        from insutrace.api.client import Client

        if not self.server:
            raise MalformedInput("no server: pass --server URL (or set INSUTRACE_SERVER)")
        signer = load_signer(self.key) if self.key else None
        return Client(self.server, token=self.token, signer=signer)


def _remote(ctx: typer.Context) -> Remote:
    found: Remote | None = ctx.meta.get(REMOTE)
    return found or Remote(None, None, None)


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj.settings
    return settings


# -- serve and the database -----------------------------------------------------------

db_app = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)
account_app = typer.Typer(
    help="Accounts and server-held keys (local database).", no_args_is_help=True
)
remote_app = typer.Typer(
    help="Work against a remote server with your own key (--server, --key, --token).",
    no_args_is_help=True,
)


def _keys(settings: Settings) -> tuple[Signer, Signer]:
    """The root and log keys in INSUTRACE_HOME/keys, created on first use."""
    from insutrace.trace.keys import save_signer

    if not settings.root_key_path.exists():
        save_signer(Signer.generate("root"), settings.root_key_path)
    if not settings.log_key_path.exists():
        save_signer(Signer.generate(settings.origin), settings.log_key_path)
    return load_signer(settings.root_key_path), load_signer(settings.log_key_path)


def write_anchors(settings: Settings, root: Signer, log_vkey: str) -> None:
    """The trust anchors a ledger home carries beside its keys: ``keys/root.pub`` (what
    ``insutrace verify`` checks genesis against) and ``keys/log.vkey`` (the C2SP note
    verifier key of its checkpoints)."""
    settings.keys_dir.mkdir(parents=True, exist_ok=True)
    (settings.keys_dir / "root.pub").write_text(root.public_b64 + "\n")
    (settings.keys_dir / "log.vkey").write_text(log_vkey + "\n")


def demo_start(day: date | None = None) -> datetime:
    """The demo's first day: ``day``, or the Monday about 300 days back, so the scenario
    (about 290 days) is over and its factory reports (valid a year) are in force today.
    The same start gives the same ledger."""
    if day is None:
        day = datetime.now(UTC).date() - timedelta(days=300)
        day -= timedelta(days=day.weekday())
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)  # 09:00 CST


def _seed_demo(settings: Settings, start: datetime | None = None) -> None:
    """An empty ledger gets genesis and the demo story (insutrace.demo); every demo organisation gets an
    account (tokens in INSUTRACE_HOME/demo-tokens.json), its demo-only key file in
    INSUTRACE_HOME/keys/demo/ and, with a master key, a server-held copy of that key."""
    from insutrace.api.accounts import ROLES, AccountStore, KeyVault
    from insutrace.api.app import build_services
    from insutrace.api.demo_people import create_demo_people, write_signins

    services = build_services(settings)  # migrates the schema
    services.accounts.close()
    services.ledger.store.close()
    from insutrace.demo.story import build_demo
    from insutrace.trace.clock import FixedClock
    from insutrace.trace.domain import ADMISSION, REGISTRY
    from insutrace.trace.keys import save_signer
    from insutrace.trace.ledger import Ledger
    from insutrace.trace.note import NoteSigner
    from insutrace.trace.store import open_store

    root, log = _keys(settings)
    store = open_store(settings.database_url)
    accounts = AccountStore(settings.database_url)
    try:
        # genesis is dated just before the demo's fixed timeline, so the log reads in order
        start = start or demo_start()
        genesis_clock = FixedClock(start - timedelta(days=1))
        log_signer = NoteSigner(log.actor, log.private_key)
        Ledger(
            store, log_signer=log_signer, types=REGISTRY, admission=ADMISSION, clock=genesis_clock
        ).initialize(root, origin=log.actor)
        write_anchors(settings, root, log_signer.verifier.vkey())
        ledger = Ledger(store, log_signer=log_signer, types=REGISTRY, admission=ADMISSION)
        outcome = build_demo(ledger, root, start=start)
        ledger.checkpoint()
        tokens = {"root": accounts.create_account("root", "authority", "Root authority")[1]}
        for org in outcome.orgs.values():
            uscc = str(org["uscc"])
            role = next((r for r in org.get("roles", []) if r in ROLES), None)
            if role:
                tokens[uscc] = accounts.create_account(uscc, role, str(org.get("name", uscc)))[1]
        for uscc, signer in outcome.signers.items():  # demo-only keys, for `remote --key`
            save_signer(signer, settings.keys_dir / "demo" / f"{uscc}.key")
        if settings.master_key:
            vault = KeyVault(settings.master_key)
            for signer in [root, *outcome.signers.values()]:
                accounts.store_key(vault, signer)
        labels = _demo_label_paths(store, outcome.signers)
        signins = create_demo_people(accounts, outcome.orgs)
    finally:
        accounts.close()
        store.close()
    path = settings.home / "demo-tokens.json"
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(json.dumps(tokens, indent=2) + "\n", encoding="utf-8")
    (settings.home / "demo-labels.txt").write_text("".join(p + "\n" for p in labels), "utf-8")
    write_signins(settings.home / "demo-accounts.txt", signins)
    err.print(f"seeded the demo: {outcome.entries} entries; demo account tokens in {path}")
    err.print(f"people's sign-ins (username, password): {settings.home / 'demo-accounts.txt'}")
    err.print(f"label pages to open on this server: {settings.home / 'demo-labels.txt'}")


def _demo_label_paths(store: Any, signers: dict[str, Signer]) -> list[str]:
    """A few signed demo labels of every issued range, each with its verdict today:
    the server-relative path their QR codes open, but for the resolver domain."""
    from insutrace.labels.codec import sign_label, split_label
    from insutrace.trace.domain.fields import local_date
    from insutrace.trace.domain.read import label_verdict
    from insutrace.trace.identifiers import build_digital_link

    today = local_date(datetime.now(UTC))
    lines = []
    with store.read() as tx:
        for _, row in tx.scan("labels"):
            signer = signers[row["manufacturer"]]
            for r in row["ranges"]:
                for n in range(r["start"], r["start"] + min(3, r["count"])):
                    serial = f"{r['prefix']}{n:0{r['width']}d}"
                    uri = build_digital_link(
                        r["resolver"], row["gtin"], lot=row["lot"], serial=serial
                    )
                    payload = sign_label(uri, signer.key_id, signer.private_key)
                    _, key_id, sig = split_label(payload)
                    found = label_verdict(tx, row["gtin"], row["lot"], serial, key_id, sig, today)
                    path = payload.removeprefix(f"https://{r['resolver']}")
                    lines.append(f"{found['verdict']:<14} {path}")
    return lines + _demo_forgeries(lines[-1])


def _demo_forgeries(line: str) -> list[str]:
    """Two labels that must not pass: the last genuine one with its signature altered,
    and a serial that was never issued under a copied signature."""
    path = line.split()[-1]
    head, _, sig = path.partition("&s=")
    altered = ("B" if sig[0] == "A" else "A") + sig[1:]
    never = re.sub(r"/21/[^?]+", "/21/SN999999", path)
    return [f"{'bad_signature':<14} {head}&s={altered}", f"{'unknown_serial':<14} {never}"]


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    demo_if_empty: Annotated[
        bool, typer.Option(help="Seed the demo on an empty SQLite ledger.")
    ] = False,
    log_format: Annotated[
        str | None,
        typer.Option(help="Server log lines: text or json (default INSUTRACE_LOG_FORMAT, text)."),
    ] = None,
    access_log: Annotated[
        bool | None,
        typer.Option(help="Also log every request (uvicorn's access log; default off)."),
    ] = None,
    header_timeout: Annotated[
        float | None,
        typer.Option(min=0.1, help="Seconds a client has to send a request's headers [10]."),
    ] = None,
    body_timeout: Annotated[
        float | None,
        typer.Option(min=0.1, help="Seconds a request body may go without a byte [30]."),
    ] = None,
    keep_alive: Annotated[
        int, typer.Option(min=1, help="Seconds an idle connection is kept open.")
    ] = 5,
    max_connections: Annotated[
        int, typer.Option(min=1, help="Open connections per worker; more are answered 503.")
    ] = 1000,
    max_requests: Annotated[
        int | None,
        typer.Option(min=1, help="Requests served at once per worker; more get 503 [256]."),
    ] = None,
    max_writes: Annotated[
        int | None,
        typer.Option(min=1, help="Writes at once per worker; more get 503 [256]."),
    ] = None,
    export_dir: Annotated[
        Path | None,
        typer.Option(help="Keep a C2SP tlog-tiles static export here, current after each batch."),
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs): migrate the schema, then run uvicorn.

    Bounded: a client that sends its headers or body too slowly is cut off; requests and
    writes beyond the limits are answered 503 with Retry-After, never queued."""
    import dataclasses
    import os

    from insutrace.api.app import build_services
    from insutrace.api.logs import configure_logging

    settings = _settings(ctx)
    settings = dataclasses.replace(
        settings,
        log_format=log_format or settings.log_format,
        access_log=settings.access_log if access_log is None else access_log,
    )
    configure_logging(settings)
    services = build_services(settings)
    empty = services.ledger.size() == 0
    services.accounts.close()
    services.ledger.store.close()
    if empty and demo_if_empty and settings.database_url.startswith("sqlite"):
        _seed_demo(settings)
    os.environ["INSUTRACE_HOME"] = str(settings.home)
    os.environ["INSUTRACE_DATABASE_URL"] = settings.database_url
    os.environ["INSUTRACE_LOG_FORMAT"] = settings.log_format  # read again by each worker
    os.environ["INSUTRACE_ACCESS_LOG"] = "1" if settings.access_log else "0"
    limits = {
        "INSUTRACE_HEADER_TIMEOUT": header_timeout,
        "INSUTRACE_BODY_TIMEOUT": body_timeout,
        "INSUTRACE_MAX_REQUESTS": max_requests,
        "INSUTRACE_MAX_WRITES": max_writes,
        "INSUTRACE_KEEP_ALIVE": keep_alive,
        "INSUTRACE_MAX_CONNECTIONS": max_connections,
    }
    os.environ.update({name: str(value) for name, value in limits.items() if value is not None})
    if export_dir is not None:  # read by each worker (app_from_env)
        os.environ["INSUTRACE_EXPORT_DIR"] = str(export_dir.resolve())
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    err.print(f"serving {shown} on http://{host}:{port} ({workers} worker(s))")
    run_uvicorn(host, port, workers, access_log=settings.access_log)


def run_uvicorn(
    host: str,
    port: int,
    workers: int,
    *,
    access_log: bool = False,
    app: str = "insutrace.api.app:app_from_env",
    factory: bool = True,
) -> None:
    """uvicorn serving ``app`` (an import string; ``factory``: a function building it) with
    ``workers`` processes on one listening socket with TCP_NODELAY.

    uvicorn's worker processes accept on a socket the parent bound, and asyncio sets
    TCP_NODELAY only on sockets it creates itself: responses (headers, then body) then
    wait ~40 ms for delayed ACKs (Nagle). Linux copies the option from the listening
    socket to every accepted one, so it is set there. The connection limits come from
    the environment ``serve`` sets (``INSUTRACE_KEEP_ALIVE``, ``INSUTRACE_MAX_CONNECTIONS``;
    the header and body time-outs are read by each worker's protocol)."""
    import os
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from insutrace.api.limits import GuardedHttpToolsProtocol

    keep_alive = int(os.environ.get("INSUTRACE_KEEP_ALIVE", "5"))
    max_connections = int(os.environ.get("INSUTRACE_MAX_CONNECTIONS", "1000"))

    config = uvicorn.Config(
        app,
        factory=factory,
        host=host,
        port=port,
        workers=workers,
        log_config=None,  # the app's own logging (insutrace.api.logs) formats uvicorn's too
        access_log=access_log,
        http=GuardedHttpToolsProtocol,  # time-outs (INSUTRACE_*_TIMEOUT), heads <= 16 KiB
        timeout_keep_alive=keep_alive,
        limit_concurrency=max_connections,
    )
    server = uvicorn.Server(config)
    if workers <= 1:
        server.run()
        return
    sock = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[sock]).run()


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Option(help="Target revision (e.g. api@head).")] = "heads",
) -> None:
    """Create or upgrade the schema to ``revision`` (INSUTRACE_DATABASE_URL or --db): the
    log's tables and the API's, each branch to its newest revision by default."""
    from insutrace.api.migrate import current_heads, upgrade

    url = _settings(ctx).database_url
    upgrade(url, revision)
    out.print(f"schema at revision {', '.join(current_heads(url)) or 'none'}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """The schema's current and latest revision."""
    from insutrace.api.migrate import current_heads, head_revisions

    url = _settings(ctx).database_url
    current = ", ".join(current_heads(url)) or "none"
    out.print(f"current {current}, latest {', '.join(head_revisions())}")


@account_app.command("create")
def account_create(
    ctx: typer.Context,
    org: Annotated[str, typer.Option(help="Organisation (USCC, or root).")],
    role: Annotated[str, typer.Option(help="Role of the account.")],
    name: Annotated[str, typer.Option(help="Who uses it.")],
) -> None:
    """Open an account and print its first token (shown once, stored only as a hash)."""
    from insutrace.api.accounts import AccountStore
    from insutrace.api.migrate import upgrade

    url = _settings(ctx).database_url
    upgrade(url)
    store = AccountStore(url)
    try:
        account, token = store.create_account(org, role, name)
    finally:
        store.close()
    err.print(f"account {account.id}: {org} ({role}) — the token is shown once:")
    out.print(token, highlight=False)


@account_app.command("import-key")
def account_import_key(
    ctx: typer.Context, key_file: Annotated[Path, typer.Argument(help="A key file.")]
) -> None:
    """Seal an organisation's key (e.g. keys/root.key) so the server can sign for it."""
    from insutrace.api.accounts import AccountStore, KeyVault
    from insutrace.api.migrate import upgrade

    settings = _settings(ctx)
    signer = load_signer(key_file)
    vault = KeyVault(settings.master_key)
    upgrade(settings.database_url)
    store = AccountStore(settings.database_url)
    try:
        store.store_key(vault, signer)
    finally:
        store.close()
    out.print(f"the server now holds key {signer.key_id} of {signer.actor}")


# -- remote ---------------------------------------------------------------------------


def _payload(path: Path) -> dict[str, Any]:
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedInput(f"{path}: not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedInput(f"{path}: the payload must be a JSON object")
    return payload


def _show(receipt: dict[str, Any]) -> None:
    from insutrace.api.client import dumps

    out.print(dumps({k: v for k, v in receipt.items() if k != "entry"}), highlight=False)


@remote_app.command("head")
def remote_head(ctx: typer.Context) -> None:
    """The server's head: the next entry's seq and prev."""
    with _remote(ctx).client() as c:
        out.print(json.dumps(c.head(), indent=2), highlight=False)


@remote_app.command("append")
def remote_append(
    ctx: typer.Context,
    type: Annotated[str, typer.Argument(help="Entry type, e.g. batch.register.")],
    payload: Annotated[Path, typer.Argument(help="Payload JSON file, or - for stdin.")],
) -> None:
    """Sign a statement with your key (--key) and submit it; the log places it."""
    with _remote(ctx).client() as c:
        _show(c.append(type, _payload(payload)))


@remote_app.command("document")
def remote_document(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The document to upload (e.g. a report PDF).")],
) -> None:
    """Upload a document; print the SHA-256 to cite in an entry's payload."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise MalformedInput(f"cannot read {file}: {exc.strerror}") from None
    with _remote(ctx).client() as c:
        out.print(c.upload_document(data), highlight=False)


@remote_app.command("write")
def remote_write(
    ctx: typer.Context,
    type: Annotated[str, typer.Argument(help="Entry type.")],
    payload: Annotated[Path, typer.Argument(help="Payload JSON file, or - for stdin.")],
) -> None:
    """Have the server sign with your organisation's server-held key."""
    with _remote(ctx).client() as c:
        _show(c.write(type, _payload(payload)))


@remote_app.command("entries")
def remote_entries(
    ctx: typer.Context,
    batch: Annotated[str | None, typer.Option()] = None,
    org: Annotated[str | None, typer.Option()] = None,
    project: Annotated[str | None, typer.Option()] = None,
    building: Annotated[str | None, typer.Option()] = None,
    type: Annotated[str | None, typer.Option("--type")] = None,
    since: Annotated[str | None, typer.Option(help="ISO time.")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time.")] = None,
) -> None:
    """Entries matching the filters, one JSON object a line."""
    filters = dict(
        batch=batch,
        org=org,
        project=project,
        building=building,
        type=type,
        since=since,
        until=until,
    )
    with _remote(ctx).client() as c:
        for item in c.entries(**filters):
            out.print(json.dumps(item, ensure_ascii=False), highlight=False)


@remote_app.command("prove")
def remote_prove(
    ctx: typer.Context,
    seq: Annotated[int, typer.Argument(help="Entry index.")],
    vkey: Annotated[
        str | None, typer.Option(help="The log's verifier key (default: ask the server).")
    ] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
) -> None:
    """Fetch an entry's tlog-proof, verify it here, and save it."""
    with _remote(ctx).client() as c:
        log_key = NoteVerifier.parse(vkey) if vkey else c.log_key()
        proof = c.prove(seq, log_key)
    if output is None:
        sys.stdout.write(proof.text())
    else:
        output.write_text(proof.text(), encoding="utf-8")
        out.print(f"entry {seq} verified against the log key; proof written to {output}")


@remote_app.command("product-register")
def remote_product_register(
    ctx: typer.Context,
    gtin: Annotated[str, typer.Option(help="GTIN-14.")],
    name: Annotated[str, typer.Option(help="Product name.")],
    type: Annotated[str, typer.Option("--type", help="Insulation type, e.g. xps.")],
    polymer: Annotated[str, typer.Option(help="Polymer family.")],
    standard: Annotated[str, typer.Option(help="Product standard.")],
    thermosetting: Annotated[bool, typer.Option(help="Thermoset polymer?")] = False,
    name_en: Annotated[str | None, typer.Option(help="English name.")] = None,
) -> None:
    """Register a product, signed with your key."""
    payload: dict[str, Any] = {
        "schema": 1,
        "gtin": gtin,
        "name": name,
        "type": type,
        "polymer": polymer,
        "thermosetting": thermosetting,
        "standard": standard,
    }
    if name_en:
        payload["name_en"] = name_en
    with _remote(ctx).client() as c:
        _show(c.append("product.register", payload))


@remote_app.command("batch-register")
def remote_batch_register(
    ctx: typer.Context,
    product: Annotated[str, typer.Option(help="GTIN-14 of your product.")],
    lot: Annotated[str, typer.Option(help="Lot number.")],
    quantity: Annotated[str, typer.Option(help="Quantity, decimal.")],
    unit: Annotated[str, typer.Option(help="m2, m3, board or panel.")],
    production_date: Annotated[str, typer.Option(help="YYYY-MM-DD.")],
    declared_class: Annotated[str, typer.Option(help="GB 8624 class, e.g. B1(B-s1,d0,t1).")],
    conductivity: Annotated[str, typer.Option(help="W/(m·K).")],
    density: Annotated[str, typer.Option(help="kg/m³.")],
) -> None:
    """Register a batch of your product, signed with your key."""
    payload = {
        "schema": 1,
        "product": product,
        "lot": lot,
        "quantity": quantity,
        "unit": unit,
        "production_date": production_date,
        "declared_class": declared_class,
        "conductivity": conductivity,
        "density": density,
    }
    with _remote(ctx).client() as c:
        _show(c.append("batch.register", payload))


@remote_app.command("labels")
def remote_labels(
    ctx: typer.Context,
    batch: Annotated[str, typer.Argument(help="Batch id: <gtin>.<lot>.")],
    count: Annotated[int, typer.Option(help="How many labels.")] = 24,
    first: Annotated[int, typer.Option(help="Number of the first serial.")] = 1,
    width: Annotated[int, typer.Option(help="Digits of a serial, zero-padded.")] = 6,
    prefix: Annotated[str, typer.Option(help="Serial prefix (GS1 CSET 82), e.g. SN.")] = "",
    resolver: Annotated[
        str | None,
        typer.Option(help="Digital Link domain on the labels (default INSUTRACE_RESOLVER)."),
    ] = None,
    factory_report: Annotated[
        str | None,
        typer.Option(help="Report number (default: a report that qualifies the batch today)."),
    ] = None,
    columns: Annotated[int, typer.Option(help="Labels across an A4 sheet.")] = 3,
    rows: Annotated[int, typer.Option(help="Labels down an A4 sheet.")] = 8,
    crop_marks: Annotated[bool, typer.Option(help="Crop marks on the sheet.")] = True,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="A .pdf sheet; .png or .svg for one label.")
    ] = Path("labels.pdf"),
) -> None:
    """Record a range of serials of your batch (label.issue, signed with your key), then
    print them: every label printed is on record. Refused for a batch no valid report
    qualifies (the label names the report and its lab), and by the ledger for another
    manufacturer's batch, a recalled batch, serials already issued, or a listed maker."""
    if not 1 <= count <= 10_000:
        raise MalformedInput(f"--count must be 1..10000, got {count}")
    if not 1 <= width <= 20 or first < 0:
        raise MalformedInput(f"--width must be 1..20 and --first >= 0, got {width}, {first}")
    kind = output.suffix.lower()
    if kind not in (".pdf", ".png", ".svg") or (kind != ".pdf" and count != 1):
        raise MalformedInput(f"--output: a .pdf sheet, or .png/.svg for --count 1; got {output}")
    domain = resolver or _settings(ctx).resolver
    with _remote(ctx).client() as c:
        signer: Signer = c.require_signer()
        sheet = _LabelSheet.fetch(c, batch, signer, factory_report)
        contents = [sheet.label(domain, f"{prefix}{first + i:0{width}d}") for i in range(count)]
        rendered = _render(contents, kind, columns, rows, crop_marks)
        receipt = c.append("label.issue", sheet.issue(domain, contents[0].serial, count))
    output.write_bytes(rendered)
    out.print(
        f"{count} labels {contents[0].serial}-{contents[-1].serial} of batch {batch} "
        f"recorded as entry {receipt['seq']}, written to {output}"
    )


@dataclass
class _LabelSheet:
    """What the labels of one batch print, read from the server and checked here."""

    record: dict[str, Any]
    product: dict[str, Any]
    maker: dict[str, Any]
    report: dict[str, Any]
    cma: str
    signer: Signer

    @classmethod
    def fetch(cls, c: Any, batch: str, signer: Signer, number: str | None) -> _LabelSheet:
        trace = c.get(f"/v1/batches/{batch}")
        record = trace["batch"]
        if record["manufacturer"] != signer.actor:
            raise MalformedInput(f"batch {batch} is made by {record['manufacturer']}, not by you")
        report = _named_report(batch, trace["standing"], number)
        lab = c.get(f"/v1/orgs/{report['lab']}")
        cma = (lab.get("lab") or {}).get("cma")
        if not cma:
            raise MalformedInput(
                f"report {report['number']}: lab {report['lab']} has no CMA number"
            )
        product = c.get(f"/v1/products/{record['gtin']}")
        maker = c.get(f"/v1/orgs/{record['manufacturer']}")
        return cls(record, product, maker, report, str(cma), signer)

    def label(self, domain: str, serial: str) -> Any:
        return _label(
            self.record, self.product, self.maker, self.signer, domain, serial,
            str(self.report["number"]), self.cma,
        )  # fmt: skip

    def issue(self, domain: str, first: str, count: int) -> dict[str, Any]:
        return {
            "schema": 1,
            "batch": self.record["id"],
            "first": first,
            "count": count,
            "resolver": domain,
            "key": self.signer.key_id,
        }


def _named_report(batch: str, standing: dict[str, Any], number: str | None) -> dict[str, Any]:
    """The report the labels name: one the server's read model finds qualifying the batch
    today (``standing.reports``), the one numbered ``number`` when given."""
    valid = [r for r in standing["reports"] if number is None or r["number"] == number]
    if not valid:
        which = f"report {number}" if number else "no report"
        raise MalformedInput(
            f"batch {batch}: {which} qualifies it and is valid on {standing['day']}; labels "
            "name the factory report and its lab, so a batch is labelled once a lab's report "
            "qualifies it"
        )
    found: dict[str, Any] = valid[0]
    return found


def _render(contents: list[Any], kind: str, columns: int, rows: int, crop: bool) -> bytes:
    from insutrace.labels.render import label_png, label_sheet_pdf, label_svg

    if kind == ".png":
        return label_png(contents[0])
    if kind == ".svg":
        return label_svg(contents[0]).encode("utf-8")
    return label_sheet_pdf(contents, columns=columns, rows=rows, crop_marks=crop)


def _label(
    record: dict[str, Any],
    product: dict[str, Any],
    maker: dict[str, Any],
    signer: Signer,
    domain: str,
    serial: str,
    report: str,
    cma: str,
) -> Any:
    from insutrace.labels.codec import sign_label
    from insutrace.labels.model import LabelContent
    from insutrace.trace.identifiers import build_digital_link

    uri = build_digital_link(domain, record["gtin"], lot=record["lot"], serial=serial)
    return LabelContent(
        product_name_zh=product["name"][:20],
        product_name_en=(product.get("name_en") or product["name"])[:48],
        insulation_type=str(product["type"]).upper()[:16],
        combustion_class=record["declared"]["label"][:24],
        thermal_conductivity=Decimal(record["conductivity"]),
        manufacturer_name=maker["name"][:24],
        manufacturer_uscc=maker["uscc"],
        lot=record["lot"],
        serial=serial,
        production_date=date.fromisoformat(record["production_date"]),
        factory_report_no=report[:24],
        lab_cma_no=cma,
        payload=sign_label(uri, signer.key_id, signer.private_key),
    )


def register(app: typer.Typer) -> None:
    """Add serve, db, account and remote to the main command line."""
    app.command()(serve)
    app.add_typer(db_app, name="db")
    app.add_typer(account_app, name="account")
    app.add_typer(remote_app, name="remote")
