"""Accounts, API tokens and server-held organisation keys: the API's own tables.

None of this is in the log. An account belongs to one organisation (an actor id of
the log: its unified social credit code, or ``root`` for the root authority) and has
one role. Tokens are random 256-bit strings handed out once; only SHA-256 of a token
is stored, so a copy of the database authenticates nobody. Server-held Ed25519 keys are
sealed with AES-256-GCM (NIST SP 800-38D) under a key derived by HKDF-SHA-256
(RFC 5869) from ``INSUTRACE_MASTER_KEY``; the organisation id and key id are the
associated data, so a sealed key cannot be moved to another organisation.

The tables are created only by the Alembic migrations of the ``api`` branch
(``api/migrations/versions``, applied by ``insutrace db upgrade``); ``metadata`` here is
the model those migrations are checked against.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from insutrace.trace.entrytype import ROLES
from insutrace.trace.errors import (
    Conflict,
    Forbidden,
    MalformedInput,
    NotFound,
    Unavailable,
    VerificationError,
)
from insutrace.trace.keys import Signer
from insutrace.trace.store.engine import make_engine, normalize_url

__all__ = [
    "ROLES",
    "Account",
    "AccountStore",
    "KeyVault",
    "hash_token",
    "metadata",
]

TOKEN_PREFIX = "itk_"

metadata = MetaData()
account_table = Table(
    "api_account",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created", String(32), nullable=False),
)
token_table = Table(
    "api_token",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("account_id", Integer, ForeignKey("api_account.id"), nullable=False, index=True),
    Column("label", String(100), nullable=False),
    Column("created", String(32), nullable=False),
    Column("revoked", String(32), nullable=True),
)
org_key_table = Table(
    "api_org_key",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("org", String(64), nullable=False, index=True),
    Column("public", String(64), nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("created", String(32), nullable=False),
)
idempotency_table = Table(
    "api_idempotency",
    metadata,
    Column("account_id", Integer, ForeignKey("api_account.id"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("seq", BigInteger, nullable=True),
    Column("created", String(32), nullable=False),
)


@dataclass(frozen=True)
class Account:
    id: int
    org: str
    name: str
    role: str
    active: bool = True

    @property
    def reads_everything(self) -> bool:
        return self.role in ("authority", "regulator", "investigator")


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _account(row: Any) -> Account:
    return Account(int(row.id), str(row.org), str(row.name), str(row.role), bool(row.active))


class KeyVault:
    """Seals and opens organisation private keys under the master key."""

    INFO = b"insutrace server-held organisation keys v1"

    def __init__(self, master_key: str) -> None:
        if len(master_key) < 16:
            raise Forbidden(
                "server-held keys are disabled: set INSUTRACE_MASTER_KEY "
                "(at least 16 characters, e.g. `openssl rand -base64 32`)"
            )
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=self.INFO)
        self._aead = AESGCM(hkdf.derive(master_key.encode()))

    @staticmethod
    def _aad(org: str, key_id: str) -> bytes:
        return f"{org}\n{key_id}".encode()

    def seal(self, signer: Signer) -> tuple[bytes, bytes]:
        """(nonce, ciphertext) of the raw 32-byte private key."""
        raw = signer.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        nonce = secrets.token_bytes(12)
        return nonce, self._aead.encrypt(nonce, raw, self._aad(signer.actor, signer.key_id))

    def open(self, org: str, key_id: str, nonce: bytes, sealed: bytes) -> Signer:
        try:
            raw = self._aead.decrypt(nonce, sealed, self._aad(org, key_id))
        except InvalidTag:
            raise Unavailable(
                f"server-held key {key_id} of {org} does not open: wrong INSUTRACE_MASTER_KEY?"
            ) from None
        signer = Signer(org, Ed25519PrivateKey.from_private_bytes(raw))
        if signer.key_id != key_id:
            raise VerificationError(
                f"server-held key {key_id} of {org} opened to key {signer.key_id}"
            )
        return signer


class AccountStore:
    """Accounts, tokens and sealed keys in the ledger's database. (Idempotency-Keys of
    server-signed writes are statement ids in the log itself: see ``api.entries``; the
    ``api_idempotency`` table of the first migration is no longer written.)"""

    def __init__(self, url: str, *, sqlite_synchronous: str = "NORMAL") -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, sqlite_synchronous=sqlite_synchronous)

    def close(self) -> None:
        self.engine.dispose()

    # -- accounts and tokens ----------------------------------------------------

    def create_account(self, org: str, role: str, name: str) -> tuple[Account, str]:
        """A new account and its first token (returned once, never stored)."""
        if role not in ROLES:
            raise MalformedInput(f"role must be one of {', '.join(ROLES)}; got {role!r:.40}")
        with self.engine.begin() as conn:
            row = {"org": org, "name": name, "role": role, "active": True, "created": _now()}
            result = conn.execute(insert(account_table).values(**row).returning(account_table.c.id))
            account_id = int(result.scalar_one())
        return Account(account_id, org, name, role), self.issue_token(account_id, "first")

    def issue_token(self, account_id: int, label: str) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = {"hash": hash_token(token), "account_id": account_id, "label": label[:100]}
        with self.engine.begin() as conn:
            conn.execute(insert(token_table).values(**row, created=_now(), revoked=None))
        return token

    def authenticate(self, token: str) -> Account | None:
        """The active account holding this unrevoked token, if any."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        q = (
            select(account_table)
            .join(token_table, token_table.c.account_id == account_table.c.id)
            .where(token_table.c.hash == hash_token(token), token_table.c.revoked.is_(None))
            .where(account_table.c.active.is_(True))
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return None if row is None else _account(row)

    def revoke_token(self, token: str) -> None:
        with self.engine.begin() as conn:
            q = update(token_table).where(token_table.c.hash == hash_token(token))
            conn.execute(q.values(revoked=_now()))

    def account(self, account_id: int) -> Account:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(account_table).where(account_table.c.id == account_id)
            ).first()
        if row is None:
            raise NotFound(f"no account {account_id}")
        return _account(row)

    def accounts(self, org: str | None = None) -> list[Account]:
        q = select(account_table).order_by(account_table.c.id)
        if org is not None:
            q = q.where(account_table.c.org == org)
        with self.engine.connect() as conn:
            return [_account(r) for r in conn.execute(q)]

    # -- server-held keys -------------------------------------------------------

    def store_key(self, vault: KeyVault, signer: Signer) -> None:
        nonce, sealed = vault.seal(signer)
        row = {"key_id": signer.key_id, "org": signer.actor, "public": signer.public_b64}
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(org_key_table).values(**row, nonce=nonce, sealed=sealed, created=_now())
                )
        except IntegrityError:
            raise Conflict(f"key {signer.key_id} is already held by the server") from None

    def held_key_ids(self, org: str) -> list[str]:
        q = select(org_key_table.c.key_id).where(org_key_table.c.org == org)
        with self.engine.connect() as conn:
            return [str(k) for k in conn.execute(q.order_by(org_key_table.c.created)).scalars()]

    def load_key(self, vault: KeyVault, org: str, key_id: str) -> Signer | None:
        q = select(org_key_table).where(
            org_key_table.c.key_id == key_id, org_key_table.c.org == org
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        return vault.open(org, key_id, bytes(row.nonce), bytes(row.sealed))
