"""Appends are atomic and serialized: threads, processes, and writers killed mid-append."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable

import pytest

from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import open_store
from insutrace.trace.verify import verify_store

# A writer process: registers actors as fast as it can and prints "<seq> <leaf hex>"
# for every append the ledger acknowledged (after commit), flushing each line.
WRITER = textwrap.dedent(
    """
    import hashlib, sys
    from insutrace.trace.actors import CORE_TYPES
    from insutrace.trace.keys import Signer
    from insutrace.trace.ledger import Ledger
    from insutrace.trace.store import open_store

    url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    root = Signer.from_seed("root", b"insutrace-test-only:root")
    ledger = Ledger(open_store(url), types=CORE_TYPES)
    for i in range(count):
        org = Signer.from_seed(f"{name}-{i}", b"insutrace-test-only:" + f"{name}-{i}".encode())
        payload = {"id": org.actor, "public_key": org.public_b64, "name": org.actor}
        r = ledger.append("actor.register", payload, root)
        print(r.seq, r.leaf.hex(), flush=True)
    """
)


def start_writer(url: str, name: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, url, name, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def acked(lines: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for line in lines.splitlines():
        parts = line.split()
        if len(parts) == 2 and len(parts[1]) == 64:  # a line cut by the kill is not an ack
            out[int(parts[0])] = parts[1]
    return out


def assert_log_holds(url: str, root: Signer, acknowledged: dict[int, str]) -> int:
    store = open_store(url)
    try:
        report = verify_store(store, root_key=root.public_b64)
        assert report.ok, f"log does not verify: {report.error}"
        with store.read() as tx:
            for seq, leaf in acknowledged.items():
                assert tx.leaf(seq) == bytes.fromhex(leaf), f"acknowledged entry {seq} lost"
        return report.size
    finally:
        store.close()


@pytest.fixture
def initialized(store_url: str, root: Signer, log_signer: NoteSigner) -> str:
    store = open_store(store_url)
    Ledger(store, log_signer=log_signer, types=CORE_TYPES).initialize(root, origin=log_signer.name)
    store.close()
    return store_url


def test_threads_never_fork_the_chain(
    initialized: str, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    store = open_store(initialized)
    ledger = Ledger(store, types=CORE_TYPES)
    receipts: dict[int, str] = {}
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(15):
                org = signer_for(f"t{t}-{i}")
                r = ledger.append(
                    "actor.register",
                    {"id": org.actor, "public_key": org.public_b64, "name": "x"},
                    root,
                )
                receipts[r.seq] = r.leaf.hex()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    assert not errors
    assert sorted(receipts) == list(range(1, 91))
    assert assert_log_holds(initialized, root, receipts) == 91


@pytest.mark.slow
def test_processes_never_fork_the_chain(initialized: str, root: Signer) -> None:
    writers = [start_writer(initialized, f"p{n}", 20) for n in range(4)]
    receipts: dict[int, str] = {}
    for w in writers:
        stdout, stderr = w.communicate(timeout=120)
        assert w.returncode == 0, stderr
        receipts.update(acked(stdout))
    assert sorted(receipts) == list(range(1, 81))
    assert assert_log_holds(initialized, root, receipts) == 81


@pytest.mark.slow
def test_writer_killed_mid_append_loses_nothing_acknowledged(
    initialized: str, root: Signer
) -> None:
    rng = random.Random(20261122)
    acknowledged: dict[int, str] = {}
    for round_ in range(4):
        writer = start_writer(initialized, f"k{round_}", 100000)
        assert writer.stdout is not None
        first = writer.stdout.readline()  # wait until it is really appending
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(writer.pid, signal.SIGKILL)
        # read() drains what readline() already buffered, then the pipe to its end;
        # communicate() alone reads the pipe past that buffer and would drop those lines
        rest = writer.stdout.read()
        writer.communicate(timeout=30)
        acknowledged.update(acked(first + rest))
        assert_log_holds(initialized, root, acknowledged)
    assert len(acknowledged) > 4


# A writer process whose threads write through one sequencer (as the server's request
# handlers do) and print each receipt once its batch has committed.
SEQUENCED_WRITER = textwrap.dedent(
    """
    import sys, threading
    from insutrace.trace.actors import CORE_TYPES
    from insutrace.trace.keys import Signer
    from insutrace.trace.ledger import Ledger, ServerWrite
    from insutrace.trace.sequencer import Sequencer
    from insutrace.trace.store import open_store

    url, name = sys.argv[1], sys.argv[2]
    root = Signer.from_seed("root", b"insutrace-test-only:root")
    sequencer = Sequencer(Ledger(open_store(url), types=CORE_TYPES))
    out = threading.Lock()

    def work(t):
        for i in range(100000):
            org = Signer.from_seed(f"{name}-{t}-{i}", b"x" + f"{name}-{t}-{i}".encode())
            payload = {"id": org.actor, "public_key": org.public_b64, "name": org.actor}
            r = sequencer.write(ServerWrite("actor.register", payload, root))
            with out:
                print(r.seq, r.leaf.hex(), flush=True)

    for t in range(8):
        threading.Thread(target=work, args=(t,), daemon=True).start()
    threading.Event().wait()
    """
)


@pytest.mark.slow
def test_sequenced_writer_killed_mid_batch_loses_nothing_acknowledged(
    initialized: str, root: Signer
) -> None:
    rng = random.Random(20261202)
    acknowledged: dict[int, str] = {}
    for round_ in range(3):
        writer = subprocess.Popen(
            [sys.executable, "-c", SEQUENCED_WRITER, initialized, f"s{round_}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        first = writer.stdout.readline()
        time.sleep(rng.uniform(0.1, 0.4))
        os.kill(writer.pid, signal.SIGKILL)
        rest = writer.stdout.read()
        writer.communicate(timeout=30)
        acknowledged.update(acked(first + rest))
        assert_log_holds(initialized, root, acknowledged)
    assert len(acknowledged) > 8
