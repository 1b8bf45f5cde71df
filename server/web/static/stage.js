// The draw stage (/stage/<draw id>): a viewer of the draw's room `draw:<id>` over the
// WebSocket, with the room page's client (live.js: fairlot.v1.json, resume from the last
// seq). Nothing is paced here: the server reveals one winner every reveal_interval_ms (the
// draw actor's timer), so every viewer sees winner k at the same seq.
//
// What comes from the stream: the snapshot (or, on a resume, the missed events) gives the
// commitment and the beacon's time; the countdown runs to `ready_at_ms` on the server's
// clock (welcome.server_time); `drawn` says the certificate exists; each `revealed` event
// adds one winner, whose check turns green once its inclusion proof verifies against the
// committed Merkle root in this browser. A late joiner's snapshot holds the winners
// revealed so far. Once the draw is complete the published certificate is verified whole
// (seed, picks recomputed from the leaves file) and the alternates are shown.
import { applyI18n, el, fmtDateTime, fmtDuration, onLangChange, renderHeader, t } from "./common.js";
import { Live } from "./live.js";
import { leafHash, readyAtMs, verifyCertificate, verifyInclusion } from "./verifier.js";
import { unhex } from "./crypto.js";

const $ = (id) => document.getElementById(id);
// Written four times a second: only a change reaches the DOM (and a screen reader).
const setText = (node, text) => { if (node.textContent !== text) node.textContent = text; };
const drawId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const room = `draw:${drawId}`;

const S = {
  title: "", status: "", commitment: null, commitmentHash: null, readyAt: null, interval: 0,
  nextReveal: null, certHash: null, entries: null, revealed: [], substitutions: [],
};
const shown = new Map(); // winner position -> its <li>
let live = null;
let finishing = false;
let ready = false;

// ------------------------------------------------------------------ the stream

function fromSnapshot(msg) {
  const s = msg.state || {};
  S.title = s.title ?? S.title;
  S.status = s.status ?? S.status;
  S.commitment = s.commitment ?? null;
  S.commitmentHash = s.commitment_hash ?? null;
  S.readyAt = s.ready_at_ms ?? null;
  S.interval = s.reveal_interval_ms ?? 0;
  S.nextReveal = s.next_reveal_ms ?? null;
  S.certHash = s.certificate_hash ?? null;
  S.entries = s.entries ?? null;
  S.revealed = [...(s.revealed || [])];
  if (!document.body.dataset.snapshotRevealed) document.body.dataset.snapshotRevealed = String(S.revealed.length);
  update();
}

function onEvent(e) {
  const d = e.data || {};
  switch (e.kind) {
    case "created": S.title = d.params?.title ?? S.title; S.status = "created"; S.interval = d.params?.reveal_interval_ms ?? 0; break;
    case "entries_imported": S.entries = d; S.status = "imported"; break;
    case "committed": S.commitment = d.commitment; S.commitmentHash = d.commitment_hash; S.status = "committed"; break;
    case "run_scheduled": S.readyAt = d.ready_at_ms; S.interval = d.reveal_interval_ms; S.status = "scheduled"; break;
    case "drawn":
      S.certHash = d.certificate_hash; S.status = "revealing";
      S.nextReveal = e.time + Math.max(1, S.interval);
      break;
    case "revealed":
      if (d.k === S.revealed.length + 1) {
        S.revealed.push(d.winner);
        document.body.dataset.liveRevealed = String(Number(document.body.dataset.liveRevealed || 0) + 1);
      }
      S.nextReveal = S.nextReveal === null ? null : S.nextReveal + Math.max(1, S.interval);
      break;
    case "substituted": S.substitutions.push(d); break;
    default: break;
  }
  if (S.commitment && S.status === "revealing" && S.revealed.length >= S.commitment.winners) S.status = "complete";
  update();
}

function update() {
  renderFacts();
  renderWinners();
  tick();
  if (!ready) { ready = true; applyI18n(); document.body.dataset.ready = "1"; }
  if (S.status === "complete") finish();
}

// ------------------------------------------------------------------ rendering

function renderFacts() {
  const c = S.commitment;
  $("draw-title").textContent = S.title || drawId;
  $("stage-lead").textContent = t("stage_lead");
  $("f-n").textContent = c ? t("n_entries", { n: c.n, w: c.winners, a: c.alternates }) : "—";
  $("f-commit").textContent = S.commitmentHash || "—";
  $("f-trust").textContent = !c ? "—" : c.beacon.kind === "drand" ? t("trust_public") : t("trust_weak");
  const f = $("f-cert");
  f.replaceChildren(S.certHash && S.status === "complete" ? el("a", { href: `/v/${S.certHash}` }, t("open_certificate")) : t("not_yet"));
  $("beacon-text").textContent = !c ? "" : c.beacon.kind === "drand"
    ? t("beacon_drand", { round: c.beacon.round, at: fmtDateTime(readyAtMs(c.beacon)) })
    : t("beacon_reveal", { at: fmtDateTime(readyAtMs(c.beacon)) });
  const wf = S.entries?.waterfall;
  if (!wf) { $("waterfall").replaceChildren(); return; }
  $("waterfall").replaceChildren(
    el("tr", {}, el("th", { scope: "col" }, t("step_col")), el("th", { scope: "col", class: "num" }, t("dropped")), el("th", { scope: "col", class: "num" }, t("remaining"))),
    el("tr", {}, el("td", {}, t("imported_rows")), el("td", { class: "num" }, ""), el("td", { class: "num" }, String(wf.raw))),
    ...wf.steps.map((s) => el("tr", {}, el("td", {}, t(`reason_${s.reason}`)), el("td", { class: "num" }, String(s.dropped)), el("td", { class: "num" }, String(s.remaining)))),
  );
}

