"""Generate the demo ledger reproducibly: same seed, same bytes, same Merkle root.

    python scripts/demo.py OUT_DIR [--seed 2025] [--db URL]

Writes ``OUT_DIR/ledger.db`` (unless ``--db`` names another database, which must be
empty), ``OUT_DIR/demo.json`` (what was created: organisations, projects, batches, the
recalled batch) and ``OUT_DIR/epcis.jsonld`` (the whole ledger as an EPCIS 2.0 document),
then prints the entry count, the Merkle root and the projection digest. The root
authority's and the log's keys are derived from the seed, like the organisations'
keys: DEMO-ONLY KEYS, never for a real ledger. The genesis entry is dated five days
before the scenario's fixed start, so nothing depends on the wall clock.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

from insutrace.api.migrate import upgrade
from insutrace.demo.story import DEFAULT_SEED, DEFAULT_START, build_demo
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain import ADMISSION, REGISTRY
from insutrace.trace.epcis import export_epcis
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import open_store

ORIGIN = "demo.insutrace.local/insulation"


def demo_keys(seed: int) -> tuple[Signer, NoteSigner]:
    """The root authority's and the log's keys for this seed (demo-only)."""
    root = Signer.from_seed("root", f"insutrace-demo-only:{seed}:root".encode())
    log = Signer.from_seed(ORIGIN, f"insutrace-demo-only:{seed}:log".encode())
    return root, NoteSigner(ORIGIN, log.private_key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--db", help="database URL (default: sqlite:///OUT/ledger.db)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    url = args.db or f"sqlite:///{args.out / 'ledger.db'}"
    upgrade(url)
    store = open_store(url)
    root, log = demo_keys(args.seed)
    ledger = Ledger(
        store,
        log_signer=log,
        clock=FixedClock(DEFAULT_START - timedelta(days=5)),
        types=REGISTRY,
        admission=ADMISSION,
    )
    ledger.initialize(root, origin=ORIGIN, name="演示根机构 Demo root authority")
    outcome = build_demo(ledger, root, seed=args.seed)
    checkpoint = ledger.checkpoint().checkpoint
    summary = {"seed": args.seed, "origin": ORIGIN, **outcome.summary()}
    (args.out / "demo.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    document = export_epcis(ledger)
    (args.out / "epcis.jsonld").write_text(
        json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print(f"{checkpoint.size} entries, root {checkpoint.root.hex()}")
    print(f"projection digest {store.projection_digest()}")
    store.close()


if __name__ == "__main__":
    main()
