"""Read rates over HTTP: full tiles and bundles, a partial tile, the checkpoint, a label's
phone page, its JSON verdict and the GS1 resolver's linkset, beside an empty FastAPI GET
endpoint served the same way, in the same run.

    .venv/bin/python scripts/bench_reads.py            # 5 s per endpoint, 16 connections
    .venv/bin/python scripts/bench_reads.py --small    # CI size: 1 s per endpoint
    .venv/bin/python scripts/bench_reads.py --client python   # without wrk

Each server is one uvicorn process; the load comes from a separate process: ``wrk``
(/usr/bin/wrk, one thread, keep-alive connections) when installed, else a Python client
(keep-alive connections on threads), which saturates before a fast endpoint does and so
understates the ratios. Every endpoint's answer is checked first (status 200, its length),
and the run fails on any non-2xx answer or socket error under load. Figures: requests/s,
p50/p99 latency, and the ratio to the empty endpoint's rate measured just before it (the
machine's other load drifts; a ratio holds within one pair). The tiles come from a ledger
of 600 entries of test-only organisations; the label pages from the demo (seeded into a
temporary directory, test-only keys).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

WRK = "/usr/bin/wrk"

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
    for _ in range(1200):  # up to a minute: a loaded machine starts servers slowly
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"error: no server on port {port}")


def load(port: int, path: str, seconds: float, conns: int, accept: str = "*/*") -> dict[str, float]:
    """Run in the load process: GET ``path`` on keep-alive connections for ``seconds``."""
    stop = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(conns)]
    failures = [0] * conns
    lengths: set[int] = set()

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        while time.perf_counter() < stop:
            start = time.perf_counter()
            conn.request("GET", path, headers={"Accept": accept})
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
        "count": len(every),
        "p50": every[len(every) // 2] * 1e3,
        "p99": every[min(len(every) - 1, int(len(every) * 0.99))] * 1e3,
        "failures": sum(failures),
        "lengths": sorted(lengths),
    }


def _measure(
    client: str, port: int, path: str, seconds: float, conns: int, accept: str
) -> dict[str, float]:
    if client == "wrk":
        return _wrk(port, path, seconds, conns, accept)
    out = subprocess.run(
        [sys.executable, __file__, "--load", str(port), path, str(seconds), str(conns), accept],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def _wrk(port: int, path: str, seconds: float, conns: int, accept: str) -> dict[str, float]:
    """wrk, one thread, ``conns`` keep-alive connections; its latency distribution."""
    out = subprocess.run(
        [WRK, "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--latency", "-H", f"Accept: {accept}",
         f"http://127.0.0.1:{port}{path}"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"\s50%\s+(\S+)", out)
    p99 = re.search(r"\s99%\s+(\S+)", out)
    if not (rate and p50 and p99):
        raise SystemExit(f"error: cannot read wrk's output:\n{out}")
    count = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", out)
    failures = int(bad.group(1)) if bad else 0
    failures += sum(int(n) for n in errors.groups()) if errors else 0
    return {
        "rate": float(rate.group(1)),
        "count": int(count.group(1)) if count else 0,
        "p50": _ms(p50.group(1)),
        "p99": _ms(p99.group(1)),
        "failures": failures,
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(
    client: str, pid: int, port: int, path: str, seconds: float, conns: int, accept: str
) -> dict[str, float]:
    """:func:`_measure`, with the server's CPU time per answer (``cpu``, ms): what the
    answer costs the server whatever else the machine runs."""
    before = _cpu_seconds(pid)
    r = _measure(client, port, path, seconds, conns, accept)
    r["cpu"] = (_cpu_seconds(pid) - before) * 1e3 / max(1, r["count"])
    return r


def _check(port: int, path: str, accept: str, times: int = 50) -> int:
    """GETs that warm the server up: each status 200 and the same body (else the run
    stops); the body's length."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    bodies = set()
    for _ in range(times):
        conn.request("GET", path, headers={"Accept": accept})
        answer = conn.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise SystemExit(f"error: GET {path} answered {answer.status}: {body[:200]!r}")
        bodies.add(body)
    conn.close()
    if len(bodies) != 1:
        raise SystemExit(f"error: GET {path} answered {len(bodies)} different bodies")
    return len(body)


