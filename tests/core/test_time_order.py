"""Entry times never go back along the log (rule log.time_order), on every store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.clock import FixedClock, format_time, parse_time
from insutrace.trace.entry import Entry, Statement
from insutrace.trace.errors import RuleViolation
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import TIME_ORDER_CLAUSE, Ledger


@pytest.fixture
def core(make_ledger: Callable[..., Ledger]) -> Ledger:
    return make_ledger(CORE_TYPES)


def payload(actor: Signer) -> dict[str, str]:
    return {"id": actor.actor, "public_key": actor.public_b64, "name": actor.actor}


def client_entry(ledger: Ledger, signer: Signer, root: Signer, seconds_back: float) -> bytes:
    """A root-signed registration of ``signer`` at the head, dated before the head entry."""
    head = ledger.entry(ledger.size() - 1)
    entry = Entry(
        seq=ledger.size(),
        type="actor.register",
        actor=root.actor,
        key=root.key_id,
        time=format_time(parse_time(head.time) - timedelta(seconds=seconds_back)),
        prev=head.leaf_hash.hex(),
        payload=payload(signer),
    )
    return entry.signed(root).to_bytes()


def test_a_clock_stepping_back_is_clamped_to_the_head_time(
    core: Ledger, clock: FixedClock, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    core.append("actor.register", payload(signer_for("a")), root)
    before = core.entry(core.size() - 1).time
    clock.tick(timedelta(hours=-3))  # e.g. the host's clock corrected backwards
    receipts = core.append_batch(
        [("actor.register", payload(signer_for(n)), root) for n in ("b", "c")]
    )
    assert [r.entry.time for r in receipts] == [before, before]
    clock.tick(timedelta(hours=4))
    later = core.append("actor.register", payload(signer_for("d")), root).entry.time
    assert later > before


def test_an_explicit_time_before_the_head_is_refused_and_nothing_written(
    core: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    core.append("actor.register", payload(signer_for("a")), root)
    head = parse_time(core.entry(core.size() - 1).time)
    size = core.size()
    with pytest.raises(RuleViolation, match="is before entry") as refused:
        core.append(
            "actor.register", payload(signer_for("b")), root, time=head - timedelta(milliseconds=1)
        )
    assert (refused.value.rule, refused.value.clause) == ("log.time_order", TIME_ORDER_CLAUSE)
    assert core.size() == size
    same = core.append("actor.register", payload(signer_for("b")), root, time=head)
    assert same.entry.time == format_time(head)  # equal times keep the order


def test_a_client_entry_dated_before_the_head_is_refused(
    core: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    core.append("actor.register", payload(signer_for("a")), root)
    size = core.size()
    with pytest.raises(RuleViolation, match=r"^log\.time_order: "):
        core.submit(client_entry(core, signer_for("b"), root, seconds_back=1))
    assert core.size() == size
    assert core.submit(client_entry(core, signer_for("b"), root, seconds_back=0)).seq == size


def test_the_order_holds_for_a_ledger_that_did_not_write_the_head(
    core: Ledger,
    make_ledger: Callable[..., Ledger],
    root: Signer,
    signer_for: Callable[[str], Signer],
) -> None:
    core.append("actor.register", payload(signer_for("a")), root)
    other = make_ledger(CORE_TYPES)  # same store, nothing cached
    with pytest.raises(RuleViolation, match=r"^log\.time_order: "):
        other.submit(client_entry(other, signer_for("b"), root, seconds_back=60))
    head = parse_time(other.entry(other.size() - 1).time)
    with pytest.raises(RuleViolation, match=r"^log\.time_order: "):
        other.append("actor.register", payload(signer_for("b")), root, time=head - timedelta(1))


def test_a_statement_signed_before_the_head_is_placed_at_the_log_time(
    core: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    """Two writers sign at about the same moment; the later-signed one lands first. The
    earlier-signed statement is not refused: the log places it at a log time that never
    goes back, and both times are recorded."""
    head_time = core.entry(core.size() - 1).time
    signed_at = format_time(parse_time(head_time) - timedelta(seconds=2))
    early = Statement(
        type="actor.register",
        actor=root.actor,
        key=root.key_id,
        time=signed_at,
        payload=payload(signer_for("b")),
        id="signed-two-seconds-before-the-head",
    ).signed(root)
    receipt = core.submit(early.to_bytes())
    entry = core.entry(receipt.seq)
    assert entry.signed_time == signed_at  # what the signer said
    assert entry.time >= head_time  # where the log put it: in order
    assert entry.statement_bytes() == early.to_bytes()
