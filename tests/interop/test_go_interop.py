"""Tools nobody here wrote verify what the ledger publishes: Go's golang.org/x/mod.

tests/interop/go holds two Go programs built once per session, offline, against
Debian's golang-golang-x-mod-dev (``replace`` in go.mod; INSUTRACE_GO_XMOD points
at another x/mod checkout): ``verifylog`` checks a C2SP static export and
.tlog-proof files with sumdb/note and sumdb/tlog; ``vectors`` cross-checks
fixtures/. Without Go or x/mod the tests skip with a one-line reason, unless
INSUTRACE_REQUIRE_GO=1 (CI), where they fail.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from databases import migrated_sqlite

from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.checkpoint import Checkpoint, SignedCheckpoint
from insutrace.trace.clock import FixedClock
from insutrace.trace.export import export_static
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.proof import TlogProof
from insutrace.trace.store import open_store
from insutrace.trace.verify import verify_export

GO_SOURCES = Path(__file__).parent / "go"
FIXTURES = Path(__file__).parents[2] / "fixtures"
DEBIAN_XMOD = Path("/usr/share/gocode/src/golang.org/x/mod")
ORIGIN = "interop.insutrace.test/log"
ENTRIES = 300  # one full 256-entry tile and a partial one of 44

pytestmark = pytest.mark.slow


def _xmod_dir() -> Path:
    return Path(os.environ.get("INSUTRACE_GO_XMOD", DEBIAN_XMOD))


def _go_unavailable() -> str | None:
    """None if Go and the x/mod sources are there, else a one-line reason."""
    if shutil.which("go") is None:
        return "go not on PATH (apt-get install golang-go golang-golang-x-mod-dev)"
    if not (_xmod_dir() / "sumdb" / "tlog" / "tlog.go").is_file():
        return f"golang.org/x/mod sources not at {_xmod_dir()} (golang-golang-x-mod-dev)"
    return None


def _go_env(work: Path) -> dict[str, str]:
    """Offline, self-contained: no proxy, no toolchain download, caches under ``work``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(
        GOPROXY="off",
        GOFLAGS="-mod=mod",
        GOTOOLCHAIN="local",
        GOSUMDB="off",
        GOENV="off",
        CGO_ENABLED="0",
        GOPATH=str(work / "gopath"),
        GOCACHE=os.environ.get("GOCACHE", str(work / "gocache")),
    )
    return env


@dataclass(frozen=True)
class GoTools:
    verifylog: Path
    vectors: Path


@pytest.fixture(scope="session")
def go_tools(tmp_path_factory: pytest.TempPathFactory) -> GoTools:
    reason = _go_unavailable()
    if reason is not None:
        if os.environ.get("INSUTRACE_REQUIRE_GO") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("go")
    src = work / "src"
    shutil.copytree(GO_SOURCES, src)
    env = _go_env(work)
    if _xmod_dir() != DEBIAN_XMOD:
        _run_go(["go", "mod", "edit", f"-replace=golang.org/x/mod={_xmod_dir()}"], src, env)
    for name in ("verifylog", "vectors"):
        _run_go(["go", "build", "-o", str(work / name), f"./{name}"], src, env)
    return GoTools(work / "verifylog", work / "vectors")


def _run_go(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")


def run(tool: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool), *map(str, args)], capture_output=True, text=True, timeout=120)


def _signer(name: str) -> Signer:
    """Deterministic test-only keys, derived like tests/conftest.py derives them."""
    return Signer.from_seed(name, b"insutrace-test-only:" + name.encode())


