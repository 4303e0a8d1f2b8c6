"""Drawing primitives: QR matrices, line breaking, bilingual captions, script runs."""

from __future__ import annotations

import pytest

from insutrace.labels import fonts
from insutrace.labels.layout import PT, Qr, Text, bilingual, fit_lines, fit_size, qr_modules, wrap
from insutrace.trace.errors import MalformedInput


def test_qr_dark_runs_cover_exactly_the_dark_modules() -> None:
    modules = qr_modules("https://id.insutrace.test/01/09506000134352", max_version=10)
    qr = Qr(x=1.0, y=2.0, size=len(modules) * 0.5, modules=modules)
    painted: set[tuple[int, int]] = set()
    for x, y, width in qr.dark_runs():
        row, col = round((y - 2.0) / 0.5), round((x - 1.0) / 0.5)
        painted.update((row, col + i) for i in range(round(width / 0.5)))
    dark = {(r, c) for r, line in enumerate(modules) for c, on in enumerate(line) if on}
    assert painted == dark


def test_qr_refuses_versions_above_the_limit() -> None:
    with pytest.raises(MalformedInput, match="needs version 11, at most 10"):
        qr_modules("x" * 214, max_version=10)


def test_runs_split_chinese_from_latin() -> None:
    placed = fonts.runs("燃烧性能 Combustion W/(m·K)", 10.0, False)
    assert [(run.text, run.cjk) for run in placed] == [
        ("燃烧性能", True),
        (" Combustion W/(m·K)", False),
    ]
    assert placed[0].width == pytest.approx(40.0)  # an ideograph is one em
    assert placed[1].offset == pytest.approx(40.0)


def test_text_width_adds_up_runs() -> None:
    whole = fonts.text_width("批号 Lot", 8.0)
    assert whole == pytest.approx(fonts.text_width("批号", 8.0) + fonts.text_width(" Lot", 8.0))


def test_anchor_moves_the_runs() -> None:
    start = Text(10.0, 5.0, "B1 级", 12.0)
    end = Text(10.0, 5.0, "B1 级", 12.0, anchor="end")
    (first, x_start), _ = list(start.placed())
    (_, x_end), _ = list(end.placed())
    assert first.text == "B1 "
    assert x_start == 10.0
    assert x_end == pytest.approx(10.0 - start.width)


def test_bilingual_puts_english_after_chinese_at_80_percent() -> None:
    zh, en = bilingual(5.0, 9.0, "批号", "Lot", 10.0)
    assert (zh.x, zh.text, en.text, en.size) == (5.0, "批号", "Lot", 8.0)
    assert en.x == pytest.approx(5.0 + 20.0 * PT + 3.0 * PT)


def test_bilingual_centred() -> None:
    zh, en = bilingual(50.0, 9.0, "扫码验真", "Scan to verify", 4.4, anchor="middle")
    assert (zh.x + en.x + en.width) / 2 == pytest.approx(50.0)


def test_fit_size_shrinks_only_when_needed() -> None:
    assert fit_size("B1", 14.0, 100.0) == 14.0
    size = fit_size("B1(B-s1,d0,t1)", 14.0, 20.0, bold=True)
    assert fonts.text_width("B1(B-s1,d0,t1)", size, bold=True) * PT == pytest.approx(20.0)


def test_wrap_keeps_latin_words_and_breaks_chinese_anywhere() -> None:
    lines = wrap("1-3层 南立面 Floors 1-3", 9.0, 25.0)
    assert lines == ["1-3层 南立面", "Floors 1-3"]
    assert all(fonts.text_width(line, 9.0) * PT <= 25.0 for line in lines)
    assert wrap("中建某局第三建设工程有限公司", 9.0, 30.0) == [
        "中建某局第三建设工",
        "程有限公司",
    ]  # 9 em in 30 mm


def test_fit_lines_shrinks_to_the_line_limit() -> None:
    text = "福建省某某新型建筑材料科技股份有限公司"
    lines, size = fit_lines(text, 9.0, 40.0, max_lines=2, min_size=6.0)
    assert len(lines) == 2 and "".join(lines) == text and size == 9.0
    lines, size = fit_lines(text, 9.0, 20.0, max_lines=2, min_size=6.0)
    assert len(lines) <= 2 and "".join(lines) == text and 6.0 <= size < 9.0


def test_fit_lines_puts_the_rest_on_the_last_line_at_the_minimum() -> None:
    text = "某" * 40
    lines, size = fit_lines(text, 9.0, 20.0, max_lines=2, min_size=6.0)
    assert size == 6.0 and len(lines) == 2 and "".join(lines) == text
