"""Witness round trip per checkpoint: the log sends its latest checkpoint to two witnesses
served over HTTP on 127.0.0.1 (C2SP tlog-witness add-checkpoint with a consistency proof),
verifies their cosignatures and stores them on the note.

    .venv/bin/python scripts/bench_witness.py            # 200 checkpoints
    .venv/bin/python scripts/bench_witness.py --small    # CI size: 20 checkpoints

Baseline, measured in the same run: signing the checkpoint itself (``Ledger.checkpoint``
after one append). Figures: per-checkpoint p50/p99 of the two-witness round trip, and
its ratio to the baseline. Keys are fixed, test-only seeds; files live in a temporary
directory.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from insutrace.api.migrate import upgrade
from insutrace.api.witness_app import create_witness_app
from insutrace.api.witnessing import Witnessing, parse_witnesses
from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import open_store
from insutrace.trace.witness import CosignatureSigner, Witness

ORIGIN = "bench.insutrace.local/witness"


def _seed(tag: bytes) -> bytes:
    return (b"insutrace bench test-only " + tag).ljust(32, b".")[:32]


def _serve(witness: Witness) -> tuple[uvicorn.Server, str]:
    server = uvicorn.Server(
        uvicorn.Config(create_witness_app(witness), host="127.0.0.1", port=0, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="CI size")
    args = parser.parse_args()
    rounds = 20 if args.small else 200

    with tempfile.TemporaryDirectory(prefix="insutrace-bench-witness-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'ledger.db'}"
        upgrade(url)
        root = Signer.from_seed("root", _seed(b"root"))
        log_key = NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(_seed(b"log")))
        ledger = Ledger(open_store(url), log_signer=log_key, types=CORE_TYPES)
        ledger.initialize(root, origin=ORIGIN)
        servers, specs = [], []
        for n in (1, 2):
            signer = CosignatureSigner(
                f"bench.witness/{n}", Ed25519PrivateKey.from_private_bytes(_seed(b"w%d" % n))
            )
            server, base = _serve(Witness(work / f"w{n}.db", signer, [log_key.verifier]))
            servers.append(server)
            specs.append(f"{signer.verifier.vkey} {base}")
        witnessing = Witnessing(ledger, parse_witnesses(";".join(specs)))

        sign_times, witness_times = [], []
        for i in range(rounds):
            org = Signer.from_seed(f"org-{i}", _seed(b"org%d" % i))
            payload = {"id": org.actor, "public_key": org.public_b64, "name": f"Org {i}"}
            ledger.append("actor.register", payload, root)
            start = time.perf_counter()
            ledger.checkpoint()
            sign_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            outcomes = witnessing.cosign_latest()
            witness_times.append(time.perf_counter() - start)
            if not all(o.cosigned for o in outcomes):
                print(f"error: a witness did not cosign: {outcomes}", file=sys.stderr)
                return 1
        witnessing.close()
        for server in servers:
            server.should_exit = True
        ledger.store.close()

    base = statistics.median(sign_times)
    p50, p99 = _pct(witness_times, 0.5), _pct(witness_times, 0.99)
    print(f"witness round trip, 2 witnesses over HTTP, {rounds} checkpoints")
    print(f"  baseline: sign one checkpoint          p50 {base * 1e3:7.2f} ms")
    print(
        f"  add-checkpoint to both, verify, store  p50 {p50 * 1e3:7.2f} ms  p99 {p99 * 1e3:7.2f} ms"
    )
    print(f"  ratio (p50 round trip / p50 signing)   {p50 / base:7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
