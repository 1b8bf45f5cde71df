// The embeddable status widget (/embed/<certificate hash>): verifies in the visitor's
// browser, then shows a one-line verdict linking to the full public certificate page.
import { applyI18n, t } from "./common.js";
import { verifyCertificate } from "./verifier.js";

async function main() {
  const hash = location.pathname.split("/").filter(Boolean)[1] || "";
  const box = document.getElementById("widget");
  const link = document.getElementById("w-link");
  link.href = `/v/${hash}`;
  link.textContent = t("widget_details");
  document.getElementById("w-text").textContent = t("widget_checking");
  applyI18n();
  const [cr, lr] = await Promise.all([fetch(`/web/certificates/${hash}`), fetch(`/web/certificates/${hash}/leaves`)]);
  if (!cr.ok) {
    box.dataset.state = "invalid";
    document.getElementById("mark").textContent = "?";
    document.getElementById("w-text").textContent = t("certificate_not_here");
    document.body.dataset.ready = "1";
    return;
  }
  const cert = new Uint8Array(await cr.arrayBuffer());
  const leaves = lr.ok ? new Uint8Array(await lr.arrayBuffer()) : null;
  const result = await verifyCertificate(cert, { leaves });
  box.dataset.state = result.ok ? "valid" : "invalid";
  document.getElementById("mark").textContent = result.ok ? "✓" : "✗";
  const body = result.document?.body;
  document.getElementById("w-title").textContent = body?.branding?.title || t("draw");
  document.getElementById("w-text").textContent = result.ok
    ? t("widget_valid", { n: body.commitment.n, w: body.commitment.winners })
    : t("verdict_invalid", { step: result.firstFailure });
  document.body.dataset.ready = "1";
}
main();
