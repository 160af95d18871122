"""The ``anju`` command line.

Commands (a contract: DESIGN.md):
  anju demo [DIR]                       write the synthetic demo workspace
  anju check WORKSPACE                  validate every layer; one line per problem; exit 2 on errors
  anju run WORKSPACE --out OUT [--policy P] [--allow-personal] [--store URL]
                                        run the pipeline and write the plan (and publish it)
  anju serve OUT [--host --port]        serve the dashboard on a plan directory (waitress)
  anju serve --store URL [--workspace NAME]
                                        ... or on the current plan in a PostGIS store
  anju batch ROOT --out OUT [--jobs N]  run every workspace under ROOT, one plan each
  anju province demo DIR [--counties 3] a synthetic prefecture (province.toml, dem tiles, counties)
  anju province run MANIFEST --out OUT [--jobs N] [--scheduler tcp://HOST:PORT]
                                        every county as a Dask task; roll-ups in OUT/province
  anju history WORKSPACE [--json]       the plan versions recorded for WORKSPACE, oldest first
  anju diff A B [--workspace WS] [--json]
                                        what changed between two versions (ids or plan dirs), and why
  anju users add NAME --role ROLE [--personal] | list | remove NAME | passwd NAME | audit
                                        dashboard accounts (sign-in is on once the store exists)
  anju blocks slope DEM --out SLOPE.tif [--block N]
  anju blocks travel SPEED.tif --sources POINTS.gpkg --out MIN.tif [--tile N]
                                        rasters larger than memory, block by block

`run` and `batch` record every plan as a version in WORKSPACE/history.gpkg (layers.history)
unless --no-history.

Exit codes: 0 success, 2 bad input (one line per problem on stderr, no traceback,
nothing half-written in OUT), 1 unexpected failure.

Each command imports what it needs when it runs (geopandas, numba, dash): `anju --help`
and `anju check` start in a fraction of the time `anju serve` takes.
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import click

from layers.errors import AnjuError, LayerNotFoundError, ValidationError

EXIT_BAD_INPUT = 2


def _print_problems(problems) -> None:
    for p in problems:
        click.echo(p.line(), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="anju")
def main() -> None:
    """anju 安居: exit indicators, relocation candidates and resettlement sites for a county."""


@main.command()
@click.argument(
    "directory", required=False, type=click.Path(path_type=Path), default=Path("data/demo")
)
@click.option("--seed", default=2017, show_default=True, help="random seed of the generator")
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    help="area/village multiplier (4 = province-sized test set)",
)
def demo(directory: Path, seed: int, scale: float) -> None:
    """Write the synthetic demo county workspace into DIRECTORY."""
    from scripts.make_demo import generate

    out = generate(directory, seed=seed, scale=scale)
    click.echo(f"demo workspace written to {out}")


@main.command()
@click.argument("workspace", type=click.Path(path_type=Path))
def check(workspace: Path) -> None:
    """Validate WORKSPACE: print one line per problem; exit 2 if any is an error."""
    from layers.crs import crs_name
    from layers.workspace import load_workspace

    try:
        loaded = load_workspace(workspace)
    except ValidationError as exc:
        _print_problems(exc.problems)
        sys.exit(EXIT_BAD_INPUT)
    _print_problems(loaded.problems)
    n_err, n_warn = len(loaded.errors), len(loaded.warnings)
    if n_err:
        click.echo(f"{n_err} error(s), {n_warn} warning(s) in {workspace}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    layers = ", ".join(f"{k} {len(v)}" for k, v in loaded.layers.items())
    dem = loaded.dem
    dem_txt = (
        f"dem {dem.shape[1]}x{dem.shape[0]} @ {dem.cellsize[0]:g} m"
        if dem is not None
        else "no dem"
    )
    click.echo(
        f"OK {workspace}: {layers}; {dem_txt}; metric CRS {crs_name(loaded.metric_crs)}; {n_warn} warning(s)"
    )


@main.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option(
    "--out", "out", required=True, type=click.Path(path_type=Path), help="plan output directory"
)
@click.option(
    "--policy", default=None, help="policy profile name or path (default: the workspace's)"
)
@click.option(
    "--allow-personal",
    is_flag=True,
    default=False,
    help="write household names, ID numbers and phones unmasked (needs a role that allows it)",
)
@click.option("--quiet", is_flag=True, default=False, help="no progress bar")
@click.option(
    "--xlsx",
    is_flag=True,
    default=False,
    help="also write every table as an XLSX workbook (中文 and en sheets); CSV is always written",
)
@click.option(
    "--no-history",
    is_flag=True,
    default=False,
    help="do not record the plan as a version in WORKSPACE/history.gpkg",
)
@click.option(
    "--store",
    "store_url",
    default=None,
    metavar="URL",
    help="also publish the plan to a shared PostGIS store (postgresql://user@host/db)",
)
@click.option(
    "--store-name",
    default=None,
    metavar="NAME",
    help="the workspace's name in the store (default: the WORKSPACE folder's name)",
)
def run(
    workspace: Path,
    out: Path,
    policy: str | None,
    allow_personal: bool,
    quiet: bool,
    xlsx: bool,
    no_history: bool,
    store_url: str | None,
    store_name: str | None,
) -> None:
    """Run the pipeline on WORKSPACE and write the plan into OUT.

    The plan is recorded as a version in WORKSPACE/history.gpkg (see `anju history`).
    With --store it is also published to the store, in one transaction.
    """
    from geo.precompile import compile_ahead
    from scripts.pipeline import run_pipeline

    store = _connect_store(store_url) if store_url else None  # a bad URL fails before the run
    try:
        with compile_ahead():  # a cold numba cache: the late kernels compile meanwhile
            manifest = run_pipeline(
                workspace,
                out,
                policy=policy,
                allow_personal=allow_personal,
                progress=not quiet,
                xlsx=xlsx,
            )
    except ValidationError as exc:
        _print_problems(exc.problems)
        sys.exit(EXIT_BAD_INPUT)
    except AnjuError as exc:
        click.echo(f"ERROR: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except MemoryError:
        _bad(_out_of_memory(workspace))
    _echo_plan(out, manifest)
    if not no_history:
        line, error = _record_version(workspace, out)
        click.echo(line, err=error)
        if error:
            sys.exit(EXIT_BAD_INPUT)
    if store is not None:
        name = store_name or workspace.resolve().name
        try:
            vid = store.write(out, name, allow_personal=allow_personal)
        except AnjuError as exc:
            _bad(f"plan written to {out}, but not published: {exc}")
        finally:
            store.close()
        click.echo(f"published as version {vid} of workspace {name!r} in {store.location}")


def _connect_store(url: str):
    """A PostGIS store from ``--store``; exit 2 with one line (password hidden) when the
    URL is not a PostgreSQL URL or the server cannot be reached."""
    from layers.store import StoreError, is_store_url, redact

    if not is_store_url(url):
        _bad(f"--store: expected a URL postgresql://user@host/db, found {redact(url)!r}")
    from layers.store import open_store

    try:
        return open_store(url)
    except StoreError as exc:
        _bad(str(exc))


def _record_version(workspace: Path, out: Path) -> tuple[str, bool]:
    """Record the plan in ``out`` in the workspace's history: (line to print, is an error)."""
    from layers.history import history_path, open_history

    store = history_path(workspace)
    try:
        v = open_history(workspace, create=True).record(out)
    except AnjuError as exc:
        return (
            f"ERROR: plan written to {out}, but not recorded as a version: {exc} "
            f"(move {store} aside, or run with --no-history)",
            True,
        )
    same = f"; same inputs and settings as version {v.same_as}" if v.same_as else ""
    return f"recorded as version {v.id} in {store}{same}", False


