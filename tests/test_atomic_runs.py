"""`anju run` is atomic and leaves nothing behind (issue 16): killed runs, reused pids, modes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from layers.plan import clean_stale_siblings
from scripts.cli import main
from tests.conftest import write_full_tiny_workspace, write_tiny_workspace


def _dead_pid() -> int:
    """A process id that has ended (the id of a child that exited)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _leftover(parent: Path, name: str, *, age_s: float = 3600) -> Path:
    d = parent / name
    (d / "tables").mkdir(parents=True)
    (d / "tables" / "households.csv").write_text("head_name\n张三丰\n", encoding="utf-8")
    t = time.time() - age_s
    os.utime(d, (t, t))
    return d


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_a_killed_run_and_a_reused_pid_do_not_block_the_next_run(tmp_path):
    ws = write_tiny_workspace(tmp_path / "ws")
    out = tmp_path / "plan"
    out.mkdir()
    (out / "manifest.json").write_text("{}", encoding="utf-8")
    # what a killed run left: its temporary folder and the previous plan, moved aside under
    # the old naming (only the pid) and under the new one, with *our* pid reused
    me = os.getpid()
    dead = _dead_pid()
    left = [
        _leftover(tmp_path, f".plan.partial-{dead}-abc123"),
        _leftover(tmp_path, f".plan.partial-{me}-zzz999"),  # pid reused by this process
        _leftover(tmp_path, f".plan.old-{me}"),  # the name the old writer would reuse
        _leftover(tmp_path, f".plan.old-{dead}"),
        _leftover(tmp_path, ".plan.partialqwerty"),  # pid unreadable: a leftover too
    ]
    res = CliRunner().invoke(main, ["run", str(ws), "--out", str(out), "--quiet", "--no-history"])
    assert res.exit_code == 0, res.output
    assert (out / "plan.gpkg").is_file() and (out / "manifest.json").stat().st_size > 10
    for d in left[:4]:
        assert not d.exists(), d
    assert _hidden(tmp_path) == [".plan.partialqwerty"]  # not ours to judge: other prefix
    # a second run replaces the plan and again leaves nothing beside it
    res = CliRunner().invoke(main, ["run", str(ws), "--out", str(out), "--quiet", "--no-history"])
    assert res.exit_code == 0, res.output
    assert _hidden(tmp_path) == [".plan.partialqwerty"]


def test_a_running_writer_keeps_its_folder(tmp_path):
    out = tmp_path / "plan"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.2)
        mine = tmp_path / f".plan.partial-{live.pid}-x1"
        mine.mkdir()  # touched after the process started: it is live
        reused = _leftover(tmp_path, f".plan.old-{live.pid}-x2")  # older than the process
        removed = clean_stale_siblings(out)
        assert mine.exists() and not reused.exists() and removed == [reused]
    finally:
        live.kill()
        live.wait()


def test_a_terminated_run_removes_its_temporary_folder(tmp_path):
    """SIGTERM during the write: the temporary folder goes, the previous plan stays."""
    ws = write_tiny_workspace(tmp_path / "ws")
    out = tmp_path / "plan"
    code = (
        "import os, signal, sys\n"
        "import layers.plan as P\n"
        "real = P._write_raster\n"
        "def slow(*a, **k):\n"
        "    real(*a, **k)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "P._write_raster = slow\n"
        "from scripts.pipeline import run_pipeline\n"
        f"run_pipeline({str(ws)!r}, {str(out)!r}, progress=False)\n"
    )
    out.mkdir()
    (out / "manifest.json").write_text('{"previous": true}', encoding="utf-8")
    p = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 128 + 15, p.stderr[-2000:]
    assert _hidden(tmp_path) == []
    assert (out / "manifest.json").read_text(encoding="utf-8") == '{"previous": true}'


