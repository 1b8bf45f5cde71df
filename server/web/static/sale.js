// The flash-sale page: waiting room position and ETA, stock left, reserve -> hold timer
// -> confirm, per-customer limit. Same resume logic as the auction room (live.js).
import {
  api, announce, applyI18n, currentUser, fmtDuration, formatMoney, getToken, onLangChange, renderHeader, t,
} from "./common.js";
import { Live } from "./live.js";

const $ = (id) => document.getElementById(id);
const saleId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const S = { params: {}, currency: "EUR", sold: 0, held: 0, holds: new Map(), closed: false, queue: null, mine: { bought: 0, held: 0, waiting: 0 } };
let live = null;

function recountMine() {
  const me = currentUser();
  S.mine.held = 0;
  for (const h of S.holds.values()) if (h.buyer === me) S.mine.held += h.qty;
}

function apply(e) {
  const d = e.data, me = currentUser();
  switch (e.kind) {
    case "created": S.params = d.params || {}; S.currency = S.params.currency || "EUR"; break;
    case "hold_placed": S.held += d.qty; S.holds.set(d.hold_id, { buyer: d.buyer, qty: d.qty, expires: d.expires }); if (d.buyer === me && d.from_waitlist) S.mine.waiting = 0; break;
    case "purchased": {
      const h = S.holds.get(d.hold_id); S.holds.delete(d.hold_id);
      S.held -= h ? h.qty : d.qty; S.sold += d.qty;
      if (d.buyer === me) S.mine.bought += d.qty;
      break;
    }
    case "hold_released": { const h = S.holds.get(d.hold_id); if (h) { S.held -= h.qty; S.holds.delete(d.hold_id); } break; }
    case "waitlisted": if (d.buyer === me) S.mine.waiting += d.qty; break;
    case "waitlist_left": if (d.buyer === me) S.mine.waiting = 0; break;
    case "sale_closed": S.closed = true; S.held = 0; S.holds.clear(); break;
    default: break;
  }
  recountMine();
}

function myHold() {
  const me = currentUser();
  for (const [id, h] of S.holds) if (h.buyer === me) return { id, ...h };
  return null;
}

function now() { return live ? live.now() : Date.now(); }

function render() {
  const p = S.params;
  $("price").textContent = formatMoney(p.price, S.currency);
  const left = Math.max(0, (p.stock ?? 0) - S.sold - S.held);
  $("stock-text").textContent = t("stock_left", { left, stock: p.stock ?? 0, held: S.held });
  $("stock-bar").style.width = `${p.stock ? (100 * left) / p.stock : 0}%`;
  const meter = $("stock-meter");
  meter.setAttribute("aria-valuemax", String(p.stock ?? 0));
  meter.setAttribute("aria-valuenow", String(left));
  const limit = p.per_buyer_limit ?? 1;
  $("limit-badge").textContent = t("per_buyer_limit", { n: limit, mine: S.mine.bought + S.mine.held });
  const room = Math.max(0, limit - S.mine.bought - S.mine.held - S.mine.waiting);
  const qty = $("qty");
  qty.max = String(Math.max(1, room));
  $("qty-hint").textContent = t("you_may_buy", { n: room });
  const me = currentUser();
  const hold = myHold();
  const admitted = !S.queue || S.queue.admitted;
  $("hold-form").hidden = Boolean(hold) || S.closed || room === 0;
  $("hold-button").disabled = !me || !admitted || left === 0;
  $("hold-box").hidden = !hold;
  if (hold) $("hold-text").textContent = t("hold_text", { n: hold.qty, price: formatMoney(hold.qty * p.price, S.currency) });
  if (!hold && room === 0 && S.mine.bought > 0 && !$("sale-feedback").textContent) announce($("sale-feedback"), t("limit_reached_bought", { n: S.mine.bought }), "good");
  if (S.closed) announce($("sale-feedback"), t("sale_closed"), "warn");
  renderQueue();
  tick();
}