def _echo_plan(out: Path, manifest: dict) -> None:
    """The headline figures, and every warning of the run (never a silent figure)."""
    s = manifest.get("summary", {})
    click.echo(
        f"plan written to {out}: {s.get('villages', '?')} villages, "
        f"{s.get('villages_assessed', '?')} assessed for exit, {s.get('exit_ready', '?')} ready "
        f"({s.get('unconfirmed', 0)} more once inferred evidence is confirmed), "
        f"{s.get('people_to_relocate', '?')} people to relocate "
        f"({s.get('people_to_relocate_poor', '?')} registered poor), "
        f"{s.get('km_to_harden', 0):.1f} km to harden + {s.get('km_unknown_surface', 0):.1f} km of "
        f"unknown surface; allocation {s.get('allocation_status', '?')}"
    )
    for w in manifest.get("warnings", []):
        click.echo(f"WARNING: {w}", err=True)


#: ``anju batch`` workers: how many workspaces of the batch are not finished yet (shared)
_UNFINISHED: Any = None


def _batch_worker(n_proc: int, cores: int, unfinished: Any) -> None:
    """Initializer of an ``anju batch`` worker process (spawned: no library loaded yet).

    BLAS and OpenMP pools get a fixed ``cores // n_proc``. The search kernels and HiGHS get
    a share that follows the batch: ``cores // min(n_proc, workspaces not finished)``, read
    each time a stage sizes its threads, so that with three counties on two workers the
    last one runs on both cores once the others are done (``NUMBA_NUM_THREADS`` is set to
    every core so that the share, not numba's count, is the cap)."""
    from geo.threads import set_thread_share
    from scripts.province import limit_threads, threads_per_job

    global _UNFINISHED
    _UNFINISHED = unfinished
    limit_threads(threads_per_job(n_proc, cores))
    os.environ["NUMBA_NUM_THREADS"] = str(cores)
    set_thread_share(lambda: cores // max(1, min(n_proc, int(unfinished.value))))


def _run_one(args: tuple[str, str, str | None]) -> tuple[str, str, list[str]]:
    """Worker for ``anju batch``: run one workspace; return (workspace, status, messages)."""
    try:
        return _plan_one(args)
    finally:
        if _UNFINISHED is not None:
            with _UNFINISHED.get_lock():
                _UNFINISHED.value -= 1


def _plan_one(args: tuple[str, str, str | None]) -> tuple[str, str, list[str]]:
    from scripts.pipeline import run_pipeline

    ws, out, policy = args
    try:
        m = run_pipeline(Path(ws), Path(out), policy=policy, progress=False)
    except ValidationError as exc:
        return ws, "bad input", [p.line() for p in exc.problems if p.severity == "error"]
    except AnjuError as exc:
        return ws, "bad input", [str(exc)]
    s = m["summary"]
    return (
        ws,
        "ok",
        [
            f"{s['villages']} villages, {s['exit_ready']} ready, {s.get('people_to_relocate', 0)} to "
            f"relocate, {len(m.get('warnings', []))} warning(s) in {out}/manifest.json"
        ],
    )


@main.command()
@click.argument("root", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="folder for one plan per workspace",
)
@click.option(
    "--jobs", default=1, show_default=True, help="workspaces run in parallel (one process each)"
)
@click.option(
    "--policy", default=None, help="policy profile for every workspace (default: each one's own)"
)
@click.option(
    "--no-history",
    is_flag=True,
    default=False,
    help="do not record the plans as versions in each workspace's history.gpkg",
)
def batch(root: Path, out: Path, jobs: int, policy: str | None, no_history: bool) -> None:
    """Run every workspace under ROOT (folders with workspace.toml), one plan each in OUT/<name>.

    Counties are independent, so this is how a prefecture or province scales out on one
    machine; on a cluster, run `anju run` per county as separate jobs. Each plan is
    recorded as a version in its workspace's history.gpkg (by this process, one at a time).
    """
    workspaces = sorted(p.parent for p in root.glob("*/workspace.toml"))
    if (root / "workspace.toml").exists():
        workspaces.insert(0, root)
    if not workspaces:
        click.echo(f"ERROR: {root}: no folder with a workspace.toml", err=True)
        sys.exit(EXIT_BAD_INPUT)
    tasks = [(str(w), str(out / w.name), policy) for w in workspaces]
    failed = 0
    import multiprocessing

    from scripts.province import threads_per_job

    # fresh processes (spawn, not fork) whose thread pools are capped before those libraries
    # load: --jobs 2 on 2 cores must not run 4 threads; the kernels' share grows as the
    # batch empties (see _batch_worker)
    n_proc = min(max(1, jobs), len(tasks))
    ctx = multiprocessing.get_context("spawn")
    unfinished = ctx.Value("i", len(tasks))
    with ProcessPoolExecutor(
        max_workers=n_proc,
        mp_context=ctx,
        initializer=_batch_worker,
        initargs=(n_proc, threads_per_job(1), unfinished),
    ) as pool:
        for ws, status, msgs in pool.map(_run_one, tasks):
            if status == "ok" and not no_history:
                line, error = _record_version(Path(ws), out / Path(ws).name)
                if error:
                    status, msgs = "not recorded", [line.removeprefix("ERROR: ")]
                else:
                    msgs = [f"{msgs[0]}; {line}"]
            click.echo(
                f"{status.upper()}: {ws}: "
                + ("; ".join(msgs[:1]) if status == "ok" else f"{len(msgs)} problem(s)")
            )
            if status != "ok":
                failed += 1
                for m in msgs:
                    click.echo("  " + m, err=True)
    click.echo(f"{len(tasks) - failed} of {len(tasks)} workspace(s) planned into {out}")
    if failed:
        sys.exit(EXIT_BAD_INPUT)


@main.group()
def province() -> None:
    """A prefecture or province: many county workspaces run on Dask, with roll-ups."""


@province.command("demo")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--counties", default=3, show_default=True, help="number of counties")
@click.option(
    "--scale",
    default=0.06,
    show_default=True,
    help="size of each county (1 = the demo county; 0.06 plans in seconds)",
)
@click.option("--seed", default=2017, show_default=True, help="seed of the first county")
@click.option("--jobs", default=1, show_default=True, help="counties generated in parallel")
def province_demo(directory: Path, counties: int, scale: float, seed: int, jobs: int) -> None:
    """Write a synthetic prefecture into DIRECTORY: province.toml, dem/ tiles, counties/."""
    from scripts.make_province import generate_province

    try:
        manifest = generate_province(
            directory, counties=counties, scale=scale, seed=seed, jobs=max(1, jobs)
        )
    except ValueError as exc:
        _bad(str(exc))
    click.echo(f"province written: {manifest} ({counties} counties)")


@province.command("run")
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="output folder")
@click.option(
    "--jobs",
    default=1,
    show_default=True,
    help="worker processes of the local Dask cluster (threads per worker: cores // jobs)",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="run on an existing Dask scheduler and its workers instead of a local cluster",
)
@click.option(
    "--policy", default=None, help="policy profile for every county (default: each one's own)"
)
@click.option(
    "--no-history",
    is_flag=True,
    default=False,
    help="do not record the plans as versions in each workspace's history.gpkg",
)
def province_run(
    manifest: Path,
    out: Path,
    jobs: int,
    scheduler: str | None,
    policy: str | None,
    no_history: bool,
) -> None:
    """Run every county of MANIFEST (province.toml, or a folder of workspaces) on Dask.

    One task per county (the same pipeline as `anju run`), one line per county as it
    finishes, a failed county retried once and reported while the others finish; plans in
    OUT/<adcode>, roll-ups per county and township in OUT/province (CSV and GeoPackage).
    Exit 2 when the manifest is bad or any county failed.
    """
    from scripts.province import SchedulerError, cli_echo, headline, load_province, run_province

    try:
        prov = load_province(manifest)
    except ValidationError as exc:
        _print_problems(exc.problems)
        sys.exit(EXIT_BAD_INPUT)
    if out.exists() and not out.is_dir():
        _bad(f"{out}: --out must be a folder; found a file")
    try:
        result = run_province(
            prov,
            out,
            jobs=max(1, jobs),
            scheduler=scheduler,
            policy=policy,
            history=not no_history,
            echo=cli_echo,
        )
    except SchedulerError as exc:
        _bad(str(exc))
    failed = result.failed
    click.echo(headline(out))
    click.echo(
        f"{len(result.outcomes) - len(failed)} of {len(result.outcomes)} counties planned into "
        f"{out} in {result.seconds:.1f} s"
    )
    if failed:
        click.echo(
            f"ERROR: {len(failed)} county(ies) failed: "
            + ", ".join(f"{o.county.name} ({o.county.adcode})" for o in failed),
            err=True,
        )
        sys.exit(EXIT_BAD_INPUT)