def _demo(home: Path) -> str:
    """Seed the demo into ``home``; the path of a genuine label (what its QR code opens)."""
    env = {**os.environ, "INSUTRACE_HOME": str(home)}
    env.pop("INSUTRACE_DATABASE_URL", None)
    seed = "from insutrace.cli.remote import _seed_demo; from insutrace.trace.settings import Settings; _seed_demo(Settings())"
    subprocess.run([sys.executable, "-c", seed], env=env, check=True, capture_output=True)
    for line in (home / "demo-labels.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("genuine"):
            return line.split()[-1]
    raise SystemExit("error: the demo lists no genuine label")


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
    parser.add_argument(
        "--client",
        choices=("wrk", "python"),
        default="wrk" if shutil.which(WRK) else "python",
        help="the load generator (default: wrk when installed)",
    )
    parser.add_argument("--load", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        port, path, seconds, conns, accept = args.load
        print(json.dumps(load(int(port), path, float(seconds), int(conns), accept)))
        return 0
    seconds, conns = (1.0, 8) if args.small else (5.0, 16)

    with tempfile.TemporaryDirectory(prefix="insutrace-bench-reads-") as tmp:
        work = Path(tmp)
        home = work / "home"
        url = _ledger(home, 600)
        label = _demo(work / "demo")
        (work / "empty_app.py").write_text(EMPTY_APP)
        env = {**os.environ, "INSUTRACE_HOME": str(home), "INSUTRACE_DATABASE_URL": url}
        demo_env = {**os.environ, "INSUTRACE_HOME": str(work / "demo")}
        demo_env.pop("INSUTRACE_DATABASE_URL", None)
        servers = []
        ports = {"empty": _free_port(), "ledger": _free_port(), "demo": _free_port()}
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
        servers.append(
            subprocess.Popen(
                [
                    *uvicorn,
                    "--port",
                    str(ports["demo"]),
                    "--factory",
                    "insutrace.api.app:app_from_env",
                ],
                env=demo_env,
            )
        )
        try:
            for port in ports.values():
                _wait(port)
            linkset = label.split("?")[0] + "?linkType=linkset"
            rows = [
                ("empty FastAPI GET (baseline)", ports["empty"], "/empty", "*/*"),
                ("full hash tile /log/tile/0/000", ports["ledger"], "/log/tile/0/000", "*/*"),
                ("full entry bundle /log/tile/entries/000", ports["ledger"],
                 "/log/tile/entries/000", "*/*"),
                ("partial hash tile /log/tile/0/002.p/88", ports["ledger"],
                 "/log/tile/0/002.p/88", "*/*"),
                ("checkpoint /log/checkpoint", ports["ledger"], "/log/checkpoint", "*/*"),
                ("label page /pages/01/… (HTML)", ports["demo"], "/pages" + label, "text/html"),
                ("label verdict /pages/01/… (JSON)", ports["demo"], "/pages" + label,
                 "application/json"),
                ("resolver linkset /01/…?linkType=linkset", ports["demo"], linkset,
                 "application/linkset+json"),
            ]  # fmt: skip
            results = []
            empty = rows[0]
            for _, port, path, accept in rows:
                _check(port, path, accept)  # 200, one body; warms up, fills the caches
            pids = {ports[k]: server.pid for k, server in zip(ports, servers, strict=True)}
            for name, port, path, accept in rows:
                # the baseline again just before each endpoint: on a shared machine the
                # load from elsewhere drifts, and a ratio holds only within one pair
                base = _measured(args.client, pids[empty[1]], *empty[1:3], seconds, conns, empty[3])
                r = _measured(args.client, pids[port], port, path, seconds, conns, accept)
                results.append((name, {**r, "base": base["rate"], "base_cpu": base["cpu"]}))
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=10)

    print(
        f"HTTP reads, 1 uvicorn process each, {conns} keep-alive connections from another "
        f"process ({args.client}), {seconds:g} s each; each endpoint beside the empty GET "
        "measured just before it: its rate's ratio, and the ratio of the server CPU time per "
        "answer (empty / endpoint: the rate ratio were the server alone on its core)"
    )
    ok = True
    for name, r in results:
        ok = ok and r["failures"] == 0
        print(
            f"  {name:42} {r['rate']:7.0f}/s p50 {r['p50']:6.2f} ms p99 {r['p99']:7.2f} ms"
            f"  rate {r['rate'] / r['base']:5.0%} of {r['base']:5.0f}/s"
            f"  CPU {r['cpu']:.3f} ms/answer, {r['base_cpu'] / r['cpu']:5.0%}"
            f"  failures {int(r['failures'])}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
