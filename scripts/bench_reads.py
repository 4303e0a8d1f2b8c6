"""Read rates over HTTP: full tiles (answered from memory), partial tiles, the checkpoint,
beside an empty FastAPI GET endpoint served the same way, in the same run.

    .venv/bin/python scripts/bench_reads.py            # 5 s per endpoint, 16 connections
    .venv/bin/python scripts/bench_reads.py --small    # CI size: 1 s per endpoint

Each server is one uvicorn process; the load comes from a separate process (keep-alive
connections on threads), so server and client share the machine's cores but not an
interpreter. Every answer is checked (status 200, the expected length). Figures:
requests/s, p50/p99 latency, and the ratio to the empty endpoint's rate. The ledger is
600 entries of test-only organisations in a temporary directory.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

EMPTY_APP = """
from fastapi import FastAPI
from fastapi.responses import Response

app = FastAPI()


@app.get("/empty")
async def empty() -> Response:
    return Response(b"", media_type="application/octet-stream")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int) -> None:
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"error: no server on port {port}")


def load(port: int, path: str, seconds: float, conns: int) -> dict[str, float]:
    """Run in the load process: GET ``path`` on keep-alive connections for ``seconds``."""
    stop = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(conns)]
    failures = [0] * conns
    lengths: set[int] = set()

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        while time.perf_counter() < stop:
            start = time.perf_counter()
            conn.request("GET", path)
            answer = conn.getresponse()
            body = answer.read()
            latencies[n].append(time.perf_counter() - start)
            if answer.status != 200:
                failures[n] += 1
            lengths.add(len(body))
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(conns)]
    begun = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - begun
    every = sorted(x for lane in latencies for x in lane)
    return {
        "rate": len(every) / elapsed,
        "p50": every[len(every) // 2] * 1e3,
        "p99": every[min(len(every) - 1, int(len(every) * 0.99))] * 1e3,
        "failures": sum(failures),
        "lengths": sorted(lengths),
    }


def _measure(port: int, path: str, seconds: float, conns: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--load", str(port), path, str(seconds), str(conns)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def _ledger(home: Path, entries: int) -> str:
    from insutrace.api.migrate import upgrade
    from insutrace.trace.actors import CORE_TYPES
    from insutrace.trace.keys import Signer, save_signer
    from insutrace.trace.ledger import Ledger
    from insutrace.trace.note import NoteSigner
    from insutrace.trace.store import open_store

    home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{home / 'ledger.db'}"
    upgrade(url)
    root = Signer.from_seed("root", b"insutrace bench test-only root..")
    log = Signer.from_seed("bench.insutrace.local/reads", b"insutrace bench test-only log...")
    save_signer(log, home / "keys" / "log.key")
    ledger = Ledger(
        open_store(url), log_signer=NoteSigner(log.actor, log.private_key), types=CORE_TYPES
    )
    ledger.initialize(root, origin=log.actor)
    items = []
    for i in range(entries - 1):
        org = Signer.from_seed(f"org-{i}", (b"insutrace bench org %d" % i).ljust(32, b"."))
        items.append(
            (
                "actor.register",
                {"id": org.actor, "public_key": org.public_b64, "name": f"Org {i}"},
                root,
            )
        )
    for start in range(0, len(items), 200):
        ledger.append_batch(items[start : start + 200])
    ledger.checkpoint()
    ledger.store.close()
    return url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="CI size")
    parser.add_argument("--load", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        port, path, seconds, conns = args.load
        print(json.dumps(load(int(port), path, float(seconds), int(conns))))
        return 0
    seconds, conns = (1.0, 8) if args.small else (5.0, 16)

    with tempfile.TemporaryDirectory(prefix="insutrace-bench-reads-") as tmp:
        work = Path(tmp)
        home = work / "home"
        url = _ledger(home, 600)
        (work / "empty_app.py").write_text(EMPTY_APP)
        env = {**os.environ, "INSUTRACE_HOME": str(home), "INSUTRACE_DATABASE_URL": url}
        servers = []
        ports = {"empty": _free_port(), "ledger": _free_port()}
        uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--host", "127.0.0.1"]
        servers.append(
            subprocess.Popen(
                [*uvicorn, "--port", str(ports["empty"]), "--app-dir", str(work), "empty_app:app"]
            )
        )
        servers.append(
            subprocess.Popen(
                [
                    *uvicorn,
                    "--port",
                    str(ports["ledger"]),
                    "--factory",
                    "insutrace.api.app:app_from_env",
                ],
                env=env,
            )
        )
        try:
            for port in ports.values():
                _wait(port)
            rows = [
                ("empty FastAPI GET (baseline)", ports["empty"], "/empty"),
                ("full hash tile /log/tile/0/000", ports["ledger"], "/log/tile/0/000"),
                (
                    "full entry bundle /log/tile/entries/000",
                    ports["ledger"],
                    "/log/tile/entries/000",
                ),
                ("partial hash tile /log/tile/0/002.p/88", ports["ledger"], "/log/tile/0/002.p/88"),
                ("checkpoint /log/checkpoint", ports["ledger"], "/log/checkpoint"),
            ]
            results = []
            for label, port, path in rows:
                _measure(port, path, 0.2, 2)  # warm up (and fill the tile cache)
                results.append((label, _measure(port, path, seconds, conns)))
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=10)

    base = results[0][1]["rate"]
    print(
        f"HTTP reads, 1 uvicorn process each, {conns} keep-alive connections from another process, {seconds:g} s"
    )
    ok = True
    for label, r in results:
        ok = ok and r["failures"] == 0
        print(
            f"  {label:42} {r['rate']:8.0f}/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms"
            f"  {r['rate'] / base:5.0%} of baseline  failures {int(r['failures'])}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