def _bad(message: str) -> None:
    """One line on stderr and exit 2 (bad input)."""
    click.echo(f"ERROR: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _open_store(workspace: Path):
    """The history store of ``workspace`` (or a history .gpkg named directly); exit 2 with
    one line when there is none."""
    from layers.history import GpkgHistory, history_path, open_history

    try:
        if workspace.is_file() and workspace.suffix.lower() == ".gpkg":
            return GpkgHistory(workspace)
        if not (workspace / "workspace.toml").is_file():
            found = "a folder without one" if workspace.is_dir() else "nothing"
            _bad(f"{workspace}: expected a workspace folder with workspace.toml, found {found}")
        return open_history(workspace)
    except LayerNotFoundError:
        _bad(
            f"{workspace}: no plan history (expected {history_path(workspace)}, found nothing); "
            f"`anju run {workspace} --out OUT` records the first version"
        )
    except AnjuError as exc:
        _bad(str(exc))


@main.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, default=False, help="machine-readable output")
def history(workspace: Path, as_json: bool) -> None:
    """List the plan versions recorded for WORKSPACE, oldest first.

    One line each: id, date, profile, inputs checksum, villages ready, blocked, km to harden,
    people to relocate, and the earlier version with the same inputs and settings if any.
    """
    from layers.history import format_version

    store = _open_store(workspace)
    try:
        versions = store.versions()
    except AnjuError as exc:
        _bad(str(exc))
    if not versions:
        _bad(
            f"{workspace}: no plan history ({store.location} holds no version); "
            f"`anju run {workspace} --out OUT` records the first version"
        )
    if as_json:
        click.echo(json.dumps([v.to_dict() for v in versions], ensure_ascii=False, indent=1))
        return
    for v in versions:
        click.echo(format_version(v))


