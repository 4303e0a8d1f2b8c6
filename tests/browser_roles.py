"""What the role pages' browser tests share (tests/web/test_*_browser.py): Chromium driven by
Playwright on Debian's /usr/bin/chromium, the app served by uvicorn over the test's ledger
with server-held keys, accounts per role, sign-in, screenshots into test-artifacts/, and a
watch on every request a page makes (all of them must go to the app's own origin).

Fixtures (``tests/web/conftest.py`` makes them available there): ``browser``, one Chromium
for a test module; ``demo_world``, the demo story on a ledger of its own served for a test
module (:class:`World`: tests that write there write to objects no other test of the module
reads, and assert on sizes measured before they write; the log is verified and its
projections rebuilt once the module is done). :func:`as_role` opens a phone signed in as a
new person of one of the world's organisations.

Without /usr/bin/chromium or Playwright a test skips with a one-line reason, unless
INSUTRACE_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import support

from insutrace.api.app import create_app
from insutrace.api.deps import Services
from insutrace.trace.clock import FixedClock
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.settings import Settings
from insutrace.trace.store import open_store

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PHONE = {"width": 390, "height": 844}
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install playwright; no browser download needed)"
    return None


@contextmanager
def chromium(*extra_args: str) -> Iterator[Any]:
    """A headless Chromium (skips the test when there is none)."""
    reason = browser_missing()
    if reason is not None:
        if os.environ.get("INSUTRACE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[*LAUNCH_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


MASTER_KEY = "test-only master key, not a secret: 0123456789abcdef"


def make_app(tmp_path: Path, store_url: str, clock: FixedClock, log_signer: NoteSigner) -> Any:
    """The app over the test's ledger, its home in ``tmp_path``, server-held keys on."""
    settings = Settings(home=tmp_path / "home", database_url=store_url, origin=log_signer.name,
                        master_key=MASTER_KEY)  # fmt: skip
    return create_app(settings, clock=clock, log_signer=log_signer)


@contextmanager
def served(
    tmp_path: Path, store_url: str, clock: FixedClock, log_signer: NoteSigner
) -> Iterator[tuple[str, Services]]:
    """The app over the test's ledger (server-held keys on), served on a loopback port."""
    app = make_app(tmp_path, store_url, clock, log_signer)
    services: Services = app.state.services
    try:
        with support.served(app) as url:
            yield url, services
    finally:
        services.accounts.close()
        services.ledger.store.close()


PASSWORD = "correct horse battery"


def account(services: Services, signer: Signer, role: str, name: str) -> str:
    """A person of ``signer``'s organisation in ``role`` (password :data:`PASSWORD`) whose
    organisation's key the server holds; their username."""
    username = f"u{len(services.accounts.accounts()) + 1}-{role}"
    services.accounts.create_person(signer.actor, role, name, username, PASSWORD)
    if signer.key_id not in services.accounts.held_key_ids(signer.actor):
        services.accounts.store_key(services.require_vault(), signer)
    return username


@dataclass
class Phone:
    """A browser context (a phone, unless ``desktop``) whose every request is watched."""

    base: str
    context: Any
    page: Any
    folder: Path
    requests: list[str] = field(default_factory=list)

    def shot(self, name: str, *, full: bool = True, check_width: bool = False) -> None:
        """A screenshot into the test's artifacts folder: the whole page, or the screen when
        ``full`` is False; ``check_width``: first assert the page :meth:`fits`."""
        if check_width:
            assert self.fits(), f"{name}: wider than the phone"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.folder / f"{name}.png"), full_page=full)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def text(self, selector: str = "main") -> str:
        return str(self.page.locator(selector).inner_text())

    def fits(self) -> bool:
        """Readable at the phone's width: nothing scrolls sideways."""
        width = self.page.evaluate("document.documentElement.scrollWidth")
        return bool(width <= PHONE["width"])

    def foreign(self) -> list[str]:
        """Requests that went anywhere but the app's own origin."""
        own = (self.base + "/", "data:", "blob:")
        return [u for u in self.requests if not u.startswith(own)]


