#!/usr/bin/env bash
# Run InsuTrace: the server and its web pages on the embedded SQLite default
# (./data), seeded with a realistic demo when the ledger is empty: people's sign-ins in
# data/demo-accounts.txt, label pages to open in data/demo-labels.txt.
# Arguments go to `insutrace serve` (e.g. --port 8080).
#
# Without INSUTRACE_MASTER_KEY, the key that seals the organisations' server-held signing
# keys is generated on the first run and kept in $INSUTRACE_HOME/master.key (mode 0600):
# keep that file with the data, or set INSUTRACE_MASTER_KEY yourself.
source "$(dirname "$0")/scripts/env.sh"
home=${INSUTRACE_HOME:-data}
if [ -z "${INSUTRACE_MASTER_KEY:-}" ]; then
  keyfile="$home/master.key"
  if [ ! -s "$keyfile" ]; then
    mkdir -p "$home"
    (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(32))' > "$keyfile")
    echo "generated the master key of server-held keys: $keyfile (mode 0600; keep it)" >&2
  fi
  INSUTRACE_MASTER_KEY=$(cat "$keyfile")
  export INSUTRACE_MASTER_KEY
fi
exec insutrace serve --demo-if-empty "$@"