def _snapshot(ref: str, workspace: Path | None, stores: dict):
    """A version id (in the workspace's store) or a plan directory, read for the diff."""
    from layers.history import VersionNotFoundError, snapshot_plan

    path = Path(ref)
    if path.is_dir():
        if (path / "plan.gpkg").is_file():
            try:
                return snapshot_plan(path)
            except AnjuError as exc:
                _bad(str(exc))
        what = "a workspace" if (path / "workspace.toml").is_file() else "a folder"
        _bad(
            f"{ref}: expected a plan directory (with plan.gpkg) or a version id, found {what} "
            "without plan.gpkg"
            + (
                f" (its versions: `anju diff A B --workspace {ref}`)"
                if what == "a workspace"
                else ""
            )
        )
    if workspace is None:
        if not Path("workspace.toml").is_file():
            _bad(
                f"{ref}: a version id needs the workspace whose history holds it: "
                "add --workspace WS (or run in the workspace folder); found no workspace.toml "
                "in the current folder"
            )
        workspace = Path(".")
    if workspace not in stores:
        stores[workspace] = _open_store(workspace)
    store = stores[workspace]
    try:
        return store.snapshot(store.resolve(ref))
    except VersionNotFoundError as exc:
        _bad(str(exc))
    except AnjuError as exc:
        _bad(str(exc))


