// The host console: create auctions, flash sales and draws (with the filter waterfall and
// each excluded row's reason), close rooms, watch live stats, manage webhooks and keys.
import {
  announce, api, applyI18n, currentUser, demoSignIn, el, formatMoney, onLangChange, parseMoney, renderHeader,
  serverConfig, t, tokenClaims,
} from "./common.js";

const $ = (id) => document.getElementById(id);
const MIN = 60_000;

function fail(box, err) { announce(box, `${err.code || "error"}: ${err.message}`, "bad"); }

function tabs() {
  const all = [...document.querySelectorAll("[role=tab]")];
  const select = (tab) => {
    for (const x of all) {
      const on = x === tab;
      x.setAttribute("aria-selected", String(on));
      x.tabIndex = on ? 0 : -1;
      $(x.getAttribute("aria-controls")).hidden = !on;
    }
    if (tab.id === "tab-live") refresh();
    if (tab.id === "tab-hooks") loadHooks();
  };
  all.forEach((tab, i) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (e) => {
      const j = e.key === "ArrowRight" ? (i + 1) % all.length : e.key === "ArrowLeft" ? (i - 1 + all.length) % all.length : null;
      if (j !== null) { e.preventDefault(); all[j].focus(); select(all[j]); }
    });
  });
}

async function createAuction(e) {
  e.preventDefault();
  const box = $("a-result");
  const fmt = $("a-format").value;
  const now = Date.now();
  const end = now + Math.max(1, Number($("a-minutes").value) || 30) * MIN;
  const price = parseMoney($("a-price").value, "EUR");
  const reserve = $("a-reserve").value ? parseMoney($("a-reserve").value, "EUR") : null;
  if (!$("a-title").value.trim() || !price) { announce(box, t("fill_title_price"), "bad"); return; }
  const params = { currency: "EUR", start: now };
  if (fmt === "english") Object.assign(params, { opening: price, end, close: $("a-soft").checked ? "soft" : "hard" }, reserve ? { reserve } : {});
  if (fmt === "dutch") Object.assign(params, { start_price: price, step: Math.max(1, Math.floor(price / 50)), tick_ms: 2000, floor: reserve || Math.floor(price / 5) });
  if (fmt === "sealed") Object.assign(params, { end, reveal_end: end + 30 * MIN, reserve: reserve || 1 });
  if (fmt === "reverse") Object.assign(params, { end, ceiling: price, close: $("a-soft").checked ? "soft" : "hard" });
  if (fmt === "callauction") Object.assign(params, { end, units: 10, reserve: reserve || price });
  try {
    const a = await api("/auctions", { method: "POST", body: { format: fmt, params } });
    await api(`/web/items/${a.id}`, { method: "PUT", body: { title: $("a-title").value.trim(), description: $("a-desc").value.trim() } });
    box.replaceChildren(t("created"), " ", el("a", { href: `/room/${a.id}`, id: "a-link" }, `/room/${a.id}`));
    box.className = "notice good";
  } catch (err) { fail(box, err); }
}

async function createSale(e) {
  e.preventDefault();
  const box = $("s-result");
  const now = Date.now();
  const price = parseMoney($("s-price").value, "EUR");
  if (!$("s-title").value.trim() || !price) { announce(box, t("fill_title_price"), "bad"); return; }
  const params = {
    currency: "EUR", price, stock: Number($("s-stock").value), per_buyer_limit: Number($("s-limit").value),
    hold_ttl_ms: Number($("s-hold").value) * MIN, start: now, end: now + Number($("s-minutes").value) * MIN,
  };
  try {
    const s = await api("/sales", { method: "POST", body: { params } });
    await api(`/web/items/${s.id}`, { method: "PUT", body: { title: $("s-title").value.trim(), description: "" } });
    box.replaceChildren(t("created"), " ", el("a", { href: `/sale/${s.id}`, id: "s-link" }, `/sale/${s.id}`));
    box.className = "notice good";
  } catch (err) { fail(box, err); }
}

