"""PDF rendering of a certificate (fpdf2, in memory) with a QR code to the verify URL.

Why a PDF at all: hosts post it next to the result; people scan the QR to reach the public
verify page, and the one-line CLI check tells the sceptical how to verify offline. The PDF
is a view: everything in it comes from the certificate, which stays the source of truth.
Rendering is deterministic (creation date = the draw's close time), so the same
certificate always gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import segno
from fpdf import FPDF

from draws.beacon import BeaconSpec
from draws.certificate import certificate_hash
from draws.keys import fingerprint
from draws.substitution import replay

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def verify_url(base: str, cert_hash: str) -> str:
    """The public verify page of a certificate: ``<base>/v/<certificate hash>``."""
    return f"{base.rstrip('/')}/v/{cert_hash}"


def _latin1(text: str) -> str:
    """The PDF core fonts are Latin-1; anything else shows as '?' rather than failing."""
    return text.encode("latin-1", "replace").decode("latin-1")


def _when(ms: int) -> str:
    return (_EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%d %H:%M:%S UTC")


def qr_png(url: str) -> bytes:
    """QR code (error level M) of ``url`` as PNG bytes."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()


class _Doc(FPDF):
    def line_text(self, text: str, size: int = 10, style: str = "") -> None:
        self.set_font("Helvetica", style, size)
        self.multi_cell(0, size * 0.55, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    def grid(self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int]) -> None:
        self.set_font("Helvetica", "B", 9)
        for text, width in zip(header, widths, strict=True):
            self.cell(width, 6, _latin1(text), border=1)
        self.ln(6)
        self.set_font("Helvetica", "", 9)
        for row in rows:
            for text, width in zip(row, widths, strict=True):
                self.cell(width, 6, _latin1(text), border=1)
            self.ln(6)
        self.ln(2)


def render_pdf(
    cert: Mapping[str, Any],
    *,
    verify_base_url: str,
    logo_png: bytes | None = None,
    certificate_file: str = "certificate.json",
    leaves_file: str = "leaves.bin",
) -> bytes:
    """Render the certificate as PDF bytes; branding comes from the certificate body."""
    body = cert["body"]
    c = body["commitment"]
    spec = BeaconSpec.from_json(c["beacon"])
    cert_hash = certificate_hash(body).hex()
    url = verify_url(verify_base_url, cert_hash)
    branding = body.get("branding") or {}
    pdf = _Doc(format="A4")
    pdf.set_creation_date(_EPOCH + timedelta(milliseconds=c["close_time_ms"]))
    pdf.set_title(_latin1(branding.get("title", f"Draw {c['draw_id']}")))
    pdf.set_author(_latin1(branding.get("host_name", c["host_id"])))
    pdf.set_producer("fairlot")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    if logo_png:
        pdf.image(io.BytesIO(logo_png), x=170, y=10, w=25)
    pdf.line_text(branding.get("title", "Draw certificate"), 18, "B")
    pdf.line_text(f"Host: {branding.get('host_name', c['host_id'])}   Draw: {c['draw_id']}")
    pdf.line_text(f"Entries closed: {_when(c['close_time_ms'])}")
    if spec.kind == "drand":
        beacon = f"drand {spec.chain().name} round {spec.round} ({_when(spec.ready_at_ms())})"
    else:
        beacon = "offline commit-reveal"
    pdf.line_text(f"Randomness: {beacon}")
    pdf.line_text(f"Beacon trust: {spec.trust}", 9, "I")
    pdf.ln(2)

    wf = body["waterfall"]
    rows = [["raw import", "", str(wf["raw"])]]
    rows += [[s["reason"], f"-{s['dropped']}", str(s["remaining"])] for s in wf["steps"]]
    rows.append(["eligible", "", str(wf["eligible"])])
    rows.append(["total weight", "", str(wf["total_weight"])])
    pdf.line_text("Entries", 12, "B")
    pdf.grid(["step", "dropped", "remaining"], rows, [80, 40, 40])

    subs = cert.get("substitutions", [])
    current = replay([p["index"] for p in body["winners"]], subs)
    handles = {p["index"]: p["handle"] for p in body["winners"] + body["alternates"]}
    pdf.line_text(f"Winners ({c['winners']})", 12, "B")
    pdf.grid(
        ["#", "entrant", "leaf", "status"],
        [
            [
                str(p["position"] + 1),
                handles[current[p["position"]]],
                str(current[p["position"]]),
                "drawn" if current[p["position"]] == p["index"] else f"substitute for {p['handle']}",
            ]
            for p in body["winners"]
        ],
        [12, 70, 30, 70],
    )
    if body["alternates"]:
        pdf.line_text(f"Alternates ({c['alternates']}, in order)", 12, "B")
        pdf.grid(
            ["#", "entrant", "leaf"],
            [[str(p["position"] + 1), p["handle"], str(p["index"])] for p in body["alternates"]],
            [12, 70, 30],
        )
    if subs:
        pdf.line_text("Substitutions (signed events)", 12, "B")
        pdf.grid(
            ["seq", "slot", "reason", "replaced", "by alternate", "time"],
            [
                [
                    str(e["event"]["seq"]),
                    str(e["event"]["position"] + 1),
                    e["event"]["reason"],
                    handles.get(e["event"]["replaced_index"], "?"),
                    handles.get(e["event"]["alternate_index"], "?"),
                    _when(e["event"]["time_ms"]),
                ]
                for e in subs
            ],
            [12, 12, 30, 40, 40, 50],
        )

    pdf.line_text("Verify", 12, "B")
    y = pdf.get_y()
    pdf.image(io.BytesIO(qr_png(url)), x=pdf.l_margin, y=y, w=40, h=40)
    pdf.set_xy(pdf.l_margin + 45, y)
    pdf.set_font("Helvetica", "", 9)
    text = (
        f"{url}\n\nOffline: fairlot verify {certificate_file} --entries {leaves_file}\n\n"
        f"Host key fingerprint: {fingerprint(bytes.fromhex(c['host_key']))}\n"
        f"Certificate hash: {cert_hash}\nCommitment hash: {body['commitment_hash']}\n"
        f"Seed: {body['seed']}"
    )
    pdf.multi_cell(0, 4.5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