@dataclass(frozen=True)
class Published:
    """A ledger of ENTRIES entries, exported, with .tlog-proof files for a few of them."""

    ledger: Ledger
    log_signer: NoteSigner
    export: Path
    proofs: dict[int, Path]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    work = tmp_path_factory.mktemp("published")
    log_signer = NoteSigner(ORIGIN, _signer(ORIGIN).private_key)
    root = _signer("root")
    clock = FixedClock(datetime(2026, 11, 22, 8, 0, tzinfo=UTC), step=timedelta(seconds=1))
    ledger = Ledger(
        open_store(migrated_sqlite(work / "ledger.db")),
        log_signer=log_signer,
        clock=clock,
        types=CORE_TYPES,
    )
    ledger.initialize(root, origin=ORIGIN)
    for i in range(1, ENTRIES):
        actor = _signer(f"org-{i}")
        payload = {"id": actor.actor, "public_key": actor.public_b64, "name": f"Org {i}"}
        ledger.append("actor.register", payload, root)
    ledger.checkpoint()
    assert export_static(ledger, work / "export") == ENTRIES
    proofs = {}
    for seq in (0, 5, 255, 256, ENTRIES - 1):
        proofs[seq] = work / f"entry-{seq}.tlog-proof"
        proofs[seq].write_text(ledger.tlog_proof(seq).text(), encoding="utf-8")
    yield Published(ledger, log_signer, work / "export", proofs)
    ledger.store.close()


def _copy_export(published: Published, tmp_path: Path) -> Path:
    copy = tmp_path / "export"
    shutil.copytree(published.export, copy)
    return copy


def _assert_rejected(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode == 1, f"Go accepted a tampered log:\n{done.stdout}{done.stderr}"
    fails = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert any(expected in line for line in fails), (
        f"expected a FAIL on {expected!r}:\n" + "\n".join(fails)
    )


def test_export_layout_has_a_full_and_a_partial_tile(published: Published) -> None:
    files = {p.relative_to(published.export).as_posix() for p in published.export.rglob("*")}
    assert {"tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1"} <= files
    assert {"tile/entries/000", "tile/entries/001.p/44", "checkpoint", "log.vkey"} <= files
    assert verify_export(published.export).ok


def test_go_verifies_export_and_proofs(go_tools: GoTools, published: Published) -> None:
    done = run(go_tools.verifylog, published.export, *published.proofs.values())
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"tlog.TreeHash({ENTRIES}) over the hash tiles equals the checkpoint root" in out
    assert f"all {ENTRIES} entries are included" in out
    assert "consistency 256 -> 257" in out and f"consistency 255 -> {ENTRIES}" in out
    assert out.count("ok   tlog-proof") == len(published.proofs)
    assert "FAIL" not in out


def test_go_verifies_a_standalone_proof(
    go_tools: GoTools, published: Published, tmp_path: Path
) -> None:
    (tmp_path / "entry").write_bytes(published.ledger.entry_bytes(256))
    done = run(
        go_tools.verifylog,
        "-vkey",
        published.export / "log.vkey",
        "-entry",
        tmp_path / "entry",
        published.proofs[256],
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "entry").write_bytes(published.ledger.entry_bytes(255))
    done = run(
        go_tools.verifylog,
        "-vkey",
        published.export / "log.vkey",
        "-entry",
        tmp_path / "entry",
        published.proofs[256],
    )
    _assert_rejected(done, "entry 256: invalid transparency proof")


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _forged_checkpoint(published: Published, signer: NoteSigner) -> str:
    """A checkpoint for the exported size carrying another size's root, signed by ``signer``."""
    wrong = Checkpoint(ORIGIN, ENTRIES, published.ledger.root(ENTRIES - 1))
    return SignedCheckpoint.sign(wrong, signer).note


def _tamper_bundle_byte(published: Published, export: Path) -> None:
    _flip_byte(export / "tile/entries/000", -1)  # last byte of entry 255's body


def _tamper_bundle_truncated(published: Published, export: Path) -> None:
    bundle = export / "tile/entries/001.p/44"
    bundle.write_bytes(bundle.read_bytes()[:-1])


def _tamper_hash_tile(published: Published, export: Path) -> None:
    _flip_byte(export / "tile/0/001.p/44", 5)


def _tamper_checkpoint_text(published: Published, export: Path) -> None:
    note = (export / "checkpoint").read_text(encoding="utf-8")
    (export / "checkpoint").write_text(note.replace(f"\n{ENTRIES}\n", "\n299\n", 1), "utf-8")


def _replace_checkpoint_by_log_key(published: Published, export: Path) -> None:
    (export / "checkpoint").write_text(_forged_checkpoint(published, published.log_signer))


def _replace_checkpoint_by_other_key(published: Published, export: Path) -> None:
    impostor = NoteSigner(ORIGIN, _signer("impostor").private_key)
    (export / "checkpoint").write_text(_forged_checkpoint(published, impostor))


def _remove_hash_tile(published: Published, export: Path) -> None:
    (export / "tile/1/000.p/1").unlink()


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_tamper_bundle_byte, "entry 255 is included"),
        (_tamper_bundle_truncated, "entry bundles hold"),
        (_tamper_hash_tile, "tlog.TreeHash(300)"),
        (_tamper_checkpoint_text, "checkpoint verifies"),
        (_replace_checkpoint_by_log_key, "tlog.TreeHash(300)"),
        (_replace_checkpoint_by_other_key, "checkpoint verifies"),
        (_remove_hash_tile, "tlog.TreeHash(300)"),
    ],
)
def test_go_rejects_a_tampered_export(
    go_tools: GoTools,
    published: Published,
    tmp_path: Path,
    tamper: Callable[[Published, Path], None],
    expected: str,
) -> None:
    export = _copy_export(published, tmp_path)
    tamper(published, export)
    _assert_rejected(run(go_tools.verifylog, export), expected)
    assert not verify_export(export).ok, "the project's own verifier accepted it"


