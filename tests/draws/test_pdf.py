"""The PDF renders (page -> PNG) and its QR code decodes to the verify URL (acceptance 6)."""

from __future__ import annotations

import io

import pypdfium2
import segno
import zxingcpp

from draws import add_substitution, render_pdf
from draws.pdf import verify_url
from tests.draws.helpers import SIGNING_KEY, make_draw


def test_pdf_renders_and_qr_decodes_to_verify_url() -> None:
    draw = make_draw(weighted=True)
    cert = add_substitution(draw.cert, 0, "unreachable", 1_700_000_000_000, SIGNING_KEY)
    logo = io.BytesIO()
    segno.make("logo").save(logo, kind="png", scale=2)
    pdf = render_pdf(cert, verify_base_url="https://fairlot.example/", logo_png=logo.getvalue())
    assert pdf.startswith(b"%PDF-")
    assert render_pdf(cert, verify_base_url="https://fairlot.example/", logo_png=logo.getvalue()) == pdf
    doc = pypdfium2.PdfDocument(pdf)
    try:
        page = doc[0]
        image = page.render(scale=2).to_pil()
        text = page.get_textpage().get_text_range()
    finally:
        doc.close()
    assert image.size[0] > 1000
    decoded = [r.text for r in zxingcpp.read_barcodes(image)]
    expected = verify_url("https://fairlot.example", cert["certificate_hash"])
    assert expected in decoded
    assert expected == f"https://fairlot.example/v/{cert['certificate_hash']}"
    assert "fairlot verify certificate.json --entries leaves.bin" in text
    assert "Summer giveaway" in text and "substitute for" in text
    winner_handle = cert["body"]["winners"][1]["handle"]
    assert winner_handle in text and "*" in winner_handle
