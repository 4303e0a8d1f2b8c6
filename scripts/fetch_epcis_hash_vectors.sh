#!/usr/bin/env bash
# Re-fetch the CBV 2.0 event hash test vectors into fixtures/epcis-hash-vectors/
# from the reference implementation's tag v1.9.3 (MIT licence).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TAG=v1.9.3
BASE="https://raw.githubusercontent.com/RalphTro/epcis-event-hash-generator/$TAG"
OUT=fixtures/epcis-hash-vectors
curl -fsSL "$BASE/LICENSE" -o "$OUT/LICENSE"
for f in "$OUT"/*.jsonld "$OUT"/*.hashes "$OUT"/*.prehashes; do
  curl -fsSL "$BASE/tests/examples/$(basename "$f")" -o "$f"
done
echo "refreshed $(ls "$OUT" | wc -l) files in $OUT from $TAG"
