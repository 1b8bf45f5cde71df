// The auction room: live price, countdown, bidding, history, for every format.
// State comes from the public history (REST) folded event by event, then the live tail
// over the WebSocket from the last seq: one code path for first load and for resume.
import {
  api, announce, applyI18n, currencySymbol, currentUser, displayName, el, fmtDuration, fmtSpan, fmtTime,
  formatMoney, getToken, moneyInputValue, onLangChange, parseMoney, renderHeader, t,
} from "./common.js";
import { Live } from "./live.js";
import { sealedCommitment, randomHex } from "./crypto.js";

const $ = (id) => document.getElementById(id);
const roomId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");

const S = {
  format: "english", currency: "EUR", params: {}, status: "open", price: null, leader: null, bids: 0,
  reserveMet: null, hasReserve: false, end: null, buyNow: null, result: null, history: [],
  // dutch
  clockStart: 0, clockPrice: 0, remaining: 0,
  // sealed
  commits: new Map(), reveals: new Map(),
  // reverse
  offers: new Map(), best: null,
  // callauction
  callBids: 0,
};
let live = null;
let myMax = null; // our own maximum (English): never sent to anyone else
let wasLeader = false;
let lastEnd = null;

function inc(price) {
  const rows = S.params.increments || [[null, 1]];
  for (const [below, step] of rows) if (below === null || price < below) return step;
  return rows[rows.length - 1][1];
}

// ------------------------------------------------------------------ folding events

function apply(e, fromHistory = false) {
  const d = e.data;
  const me = currentUser();
  switch (e.kind) {
    case "created":
      S.params = d.params || {};
      S.format = d.kind || S.format;
      S.currency = S.params.currency || S.currency;
      if (S.format === "english") { S.price = S.params.opening; S.end = S.params.end; }
      if (S.format === "reverse") S.end = S.params.end;
      if (S.format === "sealed") S.end = S.params.end;
      if (S.format === "callauction") S.end = S.params.end;
      if (S.format === "dutch") { S.clockStart = S.params.start || e.time; S.clockPrice = S.params.start_price; S.remaining = S.params.quantity ?? 1; }
      return;
    case "bid": {
      if (S.format === "english") {
        const before = S.leader;
        S.price = d.price; S.leader = d.leader; S.reserveMet = d.reserve_met; S.bids += 1; S.buyNow = null;
        if (d.end !== undefined && d.end !== null) S.end = d.end;
        addHistory(e, { who: d.bidder, amount: d.price, note: d.leader !== d.bidder ? t("auto_bid_held", { who: displayName(d.leader) }) : "" });
        void before;
      }
      return;
    }
    case "bought": S.status = "closed"; S.price = d.price; S.leader = d.bidder; addHistory(e, { who: d.bidder, amount: d.price, note: t("bought_now") }); return;
    case "retracted": S.price = d.price; S.leader = d.leader; S.reserveMet = d.reserve_met; addHistory(e, { who: d.bidder, amount: null, note: t("retracted", { reason: d.reason }) }); return;
    case "closed": S.status = "closed"; S.result = d.awards || []; if (d.price !== undefined && d.price !== null) S.price = d.price; return;
    case "offer": {
      S.offers.set(d.supplier, d.amount);
      S.best = d.best; S.leader = d.leader; if (d.end) S.end = d.end; S.bids += 1;
      addHistory(e, { who: d.supplier, amount: rankOnly() ? null : d.amount, note: rankOnly() ? t("offer_made") : "" });
      return;
    }
    case "sold":
      S.remaining = d.remaining; S.clockStart = d.clock_start ?? e.time; S.clockPrice = S.params.restart_price ?? S.params.start_price;
      S.bids += 1;
      if (d.remaining === 0) S.status = "closed";
      addHistory(e, { who: d.buyer, amount: d.price, note: t("units_bought", { n: d.quantity }) });
      return;
    case "lapsed": S.status = "closed"; return;
    case "committed": S.commits.set(d.bidder, d.commitment); S.bids += 1; addHistory(e, { who: d.bidder, amount: null, note: t("committed") }); return;
    case "revealed": S.reveals.set(d.bidder, d.amount); addHistory(e, { who: d.bidder, amount: d.amount, note: t("revealed") }); return;
    case "bid_placed": S.callBids += 1; S.bids += 1; addHistory(e, { who: e.actor || "", amount: d.price, note: t("units_bid", { n: d.qty }) }); return;
    case "auction_cleared": S.status = "closed"; S.result = (d.allocations || []).map(([, bidder, qty, price]) => ({ bidder, quantity: qty, price })); return;
    default: return;
  }
  void fromHistory; void me;
}

