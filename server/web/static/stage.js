// The draw stage (/stage/<draw id>): countdown to the beacon, then winners revealed one
// by one, each one's check ticking green once its inclusion proof and its place in the
// recomputed picks verify in this browser; alternates; substitutions.
import { applyI18n, el, fmtDateTime, fmtDuration, onLangChange, renderHeader, t } from "./common.js";
import { leafHash, readyAtMs, verifyCertificate, verifyInclusion } from "./verifier.js";
import { unhex } from "./crypto.js";

const $ = (id) => document.getElementById(id);
const drawId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const REVEAL_EVERY_MS = Number(new URLSearchParams(location.search).get("pace") || 1200);
let draw = null, offset = 0, revealing = false;

async function fetchDraw() {
  const r = await fetch(`/web/draws/${encodeURIComponent(drawId)}`);
  if (!r.ok) throw new Error(String(r.status));
  draw = await r.json();
  offset = draw.server_time - Date.now();
  return draw;
}

function renderFacts() {
  const c = draw.commitment;
  $("draw-title").textContent = draw.title;
  $("f-n").textContent = t("n_entries", { n: c.n, w: c.winners, a: c.alternates });
  $("f-commit").textContent = draw.commitment_hash;
  $("f-trust").textContent = c.beacon.kind === "drand" ? t("trust_public") : t("trust_weak");
  const f = $("f-cert");
  f.replaceChildren(draw.certificate_hash ? el("a", { href: `/v/${draw.certificate_hash}` }, t("open_certificate")) : t("not_yet"));
  $("beacon-text").textContent = c.beacon.kind === "drand"
    ? t("beacon_drand", { round: c.beacon.round, at: fmtDateTime(readyAtMs(c.beacon)) })
    : t("beacon_reveal", { at: fmtDateTime(readyAtMs(c.beacon)) });
  $("stage-lead").textContent = t("stage_lead");
  const wf = draw.waterfall;
  $("waterfall").replaceChildren(
    el("tr", {}, el("th", { scope: "col" }, t("step_col")), el("th", { scope: "col", class: "num" }, t("dropped")), el("th", { scope: "col", class: "num" }, t("remaining"))),
    el("tr", {}, el("td", {}, t("imported_rows")), el("td", { class: "num" }, ""), el("td", { class: "num" }, String(wf.raw))),
    ...wf.steps.map((s) => el("tr", {}, el("td", {}, t(`reason_${s.reason}`)), el("td", { class: "num" }, String(s.dropped)), el("td", { class: "num" }, String(s.remaining)))),
  );
}

function tickCountdown() {
  if (!draw || draw.status === "complete") return;
  const left = draw.ready_at_ms - (Date.now() + offset);
  $("stage-count").textContent = left > 0 ? fmtDuration(left) : t("drawing");
}

async function reveal() {
  if (revealing) return;
  revealing = true;
  $("count-heading").textContent = t("randomness_arrived");
  $("stage-count").textContent = "✓";
  const cert = draw.certificate;
  const leavesResp = await fetch(`/web/certificates/${draw.certificate_hash}/leaves`);
  const leaves = leavesResp.ok ? new Uint8Array(await leavesResp.arrayBuffer()) : null;
  const result = await verifyCertificate(JSON.stringify(cert), { leaves });
  const status = new Map(result.checks.map((c) => [c.name, c.status]));
  const c = cert.body.commitment, root = unhex(c.merkle_root);
  for (const [listId, picks, check] of [["winners", cert.body.winners, "winners"], ["alternates", cert.body.alternates, "alternates"]]) {
    for (const p of picks) {
      const tick = el("span", { class: "tick", role: "img", "aria-label": t("checking") }, "…");
      const li = el("li", { "data-index": String(p.index), "data-position": String(p.position) },
        el("span", { class: "pos" }, `${p.position + 1}`), el("span", { class: "handle" }, p.handle), tick);
      $(listId).append(li);
      const ok = status.get(check) !== "fail" && await verifyInclusion(await leafHash(unhex(p.leaf)), p.index, c.n, p.audit_path.map(unhex), root);
      await new Promise((r) => setTimeout(r, REVEAL_EVERY_MS / 2));
      tick.className = `tick ${ok ? "ok" : "no"}`;
      tick.textContent = ok ? "✓" : "✗";
      tick.setAttribute("aria-label", ok ? t("verified") : t("not_verified"));
      await new Promise((r) => setTimeout(r, REVEAL_EVERY_MS / 2));
    }
  }
  const subs = cert.substitutions || [];
  for (const s of subs) {
    const li = $("winners").querySelector(`li[data-position="${s.event.position}"]`);
    if (li) li.classList.add("replaced");
  }
  $("subs").textContent = subs.map((s) => t("substituted", { pos: s.event.position + 1, alt: s.event.alternate_position + 1, reason: s.event.reason })).join(" ");
  document.body.dataset.revealed = "1";
}

async function main() {
  await renderHeader({ signin: false });
  try { await fetchDraw(); } catch { $("draw-title").textContent = t("draw_not_found"); document.body.dataset.ready = "1"; return; }
  renderFacts();
  onLangChange(() => { renderFacts(); tickCountdown(); });
  applyI18n();
  document.body.dataset.ready = "1";
  setInterval(tickCountdown, 250);
  tickCountdown();
  while (draw.status !== "complete") {
    await new Promise((r) => setTimeout(r, Math.max(500, Math.min(2000, draw.ready_at_ms - (Date.now() + offset)))));
    await fetchDraw();
  }
  renderFacts();
  await reveal();
}
main();