def test_go_rejects_a_tampered_proof(
    go_tools: GoTools, published: Published, tmp_path: Path
) -> None:
    proof = TlogProof.parse(published.proofs[5].read_text(encoding="utf-8"))
    flipped = bytes([proof.path[2][0] ^ 0x01]) + proof.path[2][1:]
    bad = TlogProof(proof.index, (*proof.path[:2], flipped, *proof.path[3:]), proof.checkpoint_note)
    (tmp_path / "bad.tlog-proof").write_text(bad.text(), encoding="utf-8")
    _assert_rejected(
        run(go_tools.verifylog, published.export, tmp_path / "bad.tlog-proof"),
        "entry 5: invalid transparency proof",
    )


def test_proof_with_extra_line_is_accepted_by_go_and_python(
    go_tools: GoTools, published: Published, tmp_path: Path
) -> None:
    """C2SP tlog-proof allows an optional ``extra <base64>`` line before ``index``."""
    header, rest = published.proofs[5].read_text(encoding="utf-8").split("\n", 1)
    extra = base64.b64encode(b"application data").decode()
    text = f"{header}\nextra {extra}\n{rest}"
    (tmp_path / "extra.tlog-proof").write_text(text, encoding="utf-8")
    done = run(go_tools.verifylog, published.export, tmp_path / "extra.tlog-proof")
    assert done.returncode == 0, done.stdout + done.stderr
    proof = TlogProof.parse(text)
    proof.verify(published.ledger.entry_bytes(5), published.ledger.log_verifier())


def test_go_cross_checks_the_committed_vectors(go_tools: GoTools) -> None:
    done = run(go_tools.vectors, FIXTURES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tree 257: root, 5 inclusion and 5 consistency proofs match x/mod" in done.stdout
    assert "note.Sign with the test-only seed reproduces the signed note" in done.stdout


def test_go_vector_check_catches_a_wrong_vector(go_tools: GoTools, tmp_path: Path) -> None:
    for name in ("merkle-vectors.json", "note-vectors.json", "test-only-note-keys.json"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    vectors = tmp_path / "merkle-vectors.json"
    text = vectors.read_text(encoding="utf-8")
    root_257 = text.rsplit('"size": 257,\n      "root": "', 1)[1][:64]
    wrong = f"{int(root_257[0], 16) ^ 1:x}" + root_257[1:]
    vectors.write_text(text.replace(root_257, wrong), encoding="utf-8")
    _assert_rejected(run(go_tools.vectors, tmp_path), "tree 257")
