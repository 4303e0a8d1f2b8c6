"""The package as a newcomer installs it: a wheel in a clean virtual environment."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_repo(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(REPO)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("insutrace-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "--quiet", str(wheel)], check=True, cwd=tmp_path)

    help_text = subprocess.run(
        [env_dir / "bin" / "insutrace", "--help"],
        check=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    ).stdout
    assert "verify" in help_text and "export" in help_text

    probe = (
        "import trace, insutrace.trace.ledger, insutrace.trace.policy;"
        "import insutrace.render.dossier_html, insutrace.render.dossier_pdf, insutrace.demo.story;"
        "assert 'site-packages' not in trace.__file__, trace.__file__;"  # stdlib trace intact
        "print(insutrace.trace.ledger.__file__)"
    )
    where = subprocess.run(
        [py, "-c", probe], check=True, cwd=tmp_path, capture_output=True, text=True
    )
    assert "site-packages" in where.stdout

    home = tmp_path / "home"
    subprocess.run(
        [env_dir / "bin" / "insutrace", "--home", str(home), "init"], check=True, cwd=tmp_path
    )
    out = subprocess.run(
        [env_dir / "bin" / "insutrace", "--home", str(home), "verify"],
        check=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    ).stdout
    assert out.startswith("ok: 1 entries")
