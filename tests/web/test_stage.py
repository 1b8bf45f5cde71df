"""The draw stage page on the real server: a viewer of the draw's room over the WebSocket.

One browser context joins before the beacon (it sees the countdown, then every winner as
its ``revealed`` event arrives), another joins after the first reveal (its snapshot holds
the winners so far, the rest arrive live); both end with the certificate's winners, in
its order, each one's check green."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.liveserver import LiveServer
from tests.web.browser import DESKTOP, open_page, shot

WINNERS = 3
INTERVAL_MS = 2000
DELAY_MS = 4000


def shown_winners(page: Page) -> list[tuple[str, str, str]]:
    rows: list[list[str]] = page.eval_on_selector_all(
        "#winners li",
        "lis => lis.map(li => [li.dataset.position, li.dataset.index,"
        " li.querySelector('.handle').textContent])",
    )
    return [(p, i, h) for p, i, h in rows]


def test_stage_follows_the_room_early_and_late_viewers_end_with_the_same_winners(
    server: LiveServer, browser: Browser
) -> None:
    headers = {"authorization": f"Bearer {server.token('host-stage', 'host')}"}
    rows = ["platform,user_id,handle,text,created_at"]
    rows += [f"instagram,{100 + i},@stagefan{i},#win,1700000000000" for i in range(20)]
    with httpx.Client(base_url=server.http, headers=headers, timeout=15) as http:
        r = http.post(
            "/draws",
            json={
                "title": "Stage test draw",
                "winners": WINNERS,
                "alternates": 1,
                "beacon": {"kind": "commit-reveal", "delay_ms": DELAY_MS},
                "reveal_interval_ms": INTERVAL_MS,
            },
        )
        assert r.status_code == 201, r.text
        draw_id = r.json()["id"]
        r = http.post(f"/draws/{draw_id}/entries", content="\n".join(rows).encode())
        assert r.status_code == 200, r.text
        assert http.post(f"/draws/{draw_id}/commit").status_code == 200
        run = http.post(f"/draws/{draw_id}/run")
        assert run.status_code == 202 and run.json()["status"] == "scheduled", run.text

        early_ctx = browser.new_context(viewport=DESKTOP)
        early = open_page(early_ctx, f"{server.http}/stage/{draw_id}")
        page = early.page
        # Before the beacon: a countdown from the stream, no winner yet.
        expect(page.locator("#stage-count")).to_have_attribute("data-state", "scheduled")
        expect(page.locator("#stage-count")).to_have_text(re.compile(r"^\d\d:\d\d$"))
        assert page.locator("#winners li").count() == 0
        expect(page.locator("#draw-title")).to_have_text("Stage test draw")
        shot(page, "stage-live-countdown")

        # The first reveal arrives live; then a second viewer joins late.
        expect(page.locator("#winners li")).to_have_count(1, timeout=DELAY_MS + INTERVAL_MS + 10_000)
        late_ctx = browser.new_context(viewport=DESKTOP)
        late = open_page(late_ctx, f"{server.http}/stage/{draw_id}")
        late.page.wait_for_selector("body[data-snapshot-revealed]", state="attached", timeout=10_000)
        from_snapshot = int(late.page.evaluate("document.body.dataset.snapshotRevealed"))
        assert from_snapshot >= 1, "the late joiner's snapshot holds the winners revealed so far"

        for w in (early, late):
            w.page.wait_for_selector(
                "body[data-revealed='1']", state="attached", timeout=WINNERS * INTERVAL_MS + 15_000
            )
            expect(w.page.locator("#winners .tick.ok")).to_have_count(WINNERS)
            expect(w.page.locator("#alternates .tick.ok")).to_have_count(1)
            expect(w.page.locator("#f-cert a")).to_have_attribute("href", re.compile(r"^/v/[0-9a-f]{64}$"))
        shot(page, "stage-live-revealed")
        assert page.evaluate("document.body.dataset.snapshotRevealed") == "0", "joined before the reveal"
        assert page.evaluate("document.body.dataset.liveRevealed") == str(WINNERS), "every winner came live"
        late_live = late.page.evaluate("document.body.dataset.liveRevealed || '0'")
        assert int(late_live) == WINNERS - from_snapshot, "the rest came live to the late joiner"

        cert = http.get(f"/draws/{draw_id}/certificate").json()
        expected = [(str(w["position"]), str(w["index"]), w["handle"]) for w in cert["body"]["winners"]]
        assert shown_winners(page) == expected
        assert shown_winners(late.page) == expected
        for w in (early, late):
            w.assert_clean()
        # No such draw: the room answers not_found and the page says so.
        nowhere = open_page(late_ctx, f"{server.http}/stage/d_nope")
        expect(nowhere.page.locator("#draw-title")).to_have_text("No such draw.")
        nowhere.assert_clean()
        early_ctx.close()
        late_ctx.close()