@main.command()
@click.argument("a")
@click.argument("b")
@click.option(
    "--workspace",
    "workspace",
    type=click.Path(path_type=Path),
    default=None,
    help="workspace whose history.gpkg holds the version ids (default: the current folder)",
)
@click.option("--json", "as_json", is_flag=True, default=False, help="machine-readable output")
def diff(a: str, b: str, workspace: Path | None, as_json: bool) -> None:
    """What changed from version A to version B, and why.

    A and B are version ids of the workspace's history (numbers, `latest`, `previous`) or plan
    directories. Lists the villages that became ready, exited, were newly blocked (and by what),
    indicators whose status or evidence quality changed (unknown → known...), known road gap km
    hardened, people to relocate; for each village which of its inputs changed, or which input
    file (by checksum), setting or profile did.
    """
    from layers.history import diff_snapshots, format_diff

    stores: dict = {}
    sa = _snapshot(a, workspace, stores)
    sb = _snapshot(b, workspace, stores)
    result = diff_snapshots(sa, sb)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1, default=str))
        return
    for line in format_diff(result):
        click.echo(line)


@main.command()
@click.argument("plan", type=click.Path(path_type=Path), required=False)
@click.option(
    "--store",
    "store_url",
    default=None,
    metavar="URL",
    help="serve the current plan of a shared PostGIS store instead of a plan directory",
)
@click.option(
    "--province",
    "province_dir",
    type=click.Path(path_type=Path),
    default=None,
    metavar="OUT",
    help="serve a province: the --out folder of `anju province run` (county plans and roll-ups)",
)
@click.option(
    "--workspace",
    "store_workspace",
    default=None,
    metavar="NAME",
    help="the workspace to serve from --store (default: the store's only one)",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True)
