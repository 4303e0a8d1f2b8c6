"""Accounts, API tokens and server-held organisation keys: the API's own tables.

None of this is in the log. An account belongs to one organisation (an actor id of
the log: its unified social credit code, or ``root`` for the root authority) and has
one role. An account is a machine's (it holds API tokens) or a person's: a person has a
username, a password stored as an argon2id hash (RFC 9106; ``argon2-cffi``'s defaults),
a job title, optionally a TOTP secret (RFC 6238) for a second factor, and may be the
organisation's administrator, who adds, resets and deactivates the organisation's people
in the browser. People sign in to server-side sessions (:mod:`insutrace.api.sessions`).

Tokens are random 256-bit strings handed out once; only SHA-256 of a token is stored, so
a copy of the database authenticates nobody. A token expires (:data:`TOKEN_DAYS` by
default); a token minted with a token expires no later than its parent and is revoked
with it, so a leaked token cannot leave successors behind. Server-held Ed25519 keys are
sealed with AES-256-GCM (NIST SP 800-38D) under a key derived by HKDF-SHA-256
(RFC 5869) from ``INSUTRACE_MASTER_KEY``; the organisation id and key id are the
associated data, so a sealed key cannot be moved to another organisation.

The tables are created only by the Alembic migrations of the ``api`` branch
(``api/migrations/versions``, applied by ``insutrace db upgrade``); ``metadata`` here is
the model those migrations are checked against.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError as PasswordMismatch
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
    func,
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
    "TOKEN_DAYS",
    "Account",
    "AccountStore",
    "KeyVault",
    "Person",
    "TokenInfo",
    "format_utc",
    "hash_token",
    "metadata",
    "parse_utc",
    "utc_now",
]

_log = logging.getLogger(__name__)

TOKEN_PREFIX = "itk_"
TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 366
USERNAME = re.compile(r"[a-z][a-z0-9._-]{2,31}")
MIN_PASSWORD = 10
_hasher = PasswordHasher()

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
    # a person's sign-in (all null for a machine's account)
    Column("username", String(32), nullable=True, unique=True, index=True),
    Column("password", String(200), nullable=True),
    Column("totp", String(64), nullable=True),
    Column("title", String(100), nullable=True),
    Column("admin", Boolean, nullable=True),
)
token_table = Table(
    "api_token",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("account_id", Integer, ForeignKey("api_account.id"), nullable=False, index=True),
    Column("label", String(100), nullable=False),
    Column("created", String(32), nullable=False),
    Column("revoked", String(32), nullable=True),
    Column("expires", String(32), nullable=True),
    Column("parent", String(64), nullable=True, index=True),
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
session_table = Table(
    "api_session",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 of the cookie's session id
    Column("account_id", Integer, ForeignKey("api_account.id"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created", String(32), nullable=False),
    Column("seen", String(32), nullable=False),
    Column("expires", String(32), nullable=False),
    Column("ip", String(64), nullable=False),
)
failure_table = Table(
    "api_signin_failure",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, index=True),
    Column("ip", String(64), nullable=False, index=True),
    Column("at", String(32), nullable=False),
)
author_table = Table(
    "api_entry_author",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("account_id", Integer, ForeignKey("api_account.id"), nullable=False, index=True),
    Column("org", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("username", String(32), nullable=True),
    Column("created", String(32), nullable=False),
)


@dataclass(frozen=True)
class Person:
    """The person behind an account signed in with a password."""

    username: str
    title: str = ""
    admin: bool = False
    totp: bool = False


@dataclass(frozen=True)
class Account:
    id: int
    org: str
    name: str
    role: str
    active: bool = True
    person: Person | None = field(default=None, compare=False)

    @property
    def reads_everything(self) -> bool:
        return self.role in ("authority", "regulator", "investigator")

    @property
    def manages_people(self) -> bool:
        """The organisation's administrator (or the root authority's)."""
        return self.person is not None and self.person.admin


@dataclass(frozen=True)
class TokenInfo:
    """What the holder of a token may see about it (never the token)."""

    id: str  # the first 12 hex digits of its hash
    label: str
    created: str
    expires: str | None
    revoked: str | None
    parent: str | None

    @property
    def live(self) -> bool:
        return self.revoked is None and (
            self.expires is None or self.expires > format_utc(utc_now())
        )


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode()).hexdigest()


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _live_tokens() -> Any:
    """Unrevoked tokens of active accounts: each row the account's columns, the token's
    hash and its expiry (an expired one is left to :func:`_cache_live`)."""
    return (
        select(account_table, token_table.c.hash, token_table.c.expires)
        .join(token_table, token_table.c.account_id == account_table.c.id)
        .where(token_table.c.revoked.is_(None), account_table.c.active.is_(True))
    )


def _cache_live(cache: TokenCache, digest: str, row: Any, epoch: int) -> Account | None:
    """The account of a :func:`_live_tokens` row, kept in ``cache`` under the token's
    hash; None (and nothing kept) when the token has expired."""
    if row.expires is not None and row.expires <= _now():
        return None
    account = _account(row)
    expires = None if row.expires is None else parse_utc(str(row.expires)).timestamp()
    cache.put(digest, account, expires, epoch)
    return account


def _now() -> str:
    return format_utc(utc_now())


def _account(row: Any) -> Account:
    person = None
    if row.username is not None:
        person = Person(str(row.username), row.title or "", bool(row.admin), bool(row.totp))
    return Account(
        int(row.id), str(row.org), str(row.name), str(row.role), bool(row.active), person
    )


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise MalformedInput(
            "username: 3 to 32 of a-z 0-9 . _ -, starting with a letter "
            "(用户名：3-32 位小写字母、数字、. _ -，以字母开头)"
        )
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD or len(password) > 200:
        raise MalformedInput(
            f"password: {MIN_PASSWORD} to 200 characters (密码：{MIN_PASSWORD}-200 个字符)"
        )
    return password


def new_password() -> str:
    """A random password of 16 characters a person can type (no 0/O, 1/l/I)."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


