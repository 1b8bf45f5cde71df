"""Every page renders without console errors at phone and desktop widths (screenshots for
people to look at); the host console imports entries with the waterfall; the draw stage
reveals winners with their checks; keyboard order and accessible names."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.liveserver import LiveServer
from tests.web.browser import DESKTOP, PHONE, open_page, shot, sign_in

DEMO_PAGES = (
    "auction", "sale", "dutch", "sealed", "reverse", "multi", "draw", "certificate", "host", "verify",
)  # fmt: skip


def demo_links(server: LiveServer) -> dict[str, str]:
    links: dict[str, str] = httpx.get(server.http + "/web/config", timeout=10).json()["links"]
    return links


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375", "1280"])
def test_every_demo_page_renders_cleanly(
    server: LiveServer, browser: Browser, viewport: dict[str, int]
) -> None:
    links = demo_links(server)
    ctx = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    w = open_page(ctx, server.http + "/")
    expect(w.page.locator("#links a")).to_have_count(len(links))
    shot(w.page, "home")
    for name in DEMO_PAGES:
        w.page.goto(server.http + links[name])
        w.page.wait_for_selector("body[data-ready='1']", state="attached", timeout=15_000)
        if name == "draw":
            w.page.wait_for_selector("body[data-revealed='1']", state="attached", timeout=20_000)
        if name == "certificate":
            expect(w.page.locator("#verdict")).to_have_attribute("data-ok", "true")
        width = w.page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name}: horizontal scroll ({width} px)"
        shot(w.page, f"demo-{name}")
    w.assert_clean()
    ctx.close()


def test_draw_stage_reveals_winners_with_green_checks(server: LiveServer, browser: Browser) -> None:
    links = demo_links(server)
    ctx = browser.new_context(viewport=DESKTOP)
    w = open_page(ctx, server.http + links["draw"])
    w.page.wait_for_selector("body[data-revealed='1']", state="attached", timeout=20_000)
    expect(w.page.locator("#winners li")).to_have_count(3)
    expect(w.page.locator("#alternates li")).to_have_count(2)
    expect(w.page.locator("#winners .tick.ok")).to_have_count(3)
    expect(w.page.locator("#alternates .tick.ok")).to_have_count(2)
    w.assert_clean()
    ctx.close()


def test_host_imports_entries_and_commits_a_draw(server: LiveServer, browser: Browser) -> None:
    csv = "\n".join(
        [
            "platform,user_id,handle,text,created_at",
            "instagram,1,@ana,I'm in #giveaway @a @b,1",
            "instagram,2,@ben,no tag here @a @b,2",
            "instagram,3,@cleo,#giveaway @a,3",
            "instagram,1,@ana,again #giveaway @c @d,4",
            "instagram,4,@brand,#giveaway @a @b,5",
            "instagram,5,@dan,#Giveaway @x @y,6",
            "instagram,6,@eve,#giveaway @x @y,7",
        ]
    )
    ctx = browser.new_context(viewport=DESKTOP)
    w = open_page(ctx, server.http + "/host")
    page = w.page
    sign_in(page, "hostess")
    expect(page.locator("#host-lead")).to_have_text("Signed in as host hostess.")
    page.click("#tab-draw")
    page.fill("#d-title", "Spring giveaway")
    page.fill("#d-entries", csv)
    page.fill("#d-tags", "#giveaway")
    page.fill("#d-mentions", "2")
    page.fill("#d-exclude", "@brand")
    page.fill("#d-winners", "2")
    page.fill("#d-alternates", "1")
    page.fill("#d-reveal", "5")
    page.click("#d-preview")
    expect(page.locator("#d-excluded tr[data-row]")).to_have_count(4)
    expect(page.locator("#d-waterfall tr[data-reason='missing_hashtag'] td").nth(1)).to_have_text("1")
    reasons = {
        "2": "Missing hashtag", "3": "Too few mentions", "4": "Duplicate entry", "5": "Excluded accounts",
    }  # fmt: skip
    for row, reason in reasons.items():  # data rows, 1-based, as in the export
        expect(page.locator(f"#d-excluded tr[data-row='{row}'] td").nth(2)).to_have_text(reason)
    page.click("#d-submit")
    expect(page.locator("#d-link")).to_be_visible()
    shot(page, "host-draw")
    page.click("#d-link")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    expect(page.locator("#stage-count")).not_to_have_text("—")
    shot(page, "stage-countdown")
    page.wait_for_selector("body[data-revealed='1']", state="attached", timeout=30_000)
    expect(page.locator("#winners .tick.ok")).to_have_count(2)
    shot(page, "stage-revealed")

    page.goto(server.http + "/host")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.fill("#a-title", "Console lot")
    page.fill("#a-price", "15")
    page.click("#a-submit")
    expect(page.locator("#a-link")).to_be_visible()
    room = (page.locator("#a-link").text_content() or "").rsplit("/", 1)[-1]
    page.click("#tab-sale")
    page.fill("#s-title", "Console sale")
    page.click("#s-submit")
    expect(page.locator("#s-link")).to_be_visible()
    sale = (page.locator("#s-link").text_content() or "").rsplit("/", 1)[-1]
    page.click("#tab-live")
    expect(page.locator(f"#rooms tr[data-room='{room}']")).to_be_visible()
    shot(page, "host-live")
    page.click(f"#rooms tr[data-room='{sale}'] button")  # a host may close a sale at any time
    expect(page.locator("#live-result")).to_have_text(f"{sale} closed.")
    w.assert_clean()
    ctx.close()


def test_keyboard_order_and_accessible_names(server: LiveServer, browser: Browser) -> None:
    links = demo_links(server)
    ctx = browser.new_context(viewport=DESKTOP)
    w = open_page(ctx, server.http + links["auction"])
    page = w.page
    sign_in(page, "kim")
    page.goto(server.http + links["auction"])
    page.wait_for_selector("body[data-ready='1']", state="attached")
    tree = page.locator("main").aria_snapshot()
    for name in ("Your bid", "Maximum bid (we bid for you up to it)"):
        assert f'textbox "{name}"' in tree, tree
    for name in ("Bid now", "Set maximum bid"):
        assert f'button "{name}"' in tree, tree
    assert "timer" in tree and "status" in tree
    order = []
    for _ in range(12):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
    assert order[0] == "Skip to content"
    assert order.index("bid-amount") < order.index("bid-submit") < order.index("proxy-amount")
    # Bid with the keyboard alone: the next valid amount is pre-filled.
    page.focus("#bid-amount")
    page.keyboard.press("Enter")
    expect(page.locator("#bid-feedback")).to_have_text("Bid accepted.")
    for name in ("verify", "sale", "host"):
        page.goto(server.http + links[name])
        page.wait_for_selector("body[data-ready='1']", state="attached")
        unlabeled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea, button')]
                .filter(e => !e.closest('[hidden]') && e.type !== 'hidden')
                .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                             && !e.textContent.trim())
                .map(e => e.id || e.outerHTML.slice(0, 60))"""
        )
        assert unlabeled == [], f"{name}: controls without a label: {unlabeled}"
    w.assert_clean()
    ctx.close()