@click.option(
    "--debug",
    is_flag=True,
    default=False,
    help="Werkzeug's development server with its debugger (loopback hosts only)",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    default=False,
    help="allow a --host reachable from other machines (put sign-in and HTTPS in front)",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML file with a [dashboard] table (osm, tianditu_key, extra_basemaps, ...)",
)
def serve(
    plan: Path | None,
    store_url: str | None,
    province_dir: Path | None,
    store_workspace: str | None,
    host: str,
    port: int,
    debug: bool,
    allow_remote: bool,
    config_path: Path | None,
) -> None:
    """Serve the dashboard on the plan directory PLAN (waitress; --debug: the dev server),
    on the current plan of a workspace in a PostGIS store (--store URL [--workspace NAME]),
    or on a province (--province OUT: its counties, townships and every county's plan).
    """
    if province_dir is not None and (plan is not None or store_url is not None):
        _bad("serve: --province OUT serves a province: expected it alone, without PLAN or --store")
    if province_dir is None and (plan is None) == (store_url is None):
        _bad("serve: expected a plan directory PLAN or --store URL (one of them)")
    if province_dir is not None:
        from dashboard.province import load_province

        try:
            first = load_province(province_dir).default_county()
        except AnjuError as exc:
            _bad(str(exc))
        if first is None:
            _bad(
                f"serve: {province_dir}: expected at least one county plan "
                "(<adcode>/plan.gpkg), found none (every county failed?)"
            )
        plan = Path(province_dir) / first
    from dashboard.security import REMOTE_WARNING, host_problem, is_loopback, run_server

    problem = host_problem(host, debug=debug, allow_remote=allow_remote)
    if problem is not None:
        click.echo(f"ERROR: {problem}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    from dashboard.app import create_app
    from dashboard.state import DashboardConfig

    try:
        config = DashboardConfig.from_toml(config_path) if config_path else None
    except ValueError as exc:
        click.echo(f"ERROR: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    source = None
    if store_url is not None:
        from dashboard.plan import StoreSource

        source = StoreSource(_connect_store(store_url), store_workspace)
        try:
            plan = source.plan_dir()
        except AnjuError as exc:
            _bad(str(exc))
    assert plan is not None
    if (plan / "workspace.toml").is_file() and not (plan / "plan.gpkg").is_file():
        # a workspace, not a plan: say how to make its plan (not the demo's)
        from layers.plan import build_command

        click.echo(
            f"ERROR: {plan} is a workspace (it has workspace.toml), not a plan directory; "
            f"make its plan and serve that: {build_command(plan)}",
            err=True,
        )
        sys.exit(EXIT_BAD_INPUT)
    extra = {"province": province_dir} if province_dir is not None else {}
    app = create_app(plan, config=config, **extra)
    if source is not None:
        from dashboard.state import set_store

        set_store(app, source)
    if not is_loopback(host):
        from dashboard.auth import serve_problem

        auth_on = bool(app.server.config.get("ANJU_AUTH"))
        why = serve_problem(host, auth_on=auth_on)
        if not auth_on:  # other machines reach it: never without sign-in
            why = (
                f"serving on {host} needs sign-in: add a user first "
                f"(`anju users --plan {plan} add NAME --role leader`)"
            )
        if why is not None:
            click.echo(f"ERROR: {why}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        click.echo(REMOTE_WARNING.format(host=host), err=True)
    click.echo(f"anju: dashboard on http://{host}:{port}", err=True)
    run_server(app, host=host, port=port, debug=debug)


# --------------------------------------------------------------------------- users


def _user_store(store: Path | None, plan: Path | None):
    from layers.users import UserStore, default_path

    return UserStore(store if store is not None else default_path(plan))


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("password", hide_input=True, confirmation_prompt=True))


@main.group()
@click.option(
    "--store",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="the user store (default: $ANJU_USERS, else users.sqlite beside --plan, else ./users.sqlite)",
)
@click.option(
    "--plan",
    type=click.Path(path_type=Path),
    default=None,
    help="the plan directory served (the store is users.sqlite in its parent folder)",
)
@click.pass_context
def users(ctx: click.Context, store: Path | None, plan: Path | None) -> None:
    """Dashboard accounts and the audit trail (sign-in is required once a store exists)."""
    ctx.obj = _user_store(store, plan)


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, help="leader, bureau:transport|water|health, planner, admin")
@click.option("--personal", is_flag=True, default=False, help="may see household personal data")
@click.option("--password-stdin", is_flag=True, default=False, help="read the password from stdin")
@click.pass_obj
def users_add(store, name: str, role: str, personal: bool, password_stdin: bool) -> None:
    """Add user NAME with ROLE."""
    from layers.users import ROLES, UserStoreError

    if role not in ROLES:  # before asking for a password
        _bad(f"role {role!r}: expected one of {', '.join(ROLES)}")
    try:
        store.add(name, role, _read_password(password_stdin), personal=personal)
        store.record(
            "user_add", user=None, what=f"{name} ({role}{', personal' if personal else ''})"
        )
    except UserStoreError as exc:
        _bad(str(exc))
    click.echo(f"added {name} ({role}) to {store.path}")


@users.command("list")
@click.pass_obj
def users_list(store) -> None:
    """List the accounts (name, role, personal-data permission)."""
    for u in store.list_users():
        click.echo(f"{u.name}\t{u.role}\t{'personal' if u.personal else '-'}")


@users.command("remove")
@click.argument("name")
@click.pass_obj
def users_remove(store, name: str) -> None:
    """Remove user NAME."""
    from layers.users import UserStoreError

    try:
        store.remove(name)
        store.record("user_remove", what=name)
    except UserStoreError as exc:
        _bad(str(exc))
    click.echo(f"removed {name}")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, default=False, help="read the password from stdin")
