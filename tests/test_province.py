"""`anju province`: a synthetic prefecture generated on demand and run on Dask.

The prefecture is three small counties (scale 0.06, ~18 villages each, a few seconds per plan)
sharing DEM tiles. Runs go through the real command line in a subprocess (exit codes, lines),
on a LocalCluster of two workers and on a scheduler and workers the test starts itself; the
roll-ups are checked against figures recomputed here from each county's plan layers and
against each plan's own manifest summary.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from click.testing import CliRunner

from scripts.cli import main
from scripts.make_province import generate_province
from scripts.province import (
    CountyOutcome,
    _threads_used,
    host_share,
    load_province,
    rollup_plan,
    thread_env,
    threads_per_job,
)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ANJU = [sys.executable, "-m", "scripts.cli"]


def _anju(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([*ANJU, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def prefecture(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("prefecture")
    return generate_province(root, counties=3, scale=0.06, seed=2017)


# ------------------------------------------------------------------------------ the generator


def test_prefecture_set_shares_tiles_and_lists_counties(prefecture: Path) -> None:
    prov = load_province(prefecture)
    assert [c.adcode for c in prov.counties] == ["439901", "439902", "439903"]
    assert len({c.name for c in prov.counties}) == 3
    assert [c.target_exit_year for c in prov.counties] == [2018, 2019, 2020]
    tiles = sorted((prefecture.parent / "dem").glob("*.tif"))
    assert [t.stem for t in tiles] == ["439901", "439902", "439903"]
    origins = []
    for t in tiles:
        with rasterio.open(t) as src:
            assert src.res == (30.0, 30.0)
            origins.append((src.transform.c, src.transform.f))
    # side by side on one 30 m grid (mosaicked without resampling), never overlapping
    assert len(set(origins)) == 3
    for x, y in origins:
        assert math.isclose((x - origins[0][0]) % 30.0, 0.0, abs_tol=1e-6)
        assert math.isclose((y - origins[0][1]) % 30.0, 0.0, abs_tol=1e-6)
    for c in prov.counties:
        toml = (c.workspace / "workspace.toml").read_text(encoding="utf-8")
        own = f'"../../dem/{c.adcode}.tif"'
        assert f"path = [{own}" in toml  # its own tile first, then the neighbours'
        assert toml.count("../../dem/") == 3  # 2x2 grid of 3 counties: all neighbours
        assert f'name = "{c.name}"' in toml
        assert not (c.workspace / "dem.tif").exists()
    # different seeds: different counties
    v1 = gpd.read_file(prov.counties[0].workspace / "villages.shp")
    v2 = gpd.read_file(prov.counties[1].workspace / "villages.shp")
    assert not v1.geometry.equals(v2.geometry)


def test_make_province_refuses_bad_sizes(tmp_path: Path) -> None:
    from scripts.make_province import main as make_main

    assert make_main([str(tmp_path), "--counties", "0"]) == 2
    assert make_main([str(tmp_path), "--scale", "-1"]) == 2
    assert not (tmp_path / "province.toml").exists()


# ------------------------------------------------------------------------------ the manifest


def _manifest(tmp_path: Path, text: str) -> Path:
    (tmp_path / "ws").mkdir(exist_ok=True)
    (tmp_path / "ws" / "workspace.toml").write_text("[workspace]\n", encoding="utf-8")
    p = tmp_path / "province.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[province\nname=1", "expected TOML (UTF-8), found a syntax error"),
        ('[counties]\nname = "a"\n', "expected a [province] table, found NoneType"),
        (
            '[province]\nname = "p"\n',
            "layer counties: expected one or more [[counties]] tables (name, adcode, workspace), found none",
        ),
        (
            '[province]\nname = "p"\n[[counties]]\nname = "a"\nadcode = "439901"\n',
            "layer counties, row 1, column 'workspace': required key missing",
        ),
        (
            '[province]\nname = "p"\n[[counties]]\nname = "a"\nadcode = "4399"\nworkspace = "ws"\n',
            "row 1, column 'adcode': expected a 6-digit administrative code such as \"439901\", found '4399'",
        ),
        (
            '[province]\nname = "p"\n[[counties]]\nname = "a"\nadcode = "439901"\nworkspace = "nowhere"\n',
            "column 'workspace': expected a workspace folder with workspace.toml at",
        ),
        (
            '[province]\nname = "p"\n[[counties]]\nname = "a"\nadcode = "439901"\nworkspace = "ws"\n'
            "target_exit_year = 20.5\n",
            "column 'target_exit_year': expected a year (an integer 1990-2100), found 20.5",
        ),
        (
            '[province]\nname = "p"\n[[counties]]\nname = "a"\nadcode = "439901"\nworkspace = "ws"\n'
            "wokspace = 1\n",
            "column 'wokspace': unknown key; expected one of adcode, name, target_exit_year, workspace",
        ),
        (
            '[province]\nname = "p"\n[[counties]]\nname = "a"\nadcode = "439901"\nworkspace = "ws"\n'
            '[[counties]]\nname = "b"\nadcode = "439901"\nworkspace = "ws"\n',
            "row 2, column 'adcode': duplicate adcode 439901 (also county 1)",
        ),
    ],
)
def test_bad_manifest_is_one_clear_line_and_exit_2(
    tmp_path: Path, text: str, expected: str
) -> None:
    m = _manifest(tmp_path, text)
    res = CliRunner().invoke(main, ["province", "run", str(m), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    assert expected in res.output
    assert f"ERROR: {m}" in res.output  # names the file
    assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()  # nothing started, nothing written


def test_missing_manifest_and_empty_folder(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main, ["province", "run", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2
    assert "expected a province manifest (province.toml), found nothing" in res.output
    res = CliRunner().invoke(main, ["province", "run", str(tmp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "expected a province.toml, or folders with a workspace.toml, found neither" in res.output


def test_unreachable_scheduler_is_bad_input(prefecture: Path, tmp_path: Path) -> None:
    res = _anju(
        "province",
        "run",
        str(prefecture),
        "--out",
        str(tmp_path / "o"),
        "--scheduler",
        "tcp://127.0.0.1:9",
        "--no-history",
        timeout=120,
    )
    assert res.returncode == 2, res.stderr
    assert "--scheduler tcp://127.0.0.1:9: expected a reachable Dask scheduler" in res.stderr
    assert "Traceback" not in res.stderr


# ------------------------------------------------------------------------------ threads


def test_a_task_shares_its_host_with_the_workers_there_when_it_starts() -> None:
    a = {"host": "10.0.0.1", "nthreads": 1}
    b = {"host": "10.0.0.2", "nthreads": 1}
    one = {"tcp://10.0.0.1:1": a, "tcp://10.0.0.2:1": b}
    assert host_share(one, "tcp://10.0.0.1:1", 8) == 8  # alone on its host
    # a second worker joins the first host after the run began: the next task there halves
    two = {**one, "tcp://10.0.0.1:2": a}
    assert host_share(two, "tcp://10.0.0.1:1", 8) == 4
    assert host_share(two, "tcp://10.0.0.1:2", 8) == 4
    assert host_share(two, "tcp://10.0.0.2:1", 8) == 8
    # a worker with 2 task threads counts twice; never below 1 thread
    many = {"tcp://10.0.0.1:1": {"host": "10.0.0.1", "nthreads": 2}}
    assert host_share(many, "tcp://10.0.0.1:1", 8) == 4
    assert host_share({**two, "tcp://10.0.0.1:3": a}, "tcp://10.0.0.1:1", 2) == 1
    assert host_share(two, "tcp://10.0.0.9:1", 8) == 8  # unknown to the scheduler


def test_the_run_records_the_threads_the_tasks_used(tmp_path) -> None:
    from scripts.province import County

    c = County.__new__(County)
    start = {"tcp://a:1": 2}
    outcomes = [
        CountyOutcome(c, "ok", result={"worker": "tcp://a:1", "threads": 1}),
        CountyOutcome(c, "ok", result={"worker": "tcp://b:1", "threads": 1}),  # joined later
        CountyOutcome(c, "failed"),
    ]
    assert _threads_used(start, outcomes) == {"tcp://a:1": 1, "tcp://b:1": 1}
    assert _threads_used(start, []) == start


def test_threads_per_job_shares_the_cores() -> None:
    assert threads_per_job(1, cores=2) == 2
    assert threads_per_job(2, cores=2) == 1
    assert threads_per_job(3, cores=2) == 1
    assert threads_per_job(2, cores=8) == 4
    env = thread_env(3)
    assert env["NUMBA_NUM_THREADS"] == env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "3"


def test_batch_workers_are_thread_limited_before_numba_loads(tmp_path: Path) -> None:
    """`anju batch`'s worker initializer: BLAS and OpenMP capped at cores // workers before
    they load; the search kernels' share follows the workspaces not finished yet."""
    code = (
        "import multiprocessing as mp\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from scripts.cli import _batch_worker\n"
        "def probe(_):\n"
        "    import os, numba, numpy\n"
        "    from threadpoolctl import threadpool_info\n"
        "    from geo.threads import kernel_threads\n"
        "    k = kernel_threads()  # numba's own (idle) OpenMP pool has every core: not BLAS\n"
        "    blas = sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'})\n"
        "    return numba.config.NUMBA_NUM_THREADS, k, "
        "os.environ['OMP_NUM_THREADS'], blas\n"
        "if __name__ == '__main__':\n"
        "    ctx = mp.get_context('spawn')\n"
        "    left = ctx.Value('i', 3)\n"
        "    with ProcessPoolExecutor(2, mp_context=ctx, initializer=_batch_worker, "
        "initargs=(2, 2, left)) as pool:\n"
        "        three_left = [pool.submit(probe, 0).result() for _ in range(2)]\n"
        "        left.value = 1  # the other workspaces are done\n"
        "        one_left = pool.submit(probe, 0).result()\n"
        "    print([three_left, one_left])\n"
    )
    script = tmp_path / "probe.py"
    script.write_text(code, encoding="utf-8")
    res = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert res.returncode == 0, res.stderr
    three_left, one_left = eval(res.stdout.strip())  # noqa: S307 - our own printout
    for numba_max, kernels, omp, blas in three_left:
        assert (numba_max, kernels, omp) == (2, 1, "1")  # two workers at work: one core each
        assert blas in ([], [1])
    assert one_left[:3] == (2, 2, "1")  # the last workspace runs alone: both cores


