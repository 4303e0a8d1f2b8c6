"""Rendered labels and plates, read back the way a phone would: rasterise, decode every QR
with zxing-cpp, parse the Digital Link, verify the signature."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from insutrace.labels.codec import parse_label_uri, sign_label, split_label, verify_label
from insutrace.labels.fonts import PngFonts
from insutrace.labels.model import LabelContent, WallPlateContent, WallPlateRow
from insutrace.labels.plate import ROWS_PER_PAGE
from insutrace.labels.render import label_png, label_sheet_pdf, label_svg, wall_plate_pdf
from insutrace.trace.errors import MalformedInput, VerificationError

LabelFactory = Callable[..., LabelContent]
Rasterise = Callable[[bytes, int], list[Image.Image]]
SVG = "{http://www.w3.org/2000/svg}"


def decode(image: Image.Image) -> list[str]:
    formats = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    found: list[Any] = zxingcpp.read_barcodes(image, formats=formats)
    return [barcode.text for barcode in found]


def labels(make_label: LabelFactory, count: int) -> list[LabelContent]:
    return [make_label(serial=f"SN{index:08d}") for index in range(count)]


def test_label_png_scans_and_verifies(
    make_label: LabelFactory, test_only_key: Ed25519PrivateKey
) -> None:
    content = make_label()
    image = Image.open(io.BytesIO(label_png(content)))
    assert image.size == (827, 437)  # 70 x 37 mm at 300 dpi
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)  # stored as px/m
    (payload,) = decode(image)
    assert payload == content.payload
    uri = verify_label(payload, test_only_key.public_key())
    assert parse_label_uri(uri).serial == "SN00000001"


def test_label_png_without_a_chinese_font_still_scans(make_label: LabelFactory) -> None:
    content = make_label()
    image = Image.open(io.BytesIO(label_png(content, dpi=200, fonts=PngFonts())))
    assert decode(image) == [content.payload]


def test_label_png_draws_chinese_with_the_packaged_font(make_label: LabelFactory) -> None:
    fonts = PngFonts.detect()
    assert fonts.has_cjk, "the paperang-p2-fonts-cjk dependency (WenQuanYi) was not found"
    assert fonts.cjk is not None and fonts.cjk.name == "wqy-microhei.ttc"
    content = make_label()
    with_chinese = Image.open(io.BytesIO(label_png(content, fonts=fonts)))
    latin_only = Image.open(io.BytesIO(label_png(content, fonts=PngFonts())))
    header = (0, 0, with_chinese.width // 2, with_chinese.height // 8)
    assert _ink(with_chinese.crop(header)) > 2 * _ink(latin_only.crop(header))


def test_tampered_label_scans_but_is_refused(
    make_label: LabelFactory, test_only_key: Ed25519PrivateKey
) -> None:
    forger = Ed25519PrivateKey.from_private_bytes(b"forger's test-only label key 003")
    genuine = make_label()
    forged_payload = sign_label(split_label(genuine.payload)[0], "mfr-test-01", forger)
    forged = make_label(payload=forged_payload)
    (payload,) = decode(Image.open(io.BytesIO(label_png(forged, dpi=200))))
    with pytest.raises(VerificationError, match="does not verify"):
        verify_label(payload, test_only_key.public_key())


def test_label_svg_is_a_70_by_37_mm_document(make_label: LabelFactory) -> None:
    root = ET.fromstring(label_svg(make_label()))
    assert (root.get("width"), root.get("height")) == ("70mm", "37mm")
    texts = "".join(node.text or "" for node in root.iter(f"{SVG}text"))
    for expected in ("燃烧性能等级", "Combustion class", "B1(B-s1,d0,t1)", "91350100M000100Y43"):
        assert expected in texts
    assert len(list(root.iter(f"{SVG}path"))) == 1  # the QR, one path


def test_sheet_pdf_every_label_scans_and_verifies(
    make_label: LabelFactory, test_only_key: Ed25519PrivateKey, rasterise: Rasterise
) -> None:
    contents = labels(make_label, 30)
    pages = rasterise(label_sheet_pdf(contents), 200)
    assert len(pages) == 2
    scanned = [decode(page) for page in pages]
    assert [len(found) for found in scanned] == [24, 6]
    payloads = [payload for found in scanned for payload in found]
    assert sorted(payloads) == sorted(content.payload for content in contents)
    for payload in payloads:
        verify_label(payload, test_only_key.public_key())


def test_sheet_pdf_grid_is_configurable(make_label: LabelFactory, rasterise: Rasterise) -> None:
    contents = labels(make_label, 9)
    pdf = label_sheet_pdf(contents, columns=2, rows=4, page="A4", crop_marks=False)
    pages = rasterise(pdf, 150)
    assert [len(decode(page)) for page in pages] == [8, 1]


def test_sheet_pdf_crop_marks(make_label: LabelFactory, rasterise: Rasterise) -> None:
    contents = labels(make_label, 1)
    with_marks = rasterise(label_sheet_pdf(contents, crop_marks=True), 200)[0]
    without = rasterise(label_sheet_pdf(contents, crop_marks=False), 200)[0]
    # The first vertical cut line is 8 mm from the left; its mark runs 2.5-6.5 mm from the top.
    mark = (
        round(7.5 * 200 / 25.4),
        round(3 * 200 / 25.4),
        round(8.5 * 200 / 25.4),
        round(6 * 200 / 25.4),
    )
    assert _ink(with_marks.crop(mark)) > 0
    assert _ink(without.crop(mark)) == 0


def pdf_text(pdf: bytes) -> str:
    """The text a PDF reader extracts from every page (pypdfium2)."""
    import pypdfium2

    doc = pypdfium2.PdfDocument(pdf)
    try:
        return "".join(page.get_textpage().get_text_range() for page in doc)
    finally:
        doc.close()


def test_sheet_pdf_is_reproducible_and_carries_chinese_text(make_label: LabelFactory) -> None:
    contents = labels(make_label, 2)
    pdf = label_sheet_pdf(contents)
    assert pdf == label_sheet_pdf(contents)
    assert re.search(rb"/BaseFont /[A-Z]{6}\+WenQuanYiMicroHei", pdf)  # embedded subset
    assert b"/FontFile2" in pdf
    text = pdf_text(pdf)
    assert "挤塑聚苯乙烯泡沫塑料板" in text and "燃烧性能" in text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"columns": 6, "rows": 16}, "shrink the label to 46%"),
        ({"columns": 0}, "at least 1 x 1 cells"),
        ({"page": "B5"}, "page: expected one of"),
        ({"margin": 120.0}, "margin 120.0 mm does not fit"),
        ({"margin": 4.0}, "crop marks need a margin of 5.5 mm, got 4.0"),
    ],
)
def test_sheet_pdf_refuses_a_bad_grid(
    make_label: LabelFactory, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(MalformedInput, match=message):
        label_sheet_pdf([make_label()], **arguments)


def test_sheet_pdf_needs_labels() -> None:
    with pytest.raises(MalformedInput, match="no labels to print"):
        label_sheet_pdf([])


def test_wall_plate_pdf_scans_to_the_record(plate: WallPlateContent, rasterise: Rasterise) -> None:
    (page,) = rasterise(wall_plate_pdf(plate), 100)
    assert decode(page) == [plate.record_url]


def test_wall_plate_continues_on_further_pages(
    plate: WallPlateContent, make_row: Callable[..., WallPlateRow], rasterise: Rasterise
) -> None:
    rows = tuple(make_row(index) for index in range(ROWS_PER_PAGE + 1))
    longer = WallPlateContent(
        plate.building_name, plate.address, plate.facade, rows, plate.record_url
    )
    pages = rasterise(wall_plate_pdf(longer), 100)
    assert [decode(page) for page in pages] == [[plate.record_url]] * 2


def _ink(image: Image.Image) -> int:
    """Number of pixels darker than mid-grey."""
    histogram = image.convert("L").histogram()
    return sum(histogram[:128])
