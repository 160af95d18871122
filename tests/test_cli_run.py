"""`anju run` says what it could not see: every manifest warning is a line on stderr."""

from __future__ import annotations

import json

from click.testing import CliRunner

from scripts.cli import main
from tests.conftest import write_tiny_workspace


def test_run_prints_the_headline_and_every_warning(tmp_path):
    ws = write_tiny_workspace(tmp_path / "ws")  # no clinics, towns, hazards, households...
    out = tmp_path / "plan"
    res = CliRunner().invoke(main, ["run", str(ws), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["warnings"]
    for w in manifest["warnings"]:
        assert f"WARNING: {w}" in res.output
    assert "no hazards layer" in res.output and "no household register" in res.output
    assert "km of unknown surface" in res.output and "assessed for exit" in res.output


def test_serve_on_a_workspace_says_how_to_make_its_plan(tmp_path):
    from layers.plan import BUILD_COMMAND, build_command

    ws = write_tiny_workspace(tmp_path / "青岩县")
    res = CliRunner().invoke(main, ["serve", str(ws)])
    assert res.exit_code == 2
    assert "is a workspace" in res.output and f"anju run {ws} --out {ws / 'plan'}" in res.output
    assert "data/demo" not in res.output
    # the page's alert gives the same kind of command for a plan folder beside a workspace
    assert build_command(ws / "plan") == f"anju run {ws} --out {ws / 'plan'}"
    assert build_command(tmp_path / "elsewhere") == BUILD_COMMAND
