"""The investigation commands through the command line (an app built as cli.main builds it)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from insutrace.cli import investigate
from insutrace.cli.main import _Group, main_options

from .conftest import GateWorld


@functools.wraps(main_options)
def _options(ctx: typer.Context, **options: Any) -> None:
    """cli.main's global options, closing the store when the command ends."""
    main_options(ctx, **options)
    ctx.call_on_close(lambda: ctx.obj._store.close() if ctx.obj._store else None)


def _app() -> typer.Typer:
    app = typer.Typer(cls=_Group, no_args_is_help=True, add_completion=False)
    app.callback()(_options)
    investigate.register(app)
    return app


def _run(home: Path, db: str, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(_app(), ["--home", str(home), "--db", db, *args])
    assert result.exit_code == code, result.output
    return result.output


def test_investigation_commands(world: GateWorld, store_url: str, tmp_path: Path) -> None:
    project, batch = world.built_project()
    world.ledger.checkpoint()
    home = tmp_path / "home"
    traced = json.loads(_run(home, store_url, "backtrace", "--wall", f"{project}/N1"))
    assert traced["subject"] == {"kind": "section", "id": f"{project}/N1"}
    notice = json.loads(_run(home, store_url, "recall-list", batch))
    assert notice["walls"][0]["project"] == project
    gate = json.loads(_run(home, store_url, "gate", "evaluate", project, "fire_acceptance",
                           "--on", "2026-11-22"))  # fmt: skip
    assert gate["outcome"] == "pass"
    status = json.loads(_run(home, store_url, "credit", "status", world.id("maker")))
    assert status[0]["status"] == "clear"
    assert json.loads(_run(home, store_url, "credit", "proposals")) == []
    out, page, pdf = tmp_path / "d.json", tmp_path / "d.html", tmp_path / "d.pdf"
    _run(home, store_url, "dossier", "--wall", f"{project}/N1", "-o", str(out),
         "--html", str(page), "--pdf", str(pdf))  # fmt: skip
    assert page.read_text("utf-8").startswith("<!DOCTYPE html>") and pdf.read_bytes()[:4] == b"%PDF"
    vkey = world.ledger.log_verifier().vkey()
    ok = _run(home, "sqlite:////nonexistent/no.db", "verify-dossier", str(out), "--vkey", vkey)
    assert ok.startswith("ok: ")
    out.write_text(out.read_text("utf-8").replace('"proof": [', '"proof": ["AAAA", ', 1))
    bad = _run(home, "sqlite:////nonexistent/no.db", "verify-dossier", str(out), code=1)
    assert "error" in bad
    wrong = _run(home, store_url, "backtrace", "--wall", project, code=1)
    assert "expected PROJECT/SECTION" in wrong


def test_recall_notice_and_walls_commands(world: GateWorld, store_url: str, tmp_path: Path) -> None:
    """``recall-notice`` prints the read model's recall list, ``walls`` the building's wall
    identification with each section's standing (trace/domain/read.py)."""
    from insutrace.cli.main import recall_notice_cmd, walls_cmd
    from insutrace.trace.domain.read import recall_list

    project, batch = world.built_project()
    app = _app()
    app.command("recall-notice")(recall_notice_cmd)
    app.command("walls")(walls_cmd)
    args = ["--home", str(tmp_path / "home"), "--db", store_url]
    printed = CliRunner().invoke(app, [*args, "recall-notice", batch])
    assert printed.exit_code == 0, printed.output
    with world.ledger.store.read() as tx:
        assert json.loads(printed.output) == recall_list(tx, batch)
        building = (tx.get("project", project) or {})["building"]
    printed = CliRunner().invoke(app, [*args, "walls", building])
    assert printed.exit_code == 0, printed.output
    walls = json.loads(printed.output)["walls"]
    assert [(w["section"], w["batch"], w["accepted"]) for w in walls] == [("N1", batch, True)]
