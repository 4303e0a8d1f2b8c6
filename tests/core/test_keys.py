"""Device keys (``key.add``): a signing key an organisation adds for one of its people on
one device. Entries it signs verify from the log alone and name their holder; a revoked
device key signs nothing more; a device key never changes keys."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from insutrace.trace.actors import TYPES, Context, check_device_key, device_keys, key_holder
from insutrace.trace.clock import format_time
from insutrace.trace.entry import Statement, new_statement_id
from insutrace.trace.entrytype import EntryType, Registry
from insutrace.trace.errors import MalformedInput, RuleViolation, VerificationError
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import ClientWrite, Ledger
from insutrace.trace.verify import verify_store

ORG = "org-a"


def _note(ctx: Context) -> None:
    ctx.kv.put("note", ctx.entry.id, {"text": ctx.payload_str("text"), "seq": ctx.entry.seq})


NOTE = EntryType("test.note", "记录", "A note", _note, frozenset(), "Test only.", None, ())
TYPES_WITH_NOTE = Registry((*TYPES, NOTE))


@pytest.fixture
def core(
    make_ledger: Callable[..., Ledger], root: Signer, signer_for: Callable[[str], Signer]
) -> Ledger:
    ledger = make_ledger(TYPES_WITH_NOTE)
    org = signer_for(ORG)
    ledger.append("actor.register", {"id": ORG, "public_key": org.public_b64, "name": ORG}, root)
    return ledger


def _phone(seed: str) -> Signer:
    return Signer.from_seed(ORG, f"phone:{seed}".encode())


def _enrol(ledger: Ledger, org: Signer, phone: Signer, holder: str = "zhao.supervisor") -> int:
    payload = {"public_key": phone.public_b64, "holder": holder, "device": "phone 1"}
    return ledger.append("key.add", payload, org).seq


def _signed(ledger: Ledger, signer: Signer, type: str, payload: dict[str, object]) -> bytes:
    statement = Statement(
        type=type,
        actor=signer.actor,
        key=signer.key_id,
        time=format_time(ledger.clock.now()),
        payload=payload,
        id=new_statement_id(),
    )
    return statement.signed(signer).to_bytes()


def test_a_device_key_signs_for_its_organisation_and_names_its_holder(
    core: Ledger, signer_for: Callable[[str], Signer], root: Signer
) -> None:
    org, phone = signer_for(ORG), _phone("1")
    added = _enrol(core, org, phone)
    receipt = core.submit(_signed(core, phone, "test.note", {"text": "scanned"}))
    assert (receipt.entry.actor, receipt.entry.key) == (ORG, phone.key_id)
    with core.store.read() as tx:
        assert key_holder(tx, phone.key_id) == {
            "actor": ORG,
            "holder": "zhao.supervisor",
            "device": "phone 1",
            "from": added + 1,
        }
        assert key_holder(tx, org.key_id) is None  # the organisation's own key: no person
        assert [k["id"] for k in device_keys(tx, ORG, "zhao.supervisor")] == [phone.key_id]
        check_device_key(tx, ORG, phone.key_id, "zhao.supervisor")
        with pytest.raises(RuleViolation) as other:
            check_device_key(tx, ORG, phone.key_id, "qian.supervisor")
        assert other.value.rule == "key.device"
        with pytest.raises(RuleViolation):
            check_device_key(tx, ORG, org.key_id, "zhao.supervisor")
    core.checkpoint()
    assert verify_store(core.store, root_key=root.public_b64).ok


def test_a_revoked_device_key_signs_nothing_more(
    core: Ledger, signer_for: Callable[[str], Signer]
) -> None:
    org, phone = signer_for(ORG), _phone("2")
    _enrol(core, org, phone)
    early = core.submit(_signed(core, phone, "test.note", {"text": "before"}))
    queued = _signed(core, phone, "test.note", {"text": "signed before the revocation"})
    revoked = core.append("key.revoke", {"key": phone.key_id, "reason": "phone lost"}, org)
    size = core.size()
    with pytest.raises(VerificationError, match="revoked"):
        core.submit(queued)
    assert core.size() == size
    with core.store.read() as tx:
        (row,) = device_keys(tx, ORG, "zhao.supervisor")
        assert row["until"] == revoked.seq + 1 and row["ended"] == "revoked"
        assert key_holder(tx, phone.key_id)["until"] == revoked.seq + 1  # type: ignore[index]
        with pytest.raises(RuleViolation) as refused:
            check_device_key(tx, ORG, phone.key_id, "zhao.supervisor")
    assert refused.value.rule == "key.device"
    assert refused.value.message["zh"].startswith("本机密钥已吊销")
    # the entry signed while the key was valid keeps verifying: the whole log does (check_log)
    assert core.entry(early.seq).key == phone.key_id


def test_rotating_the_organisations_key_leaves_its_device_keys_valid(
    core: Ledger, signer_for: Callable[[str], Signer]
) -> None:
    org, phone, new = signer_for(ORG), _phone("3"), Signer.from_seed(ORG, b"org-a new key")
    _enrol(core, org, phone)
    core.append("key.rotate", {"public_key": new.public_b64}, org)
    receipt = core.submit(_signed(core, phone, "test.note", {"text": "after the rotation"}))
    assert receipt.entry.key == phone.key_id


@pytest.mark.parametrize("type", ["key.add", "key.rotate", "key.revoke"])
def test_a_device_key_does_not_change_keys(
    core: Ledger, signer_for: Callable[[str], Signer], type: str
) -> None:
    org, phone, other = signer_for(ORG), _phone("4"), _phone("5")
    _enrol(core, org, phone)
    payloads = {
        "key.add": {"public_key": other.public_b64, "holder": "zhao.supervisor", "device": "x"},
        "key.rotate": {"public_key": other.public_b64},
        "key.revoke": {"key": org.key_id},
    }
    size = core.size()
    with pytest.raises(RuleViolation) as refused:
        core.submit(_signed(core, phone, type, payloads[type]))
    assert refused.value.rule == "key.device_scope"
    assert core.size() == size


@pytest.mark.parametrize(
    ("holder", "error"),
    [("", MalformedInput), ("zhao supervisor", RuleViolation), ("a|b", RuleViolation)],
)
def test_a_device_key_names_a_holder(
    core: Ledger, signer_for: Callable[[str], Signer], holder: str, error: type[Exception]
) -> None:
    size = core.size()
    with pytest.raises(error) as refused:
        _enrol(core, signer_for(ORG), _phone("6"), holder)
    if error is RuleViolation:
        assert refused.value.rule == "key.holder"  # type: ignore[attr-defined]
    assert core.size() == size


def test_a_key_is_added_once(core: Ledger, signer_for: Callable[[str], Signer]) -> None:
    org, phone = signer_for(ORG), _phone("7")
    _enrol(core, org, phone)
    with pytest.raises(RuleViolation) as again:
        _enrol(core, org, phone, "qian.supervisor")
    assert again.value.rule == "key.unique"
    with pytest.raises(RuleViolation) as own:
        core.append("key.add", {"public_key": org.public_b64, "holder": "x1", "device": "d"}, org)
    assert own.value.rule == "key.unique"


def test_statements_signed_elsewhere_are_admitted_all_or_none(
    core: Ledger, signer_for: Callable[[str], Signer]
) -> None:
    org, phone = signer_for(ORG), _phone("8")
    _enrol(core, org, phone)
    good = _signed(core, phone, "test.note", {"text": "one"})
    bad = _signed(core, phone, "test.note", {"text": ""})
    size = core.size()
    with pytest.raises(MalformedInput):
        core.append_batch([ClientWrite(good), ClientWrite(bad)])
    assert core.size() == size
    second = _signed(core, phone, "test.note", {"text": "two"})
    receipts = core.append_batch([ClientWrite(good), ClientWrite(second)])
    assert [r.seq for r in receipts] == [size, size + 1]
    again = core.append_batch([ClientWrite(good), ClientWrite(second)])
    assert [r.duplicate for r in again] == [True, True] and core.size() == size + 2
