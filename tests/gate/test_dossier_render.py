"""A dossier file rendered as evidence: only once it verifies, with no database; the PDF's
text is read back and its pages rasterised (pypdfium2)."""

from __future__ import annotations

import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from insutrace.render.evidence import cst
from insutrace.trace.domain.fields import CST

from .conftest import GateWorld
from .test_cli import _run
from .test_dossier import recalled_world

NO_DB = "sqlite:////nonexistent/no.db"
CASE, INVESTIGATOR = "(2026)宁消调字第0042号", "李明"


@pytest.fixture
def exported(world: GateWorld, store_url: str, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    found = recalled_world(world)
    world.ledger.checkpoint()  # the command line holds no log key: it uses the latest
    out = tmp_path / "d.json"
    _run(tmp_path / "home", store_url, "dossier", "--wall", f"{found['project']}/N1",
         "-o", str(out))  # fmt: skip
    return out, found


def _pdf_pages(path: Path) -> list[str]:
    pdf = pdfium.PdfDocument(str(path))
    return [pdf[i].get_textpage().get_text_range().replace("\r", "") for i in range(len(pdf))]


def test_a_received_dossier_renders_as_evidence(
    world: GateWorld, exported: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    out, found = exported
    key = tmp_path / "log.vkey"
    key.write_text(world.ledger.log_verifier().vkey() + "\n", encoding="utf-8")
    page, pdf = tmp_path / "d.html", tmp_path / "d.pdf"
    _run(tmp_path / "home", NO_DB, "dossier", "render", str(out), "--html", str(page),
         "--pdf", str(pdf), "--case", CASE, "--investigator", INVESTIGATOR,
         "--vkey", str(key))  # fmt: skip
    maker, batch = world.id("maker"), found["batch"]
    recall = world.ledger.entry(world.ledger.size() - 1)
    assert recall.type == "batch.recall"
    recalled_at = cst(recall.time)  # the entry time in UTC+8 …
    assert recall.time[11:13] != recalled_at[11:13]  # … which is not the UTC hour
    html = page.read_text("utf-8")
    texts = _pdf_pages(pdf)
    whole = "\n".join(texts)
    with world.ledger.store.read() as tx:
        maker_name = tx.get("org", maker)["name"]  # type: ignore[index]
    for text in (html, whole.replace("\n", "")):
        assert CASE in text and INVESTIGATOR in text
        assert "案情摘要" in text and "Summary" in text
        assert f"批次 {batch}" in text and "已于" in text and "召回" in text
        assert "见证取样复验不合格" in text  # the recall's reason, Chinese first
        assert "不合格" in text and "B2(E)" in text  # the failed re-test's result
        assert "面积 600 m²" in text  # m², not 600000 milli-units
        assert f"{maker_name}（{maker}）" in text  # the name beside the credit code
        assert recalled_at in text and "北京时间 UTC+8" in text
        assert "调查人签字" in text and "Signature of the investigator" in text
    assert "生产 produced" in html and "<svg" in html  # labelled edges
    total = len(texts)
    for n, text in enumerate(texts, 1):
        assert f"第 {n} 页 / 共 {total} 页" in text
    document = pdfium.PdfDocument(str(pdf))
    assert len(document) == total > 3
    for i in range(total):
        image = document[i].render(scale=0.5).to_pil().convert("L")
        low, high = image.getextrema()
        assert high - low > 100, f"page {i + 1} is blank"


def test_the_chain_is_split_over_pages_and_labelled(
    world: GateWorld, exported: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    out, _ = exported
    pdf = tmp_path / "d.pdf"
    _run(tmp_path / "home", NO_DB, "dossier", "render", str(out), "--pdf", str(pdf))
    chain = [t for t in _pdf_pages(pdf) if t.startswith("追溯链")]
    assert len(chain) > 1 and f"part {len(chain)} of {len(chain)}" in chain[-1]
    assert any("生产 produced" in t for t in chain) and any("安装 installed" in t for t in chain)


def test_an_edited_dossier_is_not_rendered(
    exported: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    out, found = exported
    dossier = json.loads(out.read_text("utf-8"))
    node = next(n for n in dossier["trace"]["nodes"] if n["id"] == f"batch:{found['batch']}")
    node["facts"]["recalled"] = False
    out.write_text(json.dumps(dossier, ensure_ascii=False), encoding="utf-8")
    page, pdf = tmp_path / "d.html", tmp_path / "d.pdf"
    refused = _run(tmp_path / "home", NO_DB, "dossier", "render", str(out), "--html", str(page),
                   "--pdf", str(pdf), code=1)  # fmt: skip
    assert len(refused.strip().splitlines()) == 1
    assert f"node batch:{found['batch']}: field facts.recalled" in refused
    assert not page.exists() and not pdf.exists()
    failed = _run(tmp_path / "home", NO_DB, "verify-dossier", str(out), code=1)
    assert "facts.recalled" in failed and len(failed.strip().splitlines()) == 1


def test_the_timeline_is_china_standard_time() -> None:
    assert cst("2026-11-22T16:30:00.000Z") == "2026-11-23 00:30"
    assert CST.utcoffset(None).total_seconds() == 8 * 3600  # type: ignore[union-attr]
