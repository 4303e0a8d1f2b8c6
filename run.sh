#!/usr/bin/env bash
# Run InsuTrace: the server and its web pages on the embedded SQLite default
# (./data), seeded with a realistic demo when the ledger is empty.
# Arguments go to `insutrace serve` (e.g. --port 8080).
source "$(dirname "$0")/scripts/env.sh"
exec insutrace serve --demo-if-empty "$@"