function renderQueue() {
  const me = currentUser();
  const q = S.queue;
  $("queue-kv").hidden = !q || q.admitted;
  if (!me) { $("queue-text").textContent = t("queue_sign_in"); return; }
  if (!q) { $("queue-text").textContent = t("queue_joining"); return; }
  if (q.admitted) { $("queue-text").textContent = t("queue_admitted"); return; }
  $("queue-text").textContent = t("queue_waiting");
  $("queue-pos").textContent = `#${q.position}`;
  $("queue-eta").textContent = t("about", { time: fmtDuration(q.eta_ms) });
}

function tick() {
  const p = S.params, n = now();
  const target = n < (p.start ?? 0) ? p.start : p.end;
  $("sale-clock-label").textContent = n < (p.start ?? 0) ? t("starts_in") : t("ends_in");
  $("sale-clock").textContent = S.closed ? t("closed") : target ? fmtDuration(target - n) : "—";
  const hold = myHold();
  if (hold) {
    const leftMs = hold.expires - n;
    const timer = $("hold-timer");
    timer.textContent = leftMs > 0 ? fmtDuration(leftMs) : t("hold_expiring");
    timer.classList.toggle("urgent", leftMs < 30_000);
    timer.setAttribute("aria-label", t("hold_expires_in", { time: timer.textContent }));
  }
}

async function send(button, msg) {
  button.disabled = true;
  announce($("sale-feedback"), t("sending"));
  try { await live.command(msg); return true; } catch (err) {
    const key = `err_${err.code}`;
    announce($("sale-feedback"), t(key) !== key ? t(key) : `${err.code}: ${err.message}`, "bad");
    return false;
  } finally { button.disabled = false; render(); }
}

async function main() {
  await renderHeader();
  const [view, hist] = await Promise.all([api(`/sales/${encodeURIComponent(saleId)}`), api(`/sales/${encodeURIComponent(saleId)}/events`)]);
  for (const e of hist.events) apply({ ...e, kind: e.type });
  S.closed = S.closed || view.status === "closed";
  try {
    const item = await api(`/web/items/${encodeURIComponent(saleId)}`);
    $("item-title").textContent = item.title || saleId;
    $("item-desc").textContent = item.description || "";
  } catch { $("item-title").textContent = saleId; }
  const seq = hist.events.length ? hist.events[hist.events.length - 1].seq : 0;
  live = new Live({ room: saleId, token: getToken(), seq, handlers: {
    status: (state) => { $("conn").dataset.state = state; $("conn-text").textContent = t(`conn_${state}`); },
    event: (e) => {
      apply(e);
      render();
      const me = currentUser();
      if (e.kind === "purchased" && e.data.buyer === me) announce($("sale-feedback"), t("purchased", { n: e.data.qty }), "good");
      if (e.kind === "waitlisted" && e.data.buyer === me) announce($("sale-feedback"), t("waitlisted"), "warn");
      if (e.kind === "hold_released" && e.data.reason === "expired" && !myHold()) announce($("sale-feedback"), t("err_hold_expired"), "bad");
    },
    notice: (e) => { if (e.kind === "waiting_room") { S.queue = e.data; render(); } },
    snapshot: () => {},
  } });
  live.connect();
  $("hold-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const quantity = Math.max(1, Number($("qty").value) || 1);
    if (await send($("hold-button"), { type: "hold", quantity })) announce($("sale-feedback"), t("held_ok"), "good");
  });
  $("confirm-button").addEventListener("click", async () => {
    const hold = myHold();
    if (hold) await send($("confirm-button"), { type: "confirm", hold_id: hold.id });
  });
  window.addEventListener("fairlot:identity", () => { S.queue = null; S.mine = { bought: 0, held: 0, waiting: 0 }; location.reload(); });
  onLangChange(render);
  setInterval(tick, 250);
  render();
  applyI18n();
  document.body.dataset.ready = "1";
}
main();