def test_a_stage_failing_after_the_early_rasters_leaves_nothing(tmp_path, monkeypatch):
    """The DEM, slope and travel rasters start writing before relocation runs: when a later
    stage fails, their temporary folder goes and the previous plan stays."""
    import pytest

    import geo.resettlement as R
    from scripts.pipeline import run_pipeline

    ws = write_tiny_workspace(tmp_path / "ws")
    out = tmp_path / "plan"
    out.mkdir()
    (out / "manifest.json").write_text('{"previous": true}', encoding="utf-8")
    written: list[str] = []

    def fail(*a, **k):
        # the early rasters are being written (or were): wait for one, then fail
        deadline = time.time() + 60
        while not any(tmp_path.glob(".plan.partial-*/rasters/*.tif")) and time.time() < deadline:
            time.sleep(0.01)
        written.extend(p.name for p in tmp_path.glob(".plan.partial-*/rasters/*.tif"))
        raise RuntimeError("relocation broke")

    monkeypatch.setattr(R, "plan_resettlement", fail)
    with pytest.raises(RuntimeError, match="relocation broke"):
        run_pipeline(ws, out, progress=False)
    assert written, "no raster was written before relocation"
    assert _hidden(tmp_path) == []
    assert (out / "manifest.json").read_text(encoding="utf-8") == '{"previous": true}'


def test_personal_tables_are_private(tmp_path):
    ws = write_full_tiny_workspace(tmp_path / "ws")
    out = tmp_path / "plan"
    res = CliRunner().invoke(
        main,
        [
            "run",
            str(ws),
            "--out",
            str(out),
            "--quiet",
            "--no-history",
            "--allow-personal",
            "--xlsx",
        ],
    )
    assert res.exit_code == 0, res.output
    hh = out / "tables" / "households.csv"
    assert "张三丰" in hh.read_text(encoding="utf-8-sig")
    for f in (hh, out / "tables" / "households.xlsx"):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    # the plan folder itself is readable as usual (not the temporary folder's 0700)
    assert stat.S_IMODE(out.stat().st_mode) & 0o700 == 0o700
    assert stat.S_IMODE((out / "manifest.json").stat().st_mode) & 0o600 == 0o600


def test_out_that_is_a_file_is_refused(tmp_path):
    ws = write_tiny_workspace(tmp_path / "ws")
    out = tmp_path / "plan"
    out.write_text("not a plan", encoding="utf-8")
    res = CliRunner().invoke(main, ["run", str(ws), "--out", str(out), "--quiet"])
    assert res.exit_code == 2 and "found a file" in res.output
    assert out.read_text(encoding="utf-8") == "not a plan"


def test_out_inside_a_file_is_refused(tmp_path):
    ws = write_tiny_workspace(tmp_path / "ws")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    res = CliRunner().invoke(
        main, ["run", str(ws), "--out", str(tmp_path / "notes.txt" / "plan"), "--quiet"]
    )
    assert res.exit_code == 2 and "which is a file" in res.output


def test_a_stage_failing_while_relocation_runs_stops_it(tmp_path, monkeypatch):
    """Relocation runs on a worker thread alongside the indicators: when the indicators
    fail, the run raises their error, the worker stops at its next progress report (it does
    not run on to the end), and the previous plan stays."""
    import threading

    import pytest

    import geo.indicators as I
    import geo.resettlement as R
    from scripts.pipeline import run_pipeline

    ws = write_tiny_workspace(tmp_path / "ws")
    out = tmp_path / "plan"
    out.mkdir()
    (out / "manifest.json").write_text('{"previous": true}', encoding="utf-8")
    started = threading.Event()
    reports: list[int] = []

    def slow_relocation(*a, progress=None, **k):
        started.set()
        for i in range(6000):  # a minute of work unless stopped
            progress("relocation", i / 6000)
            reports.append(i)
            time.sleep(0.01)
        raise AssertionError("the relocation worker was not stopped")

    def failing_indicators(*a, **k):
        assert started.wait(30), "relocation did not start alongside the indicators"
        raise RuntimeError("indicators broke")

    monkeypatch.setattr(R, "plan_resettlement", slow_relocation)
    monkeypatch.setattr(I, "evaluate", failing_indicators)
    t0 = time.time()
    with pytest.raises(RuntimeError, match="indicators broke"):
        run_pipeline(ws, out, progress=False)
    deadline = time.time() + 10
    while any(t.name.startswith("anju-relocation") for t in threading.enumerate()):
        assert time.time() < deadline, "the relocation worker still runs"
        time.sleep(0.05)
    assert time.time() - t0 < 40 and len(reports) < 3000
    assert _hidden(tmp_path) == []
    assert (out / "manifest.json").read_text(encoding="utf-8") == '{"previous": true}'