@click.pass_obj
def users_passwd(store, name: str, password_stdin: bool) -> None:
    """Set the password of user NAME."""
    from layers.users import UserStoreError

    if store.get(name) is None:
        _bad(f"user {name!r}: no such user")
    try:
        store.set_password(name, _read_password(password_stdin))
        store.record("user_passwd", what=name)
    except UserStoreError as exc:
        _bad(str(exc))
    click.echo(f"password of {name} changed")


@users.command("audit")
@click.option("--limit", default=50, show_default=True)
@click.option("--user", "who", default=None, help="only this user's rows")
@click.option("--json", "as_json", is_flag=True, default=False, help="machine-readable output")
@click.pass_obj
def users_audit(store, limit: int, who: str | None, as_json: bool) -> None:
    """The newest audit rows: sign-ins, scenario runs, exports, personal-data views."""
    import time

    rows = store.audit(limit=limit, user=who)
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in rows], ensure_ascii=False, indent=1))
        return
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.ts))
        nums = json.dumps(r.numbers, ensure_ascii=False) if r.numbers else ""
        click.echo(
            f"{when}\t{r.user or '-'}\t{r.ip or '-'}\t{r.action}\t"
            f"{'ok' if r.ok else 'refused'}\t{r.what or ''}\t{nums}".rstrip()
        )