function addHistory(e, entry) { S.history.unshift({ seq: e.seq, time: e.time, ...entry }); }

function rankOnly() { return S.format === "reverse" && S.params.feedback === "rank_only"; }

// ------------------------------------------------------------------ rendering

function nowMs() { return live ? live.now() : Date.now(); }

function dutchPrice(now) {
  const p = S.params;
  if (now <= S.clockStart) return S.clockPrice;
  return Math.max(p.floor ?? 0, S.clockPrice - p.step * Math.floor((now - S.clockStart) / p.tick_ms));
}

function dutchLapse() {
  const p = S.params;
  return S.clockStart + (Math.ceil((S.clockPrice - (p.floor ?? 0)) / p.step) + 1) * p.tick_ms;
}

function sealedPhase(now) {
  const p = S.params;
  if (S.status === "closed") return "closed";
  if (now < (p.start ?? 0)) return "before";
  if (now < p.end) return "commit";
  if (now < p.reveal_end) return "reveal";
  return "closing";
}

function minNext() {
  const me = currentUser();
  if (S.format === "english") {
    if (S.leader === null) return S.params.opening;
    if (me && S.leader === me) return (myMax ?? S.price) + 1;
    return S.price + inc(S.price);
  }
  if (S.format === "reverse") {
    const own = me ? S.offers.get(me) : undefined;
    const dec = (x) => S.params.decrement_mode === "bps" ? Math.ceil((x * S.params.decrement) / 10000) : S.params.decrement;
    if (own !== undefined) return own - dec(own);
    return S.params.ceiling ?? null;
  }
  if (S.format === "callauction") return S.params.reserve ?? 1;
  return null;
}

function renderAll() {
  const me = currentUser();
  const fmtKey = `format_${S.format}`;
  $("format-label").textContent = t(fmtKey);
  for (const c of document.querySelectorAll(".cur")) c.textContent = currencySymbol(S.currency);
  // price
  let priceText = formatMoney(S.price, S.currency);
  let priceLabel = t("current_price");
  if (S.format === "dutch") { priceText = formatMoney(dutchPrice(nowMs()), S.currency); priceLabel = t("clock_price"); }
  if (S.format === "reverse") { priceLabel = rankOnly() ? t("rank_only_view") : t("best_offer"); priceText = rankOnly() ? (me && S.offers.has(me) ? `#${myRank()}` : "—") : formatMoney(S.best || null, S.currency); }
  if (S.format === "sealed") { priceLabel = t("sealed_bids"); priceText = String(S.commits.size); }
  if (S.format === "callauction") { priceLabel = t("units_for_sale"); priceText = String(S.params.units ?? "—"); }
  const priceEl = $("price");
  if (priceEl.textContent !== priceText && priceEl.textContent !== "—") { priceEl.classList.remove("flash"); void priceEl.offsetWidth; priceEl.classList.add("flash"); }
  priceEl.textContent = priceText;
  $("price-label").textContent = priceLabel;
  // leader / reserve / count
  const leaderBadge = $("leader-badge");
  if (S.format === "english" || (S.format === "reverse" && !rankOnly())) {
    leaderBadge.hidden = false;
    leaderBadge.textContent = S.leader ? t("leader_is", { who: displayName(S.leader) }) : t("no_leader");
    leaderBadge.className = `badge ${S.leader && S.leader === me ? "good" : ""}`;
  } else if (S.format === "dutch") {
    leaderBadge.hidden = false; leaderBadge.className = "badge"; leaderBadge.textContent = t("units_left", { n: S.remaining });
  } else leaderBadge.hidden = true;
  const reserve = $("reserve-badge");
  reserve.hidden = S.format !== "english";
  if (S.format === "english") {
    if (!S.hasReserve) { reserve.className = "badge"; reserve.textContent = t("no_reserve"); }
    else if (S.reserveMet) { reserve.className = "badge good"; reserve.textContent = t("reserve_met"); }
    else { reserve.className = "badge warn"; reserve.textContent = t("reserve_not_met"); }
  }
  $("bids-badge").textContent = t("n_bids", { n: S.bids });
  renderCountdown();
  renderHistory();
  renderRules();
  renderForms();
  renderResult();
}

function myRank() {
  const me = currentUser();
  const mine = S.offers.get(me);
  if (mine === undefined) return null;
  let rank = 1;
  // ties: the earlier offer ranks first; offers map keeps first-insertion order
  for (const [who, amount] of S.offers) if (who !== me && (amount < mine)) rank += 1;
  return rank;
}

