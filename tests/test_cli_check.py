"""`anju check` on clean and broken workspaces: every problem, one line each, exit 2, no traceback."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from click.testing import CliRunner
from rasterio.transform import from_origin
from shapely.geometry import Point, Polygon

from scripts.cli import main
from tests.conftest import X0, Y0


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_check_clean_workspace_exits_0(tiny_workspace):
    res = CliRunner().invoke(main, ["check", str(tiny_workspace)])
    assert res.exit_code == 0, res.output
    assert "OK" in res.output and "EPSG:4545" in res.output


def _broken_workspace(root: Path) -> Path:
    from tests.conftest import write_tiny_workspace

    write_tiny_workspace(root)
    # truncated GeoTIFF as the DEM
    data = (root / "dem.tif").read_bytes()
    big = np.random.default_rng(1).random((300, 300)).astype("float32")
    with rasterio.open(
        root / "big.tif",
        "w",
        driver="GTiff",
        width=300,
        height=300,
        count=1,
        dtype="float32",
        crs="EPSG:4545",
        transform=from_origin(X0, Y0, 30, 30),
    ) as dst:
        dst.write(big, 1)
    data = (root / "big.tif").read_bytes()
    (root / "big.tif").unlink()
    (root / "dem_trunc.tif").write_bytes(data[: len(data) // 2])
    # GeoJSON with a self-intersecting (bow-tie) polygon
    bow = Polygon([(109, 28.28), (109.01, 28.29), (109.01, 28.28), (109, 28.29)])
    gpd.GeoDataFrame(
        {"protected_id": ["P1"], "kind": ["ecological_redline"]}, geometry=[bow], crs=4490
    ).to_file(root / "protected.geojson", driver="GeoJSON")
    # CSV missing a column (households without members); a register status outside the
    # vocabulary and an exit year out of range (Chinese headers, renamed on load)
    pd.DataFrame(
        {
            "household_id": ["h1", "h2"],
            "village_id": ["431200000001"] * 2,
            "registered_poor": ["是", "是"],
            "脱贫状态": ["已脱贫", "脱贫中"],
            "脱贫年份": [2035, None],
        }
    ).to_csv(root / "households.csv", index=False)
    # layer with no CRS (schools written without a .prj)
    gpd.GeoDataFrame(
        {"school_id": ["S1"], "level": ["primary"]}, geometry=[Point(X0 + 300, Y0 - 300)]
    ).to_file(root / "schools.shp")
    # poor > population, duplicate ids in the villages
    v = gpd.read_file(root / "villages.geojson")
    v.loc[2, "贫困人口"] = 500
    v.loc[1, "村代码"] = v.loc[0, "村代码"]
    # a hamlet without its administrative village
    v["level"] = ["admin", "admin", "hamlet"]
    v["parent_id"] = [None, None, None]
    v.to_file(root / "villages.geojson", driver="GeoJSON")
    # empty file
    (root / "towns.geojson").write_text(
        '{"type": "FeatureCollection", "features": []}', encoding="utf-8"
    )
    t = root / "workspace.toml"
    t.write_text(
        t.read_text(encoding="utf-8").replace('path = "dem.tif"', 'path = "dem_trunc.tif"')
        + '\n[layers.protected]\npath = "protected.geojson"\n'
        + '\n[layers.households]\npath = "households.csv"\n'
        + '\n[layers.schools]\npath = "schools.shp"\n'
        + '\n[layers.towns]\npath = "towns.geojson"\n'
        + '\n[layers.clinics]\npath = "clinics.gpkg"\n',
        encoding="utf-8",
    )
    return root


def test_check_broken_workspace_lists_every_problem(tmp_path):
    root = _broken_workspace(tmp_path / "broken")
    before = _digest(root)
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "check", str(root)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr
    assert "Traceback" not in err and "Traceback" not in proc.stdout
    lines = [ln for ln in err.splitlines() if ln.startswith("ERROR")]
    expect = {
        "truncated dem": ("dem_trunc.tif", "cannot read the raster"),
        "self-intersecting": ("protected.geojson", "cannot be repaired"),
        "missing column": ("households.csv", "'members'"),
        "no crs": ("schools.shp", "no CRS"),
        "poor > population": ("villages.geojson", "more registered poor than people"),
        "duplicate ids": ("villages.geojson", "duplicate ids"),
        "empty": ("towns.geojson", "empty"),
        "missing file": ("clinics.gpkg", "file not found"),
        "hamlet without parent": (
            "villages.geojson",
            "row 3 (village_id 431200000003), column 'parent_id': a hamlet without parent_id",
        ),
        "bad register status": (
            "households.csv",
            "row 2 (household_id h2), column 'register_status': expected one of not_exited",
        ),
        "exit year out of range": (
            "households.csv",
            "row 1 (household_id h1), column 'exit_year': expected 2014..2030, found 2035",
        ),
    }
    for what, (file, text) in expect.items():
        assert any(file in ln and text in ln for ln in lines), f"{what} not reported:\n{err}"
    assert all(ln.count("ERROR") == 1 for ln in lines)  # one problem per line
    assert _digest(root) == before  # check changes no input file


def test_an_internal_error_is_one_line_not_a_traceback(
    monkeypatch, capsys, tiny_workspace, tmp_path
):
    import pytest

    import scripts.pipeline
    from scripts.cli import entry

    def boom(*_a, **_k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(scripts.pipeline, "run_pipeline", boom)
    monkeypatch.setattr(
        sys, "argv", ["anju", "run", str(tiny_workspace), "--out", str(tmp_path / "o"), "--quiet"]
    )
    monkeypatch.delenv("ANJU_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        entry()
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert (
        "internal error (RuntimeError: kaboom)" in err
        and "ANJU_DEBUG=1" in err
        and "Traceback" not in err
    )


def test_check_committed_demo_is_clean():
    """The committed demo passes `anju check` with no error and no warning: its traps are
    figures for the pipeline to report, not broken inputs."""
    demo = Path(__file__).resolve().parents[1] / "data" / "demo"
    res = CliRunner().invoke(main, ["check", str(demo)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("OK ") and "0 warning(s)" in res.output
    assert "villages 262" in res.output and "households 7170" in res.output
