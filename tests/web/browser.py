"""Helpers for the browser tests: Debian Chromium via Playwright, console capture,
screenshots, and a TCP proxy that can cut a page's connections for real.

Why Debian's Chromium at /usr/bin/chromium: Playwright's own browser download does not
work here (no network); ``executable_path`` points it at the system browser. A missing
browser is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, ViewportSize

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "out" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NETWORK_DOWN = re.compile(r"WebSocket connection to '[^']+' failed|net::ERR_(CONNECTION|EMPTY_RESPONSE)")
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 375, "height": 812}


def _find_chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def chromium_path() -> str:
    """The system Chromium, installed from Debian's packages on first use when missing
    (the README's one test command sets up a fresh machine); raises (the test fails)
    when it cannot be had."""
    found = _find_chromium()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
            env=env,
            check=False,
            capture_output=True,
        )
        found = _find_chromium()
    if found is None:
        raise RuntimeError("Chromium is not installed and could not be: apt-get install -y chromium")
    return found


def launch(pw: Playwright) -> Browser:
    return pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


@dataclass
class Watched:
    """A page plus every console error and uncaught exception it produced."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.errors == [], f"console errors on {self.page.url}: {self.errors}"

    def assert_clean_except_network(self) -> None:
        """No errors but the browser's own report of reconnects failing while cut off."""
        other = [e for e in self.errors if not NETWORK_DOWN.search(e)]
        assert other == [], f"console errors on {self.page.url}: {other}"


def watch(page: Page) -> Watched:
    w = Watched(page)

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type in ("error", "assert"):
            w.errors.append(f"{msg.type}: {msg.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: w.errors.append(f"pageerror: {exc}"))
    return w


def open_page(context: BrowserContext, url: str) -> Watched:
    """Open ``url`` and wait until its script says it is ready (``body[data-ready]``)."""
    w = watch(context.new_page())
    w.page.goto(url)
    w.page.wait_for_selector("body[data-ready='1']", state="attached", timeout=15_000)
    return w


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot under out/screenshots/ (gitignored), for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = SCREENSHOTS / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, name: str) -> None:
    """Demo sign-in through the header form, as a person would."""
    page.fill("#signin-name", name)
    page.press("#signin-name", "Enter")
    page.wait_for_selector(".who-am-i", timeout=10_000)


class CutProxy:
    """A TCP forwarder to the server: ``cut()`` drops every connection and refuses new
    ones until ``restore()``, like a network that goes away and comes back."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port: int = self.listener.getsockname()[1]
        self.refusing = False
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            with self.lock:
                self.sockets.discard(src)
                self.sockets.discard(dst)

    def cut(self) -> None:
        self.refusing = True
        with self.lock:
            live = list(self.sockets)
        for s in live:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self.refusing = False

    def close(self) -> None:
        self.closed = True
        self.cut()
        self.listener.close()


@contextlib.contextmanager
def cut_proxy(upstream_port: int) -> Iterator[CutProxy]:
    proxy = CutProxy(upstream_port)
    try:
        yield proxy
    finally:
        proxy.close()


def texts(page: Page, selector: str) -> list[str]:
    result: Any = page.eval_on_selector_all(selector, "els => els.map(e => e.textContent.trim())")
    return [str(x) for x in result]