function renderCountdown() {
  const now = nowMs();
  let target = S.end, label = t("ends_in");
  if (S.format === "dutch") { target = S.status === "closed" ? null : now < S.clockStart ? S.clockStart : dutchLapse(); label = now < S.clockStart ? t("starts_in") : t("clock_lapses_in"); }
  if (S.format === "sealed") {
    const ph = sealedPhase(now);
    if (ph === "before") { target = S.params.start; label = t("starts_in"); }
    else if (ph === "commit") { target = S.params.end; label = t("commit_phase_ends"); }
    else if (ph === "reveal") { target = S.params.reveal_end; label = t("reveal_phase_ends"); }
    else target = null;
  }
  if (S.format !== "dutch" && S.format !== "sealed" && S.params.start && now < S.params.start) { target = S.params.start; label = t("starts_in"); }
  const cd = $("countdown");
  $("countdown-label").textContent = S.status === "closed" ? t("status") : label;
  if (S.status === "closed") { cd.textContent = t("closed"); cd.classList.remove("urgent"); cd.dataset.end = ""; return; }
  if (target === null || target === undefined) { cd.textContent = "—"; return; }
  const left = target - now;
  cd.textContent = left > 0 ? fmtDuration(left) : t("closing");
  cd.dataset.end = String(target);
  cd.classList.toggle("urgent", left > 0 && left < 60_000);
  cd.setAttribute("aria-label", `${label} ${cd.textContent}`);
  if (S.format === "dutch") $("price").textContent = formatMoney(dutchPrice(now), S.currency);
}

function renderHistory() {
  const list = $("history");
  const me = currentUser();
  list.replaceChildren(...S.history.slice(0, 50).map((h) => el("li", { class: h.who === me ? "mine" : "", "data-seq": String(h.seq) },
    el("span", { class: "who" }, displayName(h.who), h.note ? el("span", { class: "muted" }, ` · ${h.note}`) : null),
    el("span", { class: "amount" }, h.amount === null || h.amount === undefined ? "" : formatMoney(h.amount, S.currency)),
    el("span", { class: "when" }, fmtTime(h.time)))));
  $("history-empty").hidden = S.history.length > 0;
}