@contextmanager
def phone(
    browser: Any, base: str, artifacts: str, *, desktop: bool = False, offline: bool = False
) -> Iterator[Phone]:
    """A browser context on ``base``, screenshots into ``test-artifacts/<artifacts>``;
    ``offline``: a request anywhere else is aborted as well as recorded (no network at all)."""
    options: dict[str, Any] = {"locale": "zh-CN"}
    if not desktop:
        options.update(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    context = browser.new_context(accept_downloads=True, **options)
    page = context.new_page()
    p = Phone(base, context, page, ARTIFACTS / artifacts)
    page.on("request", lambda request: p.requests.append(request.url))
    if offline:
        own = (base + "/", "data:", "blob:")
        context.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith(own) else r.abort()
        )
    try:
        yield p
    finally:
        context.close()


def sign_in(p: Phone, username: str, password: str = PASSWORD) -> None:
    """Sign in through the sign-in page (the one place the tests know how)."""
    p.goto("/signin")
    p.page.fill("input[name=username]", username)
    p.page.fill("input[name=password]", password)
    p.page.get_by_role("button", name="登录 Sign in").click()
    p.page.wait_for_load_state()


def csrf(p: Phone) -> str:
    """The signed-in session's CSRF token, as its pages' forms carry it."""
    p.goto("/signin")
    return str(p.page.get_attribute("input[name=csrf_token]", "value"))


def post_form(p: Phone, path: str, form: dict[str, str]) -> Any:
    """A form post from the signed-in browser (its cookies), as a crafted request would."""
    return p.context.request.post(p.base + path, form=form, max_redirects=0)


def demo(ledger: Any, root: Signer, clock: FixedClock) -> Any:
    """The demo story on the test's ledger, the clock moved past its last entry (2027-07-29):
    four accepted projects, a failed witnessed re-test and recall, a clone alert, a credit
    proposal (see :mod:`insutrace.demo.story`)."""
    from insutrace.demo.story import build_demo

    out = build_demo(ledger, root, start=support.DEMO_START)
    clock.tick(timedelta(days=252))  # START 2026-11-22 + 252 days: 2027-08-01
    ledger.checkpoint()
    return out


# -- a served demo world, shared by a module's tests ------------------------------------------


@dataclass
class World:
    """The demo story on a ledger of its own, the app served over it."""

    base: str
    services: Services
    ledger: Ledger
    demo: Any
    clock: FixedClock
    log_signer: NoteSigner

    def signer(self, key: str) -> Signer:
        """The demo-only signer of the demo's organisation ``key`` (``"mohurd_nj"``)."""
        signer: Signer = self.demo.signers[self.demo.orgs[key]["uscc"]]
        return signer

    def person(self, key: str, role: str, name: str) -> str:
        """A new person of the organisation ``key`` in ``role``; their username."""
        return account(self.services, self.signer(key), role, name)


@contextmanager
def served_demo(folder: Path) -> Iterator[World]:
    """The demo on a migrated SQLite ledger in ``folder``, served; the log verified from the
    root key and its projections rebuilt identically when done."""
    from databases import migrated_sqlite

    from insutrace.trace.domain import ADMISSION, REGISTRY

    root, origin = support.fixed_signer("root"), support.ORIGIN
    log_signer = NoteSigner(origin, support.fixed_signer(origin).private_key)
    clock = FixedClock(support.START, step=timedelta(seconds=1))
    url = migrated_sqlite(folder / "ledger.db")
    store = open_store(url)
    try:
        ledger = Ledger(store, log_signer=log_signer, clock=clock, types=REGISTRY,
                        admission=ADMISSION)  # fmt: skip
        ledger.initialize(root, origin=origin)
        made = demo(ledger, root, clock)
        with served(folder, url, clock, log_signer) as (base, services):
            yield World(base, services, ledger, made, clock, log_signer)
        support.check_log(ledger, root)
    finally:
        store.close()


@pytest.fixture(scope="module")
def demo_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with served_demo(tmp_path_factory.mktemp("demo")) as world:
        yield world


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the module's tests (each test opens its own contexts)."""
    with chromium() as launched:
        yield launched


@contextmanager
def as_role(
    browser: Any, world: World, key: str, role: str, name: str, artifacts: str, **options: Any
) -> Iterator[Phone]:
    """A phone signed in as a new person (``name``, ``role``) of the organisation ``key``."""
    username = world.person(key, role, name)
    with phone(browser, world.base, artifacts, **options) as p:
        sign_in(p, username)
        yield p