def test_a_task_thread_limit_reaches_the_pipelines_other_threads() -> None:
    """numba's thread count is per thread; the pipeline runs the relocation chain (HiGHS,
    the cost-matrix searches) on a thread of its own, which must keep to the task's share."""
    code = (
        "import threading\n"
        "import numba\n"
        "from scripts.province import limit_threads\n"
        "from geo.threads import kernel_threads\n"
        "limit_threads(1)\n"
        "seen = []\n"
        "t = threading.Thread(target=lambda: seen.append((numba.get_num_threads(), kernel_threads())))\n"
        "t.start(); t.join()\n"
        "print(kernel_threads(), seen[0])\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "2"},
    )
    assert res.returncode == 0, res.stderr
    # numba alone would give the other thread both cores; the share keeps it to one
    assert res.stdout.split() == ["1", "(2,", "1)"]


def test_a_batch_worker_counts_its_workspace_done_even_when_it_fails(tmp_path: Path) -> None:
    import multiprocessing as mp

    from scripts import cli

    left = mp.get_context("spawn").Value("i", 2)
    cli._UNFINISHED = left
    try:
        ws, status, msgs = cli._run_one((str(tmp_path / "missing"), str(tmp_path / "out"), None))
    finally:
        cli._UNFINISHED = None
    assert status == "bad input" and msgs
    assert left.value == 1


