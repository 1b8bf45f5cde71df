"""The flash-sale page in headless Chromium: waiting room, hold timer, confirm, limit."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.liveserver import LiveServer
from tests.web.browser import DESKTOP, PHONE, open_page, shot, sign_in
from tests.web.rest import create, now_ms


def test_a_flash_sale_buyer_holds_and_confirms(server: LiveServer, browser: Browser) -> None:
    sale = create(
        server,
        "flash",
        {"currency": "EUR", "price": 1999, "stock": 5, "per_buyer_limit": 2, "hold_ttl_ms": 120_000,
         "start": 0, "end": now_ms() + 3_600_000},
        "Espresso cups",
    )  # fmt: skip
    buyer_ctx, viewer_ctx = browser.new_context(viewport=PHONE), browser.new_context(viewport=DESKTOP)
    buyer = open_page(buyer_ctx, f"{server.http}/sale/{sale}")
    viewer = open_page(viewer_ctx, f"{server.http}/sale/{sale}")
    expect(buyer.page.locator("#stock-text")).to_have_text("5 of 5 left (0 in baskets)")
    expect(buyer.page.locator("#limit-badge")).to_have_text("Limit 2 per customer · yours: 0")
    sign_in(buyer.page, "carol")
    expect(buyer.page.locator("#queue-text")).to_have_text("It's your turn: you can buy now.")
    buyer.page.fill("#qty", "2")
    buyer.page.click("#hold-button")
    expect(buyer.page.locator("#hold-box")).to_be_visible()
    expect(buyer.page.locator("#hold-text")).to_have_text("2 reserved for you · €39.98")
    timer = buyer.page.locator("#hold-timer").text_content()
    assert timer is not None and timer.startswith(("02:00", "01:5"))  # the TTL, counting down
    expect(viewer.page.locator("#stock-text")).to_have_text("3 of 5 left (2 in baskets)")
    shot(buyer.page, "sale-hold")
    buyer.page.click("#confirm-button")
    expect(buyer.page.locator("#sale-feedback")).to_contain_text("Purchased 2")
    expect(buyer.page.locator("#hold-box")).to_be_hidden()
    expect(buyer.page.locator("#limit-badge")).to_have_text("Limit 2 per customer · yours: 2")
    expect(buyer.page.locator("#hold-form")).to_be_hidden()  # the per-customer limit is reached
    expect(viewer.page.locator("#stock-text")).to_have_text("3 of 5 left (0 in baskets)")
    shot(buyer.page, "sale-bought")
    shot(viewer.page, "sale")
    buyer.assert_clean()
    viewer.assert_clean()
    buyer_ctx.close()
    viewer_ctx.close()