function renderRules() {
  const p = S.params;
  const rows = [];
  const money = (v) => formatMoney(v, S.currency);
  if (S.format === "english") {
    rows.push([t("opening_bid"), money(p.opening)]);
    if (p.close === "soft") rows.push([t("soft_close"), t("soft_close_rule", { window: fmtSpan(p.window), ext: fmtSpan(p.extension) })]);
    else rows.push([t("close"), t("hard_close")]);
    if (S.buyNow) rows.push([t("buy_now"), money(S.buyNow)]);
  } else if (S.format === "dutch") {
    rows.push([t("start_price"), money(p.start_price)], [t("step"), t("step_rule", { step: money(p.step), tick: fmtSpan(p.tick_ms) })], [t("floor"), money(p.floor ?? 0)], [t("quantity"), String(p.quantity ?? 1)]);
  } else if (S.format === "sealed") {
    rows.push([t("sealed_mode"), p.mode === "second" ? t("second_price") : t("first_price")], [t("reserve"), money(p.reserve ?? 1)]);
  } else if (S.format === "reverse") {
    rows.push([t("lowest_wins"), rankOnly() ? t("rank_only_feedback") : t("full_feedback")]);
    if (p.ceiling) rows.push([t("ceiling"), money(p.ceiling)]);
  } else if (S.format === "callauction") {
    rows.push([t("units_for_sale"), String(p.units)], [t("price_rule"), t(`rule_${p.price_rule || "uniform"}`)], [t("reserve"), money(p.reserve ?? 1)]);
  }
  if (S.end && S.format !== "dutch") rows.push([t("ends_at"), fmtTime(S.end)]);
  $("rules").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function setPrefill(input, minor) {
  if (minor === null || minor === undefined) return;
  const value = moneyInputValue(minor, S.currency);
  if (document.activeElement !== input || !input.value) input.value = value;
}

function renderForms() {
  const me = currentUser();
  const open = S.status !== "closed";
  $("signin-hint").hidden = Boolean(me) || !open;
  const usesAmount = ["english", "reverse", "callauction"].includes(S.format);
  $("bid-form").hidden = !usesAmount || !open;
  $("proxy-form").hidden = S.format !== "english" || !open;
  $("dutch-form").hidden = S.format !== "dutch" || !open;
  $("rank-card").hidden = S.format !== "reverse";
  $("bid-card").hidden = !open && S.format !== "sealed";
  const next = minNext();
  if (usesAmount) {
    setPrefill($("bid-amount"), next);
    $("bid-hint").textContent = next === null ? "" : S.format === "reverse" ? t("offer_at_most", { amount: formatMoney(next, S.currency) }) : t("next_valid", { amount: formatMoney(next, S.currency) });
    $("bid-amount-label").textContent = S.format === "reverse" ? t("your_offer") : t("your_bid");
    $("bid-submit").textContent = S.format === "reverse" ? t("make_offer") : t("bid_now");
  }
  if (S.format === "english" && next !== null) {
    const proxy = $("proxy-amount");
    if (!proxy.value) proxy.placeholder = moneyInputValue(next, S.currency);
  }
  if (S.format === "reverse") {
    $("your-offer").textContent = me && S.offers.has(me) ? formatMoney(S.offers.get(me), S.currency) : "—";
    const rank = myRank();
    $("your-rank").textContent = rank === null ? "—" : t("rank_of", { rank, n: S.offers.size });
  }
  if (S.format === "sealed") renderSealed();
  for (const b of document.querySelectorAll("#bid-card button[type=submit]")) b.disabled = !me;
}

function sealedKey() { return `fairlot.sealed.${roomId}.${currentUser()}`; }

function renderSealed() {
  const me = currentUser();
  const ph = sealedPhase(nowMs());
  const stored = me ? JSON.parse(localStorage.getItem(sealedKey()) || "null") : null;
  const committed = me && S.commits.has(me);
  const revealed = me && S.reveals.has(me);
  $("sealed-commit-form").hidden = !(ph === "commit" && !committed);
  $("sealed-reveal-form").hidden = !(ph === "reveal" && committed && !revealed);
  if (committed && !revealed) {
    $("sealed-reveal-text").textContent = stored ? t("reveal_ready", { amount: formatMoney(stored.amount, S.currency) }) : t("reveal_lost");
    $("sealed-reveal").disabled = !stored;
  }
  if (ph === "commit" && committed) announce($("bid-feedback"), t("sealed_committed_wait"), "good");
}

function renderResult() {
  const box = $("result");
  if (S.status !== "closed") { box.textContent = ""; return; }
  const awards = S.result || (S.leader ? [{ bidder: S.leader, price: S.price, quantity: 1 }] : []);
  if (!awards.length) { announce(box, S.format === "english" && S.hasReserve && !S.reserveMet ? t("closed_reserve_not_met") : t("closed_no_sale"), "warn"); return; }
  const me = currentUser();
  const parts = awards.map((a) => t("won_by", { who: displayName(a.bidder), price: formatMoney(a.price, S.currency), n: a.quantity ?? 1 }));
  announce(box, (awards.some((a) => a.bidder === me) ? t("you_won") + " " : "") + parts.join(" · "), "good");
}

// ------------------------------------------------------------------ live updates

function onLive(e) {
  const me = currentUser();
  const prevEnd = S.end;
  const prevLeader = S.leader;
  apply(e);
  if (S.format === "english" || S.format === "reverse") {
    if (me && prevLeader === me && S.leader !== me && S.leader !== null) {
      $("bid-feedback").textContent = "";
      announce($("outbid"), S.format === "english" ? t("outbid_notice", { price: formatMoney(S.price, S.currency) }) : t("undercut_notice"), "bad");
    }
    if (S.leader === me) $("outbid").textContent = "";
    if (e.kind === "bid" && e.data.bidder === me && S.leader !== me) {
      $("bid-feedback").textContent = "";
      announce($("outbid"), t("outbid_by_proxy", { price: formatMoney(S.price, S.currency) }), "bad");
    }
  }
  if (prevEnd && S.end && S.end > prevEnd && S.status !== "closed") {
    announce($("extended"), t("extended_notice", { by: fmtDuration(S.end - prevEnd), at: fmtTime(S.end) }), "warn");
    $("countdown").dataset.extended = String(S.end);
  }
  wasLeader = S.leader === me;
  renderAll();
}

async function loadHistory() {
  const base = `/auctions/${encodeURIComponent(roomId)}`;
  const [view, hist] = await Promise.all([api(base), api(`${base}/events`)]);
  S.hasReserve = Boolean(view.has_reserve);
  S.buyNow = view.buy_now ?? null;
  for (const e of hist.events) apply({ ...e, kind: e.type });
  S.status = view.status === "closed" || view.status === "sold" || view.status === "ended" ? "closed" : S.status;
  if (view.result) S.result = view.result;
  const last = hist.events.length ? hist.events[hist.events.length - 1].seq : 0;
  return last;
}

async function resync() {
  // A snapshot means our history is too old to replay: rebuild from the public history.
  Object.assign(S, { history: [], bids: 0, commits: new Map(), reveals: new Map(), offers: new Map(), result: null, status: "open", leader: null });
  const seq = await loadHistory();
  live.seq = Math.max(live.seq, seq);
  renderAll();
}

async function submitCommand(button, msg, okText) {
  const fb = $("bid-feedback");
  button.disabled = true;
  announce(fb, t("sending"), "");
  try {
    await live.command(msg);
    announce(fb, okText, "good");
    return true;
  } catch (err) {
    announce(fb, t(`err_${err.code}`) !== `err_${err.code}` ? t(`err_${err.code}`) : `${err.code}: ${err.message}`, "bad");
    return false;
  } finally {
    button.disabled = false;
  }
}

function wireForms() {
  $("bid-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("bid-amount");
    const amount = parseMoney(input.value, S.currency);
    if (!amount || amount < 1) { input.setAttribute("aria-invalid", "true"); announce($("bid-feedback"), t("enter_amount"), "bad"); input.focus(); return; }
    input.removeAttribute("aria-invalid");
    if (S.format === "english" && (myMax === null || amount > myMax)) myMax = amount;
    const ok = await submitCommand($("bid-submit"), { type: "place_bid", amount, currency: S.currency }, S.format === "reverse" ? t("offer_accepted") : t("bid_accepted"));
    if (ok) { input.value = ""; renderForms(); }
  });
  $("proxy-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("proxy-amount");
    const amount = parseMoney(input.value, S.currency);
    if (!amount) { input.setAttribute("aria-invalid", "true"); announce($("bid-feedback"), t("enter_amount"), "bad"); input.focus(); return; }
    input.removeAttribute("aria-invalid");
    const ok = await submitCommand($("proxy-submit"), { type: "set_proxy", max_amount: amount, currency: S.currency }, t("max_bid_set", { amount: formatMoney(amount, S.currency) }));
    if (ok) { myMax = Math.max(myMax ?? 0, amount); input.value = ""; renderForms(); }
  });
  $("dutch-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const quantity = Number($("dutch-qty").value) || 1;
    await submitCommand($("dutch-accept"), { type: "buy", quantity }, t("dutch_bought"));
  });
  $("sealed-commit-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const amount = parseMoney($("sealed-amount").value, S.currency);
    if (!amount) { announce($("bid-feedback"), t("enter_amount"), "bad"); return; }
    const nonce = randomHex(32);
    const commitment = await sealedCommitment(amount, nonce, currentUser(), S.params.auction);
    localStorage.setItem(sealedKey(), JSON.stringify({ amount, nonce, commitment }));
    $("sealed-commitment").textContent = t("commitment_is", { hash: commitment });
    await submitCommand($("sealed-commit"), { type: "sealed_commit", commitment }, t("sealed_committed"));
    renderForms();
  });
  $("sealed-reveal-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const stored = JSON.parse(localStorage.getItem(sealedKey()) || "null");
    if (!stored) return;
    await submitCommand($("sealed-reveal"), { type: "sealed_reveal", amount: stored.amount, nonce: stored.nonce }, t("sealed_revealed"));
  });
}

