"""PostGIS as the shared plan store, against a real throwaway server (tests/pg.py).

A plan made by the pipeline on the full tiny workspace goes through the store and back
(same rows, values, geometries within 1e-9 degree, CRS, rasters, manifest); a reader
while another plan is being published sees the whole old plan, then the whole new one;
personal columns stay out without ``allow_personal``; the dashboard serves the store's
current plan; a bad URL is one line, exit 2, password hidden.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pyogrio
import pytest
from click.testing import CliRunner
from psycopg import sql

from layers.catalogue import PERSONAL_COLUMNS
from layers.errors import LayerNotFoundError
from layers.history import diff_snapshots
from layers.plan import open_plan
from layers.store import GpkgStore, StoreError, open_store, redact
from layers.store_postgis import PostgisStore, schema_name
from tests import pg
from tests.conftest import write_full_tiny_workspace

BINDIR, WHY = pg.find_binaries()

NAMES = ("张三丰", "李四", "王五")  # the household heads of the full tiny workspace


@pytest.fixture(scope="module")
def cluster():
    if BINDIR is None:  # only when the Debian packages are absent (scripts/test.sh installs them)
        pytest.skip(WHY)
    c = pg.start_cluster(BINDIR)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory) -> Path:
    """A plan of the full tiny workspace, written with --allow-personal (real names)."""
    from scripts.pipeline import run_pipeline

    root = tmp_path_factory.mktemp("storeplan")
    ws = write_full_tiny_workspace(root / "ws")
    run_pipeline(ws, root / "plan", allow_personal=True, progress=False)
    return root / "plan"


@pytest.fixture
def store(cluster, tmp_path):
    s = PostgisStore(cluster.url, cache_dir=tmp_path / "cache")
    yield s
    s.close()


def _fresh(name: str) -> str:
    """A workspace name no other test uses (tests share one cluster)."""
    return f"{name}-{time.monotonic_ns()}"


def _changed_copy(plan_dir: Path, dest: Path, extra: int) -> Path:
    """A copy of the plan whose villages have ``extra`` more people."""
    shutil.copytree(plan_dir, dest)
    gpkg = dest / "plan.gpkg"
    v = pyogrio.read_dataframe(gpkg, layer="villages")
    v["population"] = v["population"] + extra
    pyogrio.write_dataframe(v, gpkg, layer="villages", driver="GPKG")
    return dest


def test_round_trip_same_rows_values_geometries_crs(store, plan_dir):
    ws = _fresh("roundtrip")
    t0 = time.perf_counter()
    vid = store.write(plan_dir, ws, allow_personal=True)
    publish_s = time.perf_counter() - t0
    assert vid == 1
    src = open_plan(plan_dir)
    got = store.open(ws)
    assert got.version_id == 1 and got.layer_names == src.layer_names
    assert len(src.layer_names) >= 10
    t0 = time.perf_counter()
    for name in sorted(src.layer_names):
        a, b = src.read_layer(name), got.read_layer(name)
        assert b.crs == a.crs and b.crs.to_epsg() == 4490, name
        assert list(b.columns) == list(a.columns), name
        assert len(b) == len(a) > 0, name
        pd.testing.assert_frame_equal(
            pd.DataFrame(b.drop(columns="geometry")),
            pd.DataFrame(a.drop(columns="geometry")),
            check_dtype=True,
            obj=name,
        )
        assert b.geometry.geom_equals_exact(a.geometry, tolerance=1e-9).all(), name
    read_s = time.perf_counter() - t0
    assert got.manifest == src.manifest
    assert got.indicators == src.indicators
    assert got.settings() == src.settings()
    assert set(got.raster_paths) == set(src.raster_paths)
    for name in src.raster_paths:
        (x, gx), (y, gy) = src.read_raster(name), got.read_raster(name)
        np.testing.assert_array_equal(x, y)
        assert gx.transform == gy.transform and gx.crs == gy.crs
    # bureau tables as attribute tables: what the CSV holds
    for name in ("transport_villages", "road_gaps", "sites"):
        csv = pd.read_csv(plan_dir / "tables" / f"{name}.csv", encoding="utf-8-sig")
        pd.testing.assert_frame_equal(got.read_table(name), csv, check_dtype=False)
    print(f"publish {publish_s:.2f} s, read every layer {read_s:.2f} s")


def test_schema_tables_have_gist_indexes_and_storage_srid(store, plan_dir, cluster):
    ws = _fresh('odd "name"; DROP TABLE x; --')
    store.write(plan_dir, ws)
    schema = schema_name(ws)
    assert schema.startswith("ws_odd_name_drop_table_x_") and len(schema) <= 63
    with psycopg.connect(cluster.url) as conn:
        idx = conn.execute(
            "SELECT tablename FROM pg_indexes WHERE schemaname = %s AND indexdef LIKE %s",
            (schema, "%USING gist%"),
        ).fetchall()
        srids = conn.execute(
            "SELECT DISTINCT srid FROM geometry_columns WHERE f_table_schema = %s", (schema,)
        ).fetchall()
        name = conn.execute("SELECT name FROM anju.workspaces WHERE schema = %s", (schema,))
        assert name.fetchone() == (ws,)
    layers = {t for (t,) in idx}
    assert {f"v1_{n}" for n in open_plan(plan_dir).layer_names} == layers
    assert srids == [(4490,)]


def test_a_reader_sees_the_old_plan_or_the_new_one_never_half(store, plan_dir, tmp_path, cluster):
    ws = _fresh("concurrent")
    store.write(plan_dir, ws)
    old = store.open(ws).read_layer("villages")["population"].tolist()
    new_dir = _changed_copy(plan_dir, tmp_path / "plan2", extra=1000)
    written, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold(vid: int) -> None:  # everything written, transaction still open
        written.set()
        assert release.wait(60)

    def writer() -> None:
        try:
            store.write(new_dir, ws, before_commit=hold)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert written.wait(60)
        schema = schema_name(ws)
        # while version 2 is written: readers get version 1, all of it
        assert store.current_version(ws) == 1
        during = store.open(ws)
        assert during.version_id == 1
        assert during.read_layer("villages")["population"].tolist() == old
        for name in during.layer_names:
            assert len(during.read_layer(name)) == during.layers[name]["rows"]
        with psycopg.connect(cluster.url) as conn:  # not even the new tables are visible
            assert conn.execute(
                "SELECT to_regclass(%s)", (f'"{schema}"."v2_villages"',)
            ).fetchone() == (None,)
            assert conn.execute(
                sql.SQL("SELECT count(*) FROM {}.versions").format(sql.Identifier(schema))
            ).fetchone() == (1,)
    finally:
        release.set()
        t.join(60)
    assert not errors
    assert store.current_version(ws) == 2
    after = store.open(ws).read_layer("villages")["population"].tolist()
    assert after == [p + 1000 for p in old]
    # a reader that took version 1 before the switch still reads version 1
    assert during.read_layer("villages")["population"].tolist() == old


def test_a_failed_publish_leaves_nothing(store, plan_dir):
    ws = _fresh("rollback")
    store.write(plan_dir, ws)

    def fail(vid: int) -> None:
        raise RuntimeError("killed mid-publish")

    with pytest.raises(RuntimeError, match="killed mid-publish"):
        store.write(plan_dir, ws, before_commit=fail)
    assert store.version_ids(ws) == [1]
    assert store.current_version(ws) == 1
    assert store.write(plan_dir, ws) == 2  # the id was not burnt


def _all_text(cluster, schema: str) -> str:
    """Every row of every table of ``schema`` as text, and the stored files' names."""
    out = []
    with psycopg.connect(cluster.url) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
        ).fetchall()
        for (t,) in tables:
            if t in ("rasters",):
                continue
            q = sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(schema, t))
            out += [r[0] for r in conn.execute(q).fetchall()]
    return "\n".join(out)


