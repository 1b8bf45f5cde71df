"""The in-browser verifier against real certificates made with draws/ and the Python
verifier's own verdicts: same checks, same order, same first failure."""

from __future__ import annotations

import contextlib
import copy
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from draws import certificate_bytes, verify_certificate
from tests.draws.helpers import make_draw, resign
from tests.liveserver import LiveServer
from tests.web.browser import DESKTOP, PHONE, open_page, shot

STATUS = {True: "pass", False: "fail", None: "skip"}


def python_statuses(cert: dict[str, Any], leaves: bytes | None) -> list[tuple[str, str]]:
    report = verify_certificate(certificate_bytes(cert), leaves=leaves)
    return [(c.name, STATUS[c.passed]) for c in report.checks]


def browser_statuses(page: Page, cert: bytes, leaves: bytes | None) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        """async ([cert, leaves]) => {
            const v = await import('/static/verifier.js');
            const bytes = leaves === null ? null : new Uint8Array(leaves);
            const r = await v.verifyCertificate(cert, {leaves: bytes});
            return {checks: r.checks.map(c => [c.name, c.status]), first: r.firstFailure, ok: r.ok};
        }""",
        [cert.decode(), None if leaves is None else list(leaves)],
    )
    return result


def as_cli(statuses: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The browser reports drand's BLS step as 'cli' where the CLI says PASS."""
    return [(n, "cli" if n == "beacon" and s == "pass" else s) for n, s in statuses]


def tampered(cert: dict[str, Any], how: str) -> dict[str, Any]:
    c = copy.deepcopy(cert)
    body = c["body"]
    if how == "winner_index":
        body["winners"][0]["index"] = body["alternates"][0]["index"]
        return resign(c)  # a host re-signing a changed winner: caught by the recomputation
    if how == "seed":
        body["seed"] = "00" * 32
        return resign(c)
    if how == "rules":
        body["rules"]["min_mentions"] += 1
        return resign(c)
    if how == "randomness":
        body["beacon_value"]["randomness"] = "11" * 32
        return resign(c)
    if how == "signature":
        c["signature"] = ("0" if c["signature"][0] != "0" else "1") + c["signature"][1:]
        return c
    if how == "commitment_hash":
        body["commitment_hash"] = "22" * 32
        return resign(c)
    if how == "float":
        return c  # handled by the caller (a float in the text)
    raise AssertionError(how)


def test_verifier_page_passes_a_real_certificate_and_fails_a_tampered_one(
    server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    draw = make_draw()
    cert_path = tmp_path / "certificate.json"
    cert_path.write_bytes(draw.cert_bytes)
    leaves_path = tmp_path / "leaves.bin"
    leaves_path.write_bytes(draw.leaves_file)
    ctx = browser.new_context(viewport=DESKTOP)
    w = open_page(ctx, f"{server.http}/verify")
    page = w.page
    page.set_input_files("#cert-file", str(cert_path))
    page.set_input_files("#leaves-file", str(leaves_path))
    page.click("#verify-button")
    expect(page.locator("#verdict")).to_have_attribute("data-ok", "true")
    rows = page.eval_on_selector_all("#checks li", "els => els.map(e => [e.dataset.check, e.dataset.status])")
    expected = as_cli(python_statuses(draw.cert, draw.leaves_file))
    assert [tuple(r) for r in rows] == expected
    assert ("root", "pass") in expected and ("winners", "pass") in expected
    shot(page, "verify-valid")

    bad = tampered(draw.cert, "winner_index")
    bad_path = tmp_path / "tampered.json"
    bad_path.write_bytes(certificate_bytes(bad))
    assert verify_certificate(certificate_bytes(bad), leaves=draw.leaves_file).first_failure == "winners"
    page.set_input_files("#cert-file", str(bad_path))
    page.click("#verify-button")
    expect(page.locator("#verdict")).to_have_attribute("data-first-failure", "winners")
    expect(page.locator("#checks li[data-check='winners']")).to_have_attribute("data-status", "fail")
    expect(page.locator("#checks li[data-check='seed']")).to_have_attribute("data-status", "pass")
    shot(page, "verify-tampered")
    w.assert_clean()
    ctx.close()


@pytest.mark.parametrize("weighted", [False, True])
def test_every_tampering_fails_at_the_same_step_as_the_cli(
    server: LiveServer, browser: Browser, weighted: bool
) -> None:
    draw = make_draw(weighted=weighted)
    ctx = browser.new_context()
    w = open_page(ctx, f"{server.http}/verify")
    for leaves in (draw.leaves_file, None):
        got = browser_statuses(w.page, draw.cert_bytes, leaves)
        assert [tuple(x) for x in got["checks"]] == as_cli(python_statuses(draw.cert, leaves))
        assert got["ok"] is True
    for how in ("winner_index", "seed", "rules", "randomness", "signature", "commitment_hash"):
        bad = tampered(draw.cert, how)
        expected = verify_certificate(certificate_bytes(bad), leaves=draw.leaves_file)
        got = browser_statuses(w.page, certificate_bytes(bad), draw.leaves_file)
        assert got["first"] == expected.first_failure, how
        assert [tuple(x) for x in got["checks"]] == as_cli(python_statuses(bad, draw.leaves_file)), how
    text = draw.cert_bytes.decode().replace('"version":1', '"version":1.0', 1)
    got = browser_statuses(w.page, text.encode(), None)
    assert got["first"] == "format"  # floats are refused, as by the CLI
    w.assert_clean()
    ctx.close()


def test_receipt_handle_and_public_certificate_page(
    server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    links = httpx.get(server.http + "/web/config", timeout=10).json()["links"]
    ctx = browser.new_context(viewport=PHONE)
    w = open_page(ctx, server.http + links["certificate"])
    page = w.page
    expect(page.locator("#verdict")).to_have_attribute("data-ok", "true")
    expect(page.locator("#checks li[data-check='root']")).to_have_attribute("data-status", "pass")
    expect(page.locator("#checks li[data-check='beacon']")).to_have_attribute("data-status", "cli")
    cert_hash = links["certificate"].split("/")[-1]
    cert = httpx.get(f"{server.http}/web/certificates/{cert_hash}", timeout=10).json()
    assert verify_certificate(json.dumps(cert).encode()).ok  # the CLI agrees (BLS included)
    handle = cert["body"]["winners"][0]["handle"]
    assert "*" in handle
    shot(page, "verify-public")

    # "Was I in the draw?" with a real receipt (from a draw made here, where we hold it)
    draw = make_draw()
    receipt = draw.prepared.leaves.receipt(draw.cert["body"]["winners"][0]["index"])
    (tmp_path / "c.json").write_bytes(draw.cert_bytes)
    (tmp_path / "r.json").write_text(
        json.dumps(
            receipt.to_json(draw.cert["body"]["commitment"]["draw_id"], draw.prepared.commitment.merkle_root)
        )
    )
    page.goto(server.http + "/verify")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.set_input_files("#cert-file", str(tmp_path / "c.json"))
    page.click("#verify-button")
    expect(page.locator("#verdict")).to_have_attribute("data-ok", "true")
    page.set_input_files("#receipt-file", str(tmp_path / "r.json"))
    page.click("#me-button")
    expect(page.locator("#me-result")).to_have_attribute("data-status", "pass")
    expect(page.locator("#me-result")).to_contain_text("your entry is in this draw")
    expect(page.locator("#me-result")).to_contain_text("winner at position 0")
    shot(page, "verify-receipt")
    w.assert_clean()
    ctx.close()


@contextlib.contextmanager
def host_site(html: str) -> Iterator[str]:
    """Serve one page from another loopback port: a host's own website."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_embeddable_widget(server: LiveServer, browser: Browser) -> None:
    links = httpx.get(server.http + "/web/config", timeout=10).json()["links"]
    cert_hash = links["certificate"].split("/")[-1]
    ctx = browser.new_context(viewport={"width": 480, "height": 200})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    # A host's own site (another origin, a server of its own) with the one script tag.
    html = (
        f'<!doctype html><title>Our giveaway</title><h1>Our giveaway</h1><script src="{server.http}'
        f'/static/widget.js" data-certificate="{cert_hash}" async></script>'
    )
    with host_site(html) as url:
        page.goto(url)
        frame = page.frame_locator("iframe")
        expect(frame.locator("#widget")).to_have_attribute("data-state", "valid", timeout=15_000)
        expect(frame.locator("#w-text")).to_contain_text("Verified draw")
        shot(page, "widget")
    assert errors == []
    ctx.close()