function setConn(state) {
  const c = $("conn");
  c.dataset.state = state;
  $("conn-text").textContent = t(`conn_${state}`);
}

async function loadItem() {
  try {
    const item = await api(`/web/items/${encodeURIComponent(roomId)}`);
    if (item.title) $("item-title").textContent = item.title;
    $("item-desc").textContent = item.description || "";
    if (item.image) $("item-image").src = item.image;
  } catch { $("item-title").textContent = roomId; }
}

async function main() {
  await renderHeader({ active: "" });
  wireForms();
  setConn("connecting");
  await loadItem();
  let seq = 0;
  try { seq = await loadHistory(); } catch (err) {
    announce($("result"), t("room_not_found"), "bad");
    return;
  }
  live = new Live({ room: roomId, token: getToken(), seq, handlers: {
    status: setConn,
    event: onLive,
    snapshot: () => { resync(); },
  } });
  live.connect();
  wasLeader = S.leader === currentUser();
  renderAll();
  setInterval(renderCountdown, 250);
  window.addEventListener("fairlot:identity", () => { myMax = null; live.restart(getToken()); renderAll(); });
  onLangChange(() => { renderAll(); setConn(live.state); });
  applyI18n();
  document.body.dataset.ready = "1";
}

main();
void lastEnd;