# ------------------------------------------------------------------------------ runs


def _expected_township_figures(plan: Path) -> pd.DataFrame:
    """Recomputed from the plan's layers, independently of scripts.province.rollup_plan."""
    gpkg = plan / "plan.gpkg"
    v = gpd.read_file(gpkg, layer="villages")
    v["township"] = v["township"].astype(object)
    bc = v["blocker_class"].astype(object)
    out = pd.DataFrame(
        {
            "villages": v.groupby("township").size(),
            "villages_assessed": v.groupby("township")["exit_applicable"].sum(),
            "ready": (bc == "ready").groupby(v["township"]).sum(),
            "blocked": bc.isin(["blocked_one", "blocked_several"]).groupby(v["township"]).sum(),
            "unknown": (bc == "unknown").groupby(v["township"]).sum(),
            "water_gap": (v["water_status"] == "not_met").groupby(v["township"]).sum(),
            "clinic_gap": (v["clinic_status"] == "not_met").groupby(v["township"]).sum(),
        }
    )
    g = gpd.read_file(gpkg, layer="road_gaps")
    out["km_to_harden"] = g.groupby("township")["known_unhardened_km"].sum()
    c = gpd.read_file(gpkg, layer="relocation_candidates")
    c = c[c["eligible"].astype(bool)]
    out["people_to_relocate"] = c.groupby("township")["people_to_move"].sum()
    a = gpd.read_file(gpkg, layer="allocation")
    a["township"] = a["village_id"].map(dict(zip(v["village_id"], v["township"], strict=True)))
    out["people_placed"] = a.groupby("township")["people"].sum()
    s = gpd.read_file(gpkg, layer="sites")
    out["sites_opened"] = s[s["opened"].astype(bool)].groupby("township").size()
    return out.fillna(0)


