"""Peak memory of the server under large request bodies (bounded resources).

Starts ``insutrace serve`` (one worker, a fresh SQLite ledger in a temporary home, on
127.0.0.1) and measures the server process's peak resident memory (Linux ``VmHWM``, reset
between cases through ``/proc/<pid>/clear_refs``) while it is sent, over raw sockets:

1. a few small requests (the baseline, measured in the same run);
2. a JSON body declaring 100 MB (``Content-Length``) to ``POST /v1/entries``;
3. a chunked JSON body of 100 MB to ``POST /v1/entries``;
4. four such chunked bodies at once;
5. a document just under the blob store's limit, streamed to ``POST /v1/documents``;
6. a chunked document of 100 MB (over the limit).

For each: the status, how much the client had sent when the answer came, the peak and its
ratio to the baseline peak.

    .venv/bin/python scripts/bench_bodies.py            # 100 MB bodies
    .venv/bin/python scripts/bench_bodies.py --small    # CI: 10 MB bodies
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from insutrace.api.accounts import AccountStore
from insutrace.api.migrate import upgrade
from insutrace.demo.scenario import Scenario
from insutrace.trace.blobs import DEFAULT_MAX_BYTES
from insutrace.trace.domain import ADMISSION, REGISTRY
from insutrace.trace.keys import Signer, save_signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.settings import Settings
from insutrace.trace.store import open_store

ORIGIN = "bench.insutrace.local/bodies"
MB = 10**6
CHUNK = 64 * 1024


def prepare(settings: Settings) -> str:
    """Genesis and one manufacturer with an account; its token."""
    root, log = Signer.generate("root"), Signer.generate(ORIGIN)
    save_signer(log, settings.log_key_path)
    upgrade(settings.database_url)
    store = open_store(settings.database_url)
    ledger = Ledger(
        store, log_signer=NoteSigner(ORIGIN, log.private_key), types=REGISTRY, admission=ADMISSION
    )
    ledger.initialize(root, origin=ORIGIN)
    signer = Scenario(ledger, root, Signer.generate).org(
        "maker", "内存测试厂", "manufacturer", address="北京市测试路1号"
    )
    accounts = AccountStore(settings.database_url)
    token = accounts.create_account(signer.actor, "manufacturer", "bench")[1]
    accounts.close()
    store.close()
    return token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def send(port: int, head: str, body: int, chunked: bool) -> tuple[int, int]:
    """Send ``head`` then up to ``body`` bytes (chunked or plain), stopping when the server
    answers; its status and the bytes of body sent by then."""
    sent = 0
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(head.encode())
        piece = b"x" * CHUNK
        frame = b"%x\r\n%s\r\n" % (CHUNK, piece) if chunked else piece
        try:
            while sent < body:
                s.sendall(frame)
                sent += CHUNK
                if select.select([s], [], [], 0)[0]:
                    break
            else:
                if chunked:
                    s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while chunk := s.recv(65536):
                data += chunk
                if b"\r\n\r\n" in data:
                    break
        except ConnectionResetError:
            pass
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1") else 0
    return status, min(sent, body)


def _collect(into: list[tuple[int, int]], port: int, head: str, body: int, chunked: bool) -> None:
    into.append(send(port, head, body, chunked))


def heads(token: str, path: str, length: int | None, kind: str = "application/json") -> str:
    size = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {kind}\r\n{size}\r\nConnection: close\r\n\r\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="10 MB bodies (CI)")
    args = parser.parse_args()
    big = (10 if args.small else 100) * MB
    document = (8 * MB) if args.small else DEFAULT_MAX_BYTES - MB
    with tempfile.TemporaryDirectory(prefix="insutrace-bodies-") as tmp:
        home = Path(tmp)
        settings = Settings(home=home, database_url=f"sqlite:///{home / 'ledger.db'}")
        token = prepare(settings)
        port = free_port()
        env = {**os.environ, "INSUTRACE_HOME": str(home), "INSUTRACE_ORIGIN": ORIGIN,
               "INSUTRACE_DATABASE_URL": settings.database_url}  # fmt: skip
        cmd = [sys.executable, "-m", "insutrace.cli", "--home", str(home), "--db",
               settings.database_url, "serve", "--port", str(port)]  # fmt: skip
        proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if httpx.get(url + "/v1/head", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            auth = {"Authorization": f"Bearer {token}"}
            reset_peak(proc.pid)
            for _ in range(20):
                httpx.get(url + "/v1/head")
                httpx.post(url + "/v1/documents", content=os.urandom(1024), headers=auth)
            baseline = peak_kib(proc.pid)
            print(f"baseline peak (small requests): {baseline / 1024:.1f} MiB")
            entries = "/v1/entries"
            cases = [
                (f"{big // MB} MB JSON, declared", [(heads(token, entries, big), big, False)]),
                (f"{big // MB} MB JSON, chunked", [(heads(token, entries, None), big, True)]),
                (f"4 x {big // MB} MB JSON, chunked, at once",
                 [(heads(token, entries, None), big, True)] * 4),
                (f"{document / MB:.0f} MB document, streamed",
                 [(heads(token, "/v1/documents", document, "application/octet-stream"),
                   document, False)]),
                (f"{big // MB} MB document, chunked",
                 [(heads(token, "/v1/documents", None, "application/octet-stream"), big, True)]),
            ]  # fmt: skip
            print(
                f"{'case':<40} {'status':>8} {'sent before answer':>20} {'peak':>10} {'x base':>7}"
            )
            for name, requests in cases:
                reset_peak(proc.pid)
                results: list[tuple[int, int]] = []
                threads = [
                    threading.Thread(target=_collect, args=(results, port, *r)) for r in requests
                ]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                peak = peak_kib(proc.pid)
                statuses = "/".join(sorted({str(s) for s, _ in results}))
                sent = max(n for _, n in results)
                print(f"{name:<40} {statuses:>8} {sent / MB:>17.1f} MB {peak / 1024:>6.1f} MiB"
                      f" {peak / baseline:>7.2f}")  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
