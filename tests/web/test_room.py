"""The auction room in real headless Chromium: two bidders in two browser contexts."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.liveserver import LiveServer
from tests.web.browser import DESKTOP, PHONE, cut_proxy, open_page, shot, sign_in, texts
from tests.web.rest import create, now_ms


def english(server: LiveServer, title: str, **params: object) -> str:
    base: dict[str, object] = {"currency": "EUR", "opening": 1000, "start": 0, "end": now_ms() + 600_000}
    return create(server, "english", {**base, **params}, title)


def test_a_bid_in_one_context_appears_in_the_other(server: LiveServer, browser: Browser) -> None:
    room = english(server, "Vintage camera", reserve=3000)
    a_ctx, b_ctx = browser.new_context(viewport=DESKTOP), browser.new_context(viewport=PHONE)
    a = open_page(a_ctx, f"{server.http}/room/{room}")
    b = open_page(b_ctx, f"{server.http}/room/{room}")
    expect(b.page.locator("#conn")).to_have_attribute("data-state", "live")
    sign_in(a.page, "alice")
    expect(a.page.locator("#bid-amount")).to_have_value("10.00")  # the opening, pre-filled
    a.page.click("#bid-submit")
    expect(b.page.locator("#history li")).to_have_count(1)
    expect(b.page.locator("#price")).to_have_text("€10.00")
    expect(b.page.locator("#leader-badge")).to_have_text("Leader: a***e")  # masked
    expect(a.page.locator("#leader-badge")).to_have_text("Leader: You")
    expect(b.page.locator("#reserve-badge")).to_have_text("Reserve not met")

    sign_in(b.page, "bob")
    expect(b.page.locator("#bid-amount")).to_have_value("10.50")  # price + eBay increment
    b.page.click("#bid-submit")
    expect(a.page.locator("#history li")).to_have_count(2)
    expect(a.page.locator("#price")).to_have_text("€10.50")
    expect(a.page.locator("#outbid")).to_contain_text("You've been outbid")
    expect(a.page.locator("#bid-amount")).to_have_value("11.00")
    shot(a.page, "room-english")
    shot(b.page, "room-english")
    a.assert_clean()
    b.assert_clean()
    a_ctx.close()
    b_ctx.close()


def test_a_proxy_outbid_shows_the_notice(server: LiveServer, browser: Browser) -> None:
    room = english(server, "Proxy test lot")
    a_ctx, b_ctx = browser.new_context(viewport=DESKTOP), browser.new_context(viewport=DESKTOP)
    a = open_page(a_ctx, f"{server.http}/room/{room}")
    b = open_page(b_ctx, f"{server.http}/room/{room}")
    sign_in(a.page, "alice")
    sign_in(b.page, "bob")
    a.page.fill("#proxy-amount", "50")
    a.page.click("#proxy-submit")
    expect(a.page.locator("#bid-feedback")).to_contain_text("Maximum bid of €50.00 set")
    expect(b.page.locator("#price")).to_have_text("€10.00")  # a max never shows its amount
    b.page.click("#bid-submit")  # 10.50: alice's proxy answers at once
    expect(b.page.locator("#outbid")).to_contain_text("Outbid at once")
    expect(b.page.locator("#price")).to_have_text("€11.00")
    expect(b.page.locator("#leader-badge")).to_have_text("Leader: a***e")
    b.page.fill("#proxy-amount", "80")
    b.page.click("#proxy-submit")
    expect(a.page.locator("#outbid")).to_contain_text("You've been outbid. The price is now €51.00.")
    expect(b.page.locator("#outbid")).to_be_empty()
    shot(a.page, "room-proxy-outbid")
    a.assert_clean()
    b.assert_clean()
    a_ctx.close()
    b_ctx.close()


def test_the_countdown_extends_on_a_late_bid(server: LiveServer, browser: Browser) -> None:
    end = now_ms() + 40_000  # inside the 60 s soft-close window already
    room = english(server, "Soft close lot", end=end, close="soft", window=60_000, extension=60_000)
    a_ctx, b_ctx = browser.new_context(viewport=DESKTOP), browser.new_context(viewport=PHONE)
    a = open_page(a_ctx, f"{server.http}/room/{room}")
    b = open_page(b_ctx, f"{server.http}/room/{room}")
    expect(b.page.locator("#countdown")).to_have_attribute("data-end", str(end))
    before = b.page.locator("#countdown").text_content()
    assert before is not None and before.startswith("00:")
    sign_in(a.page, "alice")
    a.page.click("#bid-submit")
    expect(b.page.locator("#countdown")).to_have_attribute("data-end", str(end + 60_000))
    expect(b.page.locator("#extended")).to_contain_text("the end moved by 01:00")
    after = b.page.locator("#countdown").text_content()
    assert after is not None and after.startswith("01:")  # about 1:40 left now
    shot(b.page, "room-extended")
    a.assert_clean()
    b.assert_clean()
    a_ctx.close()
    b_ctx.close()


def test_a_dropped_connection_resumes_without_missing_bids(server: LiveServer, browser: Browser) -> None:
    room = english(server, "Resume lot")
    with cut_proxy(server.port) as proxy:
        a_ctx, b_ctx = browser.new_context(viewport=DESKTOP), browser.new_context(viewport=DESKTOP)
        # The watcher reaches the server through a proxy that the test can cut.
        a = open_page(a_ctx, f"http://127.0.0.1:{proxy.port}/room/{room}")
        b = open_page(b_ctx, f"{server.http}/room/{room}")
        expect(a.page.locator("#conn")).to_have_attribute("data-state", "live")
        sign_in(b.page, "bob")
        b.page.click("#bid-submit")
        expect(a.page.locator("#history li")).to_have_count(1)

        proxy.cut()
        expect(a.page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
        for _ in range(3):  # bids while the watcher is away (bob raising his own max)
            count = b.page.locator("#history li").count()
            b.page.click("#bid-submit")
            expect(b.page.locator("#history li")).to_have_count(count + 1)
        expect(a.page.locator("#history li")).to_have_count(1)  # it really was cut off
        shot(a.page, "room-reconnecting")

        proxy.restore()
        expect(a.page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)
        expect(a.page.locator("#history li")).to_have_count(4)
        seqs = a.page.eval_on_selector_all("#history li", "els => els.map(e => Number(e.dataset.seq))")
        assert seqs == [5, 4, 3, 2]  # newest first, no gap, no duplicate
        assert texts(a.page, "#history li .amount") == texts(b.page, "#history li .amount")
        a.assert_clean_except_network()
        b.assert_clean()
        a_ctx.close()
        b_ctx.close()


def test_french_and_phone_width(server: LiveServer, browser: Browser) -> None:
    room = english(server, "Appareil photo", reserve=3000)
    ctx = browser.new_context(viewport=PHONE)
    w = open_page(ctx, f"{server.http}/room/{room}")
    w.page.click(".lang button[data-lang='fr']")
    expect(w.page.locator("html")).to_have_attribute("lang", "fr")
    expect(w.page.locator("#bid-amount-label")).to_have_text("Votre enchère")
    expect(w.page.locator("#reserve-badge")).to_have_text("Prix de réserve non atteint")
    expect(w.page.locator("#price")).to_have_text("10,00\u00a0€")
    width = w.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"horizontal scroll at 375 px: {width}"
    shot(w.page, "room-fr")
    w.assert_clean()
    ctx.close()