@pytest.mark.slow
def test_prefecture_runs_on_a_local_cluster_and_rolls_up(prefecture: Path, tmp_path: Path) -> None:
    out = tmp_path / "plans"
    t0 = time.perf_counter()
    res = _anju("province", "run", str(prefecture), "--out", str(out), "--jobs", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    assert time.perf_counter() - t0 < 200
    lines = res.stdout.splitlines()
    assert "dashboard: http://" in lines[0]  # the Dask dashboard link
    assert "local Dask cluster of 2 worker process(es), threads per worker" in lines[0]
    ok = [ln for ln in lines if ln.startswith("OK [")]
    assert len(ok) == 3 and all("recorded as version" in ln for ln in ok)
    assert "3 of 3 counties planned" in res.stdout
    run = json.loads((out / "province" / "run.json").read_text(encoding="utf-8"))
    assert {c["status"] for c in run["counties"]} == {"ok"}
    assert {c["attempts"] for c in run["counties"]} == {1}
    assert len({c["worker"] for c in run["counties"]}) == 2  # both workers got counties
    cores = threads_per_job(1)
    assert {c["threads"] for c in run["counties"]} == {max(1, cores // 2)}
    assert all(c["peak_rss_mb"] < 2048 for c in run["counties"])

    counties = pd.read_csv(out / "province" / "counties.csv", dtype={"adcode": str})
    towns = pd.read_csv(out / "province" / "townships.csv", dtype={"adcode": str})
    prov = load_province(prefecture)
    assert list(counties["adcode"]) == [c.adcode for c in prov.counties]
    for county in prov.counties:
        plan = out / county.adcode
        assert (plan / "plan.gpkg").is_file()
        assert (county.workspace / "history.gpkg").is_file()
        want = _expected_township_figures(plan)
        got = towns[towns["adcode"] == county.adcode].set_index("township")
        assert sorted(got.index) == sorted(want.index)
        for col in want.columns:
            np.testing.assert_allclose(
                got.loc[want.index, col].to_numpy(float),
                want[col].to_numpy(float),
                atol=1e-3,
                err_msg=f"{county.adcode} {col}",
            )
        row = counties[counties["adcode"] == county.adcode].iloc[0]
        assert row["status"] == "ok" and row["target_exit_year"] == county.target_exit_year
        for col in want.columns:
            assert math.isclose(row[col], want[col].sum(), abs_tol=2e-3), col
        # ... and the plan's own headline figures (pipeline summary) agree
        s = json.loads((plan / "manifest.json").read_text(encoding="utf-8"))["summary"]
        assert row["ready"] == s["exit_ready"]
        assert row["villages_assessed"] == s["villages_assessed"]
        assert row["clinic_gap"] == s["no_standard_clinic"]
        assert row["people_to_relocate"] == s["people_to_relocate"]
        assert row["people_placed"] == s["people_placed"]
        assert row["sites_opened"] == s["sites_opened"]
        assert math.isclose(row["km_to_harden"], s["km_to_harden"], abs_tol=0.01)
        blocked_by = [c for c in counties.columns if c.startswith("blocked_by_")]
        assert row[blocked_by].sum() >= row["blocked"]  # every blocked village has a blocker
    # the GeoPackage: one county polygon each, townships with the same figures
    g = gpd.read_file(out / "province" / "province.gpkg", layer="counties")
    assert sorted(g["adcode"]) == sorted(counties["adcode"]) and g.crs.to_epsg() == 4490
    t = gpd.read_file(out / "province" / "province.gpkg", layer="townships")
    assert len(t) == len(towns) and t.geometry.notna().all()
    assert t["people_to_relocate"].sum() == counties["people_to_relocate"].sum()
    assert "province roll-up of 3 of 3 counties" in res.stdout
    # an indicator the plan does not assess is blank in the roll-up, never 0
    copy = tmp_path / "no_clinic"
    shutil.copytree(out / prov.counties[0].adcode, copy)
    v = gpd.read_file(copy / "plan.gpkg", layer="villages")
    v.drop(columns=["clinic_status"]).to_file(copy / "plan.gpkg", layer="villages", driver="GPKG")
    t, _ = rollup_plan(copy)
    assert t["clinic_gap"].isna().all() and t["clinic_unknown"].isna().all()
    assert t["water_gap"].notna().all() and t["villages"].sum() == len(v)


@pytest.mark.slow
def test_a_broken_county_fails_after_a_retry_while_the_others_finish(
    prefecture: Path, tmp_path: Path
) -> None:
    prov = load_province(prefecture)
    broken = tmp_path / "counties" / "broken"
    shutil.copytree(prov.counties[1].workspace, broken)
    (tmp_path / "dem").symlink_to(prefecture.parent / "dem")  # the shared tiles stay readable
    (broken / "villages.dbf").write_bytes(b"not a dbf")
    m = tmp_path / "province.toml"
    m.write_text(
        '[province]\nname = "测试州"\n'
        + "".join(
            f'[[counties]]\nname = "{c.name}"\nadcode = "{c.adcode}"\nworkspace = "{ws}"\n'
            for c, ws in (
                (prov.counties[0], prov.counties[0].workspace),
                (prov.counties[1], broken),
            )
        ),
        encoding="utf-8",
    )
    out = tmp_path / "plans"
    res = _anju("province", "run", str(m), "--out", str(out), "--jobs", "2", "--no-history")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    assert "OK [" in res.stdout and prov.counties[0].adcode in res.stdout
    assert "FAILED " in res.stderr and f"({prov.counties[1].adcode}): " in res.stderr
    assert "after 2 attempt(s)" in res.stderr
    assert "villages.shp, layer villages" in res.stderr  # the problem line names the layer
    assert "layer dem" not in res.stderr  # only the broken layer is a problem
    assert "Compute Failed" not in res.stderr  # reported once, by anju, not by the worker log
    assert "1 of 2 counties planned" in res.stdout
    run = json.loads((out / "province" / "run.json").read_text(encoding="utf-8"))
    by = {c["adcode"]: c for c in run["counties"]}
    assert by[prov.counties[1].adcode]["status"] == "failed"
    assert by[prov.counties[1].adcode]["attempts"] == 2  # tried again before giving up
    assert by[prov.counties[0].adcode]["attempts"] == 1
    assert (out / prov.counties[0].adcode / "plan.gpkg").is_file()
    assert not (out / prov.counties[1].adcode).exists()
    counties = pd.read_csv(out / "province" / "counties.csv", dtype={"adcode": str})
    bad = counties[counties["adcode"] == prov.counties[1].adcode].iloc[0]
    assert bad["status"] == "failed" and pd.isna(bad["ready"])  # unknown, never 0
    good = counties[counties["adcode"] == prov.counties[0].adcode].iloc[0]
    assert good["villages"] > 0


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    with log.open("w") as fh:
        return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)


@pytest.mark.slow
def test_external_scheduler_and_workers(prefecture: Path, tmp_path: Path) -> None:
    sched_file = tmp_path / "scheduler.json"
    dask = str(BIN / "dask")
    procs = [
        _start(
            [
                dask,
                "scheduler",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],
            tmp_path / "scheduler.log",
        )
    ]
    try:
        for _ in range(300):
            if sched_file.is_file() and sched_file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        procs.append(
            _start(
                [dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
                tmp_path / "worker.log",
            )
        )
        # both workers registered before the run starts (on a slow machine the second one can
        # join after the run has shared the cores among the workers it saw)
        from distributed import Client

        with Client(address, timeout=120) as c:
            c.wait_for_workers(2, timeout=120)
        out = tmp_path / "plans"
        res = _anju(
            "province",
            "run",
            str(prefecture),
            "--out",
            str(out),
            "--scheduler",
            address,
            "--no-history",
        )
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"counties on {address}" in res.stdout
        assert res.stdout.count("OK [") == 3
        run = json.loads((out / "province" / "run.json").read_text(encoding="utf-8"))
        workers = {c["worker"] for c in run["counties"]}
        assert workers <= set(run["worker_threads"]) and len(run["worker_threads"]) == 2
        assert all(w.startswith("tcp://") for w in workers)
        # the test's workers share this machine's cores: each task gets cores // 2 threads
        assert {c["threads"] for c in run["counties"]} == {max(1, threads_per_job(1) // 2)}
        assert (out / "province" / "counties.csv").is_file()
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    assert os.path.exists(tmp_path / "worker.log")
