"""Request and response bodies of the HTTP API (pydantic models, OpenAPI schemas)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AccountCreate",
    "AccountCreated",
    "AccountPublic",
    "ConsistencyProof",
    "EntryPage",
    "EntryPublic",
    "Head",
    "InclusionProof",
    "LabelCheck",
    "LabelVerdict",
    "Receipt",
    "ScanRequest",
    "ServerKey",
    "TokenCreate",
    "TokenIssued",
]

ORG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class Head(BaseModel):
    """What a client needs to sign the next entry: its ``seq`` and ``prev``."""

    size: int = Field(description="Number of entries; the next entry's seq.")
    head: str = Field(description="Hex leaf hash of the last entry (64 zeros when empty).")
    origin: str | None = Field(description="The log's checkpoint origin.")
    time: str = Field(description="The server's clock, in the entry time form.")


class Receipt(BaseModel):
    seq: int
    leaf: str = Field(description="Hex RFC 6962 leaf hash of the entry bytes.")
    type: str
    actor: str
    duplicate: bool = Field(description="True when the same bytes were already logged.")
    checkpoint_size: int | None = Field(
        description="Size of the signed checkpoint that covers the entry, if any."
    )
    prev: str | None = Field(
        default=None, description="Hex leaf hash of the entry before it (where the log placed it)."
    )
    logged: str | None = Field(
        default=None, description="The log's time of the entry (RFC 3339), beside the signed time."
    )
    checkpoint: str | None = Field(
        default=None, description="The signed checkpoint note of checkpoint_size (C2SP)."
    )


class EntryPublic(BaseModel):
    seq: int
    leaf: str
    entry: dict[str, Any] = Field(description="The entry as signed (all members).")


class EntryPage(BaseModel):
    items: list[EntryPublic]
    next: int | None = Field(
        description="Pass as `after` to read on; null when the end of the log was reached."
    )


class InclusionProof(BaseModel):
    index: int
    size: int
    hashes: list[str] = Field(description="Base64 hashes, leaf sibling first (RFC 9162).")
    checkpoint: str | None = Field(description="The signed checkpoint at `size`, if any.")


class ConsistencyProof(BaseModel):
    old: int
    new: int
    hashes: list[str] = Field(description="Base64 hashes (RFC 9162 §2.1.4).")


class AccountPublic(BaseModel):
    id: int
    org: str
    name: str
    role: str


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org: str = Field(pattern=ORG_PATTERN, description="Actor id: unified social credit code.")
    role: str = Field(max_length=32)
    name: str = Field(min_length=1, max_length=200)


class AccountCreated(BaseModel):
    account: AccountPublic
    token: str = Field(description="The API token; shown once, stored only as its hash.")


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(default="", max_length=100)
    days: int | None = Field(
        default=None,
        ge=1,
        le=366,
        description="Days until it expires (default 90); never later than the token asking.",
    )


class TokenIssued(BaseModel):
    token: str
    expires: str | None = Field(default=None, description="RFC 3339 UTC.")


class ServerKey(BaseModel):
    org: str
    key_id: str
    public_key: str = Field(description="Base64 Ed25519 public key, for actor.register.")


class LabelCheck(BaseModel):
    """The verdict on a label's QR payload."""

    genuine: bool
    reason: str = ""
    uri: str
    batch: str | None = None
    serial: str | None = None
    manufacturer: str | None = None
    recalled: bool | None = None
    record: dict[str, Any] | None = Field(default=None, description="The batch record.")


VerdictName = Literal[
    "genuine", "unknown_serial", "bad_signature", "recalled", "blacklisted", "not_qualified"
]


class LabelVerdict(BaseModel):
    """What a scanned label is (``insutrace.trace.domain.labels``), with what a scanner is
    shown: product, batch, manufacturer, report and lab, issued range, custody in brief."""

    verdict: VerdictName = Field(description="The most serious problem found, or genuine.")
    ok: bool = Field(description="True only for genuine.")
    problems: list[dict[str, str]] = Field(description="Every problem found: verdict, reason.")
    checked_on: str = Field(description="The day judged (China Standard Time).")
    label: dict[str, Any] = Field(description="gtin, lot, serial, key; uri once found issued.")
    alerts: list[dict[str, Any]] = Field(
        description="Clone, counterfeit and overscan alerts on this label, the worst first."
    )
    scans: list[dict[str, Any]] = Field(description="Recorded scans: project, seq, date.")
    issued: dict[str, Any] | None = Field(description="The issued range holding the serial.")
    product: dict[str, Any] | None
    batch: dict[str, Any] | None
    manufacturer: dict[str, Any] | None = Field(description="With its listings in force.")
    report: dict[str, Any] | None = Field(description="The qualifying (else latest) report.")
    custody: list[dict[str, Any]] = Field(description="Custody hops, oldest first.")


class ScanRequest(BaseModel):
    """A scan on site, recorded as ``label.scan`` signed with the organisation's key."""

    model_config = ConfigDict(extra="forbid")

    project: str = Field(min_length=1, max_length=80, description="The project scanned on.")
    verdict: VerdictName = Field(description="The verdict the scanner saw.")
    by: str | None = Field(default=None, max_length=100, description="Who scanned (a name).")