@cache
def _dummy_hash() -> str:
    return _hasher.hash("an unknown username is verified against this")


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


TOKEN_REFRESH = 0.5
"""Seconds after which a process looks again for revocations made by other processes
(see :class:`TokenCache`); a cached token is never answered more than twice this long
after the last look."""


TOKEN_PRELOAD = 10_000
"""Live tokens a server process puts in its cache at start-up, newest first
(:meth:`AccountStore.preload_tokens`); others are cached on their first request."""


class TokenCache:
    """Bearer token → account, in this process's memory, so that a request authenticated
    by a token it has seen does no database work.

    What may change a cached answer, and how each takes effect:

    * **expiry**: each entry keeps its token's expiry time and is checked against the
      clock on every hit;
    * **revocation or deactivation through this store** (this process): the store clears
      the cache in the same call, so the next request is refused;
    * **revocation or deactivation by another process** (another uvicorn worker, the
      CLI): every revocation sets a token's ``revoked`` for good and deactivation revokes
      the account's tokens in the same transaction, so the number of revoked tokens grows
      with each of them, and the number of inactive accounts changes with each
      (de)activation. That pair is the *watermark*. Once it is :data:`TOKEN_REFRESH`
      seconds old, the next cache hit starts one background read of it (one small query,
      off the request's path) and the cache is cleared when it moved; hits are answered
      meanwhile, but never once the watermark is twice ``TOKEN_REFRESH`` old (then each
      request looks its token up, reading the watermark first). A token revoked
      elsewhere is thus refused here within ``2 × TOKEN_REFRESH`` seconds, and never
      served after that.

    A lookup racing a refresh cannot bring a revoked token back: the watermark is read
    before the token, and a lookup that began before a clear (the cache's ``epoch``
    moved) answers its own request but is not kept. Unknown tokens are never cached."""

    def __init__(self, refresh: float = TOKEN_REFRESH, clock: Callable[[], float] | None = None):
        self.refresh = refresh
        self.clock = clock or time.monotonic
        self._entries: dict[str, tuple[Account, float | None]] = {}
        self._watermark: tuple[int, int] | None = None
        self._checked = float("-inf")
        self._refreshing = False
        self.epoch = 0
        self._guard = threading.Lock()

    def fresh(self) -> bool:
        """The watermark was read within ``refresh`` seconds."""
        return self.clock() - self._checked < self.refresh

    def usable(self) -> bool:
        """The watermark was read within twice ``refresh`` seconds: hits may be answered."""
        return self.clock() - self._checked < 2 * self.refresh

    def claim(self) -> bool:
        """True for the one caller that should read the watermark again now."""
        if self.fresh():
            return False
        with self._guard:
            if self._refreshing:
                return False
            self._refreshing = True
            return True

    def release(self) -> None:
        """The claimed read failed: the next hit claims it again."""
        with self._guard:
            self._refreshing = False

    def get(self, digest: str) -> Account | None:
        """The cached live account of a token's hash, while usable (else None: look it up)."""
        if not self.usable():
            return None
        hit = self._entries.get(digest)
        if hit is None:
            return None
        account, expires = hit
        if expires is not None and expires <= time.time():
            return None
        return account

    def saw(self, watermark: tuple[int, int]) -> None:
        """The watermark just read: clear everything if it moved since the last read."""
        with self._guard:
            if watermark != self._watermark:
                self._clear()
            self._watermark = watermark
            self._checked = self.clock()
            self._refreshing = False

    def put(self, digest: str, account: Account, expires: float | None, epoch: int) -> None:
        """Keep a lookup's answer, unless the cache was cleared since it began."""
        with self._guard:
            if epoch == self.epoch:
                self._entries[digest] = (account, expires)

    def clear(self) -> None:
        with self._guard:
            self._clear()

    def _clear(self) -> None:
        self._entries.clear()
        self.epoch += 1

    def __len__(self) -> int:
        return len(self._entries)


