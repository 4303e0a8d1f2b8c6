"""Labels per second: single PNG labels, and A4 sheet PDFs of 3 x 8 labels a page.

    .venv/bin/python scripts/bench_labels.py            # 200 PNGs, 10 sheet pages
    .venv/bin/python scripts/bench_labels.py --small    # CI sizes: 20 PNGs, 2 pages

Signing and content checks happen before the clock starts: only rendering is timed, QR
encoding and layout included. Keys are a fixed, test-only seed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from insutrace.labels.codec import sign_label
from insutrace.labels.fonts import PngFonts
from insutrace.labels.model import LabelContent
from insutrace.labels.render import label_png, label_sheet_pdf

TEST_ONLY_SEED = b"insutrace bench test-only key 01"
LABELS_PER_PAGE = 24


def make_labels(count: int) -> list[LabelContent]:
    key = Ed25519PrivateKey.from_private_bytes(TEST_ONLY_SEED)
    return [_label(key, index) for index in range(count)]


def _label(key: Ed25519PrivateKey, index: int) -> LabelContent:
    lot, serial = "L20250601A", f"SN{index:010d}"
    uri = f"https://id.insutrace.test/01/09506000134352/10/{lot}/21/{serial}"
    return LabelContent(
        product_name_zh="挤塑聚苯乙烯泡沫塑料板",
        product_name_en="Extruded polystyrene (XPS) board",
        insulation_type="挤塑聚苯板 XPS",
        combustion_class="B1(B-s1,d0,t1)",
        thermal_conductivity=Decimal("0.030"),
        manufacturer_name="福建某某新型建材科技有限公司",
        manufacturer_uscc="91350100M000100Y43",
        lot=lot,
        serial=serial,
        production_date=date(2025, 6, 1),
        factory_report_no="CJ-2025-0601-017",
        lab_cma_no="230123280123",
        payload=sign_label(uri, "bench-01", key),
    )


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def bench_png(contents: list[LabelContent], dpi: int, fonts: PngFonts) -> float:
    seconds = timed(lambda: [label_png(content, dpi=dpi, fonts=fonts) for content in contents])
    return len(contents) / seconds


def bench_sheets(contents: list[LabelContent]) -> tuple[float, float]:
    seconds = timed(lambda: label_sheet_pdf(contents))
    pages = -(-len(contents) // LABELS_PER_PAGE)
    return len(contents) / seconds, pages / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI sizes: 20 PNGs, 2 pages")
    parser.add_argument("--dpi", type=int, default=300, help="PNG resolution (default 300)")
    args = parser.parse_args()
    png_count, pages = (20, 2) if args.small else (200, 10)
    fonts = PngFonts.detect()
    label_png(make_labels(1)[0], dpi=args.dpi, fonts=fonts)  # load fonts outside the clock
    png_rate = bench_png(make_labels(png_count), args.dpi, fonts)
    chinese = "with Chinese font" if fonts.has_cjk else "no Chinese font: Latin text only"
    print(f"PNG  {args.dpi} dpi: {png_rate:8.1f} labels/s  ({png_count} labels, {chinese})")
    label_rate, page_rate = bench_sheets(make_labels(pages * LABELS_PER_PAGE))
    print(f"PDF  A4 3 x 8:  {label_rate:8.1f} labels/s  ({page_rate:.1f} pages/s, {pages} pages)")


if __name__ == "__main__":
    main()
