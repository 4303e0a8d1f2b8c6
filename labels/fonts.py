"""Which face draws each character of a label, and how wide it is.

Nothing here downloads anything at run time:

* Latin: Bitstream Vera (``Vera.ttf``, ``VeraBd.ttf``), shipped inside reportlab. PDFs embed a
  subset; PNGs load the same files into Pillow, so both have the same metrics.
* Chinese in PDF: WenQuanYi Micro Hei from the ``paperang-p2-fonts-cjk`` wheel, embedded as a
  subset, so a sheet prints the same on any printer or viewer. Only if that package is missing,
  Adobe's ``STSong-Light`` CID font (Adobe-GB1-4, ISO 32000-1 §9.7), which the viewer must
  supply. Ideographs are one em wide in both, as in every CJK face, so layout is the same.
* Chinese in PNG: Pillow needs an outline font with CJK glyphs. The project depends on the
  data-only wheel ``paperang-p2-fonts-cjk``, which ships WenQuanYi Micro Hei
  (``wqy-microhei.ttc``); ``PngFonts.detect()`` uses it, and only if it is missing asks
  fontconfig for a Chinese font installed on the machine. Without either, PNGs leave the
  Chinese runs blank; ``PngFonts.has_cjk`` tells which case applies.

Text is split into runs: characters that Vera covers are Latin, the rest Chinese.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import reportlab
from PIL import ImageFont
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

__all__ = [
    "CJK_PDF_FONT",
    "PngFonts",
    "Run",
    "latin_font_name",
    "latin_font_path",
    "register_pdf_fonts",
    "runs",
    "text_width",
]

_CID_FONT = "STSong-Light"
_EMBEDDED_CJK = "InsuTrace-WenQuanYi"
_LATIN = {False: ("InsuTrace-Vera", "Vera.ttf"), True: ("InsuTrace-VeraBd", "VeraBd.ttf")}
_FC_FORMAT = "%{file}\t%{index}\t%{family}\t%{style}\n"

FreeTypeFont = ImageFont.FreeTypeFont


@dataclass(frozen=True, slots=True)
class Run:
    """A stretch of one script; ``offset`` and ``width`` in points from the text's start."""

    text: str
    cjk: bool
    offset: float
    width: float


def latin_font_name(bold: bool) -> str:
    """The name under which ``register_pdf_fonts`` registers the Latin face."""
    return _LATIN[bold][0]


def latin_font_path(bold: bool) -> Path:
    """The Vera file inside the installed reportlab package."""
    return Path(reportlab.__file__).parent / "fonts" / _LATIN[bold][1]


@lru_cache(maxsize=1)
def register_pdf_fonts() -> None:
    """Register STSong-Light and the two Vera faces with reportlab, once per process."""
    packaged = _packaged_cjk_font()
    if packaged is None:
        pdfmetrics.registerFont(UnicodeCIDFont(_CID_FONT))
    else:
        pdfmetrics.registerFont(TTFont(_EMBEDDED_CJK, str(packaged), subfontIndex=0))
    for bold in (False, True):
        pdfmetrics.registerFont(TTFont(latin_font_name(bold), str(latin_font_path(bold))))


@lru_cache(maxsize=1)
def _latin_coverage() -> frozenset[int]:
    face = TTFont("InsuTrace-coverage", str(latin_font_path(False))).face
    return frozenset(face.charToGlyph)