function tick() {
  const count = $("stage-count");
  const now = live ? live.now() : Date.now();
  const drawn = S.status === "revealing" || S.status === "complete";
  setText($("count-heading"), drawn ? t("randomness_arrived") : t("beacon_countdown"));
  const total = S.commitment?.winners ?? 0;
  setText($("reveal-progress"), drawn ? t("n_revealed", { k: S.revealed.length, n: total }) : "");
  const next = S.status === "revealing" && S.nextReveal !== null ? S.nextReveal - now : null;
  setText($("next-reveal"), next !== null && next > 0 ? t("next_winner_in", { time: fmtDuration(next) }) : "");
  if (drawn) { setText(count, "✓"); count.dataset.state = S.status; return; }
  const target = S.readyAt ?? (S.commitment ? readyAtMs(S.commitment.beacon) : null);
  count.dataset.state = S.status || "loading";
  if (target === null) { setText(count, "—"); return; }
  const left = target - now;
  setText(count, left > 0 ? fmtDuration(left) : S.status === "scheduled" ? t("drawing") : t("waiting_for_run"));
}

function pickItem(p) {
  const mark = el("span", { class: "tick", role: "img", "aria-label": t("checking") }, "…");
  const li = el("li", { "data-index": String(p.index), "data-position": String(p.position) },
    el("span", { class: "pos" }, `${p.position + 1}`), el("span", { class: "handle" }, p.handle), mark);
  return [li, mark];
}

function setTick(mark, ok) {
  mark.className = `tick ${ok ? "ok" : "no"}`;
  mark.textContent = ok ? "✓" : "✗";
  mark.setAttribute("aria-label", ok ? t("verified") : t("not_verified"));
}

async function included(p) {
  const c = S.commitment;
  if (!c) return false;
  return verifyInclusion(await leafHash(unhex(p.leaf)), p.index, c.n, p.audit_path.map(unhex), unhex(c.merkle_root));
}

function renderWinners() {
  for (const p of S.revealed) {
    if (shown.has(p.position)) continue;
    const [li, mark] = pickItem(p);
    shown.set(p.position, li);
    $("winners").append(li);
    included(p).then((ok) => setTick(mark, ok), () => setTick(mark, false));
  }
  for (const s of S.substitutions) shown.get(s.position)?.classList.add("replaced");
}

// ------------------------------------------------------------------ the certificate

async function finish() {
  if (finishing) return;
  finishing = true;
  const r = await fetch(`/draws/${encodeURIComponent(drawId)}/certificate`);
  if (!r.ok) { finishing = false; setTimeout(() => { if (S.status === "complete") finish(); }, 1000); return; }
  const text = await r.text();
  const cert = JSON.parse(text);
  const leavesResp = await fetch(`/certificates/${cert.certificate_hash}/leaves`);
  const leaves = leavesResp.ok ? new Uint8Array(await leavesResp.arrayBuffer()) : null;
  const result = await verifyCertificate(text, { leaves });
  const status = new Map(result.checks.map((c) => [c.name, c.status]));
  // The winners shown one by one must be the certificate's, in its order.
  const same = cert.body.winners.length === S.revealed.length
    && cert.body.winners.every((w, i) => w.index === S.revealed[i].index && w.position === S.revealed[i].position);
  if (status.get("winners") === "fail" || !same) {
    for (const li of shown.values()) setTick(li.querySelector(".tick"), false);
  }
  const alternates = [];
  for (const p of cert.body.alternates) {
    const [li, mark] = pickItem(p);
    $("alternates").append(li);
    alternates.push(included(p).then((ok) => setTick(mark, ok && status.get("alternates") !== "fail")));
  }
  await Promise.all(alternates);
  const subs = cert.substitutions || [];
  for (const s of subs) shown.get(s.event.position)?.classList.add("replaced");
  $("subs").textContent = subs.map((s) => t("substituted", { pos: s.event.position + 1, alt: s.event.alternate_position + 1, reason: s.event.reason })).join(" ");
  renderFacts();
  document.body.dataset.revealed = "1";
}

// ------------------------------------------------------------------ start

function setConn(state) {
  const c = $("conn");
  c.dataset.state = state;
  $("conn-text").textContent = t(`conn_${state}`);
}

async function main() {
  await renderHeader({ signin: false });
  setConn("connecting");
  live = new Live({ room, handlers: {
    status: setConn,
    snapshot: fromSnapshot,
    event: onEvent,
    error: (msg) => {
      if (msg.code !== "not_found" || ready) return;
      live.closedByUs = true;
      live.ws?.close();
      $("draw-title").textContent = t("draw_not_found");
      ready = true;
      document.body.dataset.ready = "1";
    },
  } });
  live.connect();
  onLangChange(() => { renderFacts(); tick(); setConn(live.state); });
  applyI18n();
  setInterval(tick, 250);
}
main();
