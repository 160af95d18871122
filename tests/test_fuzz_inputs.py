"""Fuzzing the inputs (issue 16): a valid tiny workspace, mutated, must give exit 0 with a
valid plan or exit 2 with ERROR lines naming a file: never exit 1, never a traceback, never
a half-written OUT.

The default part runs ``anju check`` on ~100 mutated workspaces (well under a minute); the
``slow`` part runs ``anju run`` as well.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from scripts.cli import main
from tests.conftest import write_tiny_workspace

FUZZ = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return write_tiny_workspace(tmp_path_factory.mktemp("fuzz") / "ws")


def _copy(base: Path) -> tuple[Path, Path]:
    tmp = Path(tempfile.mkdtemp(prefix="anju-fuzz-"))
    ws = tmp / "ws"
    shutil.copytree(base, ws)
    return tmp, ws


def _assert_clean_exit(res, ws: Path) -> None:
    assert res.exit_code in (0, 2), (res.exit_code, res.output, repr(res.exception))
    assert "Traceback" not in res.output and "internal error" not in res.output, res.output
    if res.exit_code == 2:
        errors = [ln for ln in res.output.splitlines() if ln.startswith("ERROR: ")]
        assert errors, res.output
        for ln in errors:  # each names a file (the workspace's, or the toml)
            assert str(ws) in ln or "workspace.toml" in ln, ln


def _check(ws: Path):
    res = CliRunner().invoke(main, ["check", str(ws)])
    _assert_clean_exit(res, ws)
    return res


def _run(ws: Path, out: Path):
    res = CliRunner().invoke(main, ["run", str(ws), "--out", str(out), "--quiet", "--no-history"])
    _assert_clean_exit(res, ws)
    if res.exit_code == 0:
        m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        assert all((out / o.split(":")[0]).exists() for o in m["outputs"])
    else:
        assert not out.exists()  # nothing half-written
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    return res


# ----------------------------------------------------------------- mutations

cell_values = st.one_of(
    st.none(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["3 km", "１２００", "1,200", "NaN", "inf", "-0", "是", "", " "]),
)
columns = st.sampled_from(["人口", "户数", "贫困人口", "has_safe_water", "村代码", "村名"])


def _values(vals: list) -> list:
    # a GeoPackage column holds one type: mixed values are written as text
    if all(v is None or isinstance(v, int | float) for v in vals):
        return [None if v is None else float(v) for v in vals]
    return [None if v is None else str(v) for v in vals]


def mutate_values(ws: Path, column: str, vals: list) -> None:
    v = gpd.read_file(ws / "villages.geojson")
    v[column] = _values(vals)
    (ws / "villages.geojson").unlink()
    v.to_file(ws / "villages.gpkg", layer="villages")
    t = (ws / "workspace.toml").read_text(encoding="utf-8")
    (ws / "workspace.toml").write_text(
        t.replace('path = "villages.geojson"', 'path = "villages.gpkg"'), encoding="utf-8"
    )


geometries = st.sampled_from(
    ["empty", "none", "huge", "far", "nan", "polygon", "same", "line"]
).flatmap(lambda kind: st.tuples(st.just(kind), st.integers(0, 2)))


def mutate_geometry(ws: Path, kind: str, row: int) -> None:
    v = gpd.read_file(ws / "villages.geojson")
    g = list(v.geometry)
    p = g[row]
    g[row] = {
        "empty": Point(),
        "none": None,
        "huge": box(-1e6, -1e6, 1e6, 1e6),
        "far": Point(1e20, -1e20),
        "nan": Point(math.nan, math.nan),
        "polygon": p.buffer(0.001),
        "same": g[(row + 1) % 3],
        "line": box(p.x, p.y, p.x + 0.01, p.y + 0.01).boundary,
    }[kind]
    v = v.set_geometry(gpd.GeoSeries(g, crs=v.crs))
    (ws / "villages.geojson").unlink()
    v.to_file(ws / "villages.gpkg", layer="villages")
    t = (ws / "workspace.toml").read_text(encoding="utf-8")
    (ws / "workspace.toml").write_text(
        t.replace('path = "villages.geojson"', 'path = "villages.gpkg"'), encoding="utf-8"
    )


def mutate_crs(ws: Path, layer: str, crs: str | None) -> None:
    fname, lname = {"roads": ("roads.gpkg", "roads"), "boundary": ("county.gpkg", "boundary")}[
        layer
    ]
    g = gpd.read_file(ws / fname, layer=lname)
    g = g.to_crs(crs) if crs else g.set_crs(None, allow_override=True)
    (ws / fname).unlink()
    g.to_file(ws / fname, layer=lname)


def truncate(ws: Path, name: str, frac: float) -> None:
    p = ws / name
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * frac)])


def reencode(ws: Path, encoding: str, junk: bytes) -> None:
    p = ws / "villages.geojson"
    text = p.read_text(encoding="utf-8")
    p.write_bytes(text.encode(encoding, errors="replace").replace(b"\x00", b"") + junk)


toml_values = st.one_of(
    st.integers(min_value=-(10**9), max_value=10**9).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: (
            "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf") if math.isinf(f) else repr(f)
        )
    ),
    st.sampled_from(['"3 km"', "true", "[]", "[1, 2]", '"national"', "{}", '"" ']),
)
toml_keys = st.sampled_from(
    [
        "village_catchment_radius_m",
        "road_snap_tolerance_m",
        "cliff_slope_deg",
        "dem_outside_max_frac",
        "dem_coarse_cell_m",
        "current_year",
        "timetable_years",
        "infer_surface_from_class",
        "no_such_key",
    ]
)


def mutate_toml(ws: Path, key: str, value: str) -> None:
    with open(ws / "workspace.toml", "a", encoding="utf-8") as fh:
        fh.write(f"\n[parameters]\n{key} = {value}\n")


# ----------------------------------------------------------------- check (default)


@FUZZ
@given(column=columns, vals=st.lists(cell_values, min_size=3, max_size=3))
def test_check_survives_any_cell_values(base, column, vals):
    tmp, ws = _copy(base)
    try:
        mutate_values(ws, column, vals)
        _check(ws)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@FUZZ
@given(g=geometries)
def test_check_survives_odd_geometries(base, g):
    tmp, ws = _copy(base)
    try:
        mutate_geometry(ws, *g)
        _check(ws)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@FUZZ
@given(
    layer=st.sampled_from(["roads", "boundary"]),
    crs=st.sampled_from(["EPSG:4326", "EPSG:3857", "EPSG:4490", "EPSG:32649", None]),
)
def test_check_survives_mixed_crs(base, layer, crs):
    tmp, ws = _copy(base)
    try:
        mutate_crs(ws, layer, crs)
        _check(ws)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@FUZZ
@given(
    name=st.sampled_from(["villages.geojson", "roads.gpkg", "dem.tif", "county.gpkg"]),
    frac=st.floats(min_value=0.0, max_value=0.99),
)
def test_check_survives_truncated_files(base, name, frac):
    tmp, ws = _copy(base)
    try:
        truncate(ws, name, frac)
        _check(ws)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@FUZZ
@given(
    encoding=st.sampled_from(["gb18030", "utf-16", "latin-1", "big5", "shift_jis"]),
    junk=st.binary(max_size=8),
)
def test_check_survives_non_utf8_text(base, encoding, junk):
    tmp, ws = _copy(base)
    try:
        reencode(ws, encoding, junk)
        _check(ws)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@FUZZ
@given(key=toml_keys, value=toml_values)
def test_check_survives_bad_workspace_values(base, key, value):
    tmp, ws = _copy(base)
    try:
        mutate_toml(ws, key, value)
        _check(ws)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@FUZZ
@given(text=st.text(max_size=200))
def test_check_survives_any_workspace_toml(base, text):
    tmp, ws = _copy(base)
    try:
        (ws / "workspace.toml").write_text(text, encoding="utf-8")
        _check(ws)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------- run (slow)

mutations = st.one_of(
    st.tuples(st.just("values"), columns, st.lists(cell_values, min_size=3, max_size=3)),
    st.tuples(st.just("geometry"), geometries),
    st.tuples(
        st.just("crs"),
        st.sampled_from(["roads", "boundary"]),
        st.sampled_from(["EPSG:4326", "EPSG:3857", "EPSG:4490"]),
    ),
    st.tuples(st.just("toml"), toml_keys, toml_values),
)


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(m=mutations)
def test_run_gives_a_plan_or_a_clear_error(base, m):
    tmp, ws = _copy(base)
    try:
        kind, *args = m
        if kind == "values":
            mutate_values(ws, *args)
        elif kind == "geometry":
            mutate_geometry(ws, *args[0])
        elif kind == "crs":
            mutate_crs(ws, *args)
        else:
            mutate_toml(ws, *args)
        check = _check(ws)
        res = _run(ws, tmp / "plan")
        # check validates everything run refuses as bad input
        if check.exit_code == 0:
            assert res.exit_code == 0 or "ERROR" in res.output
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