async function drawBody() {
  const file = $("d-file").files[0];
  const entries = file ? await file.text() : $("d-entries").value;
  return {
    title: $("d-title").value.trim() || "Giveaway",
    entries,
    rules: {
      one_per_user: $("d-one").checked, required_hashtags: $("d-tags").value, min_mentions: Number($("d-mentions").value) || 0,
      exclude: $("d-exclude").value,
    },
    winners: Number($("d-winners").value) || 1, alternates: Number($("d-alternates").value) || 0,
    reveal_in_s: Number($("d-reveal").value) || 30,
  };
}

function showPreview(p) {
  const wf = p.waterfall;
  $("d-preview-box").hidden = false;
  $("d-waterfall").replaceChildren(
    el("tr", {}, el("th", { scope: "col" }, t("step_col")), el("th", { scope: "col", class: "num" }, t("dropped")), el("th", { scope: "col", class: "num" }, t("remaining"))),
    el("tr", {}, el("td", {}, t("imported_rows")), el("td", { class: "num" }), el("td", { class: "num" }, String(wf.raw))),
    ...wf.steps.map((s) => el("tr", { "data-reason": s.reason }, el("td", {}, t(`reason_${s.reason}`)), el("td", { class: "num" }, String(s.dropped)), el("td", { class: "num" }, String(s.remaining)))),
    el("tr", {}, el("th", { scope: "row" }, t("eligible")), el("td", { class: "num" }), el("td", { class: "num" }, String(wf.eligible))),
  );
  $("d-excluded").replaceChildren(
    el("tr", {}, el("th", { scope: "col" }, t("row")), el("th", { scope: "col" }, t("entrant")), el("th", { scope: "col" }, t("reason"))),
    ...p.excluded.map((x) => el("tr", { "data-row": String(x.row) }, el("td", {}, String(x.row)), el("td", {}, x.who), el("td", {}, t(`reason_${x.reason}`)))),
  );
}

async function previewDraw() {
  const box = $("d-result");
  try { showPreview(await api("/web/draws/preview", { method: "POST", body: await drawBody() })); announce(box, ""); } catch (err) { fail(box, err); }
}

async function createDraw(e) {
  e.preventDefault();
  const box = $("d-result");
  try {
    const d = await api("/web/draws", { method: "POST", body: await drawBody() });
    showPreview(d);
    box.replaceChildren(t("draw_committed", { hash: d.commitment_hash.slice(0, 16) }), " ", el("a", { href: `/stage/${d.id}`, id: "d-link" }, t("open_stage")));
    box.className = "notice good";
  } catch (err) { fail(box, err); }
}

async function refresh() {
  if (!currentUser()) return;
  const box = $("live-result");
  try {
    const [auctions, sales, stats, draws] = await Promise.all([api("/auctions"), api("/sales"), api("/web/stats"), api("/web/draws")]);
    const viewers = new Map(stats.rooms.map((r) => [r.room, r.viewers]));
    const rows = [...auctions.auctions.map((a) => ({ ...a, kind: "auctions", page: "room" })), ...sales.sales.map((s) => ({ ...s, kind: "sales", page: "sale" }))];
    const now = Date.now();
    const open = rows.filter((r) => r.status !== "closed").slice(0, 20);
    const perMin = await Promise.all(open.map(async (r) => {
      try {
        const ev = await api(`/${r.kind}/${r.id}/events`);
        return ev.events.filter((x) => x.type !== "created" && x.time >= now - MIN).length;
      } catch { return 0; }
    }));
    $("rooms").replaceChildren(
      el("tr", {}, ...["room_col", "format", "status", "price", "viewers", "per_minute", ""].map((k) => el("th", { scope: "col" }, k ? t(k) : ""))),
      ...open.map((r, i) => el("tr", { "data-room": r.id },
        el("td", {}, el("a", { href: `/${r.page}/${r.id}` }, r.id)), el("td", {}, t(`format_${r.format}`) !== `format_${r.format}` ? r.format : r.format),
        el("td", {}, r.status), el("td", { class: "num" }, r.price === null ? "—" : formatMoney(r.price, r.currency || "EUR")),
        el("td", { class: "num", "data-viewers": "" }, String(viewers.get(r.id) ?? 0)), el("td", { class: "num" }, String(perMin[i])),
        el("td", {}, el("button", { type: "button", class: "secondary", "aria-label": t("close_room", { id: r.id }), onclick: () => closeRoom(r) }, t("close_now"))))),
    );
    $("draws").replaceChildren(
      el("tr", {}, ...["draw", "status", "winners", ""].map((k) => el("th", { scope: "col" }, k ? t(k) : ""))),
      ...draws.draws.map((d) => el("tr", {},
        el("td", {}, el("a", { href: `/stage/${d.id}` }, d.title)), el("td", {}, d.status), el("td", {}, String(d.waterfall?.eligible ?? "—")),
        el("td", {}, d.certificate_hash ? el("a", { href: `/v/${d.certificate_hash}` }, t("open_certificate")) : ""))),
    );
  } catch (err) { fail(box, err); }
}

