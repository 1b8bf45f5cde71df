// The verifier page (/verify and /v/<certificate hash>): load files, run every check.
import { applyI18n, el, onLangChange, renderHeader, t, announce } from "./common.js";
import { CHECK_ORDER, maskHandle, verifyCertificate } from "./verifier.js";

const $ = (id) => document.getElementById(id);
let last = null; // {certText, leaves, prev, result}

async function readFile(input) {
  const f = input.files && input.files[0];
  return f ? new Uint8Array(await f.arrayBuffer()) : null;
}

function render() {
  if (!last) return;
  const { result } = last;
  $("no-cert").hidden = true;
  const verdict = $("verdict");
  verdict.hidden = false;
  const cli = result.checks.some((c) => c.status === "cli");
  if (result.ok) {
    verdict.className = "verdict-banner v-pass";
    verdict.textContent = cli ? t("verdict_valid_cli") : t("verdict_valid");
  } else {
    verdict.className = "verdict-banner v-fail";
    verdict.textContent = t("verdict_invalid", { step: result.firstFailure });
  }
  verdict.dataset.ok = String(result.ok);
  verdict.dataset.firstFailure = result.firstFailure || "";
  const byName = new Map(result.checks.map((c) => [c.name, c]));
  const items = CHECK_ORDER.filter((n) => byName.has(n) || n !== "receipt").map((name) => {
    const c = byName.get(name) || { name, status: "skip", detail: t("not_reached") };
    return el("li", { "data-check": name, "data-status": c.status },
      el("span", { class: `verdict v-${c.status}` }, t(`status_${c.status}`)),
      el("span", { class: "name" }, name),
      el("span", { class: "detail" }, c.detail));
  });
  $("checks").replaceChildren(...items);
  const doc = result.document;
  $("summary").hidden = !doc;
  $("embed-card").hidden = !result.certificateHash;
  if (doc) {
    const body = doc.body;
    $("sum-title").textContent = `${body.branding?.title || body.commitment.draw_id} · ${body.commitment.host_id}`;
    $("sum-trust").textContent = result.trust;
    $("sum-hash").textContent = result.certificateHash;
    $("sum-key").textContent = result.keyFingerprint;
    const names = (picks) => picks.map((p) => p.handle).join(", ") || "—";
    const current = result.currentWinners.map((idx) => [...body.winners, ...body.alternates].find((p) => p.index === idx));
    $("sum-winners").textContent = names(current.filter(Boolean));
    $("sum-alternates").textContent = names(body.alternates);
    const origin = location.origin;
    $("embed-code").value = `<script src="${origin}/static/widget.js" data-certificate="${result.certificateHash}" async></script>`;
  }
}

async function run(certText, leaves, prev, receipt = null) {
  $("verify-button").disabled = true;
  try {
    const result = await verifyCertificate(certText, { leaves, previous: prev, receipt });
    last = { certText, leaves, prev, result };
    render();
    document.body.dataset.verified = result.ok ? "valid" : "invalid";
  } finally {
    $("verify-button").disabled = false;
  }
  return last.result;
}

async function onSubmit(e) {
  e.preventDefault();
  let cert = await readFile($("cert-file"));
  const url = $("cert-url").value.trim();
  if (!cert && url) {
    try {
      const r = await fetch(url);
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      cert = new Uint8Array(await r.arrayBuffer());
    } catch (err) {
      announce($("verdict"), t("fetch_failed", { error: err.message }), "bad");
      $("verdict").hidden = false;
      return;
    }
  }
  if (!cert) { $("cert-file").focus(); return; }
  await run(cert, await readFile($("leaves-file")), await readFile($("prev-file")));
}

async function onMe(e) {
  e.preventDefault();
  const box = $("me-result");
  if (!last) { announce(box, t("load_certificate_first"), "warn"); return; }
  const receipt = await readFile($("receipt-file"));
  if (receipt) {
    const result = await verifyCertificate(last.certText, { leaves: last.leaves, previous: last.prev, receipt });
    const c = result.checks.find((x) => x.name === "receipt");
    announce(box, c.status === "pass" ? `${t("receipt_ok")} ${c.detail}` : `${t("receipt_bad")} ${c.detail}`, c.status === "pass" ? "good" : "bad");
    box.dataset.status = c.status;
    return;
  }
  const raw = $("my-handle").value.trim().replace(/^@+/, "").normalize("NFC").toLowerCase();
  if (!raw) { $("my-handle").focus(); return; }
  const masked = maskHandle(raw);
  const body = last.result.document?.body;
  const hit = body && [...body.winners, ...body.alternates].find((p) => p.handle === masked);
  announce(box, hit ? t("handle_matches", { masked, pos: hit.position + 1 }) : t("handle_no_match", { masked }), hit ? "good" : "warn");
  box.dataset.status = hit ? "match" : "nomatch";
}

async function autoload() {
  const parts = location.pathname.split("/").filter(Boolean);
  if (parts[0] !== "v" || !parts[1]) return;
  const hash = parts[1];
  $("verify-heading").textContent = t("public_certificate");
  const r = await fetch(`/web/certificates/${encodeURIComponent(hash)}`);
  if (!r.ok) { announce($("verdict"), t("certificate_not_here"), "bad"); $("verdict").hidden = false; return; }
  const cert = new Uint8Array(await r.arrayBuffer());
  const lr = await fetch(`/web/certificates/${encodeURIComponent(hash)}/leaves`);
  const leaves = lr.ok ? new Uint8Array(await lr.arrayBuffer()) : null;
  $("cert-url").value = `${location.origin}/web/certificates/${hash}`;
  await run(cert, leaves, null);
}

async function main() {
  await renderHeader({ active: "/verify", signin: false });
  $("verify-form").addEventListener("submit", onSubmit);
  $("me-form").addEventListener("submit", onMe);
  onLangChange(() => { render(); if (location.pathname.startsWith("/v/")) $("verify-heading").textContent = t("public_certificate"); });
  applyI18n();
  await autoload();
  document.body.dataset.ready = "1";
}

main();
