#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, then format,
# lint, strict types, import contracts, every test on SQLite and PostgreSQL, and
# the benchmarks at small sizes. Extra arguments go to pytest.
source "$(dirname "$0")/scripts/env.sh"
export INSUTRACE_TEST_PG_URL=${INSUTRACE_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/test}

echo "== ruff"
ruff format --check --quiet .
ruff check --quiet .
echo "== mypy --strict"
(cd .build && MYPYPATH=shim mypy --config-file ../pyproject.toml \
  -p insutrace.trace -p insutrace.api -p insutrace.labels -p insutrace.render -p insutrace.demo -p insutrace.cli)
echo "== import contracts"
PYTHONPATH=.build/shim lint-imports --no-cache | tail -n 1
echo "== pytest (SQLite and PostgreSQL, one worker per core; INSUTRACE_TEST_WORKERS=0 for one process)"
pytest -n "${INSUTRACE_TEST_WORKERS:-auto}" --dist worksteal "$@"
echo "== benchmarks (small sizes; full sizes: run each script without --small)"
python scripts/bench.py --small
python scripts/bench_labels.py --small
python scripts/bench_backtrace.py --small
python scripts/bench_dossier.py --small
python scripts/bench_epcis.py --small
python scripts/loadtest.py --small
python scripts/bench_witness.py --small
python scripts/bench_reads.py --small
python scripts/bench_bodies.py --small