class AccountStore:
    """Accounts, tokens and sealed keys in the ledger's database. (Idempotency-Keys of
    server-signed writes are statement ids in the log itself: see ``api.entries``; the
    ``api_idempotency`` table of the first migration is no longer written.)

    Bearer tokens are answered from :attr:`tokens_cache` (:class:`TokenCache`) once seen."""

    def __init__(
        self,
        url: str,
        *,
        sqlite_synchronous: str = "NORMAL",
        token_refresh: float = TOKEN_REFRESH,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, sqlite_synchronous=sqlite_synchronous)
        self.tokens_cache = TokenCache(token_refresh, clock)

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

    def issue_token(
        self,
        account_id: int,
        label: str,
        *,
        days: int | None = None,
        parent: str | None = None,
    ) -> str:
        """A new token for the account, expiring in ``days`` (default :data:`TOKEN_DAYS`).
        Minted with the token ``parent``: it expires no later than that token, and is
        revoked with it."""
        if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
            raise MalformedInput(f"days: 1 to {MAX_TOKEN_DAYS}; got {days}")
        expires = utc_now() + timedelta(days=days or TOKEN_DAYS)
        parent_hash = None
        if parent is not None:
            parent_hash = hash_token(parent)
            with self.engine.connect() as conn:
                q = select(token_table).where(token_table.c.hash == parent_hash)
                held = conn.execute(q).first()
            if held is None or held.revoked is not None or held.account_id != account_id:
                raise Forbidden("the token minting a successor is unknown or revoked")
            if held.expires is not None:
                expires = min(expires, parse_utc(str(held.expires)))
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = {
            "hash": hash_token(token),
            "account_id": account_id,
            "label": label[:100],
            "created": _now(),
            "revoked": None,
            "expires": format_utc(expires),
            "parent": parent_hash,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(token_table).values(**row))
        return token

    def cached(self, token: str) -> Account | None:
        """The account of a token seen within the cache's freshness, without touching the
        database; None means "look it up" (:meth:`authenticate`), not "refused"."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        cache = self.tokens_cache
        found = cache.get(hash_token(token))
        if found is not None and cache.claim():
            threading.Thread(
                target=self.refresh_tokens, name="insutrace-tokens", daemon=True
            ).start()
        return found

    def refresh_tokens(self) -> None:
        """Read the revocation watermark now (see :class:`TokenCache`)."""
        cache = self.tokens_cache
        try:
            with self.engine.connect() as conn:
                cache.saw(self._watermark(conn))
        except Exception:  # the database is away: hits stop at 2 × refresh, lookups fail
            cache.release()
            _log.warning("the token cache could not read the revocation watermark", exc_info=True)

    def authenticate(self, token: str) -> Account | None:
        """The active account holding this unrevoked, unexpired token, if any (from the
        cache when fresh; see :class:`TokenCache`)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        digest = hash_token(token)
        cache = self.tokens_cache
        found = cache.get(digest)
        if found is not None:
            return found
        epoch = cache.epoch
        q = _live_tokens().where(token_table.c.hash == digest)
        with self.engine.connect() as conn:
            if not cache.fresh():
                cache.saw(self._watermark(conn))  # before the token: see TokenCache
                epoch = cache.epoch
            row = conn.execute(q).first()
        if row is None:
            return None
        return _cache_live(cache, digest, row, epoch)

    def preload_tokens(self, limit: int = TOKEN_PRELOAD) -> int:
        """Start-up: the newest ``limit`` live tokens of active accounts put in the cache
        (by hash, as a lookup would), so that the first request each makes to this
        process is answered from memory too; the watermark is read first, as for any
        lookup (see :class:`TokenCache`). How many were put."""
        cache = self.tokens_cache
        q = _live_tokens().order_by(token_table.c.created.desc()).limit(limit)
        with self.engine.connect() as conn:
            cache.saw(self._watermark(conn))
            epoch = cache.epoch
            rows = conn.execute(q).all()
        return sum(_cache_live(cache, str(row.hash), row, epoch) is not None for row in rows)

    @staticmethod
    def _watermark(conn: Any) -> tuple[int, int]:
        """(revoked tokens, inactive accounts): moves with every revocation and
        (de)activation, whichever process made it."""
        revoked = select(func.count()).where(token_table.c.revoked.is_not(None))
        inactive = select(func.count()).where(account_table.c.active.is_(False))
        q = select(revoked.scalar_subquery(), inactive.scalar_subquery())
        row = conn.execute(q).one()
        return int(row[0]), int(row[1])

    def revoke_token(self, token: str) -> int:
        """Revoke a token and every token minted from it; how many were revoked."""
        return self._revoke_tree({hash_token(token)})

    def _revoke_tree(self, roots: set[str]) -> int:
        now, done, todo = _now(), 0, set(roots)
        with self.engine.begin() as conn:
            while todo:
                q = update(token_table).where(
                    token_table.c.hash.in_(todo), token_table.c.revoked.is_(None)
                )
                done += int(conn.execute(q.values(revoked=now)).rowcount or 0)
                children = select(token_table.c.hash).where(token_table.c.parent.in_(todo))
                todo = {str(h) for h in conn.execute(children).scalars()} - roots
                roots |= todo
        self.tokens_cache.clear()
        return done

    def revoke_token_id(self, account_id: int, token_id: str) -> int:
        """Revoke one of the account's tokens by its id (see :class:`TokenInfo`)."""
        if not re.fullmatch(r"[0-9a-f]{12}", token_id):
            raise MalformedInput("token id: 12 hex digits")
        q = select(token_table.c.hash).where(
            token_table.c.account_id == account_id, token_table.c.hash.startswith(token_id)
        )
        with self.engine.connect() as conn:
            found = {str(h) for h in conn.execute(q).scalars()}
        if not found:
            raise NotFound(f"account {account_id} has no token {token_id}")
        return self._revoke_tree(found)

    def revoke_all_tokens(self, account_id: int) -> int:
        """Revoke every token of the account; how many were live."""
        with self.engine.begin() as conn:
            done = self._revoke_all(conn, account_id)
        self.tokens_cache.clear()
        return done

    @staticmethod
    def _revoke_all(conn: Any, account_id: int) -> int:
        q = update(token_table).where(
            token_table.c.account_id == account_id, token_table.c.revoked.is_(None)
        )
        return int(conn.execute(q.values(revoked=_now())).rowcount or 0)

    def tokens(self, account_id: int) -> list[TokenInfo]:
        """The account's tokens, newest first, live or not."""
        q = (
            select(token_table)
            .where(token_table.c.account_id == account_id)
            .order_by(token_table.c.created.desc(), token_table.c.hash)
        )
        with self.engine.connect() as conn:
            rows = list(conn.execute(q))
        return [
            TokenInfo(
                str(r.hash)[:12],
                str(r.label),
                str(r.created),
                r.expires,
                r.revoked,
                None if r.parent is None else str(r.parent)[:12],
            )
            for r in rows
        ]

    def set_active(self, account_id: int, active: bool) -> Account:
        """Deactivate (or reactivate) an account: a deactivated account's tokens and
        sessions authenticate nobody; deactivation also revokes its tokens for good."""
        account = self.account(account_id)
        with self.engine.begin() as conn:  # one transaction: see TokenCache
            q = update(account_table).where(account_table.c.id == account_id)
            conn.execute(q.values(active=active))
            if not active:
                self._revoke_all(conn, account_id)
        self.tokens_cache.clear()
        if not active:
            self._end_sessions(account_id)
        return self.account(account.id)

    def _end_sessions(self, account_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(session_table.delete().where(session_table.c.account_id == account_id))

    def account(self, account_id: int) -> Account:
        found = self.find(account_id)
        if found is None:
            raise NotFound(f"no account {account_id}")
        return found

    def find(self, account_id: int) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(account_table).where(account_table.c.id == account_id)
            ).first()
        return None if row is None else _account(row)

    # -- people -----------------------------------------------------------------

    def create_person(
        self,
        org: str,
        role: str,
        name: str,
        username: str,
        password: str,
        *,
        title: str = "",
        admin: bool = False,
    ) -> Account:
        """A person's account: they sign in with ``username`` and ``password``."""
        if role not in ROLES:
            raise MalformedInput(f"role must be one of {', '.join(ROLES)}; got {role!r:.40}")
        name = name.strip()
        if not 1 <= len(name) <= 200:
            raise MalformedInput("name: 1 to 200 characters (姓名：1-200 个字符)")
        row = {
            "org": org,
            "name": name,
            "role": role,
            "active": True,
            "created": _now(),
            "username": check_username(username),
            "password": _hasher.hash(check_password(password)),
            "totp": None,
            "title": title.strip()[:100],
            "admin": admin,
        }
        try:
            with self.engine.begin() as conn:
                q = insert(account_table).values(**row).returning(account_table.c.id)
                account_id = int(conn.execute(q).scalar_one())
        except IntegrityError:
            raise Conflict(f"username {username} is taken (用户名 {username} 已被使用)") from None
        return self.account(account_id)

    def by_username(self, username: str) -> Account | None:
        q = select(account_table).where(account_table.c.username == username.strip().lower())
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return None if row is None else _account(row)

    def check_password(self, username: str, password: str) -> Account | None:
        """The active person with this username and password, else None. The hash is
        verified even for an unknown username, so timing tells nothing."""
        q = select(account_table).where(account_table.c.username == username.strip().lower())
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        stored = str(row.password) if row is not None and row.password else _dummy_hash()
        try:
            _hasher.verify(stored, password)
        except (PasswordMismatch, InvalidHashError):
            return None
        if row is None or not row.active:
            return None
        if _hasher.check_needs_rehash(stored):
            self._set_password_hash(int(row.id), _hasher.hash(password))
        return _account(row)

    def check_totp(self, account_id: int, code: str) -> bool:
        """The code is the person's current TOTP (one step of drift either way)."""
        secret = self._totp_secret(account_id)
        code = code.strip().replace(" ", "")
        if not secret or not code.isdigit():
            return False
        return bool(pyotp.TOTP(secret).verify(code, valid_window=1))

    def _totp_secret(self, account_id: int) -> str | None:
        q = select(account_table.c.totp).where(account_table.c.id == account_id)
        with self.engine.connect() as conn:
            secret = conn.execute(q).scalar_one_or_none()
        return None if secret is None else str(secret)

    def set_totp(self, account_id: int, secret: str | None) -> None:
        """Enable (a base32 secret) or disable (None) the person's second factor."""
        if secret is not None:
            pyotp.TOTP(secret).now()  # a malformed secret fails here, not at sign-in
        with self.engine.begin() as conn:
            q = update(account_table).where(account_table.c.id == account_id)
            conn.execute(q.values(totp=secret))

    def set_password(self, account_id: int, password: str) -> None:
        """A new password; every session of the person ends."""
        self._set_password_hash(account_id, _hasher.hash(check_password(password)))
        self._end_sessions(account_id)

    def _set_password_hash(self, account_id: int, hashed: str) -> None:
        with self.engine.begin() as conn:
            q = update(account_table).where(account_table.c.id == account_id)
            conn.execute(q.values(password=hashed))

    def people(self, org: str) -> list[Account]:
        """The organisation's people (accounts with a username), in the order added."""
        q = (
            select(account_table)
            .where(account_table.c.org == org, account_table.c.username.is_not(None))
            .order_by(account_table.c.id)
        )
        with self.engine.connect() as conn:
            return [_account(r) for r in conn.execute(q)]

    # -- who wrote an entry from the browser ------------------------------------

    def record_author(self, seq: int, account: Account) -> None:
        """The person who wrote entry ``seq`` from the browser (the entry names only the
        organisation that signed it)."""
        row = {
            "seq": seq,
            "account_id": account.id,
            "org": account.org,
            "name": account.name,
            "username": None if account.person is None else account.person.username,
            "created": _now(),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(author_table).values(**row))
        except IntegrityError:
            pass  # an idempotent retry of the same write: the first author stands

    def authors(self, seqs: list[int]) -> dict[int, dict[str, Any]]:
        """For each of the entries written from the browser: who wrote it."""
        if not seqs:
            return {}
        q = select(author_table).where(author_table.c.seq.in_(seqs))
        with self.engine.connect() as conn:
            rows = list(conn.execute(q))
        return {int(r.seq): {"name": r.name, "username": r.username, "org": r.org} for r in rows}

    def count_people(self) -> int:
        q = select(func.count()).where(account_table.c.username.is_not(None))
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

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

    def sealed_keys(self) -> list[tuple[str, str, bytes, bytes]]:
        """(org, key id, nonce, sealed key) of every key the server holds, sealed."""
        q = select(
            org_key_table.c.org, org_key_table.c.key_id, org_key_table.c.nonce,
            org_key_table.c.sealed,
        )  # fmt: skip
        with self.engine.connect() as conn:
            return [(str(o), str(k), bytes(n), bytes(s)) for o, k, n, s in conn.execute(q)]

    def load_key(self, vault: KeyVault, org: str, key_id: str) -> Signer | None:
        q = select(org_key_table).where(
            org_key_table.c.key_id == key_id, org_key_table.c.org == org
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        return vault.open(org, key_id, bytes(row.nonce), bytes(row.sealed))


# the standard interfaces declare their tables on this metadata too (revision a0003)
from insutrace.api import interop_tables as _interop_tables  # noqa: E402, F401