def test_personal_columns_stay_out_without_allow_personal(store, plan_dir, cluster):
    hh = pd.read_csv(plan_dir / "tables" / "households.csv", encoding="utf-8-sig")
    assert set(hh["head_name"]) == set(NAMES)  # the plan itself holds them (allow_personal)
    ws = _fresh("private")
    store.write(plan_dir, ws)
    got = store.open(ws)
    assert "households" in got.tables
    stored = [c for c, _ in got.tables["households"]["columns"]]
    assert not set(PERSONAL_COLUMNS) & set(stored)
    assert "household_id" in stored
    for meta in (*got.layers.values(), *got.tables.values()):
        assert not set(PERSONAL_COLUMNS) & {c for c, _ in meta["columns"]}
    text = _all_text(cluster, schema_name(ws))
    for secret in (*NAMES, "999999195001011234", "19900001111"):
        assert secret not in text
    files = store.blob(schema_name(ws), "files", 1)
    assert files and not any("households" in p for p in files)
    assert all(secret.encode() not in data for data in files.values() for secret in NAMES)

    ws2 = _fresh("allowed")
    store.write(plan_dir, ws2, allow_personal=True)
    assert set(store.open(ws2).read_table("households")["head_name"]) == set(NAMES)


def test_history_and_diff_over_the_store(store, plan_dir, tmp_path):
    ws = _fresh("history")
    store.write(plan_dir, ws)
    store.write(plan_dir, ws)
    store.write(_changed_copy(plan_dir, tmp_path / "p3", extra=5), ws)
    h = store.history(ws)
    vs = h.versions()
    assert [v.id for v in vs] == [1, 2, 3]
    assert vs[1].same_as == 1  # same inputs and settings
    assert h.resolve("latest") == 3 and h.resolve("previous") == 2
    assert (
        vs[0].headline == vs[0].headline
        and vs[0].summary == open_plan(plan_dir).manifest["summary"]
    )
    s1, s3 = h.village_states(1).villages, h.village_states(3).villages
    assert len(s1) == len(open_plan(plan_dir).read_layer("villages"))
    assert (s3["population"].astype(float) == s1["population"].astype(float) + 5).all()
    d = diff_snapshots(h.snapshot(1), h.snapshot(3))
    assert (d["a"]["id"], d["b"]["id"], d["same_inputs"]) == (1, 3, True)
    assert vs[0].workspace_toml_sha256 and vs[0].plan_dir == str(plan_dir.resolve())
    # readers' local folders: the two newest unpacked versions are kept
    dirs = [store.snapshot_dir(ws, i) for i in (1, 2, 3)]
    assert [d.is_dir() for d in dirs] == [False, True, True]
    assert (dirs[2] / "plan.gpkg").is_file() and (dirs[2] / "rasters" / "dem.tif").is_file()


