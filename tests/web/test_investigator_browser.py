"""The investigator's journey in Chromium on the demo ledger: back-trace a building, a wall,
a label, a batch as a page with the chain drawn (server-rendered SVG), the upstream records
and the recall list, and download the dossier as JSON (which verifies offline), HTML and
PDF; bad input beside its field; another organisation's objects refused. The tests only
read: they share one served demo (``demo_world``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import browser_roles as roles

from insutrace.trace.dossier import load_dossier, verify_dossier

HIGH_RISE = "JY-2025-0231"
COLD_STORE = "QD-HD-2025-0088"


def test_a_building_back_traced_and_its_dossier_downloaded(
    browser: Any, demo_world: roles.World
) -> None:
    demo, log_signer = demo_world.demo, demo_world.log_signer
    with roles.as_role(
        browser, demo_world, "fire_nj", "investigator", "周调查", "investigator"
    ) as p:
        p.goto("/investigate")
        p.page.select_option("select[name=kind]", "building")
        p.page.fill("input[name=id]", HIGH_RISE)
        p.page.get_by_role("button", name="追溯 Trace").click()
        p.page.wait_for_load_state()
        assert p.page.locator("#summary").get_attribute("data-subject") == "building"
        assert p.page.locator("#graph svg").count() == 1
        upstream = p.text("#upstream")
        for name in (
            "江苏明德新型建材有限公司",
            "中建正泰工程局有限公司",
            "江苏金陵工程监理咨询有限公司",
        ):
            assert name in upstream  # manufacturer, contractor, supervisor of the high-rise
        # downstream: the walls each of its batches went into (the recall list)
        x2 = demo.batches["xps_2"]
        walls = p.page.locator(f'#downstream [data-recall="{x2}"] [data-wall^="{HIGH_RISE}/"]')
        assert walls.count() >= 1
        p.shot("trace-building")
        with p.page.expect_download() as download:
            p.page.get_by_role("link", name="JSON").click()
        dossier = load_dossier(Path(download.value.path()).read_bytes())
        check = verify_dossier(
            dossier, vkey=log_signer.verifier.vkey()
        )  # pinned: raises on a fault
        assert check.pinned and check.entries == len(dossier["entries"])
        assert dossier["subject"] == {"kind": "building", "id": HIGH_RISE}
        with p.page.expect_download() as download:
            p.page.get_by_role("link", name="HTML").click()
        html = Path(download.value.path()).read_text("utf-8")
        assert html.startswith("<!DOCTYPE html>") and "保温材料追溯调查卷宗" in html
        with p.page.expect_download() as download:
            p.page.get_by_role("link", name="PDF").click()
        assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")
        assert p.foreign() == []


def test_a_wall_a_batch_and_a_label_and_bad_input_beside_the_field(
    browser: Any, demo_world: roles.World
) -> None:
    x2 = demo_world.demo.batches["xps_2"]
    gtin, lot = x2.split(".", 1)
    label = f"https://id.insutrace.example/01/{gtin}/10/{lot}/21/SN000122"
    with roles.as_role(
        browser, demo_world, "fire_nj", "investigator", "周调查", "investigator"
    ) as p:
        p.goto(f"/investigate/trace?kind=wall&id={quote(HIGH_RISE + '/N1')}")
        assert p.page.locator("#summary").get_attribute("data-subject") == "section"
        assert p.page.locator('#upstream [data-node^="inspection:"]').count() >= 1
        assert p.fits()
        p.shot("trace-wall")
        p.goto(f"/investigate/trace?kind=batch&id={quote(x2)}")
        assert p.page.locator(f'#downstream [data-recall="{x2}"]').count() == 1
        p.goto(f"/investigate/trace?kind=label&id={quote(label)}")
        assert p.page.locator("#summary").get_attribute("data-subject") == "label"
        p.shot("trace-label")
        response = p.goto("/investigate/trace?kind=incident&id=NO-SUCH-INCIDENT")
        assert response.status == 404
        error = p.page.locator('[data-error-for="id"]')
        assert error.inner_text().startswith("无法追溯")
        response = p.goto("/investigate/trace?kind=wall&id=" + quote(HIGH_RISE))
        assert response.status == 400
        assert p.page.locator('[data-error-for="id"]').inner_text().startswith("此项填写有误")
        p.shot("trace-bad-input")
        assert p.foreign() == []


def test_another_organisations_walls_are_refused(browser: Any, demo_world: roles.World) -> None:
    base, ledger = demo_world.base, demo_world.ledger
    # the cold store's supervisor is party to the cold store only
    with roles.as_role(
        browser, demo_world, "supervisor_sd", "supervisor", "钱监理", "investigator"
    ) as p:
        for path in (
            f"/investigate/trace?kind=building&id={HIGH_RISE}",
            f"/investigate/trace?kind=wall&id={quote(HIGH_RISE + '/N1')}",
            f"/investigate/dossier.json?kind=building&id={HIGH_RISE}",
            "/investigate/trace?kind=incident&id=ANY",
        ):
            response = p.goto(path) if not path.startswith("/investigate/dossier") else None
            if response is None:
                status = p.context.request.get(base + path).status
            else:
                status = response.status
                assert "无权访问" in p.text("#refused")
            assert status == 403, path
        p.shot("trace-refused")
        with ledger.store.read() as tx:
            section = sorted(tx.get("project", COLD_STORE)["sections"])[0]
        p.goto(f"/investigate/trace?kind=wall&id={quote(f'{COLD_STORE}/{section}')}")
        assert p.page.locator("#summary").get_attribute("data-subject") == "section"