async function closeRoom(r) {
  try { await api(`/${r.kind}/${r.id}/close`, { method: "POST" }); announce($("live-result"), t("closed_ok", { id: r.id }), "good"); refresh(); } catch (err) { fail($("live-result"), err); }
}

async function loadHooks() {
  if (!currentUser()) return;
  try {
    const data = await api("/webhooks");
    const list = data.webhooks || data || [];
    $("hooks").replaceChildren(
      el("tr", {}, el("th", { scope: "col" }, "URL"), el("th", { scope: "col" }, t("webhook_events")), el("th", { scope: "col" }, "")),
      ...list.map((h) => el("tr", {}, el("td", { class: "mono" }, h.url), el("td", {}, (h.events || []).join(", ")),
        el("td", {}, el("button", { type: "button", class: "secondary", onclick: async () => { await api(`/webhooks/${h.id}`, { method: "DELETE" }); loadHooks(); } }, t("delete"))))),
    );
  } catch (err) { fail($("h-result"), err); }
}

async function addHook(e) {
  e.preventDefault();
  const events = [...document.querySelectorAll("input[name=h-ev]:checked")].map((x) => x.value);
  try {
    const h = await api("/webhooks", { method: "POST", body: { url: $("h-url").value.trim(), events } });
    announce($("h-result"), t("webhook_added", { secret: h.secret }), "good");
    loadHooks();
  } catch (err) { fail($("h-result"), err); }
}

async function mintKey() {
  const cfg = await serverConfig();
  if (!cfg.demo) { announce($("h-result"), t("keys_cli_only"), "warn"); return; }
  const r = await fetch("/web/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: currentUser() || "host", role: "host" }) });
  const data = await r.json();
  $("k-out").hidden = false;
  $("k-out").value = data.token;
}

function renderIdentity() {
  const claims = tokenClaims();
  const ok = claims && (claims.role === "host" || claims.role === "admin");
  $("host-lead").textContent = ok ? t("host_lead_ok", { user: claims.sub }) : claims ? t("host_need_role") : t("host_signin");
  for (const b of document.querySelectorAll("main button[type=submit], #d-preview")) b.disabled = !ok;
}

async function main() {
  await renderHeader({ active: "/host", role: "host" });
  tabs();
  $("auction-form").addEventListener("submit", createAuction);
  $("sale-form").addEventListener("submit", createSale);
  $("draw-form").addEventListener("submit", createDraw);
  $("d-preview").addEventListener("click", previewDraw);
  $("refresh").addEventListener("click", refresh);
  $("hook-form").addEventListener("submit", addHook);
  $("k-mint").addEventListener("click", mintKey);
  $("a-format").addEventListener("change", () => {
    const f = $("a-format").value;
    $("a-price-label").textContent = t(f === "dutch" ? "start_price" : f === "reverse" ? "ceiling" : f === "english" ? "opening_bid" : "reserve");
  });
  window.addEventListener("fairlot:identity", renderIdentity);
  onLangChange(renderIdentity);
  renderIdentity();
  applyI18n();
  document.body.dataset.ready = "1";
  void demoSignIn;
}
main();