def test_bad_or_unreachable_url_is_one_line_without_the_password(tmp_path):
    url = f"postgresql://anju:s3cret-pw@/nodb?host={tmp_path}&port=1"
    with pytest.raises(StoreError, match="cannot connect") as err:
        open_store(url)
    assert "s3cret-pw" not in str(err.value) and "\n" not in str(err.value)
    assert redact(url) in str(err.value)
    assert redact("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert redact("host=h password=pw dbname=x") == "host=h password=*** dbname=x"


@pytest.mark.parametrize("cmd", ["serve", "run"])
def test_cli_bad_store_exits_2_without_traceback(cmd, tmp_path):
    from scripts.cli import main

    url = f"postgresql://anju:s3cret-pw@/nodb?host={tmp_path}&port=1"
    args = (
        ["serve", "--store", url]
        if cmd == "serve"
        else ["run", str(tmp_path), "--out", str(tmp_path / "o"), "--store", url]
    )
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    assert "s3cret-pw" not in res.output and "Traceback" not in res.output
    assert res.output.strip().startswith("ERROR: --store postgresql://anju:***@")
    assert len(res.output.strip().splitlines()) == 1
    res = CliRunner().invoke(main, ["serve", "--store", "mysql://x"])
    assert res.exit_code == 2 and "expected a URL postgresql://" in res.output
    res = CliRunner().invoke(main, ["serve"])
    assert res.exit_code == 2 and "expected a plan directory PLAN or --store URL" in res.output


def test_cli_run_publishes_to_the_store(cluster, tmp_path):
    from scripts.cli import main

    ws = write_full_tiny_workspace(tmp_path / "county")
    res = CliRunner().invoke(
        main,
        [
            "run",
            str(ws),
            "--out",
            str(tmp_path / "out"),
            "--quiet",
            "--no-history",
            "--store",
            cluster.url,
            "--store-name",
            "cli-county",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "published as version 1 of workspace 'cli-county'" in res.output
    s = PostgisStore(cluster.url, cache_dir=tmp_path / "cache")
    try:
        got = s.open("cli-county")
        # masked names (no --allow-personal): the household table holds no personal column
        assert not {c for c, _ in got.tables["households"]["columns"]} & set(PERSONAL_COLUMNS)
        assert len(got.read_layer("villages")) == len(
            open_plan(tmp_path / "out").read_layer("villages")
        )
    finally:
        s.close()


def test_dashboard_serves_the_current_plan_from_the_store(store, plan_dir, tmp_path):
    import json

    import dash
    from plotly.utils import PlotlyJSONEncoder

    from dashboard.app import create_app
    from dashboard.components import village_data
    from dashboard.plan import StoreSource
    from dashboard.state import get_plan, set_store

    ws = _fresh("dashboard")
    store.write(plan_dir, ws)
    source = StoreSource(store, ws, refresh_s=0.0)
    first = source.plan_dir()
    assert first.is_relative_to(tmp_path / "cache")
    app = create_app(first, config={"osm": False})
    set_store(app, source)
    try:
        with app.server.test_request_context("/", headers={"Cookie": "anju_lang=en"}):
            plan = get_plan()
            assert len(plan.villages) == len(open_plan(plan_dir).read_layer("villages"))
            data = village_data(plan)
            assert data and "features" in json.dumps(data, cls=PlotlyJSONEncoder)
            layout = dash.page_registry["pages.coverage"]["layout"]()
            text = json.dumps(layout, cls=PlotlyJSONEncoder, ensure_ascii=False)
        assert "villages shown" in text
        for secret in NAMES:
            assert secret not in text
        # the hillshade tile comes from the raster unpacked from the store
        client = app.server.test_client()
        (s, w), (n, e) = plan.bounds
        import morecantile

        tile = next(iter(morecantile.tms.get("WebMercatorQuad").tiles(w, s, e, n, [12])))
        r = client.get(f"/tiles/hillshade/{tile.z}/{tile.x}/{tile.y}.png")
        assert r.status_code == 200 and r.data[:4] == b"\x89PNG"
        from dashboard.tiles import render_tile

        assert r.data == render_tile(plan_dir / "rasters", "hillshade", tile.z, tile.x, tile.y)
        # a newer version is served from the next request on
        store.write(_changed_copy(plan_dir, tmp_path / "p2", extra=7), ws)
        with app.server.test_request_context("/"):
            newer = get_plan()
        assert newer.plan_dir != plan.plan_dir
        assert (newer.villages["population"] == plan.villages["population"] + 7).all()
    finally:
        set_store(app, None)


def test_gpkg_store_is_the_plan_directory(plan_dir, tmp_path):
    target = tmp_path / "served"
    store = open_store(target)
    assert isinstance(store, GpkgStore) and store.current_version() is None
    assert store.write(plan_dir, "any") is None
    got, src = store.open(), open_plan(plan_dir)
    assert got.plan_dir == target.resolve() and got.manifest == src.manifest
    pd.testing.assert_frame_equal(got.read_layer("villages"), src.read_layer("villages"))
    assert store.write(target, "any") is None  # itself: nothing to do
    (tmp_path / "notaplan").mkdir()
    with pytest.raises(LayerNotFoundError, match="plan.gpkg"):
        store.write(tmp_path / "notaplan", "any")
    assert open_plan(target).manifest == src.manifest  # a refused source changes nothing
    with pytest.raises(StoreError, match="holds one plan, not versions"):
        store.open(version=2)


def test_schema_names_are_safe_and_distinct():
    assert schema_name("demo") == "ws_demo"
    a, b = schema_name("青岩县"), schema_name("青山县")
    assert a != b and re.fullmatch(r"ws_[0-9a-f]{8}", a)
    assert schema_name("Demo") != schema_name("demo")
    assert len(schema_name("x" * 200).encode()) <= 63
    with pytest.raises(StoreError, match="non-empty"):
        schema_name("  ")


def test_cli_serve_names_the_workspaces_it_could_serve(cluster, store, plan_dir):
    from scripts.cli import main

    store.write(plan_dir, _fresh("one"))
    store.write(plan_dir, _fresh("two"))
    res = CliRunner().invoke(main, ["serve", "--store", cluster.url])
    assert res.exit_code == 2 and "expected --workspace NAME (published: " in res.output
    res = CliRunner().invoke(main, ["serve", "--store", cluster.url, "--workspace", "nope"])
    assert res.exit_code == 2 and "expected a published workspace, found 'nope'" in res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