def _out_of_memory(workspace: Path) -> str:
    """The one line for a run that ran out of memory: an input too large for this machine
    (issue 18), with the DEM's size, the memory available and what handles such a DEM."""
    from layers.budget import available_memory_bytes, fmt_bytes, raster_shape
    from layers.dem_sources import max_dem_cells

    dem = "the DEM"
    try:
        from layers.workspace import read_workspace

        ws, _ = read_workspace(workspace)
        src = ws.sources.get("dem") if ws is not None else None
        if src is not None:
            dem = f"{src.path}{raster_shape(src.paths or src.path)}"
    except Exception:  # noqa: BLE001 - only names the DEM in the message
        pass
    return (
        f"{workspace}: the run ran out of memory: {dem} is too large for this machine "
        f"({fmt_bytes(available_memory_bytes())} of memory available; cell limit "
        f"{max_dem_cells() / 1e6:,.0f} million, ANJU_MAX_DEM_CELLS); use coarser cells or a "
        "smaller area, or compute slope and travel time block by block with `anju blocks "
        "slope` / `anju blocks travel`"
    )


@main.group()
def blocks() -> None:
    """Rasters larger than memory: slope and travel time block by block, file to file."""


@blocks.command("slope")
@click.argument("dem", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="slope GeoTIFF")
@click.option("--block", default=1024, show_default=True, help="block edge in cells")
@click.option("--percent", is_flag=True, default=False, help="percent instead of degrees")
@click.option("--max-cells", type=int, default=None, help="refuse a DEM with more cells")
def blocks_slope(dem: Path, out: Path, block: int, percent: bool, max_cells: int | None) -> None:
    """Slope of DEM (degrees, Horn) block by block; memory set by --block, not the DEM."""
    from geo.blocks import slope_blocks

    try:
        h, w = slope_blocks(dem, out, block=block, percent=percent, max_cells=max_cells)
    except (AnjuError, ValueError) as exc:
        _bad(str(exc))
    click.echo(f"slope of {dem} ({w:,} x {h:,} cells) written to {out}")


@blocks.command("travel")
@click.argument("speed", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--sources",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="destination points (any vector file), in the speed raster's CRS",
)
@click.option("--layer", default=None, help="layer of --sources (GeoPackage)")
@click.option(
    "--out", "out", required=True, type=click.Path(path_type=Path), help="minutes GeoTIFF"
)
@click.option("--tile", default=1024, show_default=True, help="tile edge in cells")
@click.option("--max-cells", type=int, default=None, help="refuse a raster with more cells")
def blocks_travel(
    speed: Path, sources: Path, layer: str | None, out: Path, tile: int, max_cells: int | None
) -> None:
    """Minutes to the nearest of the --sources over SPEED (km/h), tile by tile."""
    import geopandas as gpd

    from geo.blocks import travel_time_blocks

    try:
        pts = gpd.read_file(sources, layer=layer)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        _bad(f"{sources}: cannot be read as a vector layer ({exc})")
    try:
        info = travel_time_blocks(speed, pts, out, tile=tile, max_cells=max_cells)
    except (AnjuError, ValueError) as exc:
        _bad(str(exc))
    click.echo(
        f"travel time to {info['sources']} source cell(s) written to {out}: {info['tiles']} "
        f"tiles, {info['tile_searches']} tile searches in {info['sweeps']} sweeps, "
        f"{info['seconds']:.1f} s"
    )


def entry() -> None:
    """Console entry point: ``main`` with a last line of defence against tracebacks.

    Input problems exit 2 inside the commands. Anything else is a bug in anju: the user
    gets one line saying so (exit 1) and the traceback only with ``ANJU_DEBUG=1``.
    """
    try:
        main(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the CLI boundary: never show a user a traceback
        if os.environ.get("ANJU_DEBUG"):
            raise
        click.echo(
            f"anju: internal error ({type(exc).__name__}: {exc}); this is a bug in anju — "
            "rerun with ANJU_DEBUG=1 to see the traceback and report it",
            err=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    entry()