@lru_cache(maxsize=8192)
def runs(text: str, size: float, bold: bool) -> tuple[Run, ...]:
    """Split ``text`` into Latin and Chinese runs and place them, ``size`` in points."""
    covered = _latin_coverage()
    pieces: list[tuple[str, bool]] = []
    for char in text:
        cjk = ord(char) not in covered
        if pieces and pieces[-1][1] == cjk:
            pieces[-1] = (pieces[-1][0] + char, cjk)
        else:
            pieces.append((char, cjk))
    placed: list[Run] = []
    offset = 0.0
    for piece, cjk in pieces:
        width = _run_width(piece, cjk, size, bold)
        placed.append(Run(piece, cjk, offset, width))
        offset += width
    return tuple(placed)


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of ``text`` in points at ``size`` points."""
    placed = runs(text, size, bold)
    return placed[-1].offset + placed[-1].width if placed else 0.0


def _run_width(text: str, cjk: bool, size: float, bold: bool) -> float:
    register_pdf_fonts()
    name = CJK_PDF_FONT if cjk else latin_font_name(bold)
    return float(pdfmetrics.stringWidth(text, name, size))


@dataclass(frozen=True, slots=True)
class PngFonts:
    """Font files for PNG output; ``cjk`` None means Chinese runs are left blank."""

    cjk: Path | None = None
    cjk_index: int = 0
    cjk_bold: Path | None = None
    cjk_bold_index: int = 0

    @property
    def has_cjk(self) -> bool:
        return self.cjk is not None

    @classmethod
    def detect(cls) -> PngFonts:
        """The machine's best Chinese sans font via fontconfig (``fc-list :lang=zh-cn``)."""
        return _detect_png_fonts()

    def face(self, cjk: bool, bold: bool, size_px: float) -> FreeTypeFont | None:
        """The Pillow face for a run, or None when there is no Chinese font."""
        if not cjk:
            return _truetype(latin_font_path(bold), 0, size_px)
        if bold and self.cjk_bold is not None:
            return _truetype(self.cjk_bold, self.cjk_bold_index, size_px)
        return _truetype(self.cjk, self.cjk_index, size_px) if self.cjk else None


@lru_cache(maxsize=256)
def _truetype(path: Path, index: int, size_px: float) -> FreeTypeFont:
    return ImageFont.truetype(str(path), size_px, index=index)


def _packaged_cjk_font() -> Path | None:
    """WenQuanYi Micro Hei from the ``paperang_p2_fonts_cjk`` wheel, if installed."""
    try:
        import paperang_p2_fonts_cjk
    except ImportError:
        return None
    path = Path(paperang_p2_fonts_cjk.__file__).parent / "fonts" / "wqy-microhei.ttc"
    return path if path.is_file() else None


@lru_cache(maxsize=1)
def _detect_png_fonts() -> PngFonts:
    packaged = _packaged_cjk_font()
    if packaged is not None:
        return PngFonts(packaged, 0, packaged, 0)
    candidates = _fontconfig_chinese_fonts()
    regular = _best_font(candidates, "Regular")
    if regular is None:
        return PngFonts()
    bold = _best_font(candidates, "Bold") or regular
    return PngFonts(regular[0], regular[1], bold[0], bold[1])


def _fontconfig_chinese_fonts() -> list[tuple[Path, int, str, str]]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    command = [fc_list, "-f", _FC_FORMAT, ":lang=zh-cn"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    fonts = []
    for line in done.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[1].isdigit() and Path(parts[0]).is_file():
            fonts.append((Path(parts[0]), int(parts[1]), parts[2], parts[3]))
    return fonts


def _best_font(fonts: list[tuple[Path, int, str, str]], style: str) -> tuple[Path, int] | None:
    """Prefer a simplified-Chinese proportional sans face of the wanted style."""

    def score(font: tuple[Path, int, str, str]) -> tuple[bool, bool, bool, bool, str]:
        _, _, family, font_style = font
        return (
            style in font_style,
            "SC" in family or "GB" in family,
            "Mono" not in family,
            "Sans" in family or "Hei" in family,
            str(font[0]),
        )

    if not fonts:
        return None
    best = max(fonts, key=score)
    return (best[0], best[1]) if style in best[3] or style == "Regular" else None


CJK_PDF_FONT = _EMBEDDED_CJK if _packaged_cjk_font() is not None else _CID_FONT
"""The PDF font name of Chinese runs (embedded WenQuanYi, or the STSong-Light CID font)."""
