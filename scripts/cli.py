"""The ``anju`` command line.

Commands (a contract: DESIGN.md):
  anju demo [DIR]                       write the synthetic demo workspace
  anju check WORKSPACE                  validate every layer; one line per problem; exit 2 on errors
  anju run WORKSPACE --out OUT [--policy P] [--allow-personal]
                                        run the pipeline and write the plan
  anju serve OUT [--host --port]        serve the dashboard on a plan directory
  anju batch ROOT --out OUT [--jobs N]  run every workspace under ROOT, one plan each

Exit codes: 0 success, 2 bad input (one line per problem on stderr, no traceback,
nothing half-written in OUT), 1 unexpected failure.

Each command imports what it needs when it runs (geopandas, numba, dash): `anju --help`
and `anju check` start in a fraction of the time `anju serve` takes.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import click

from layers.errors import AnjuError, ValidationError

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
def run(workspace: Path, out: Path, policy: str | None, allow_personal: bool, quiet: bool) -> None:
    """Run the pipeline on WORKSPACE and write the plan into OUT."""
    from scripts.pipeline import run_pipeline

    try:
        manifest = run_pipeline(
            workspace, out, policy=policy, allow_personal=allow_personal, progress=not quiet
        )
    except ValidationError as exc:
        _print_problems(exc.problems)
        sys.exit(EXIT_BAD_INPUT)
    except AnjuError as exc:
        click.echo(f"ERROR: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    _echo_plan(out, manifest)


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


def _run_one(args: tuple[str, str, str | None]) -> tuple[str, str, list[str]]:
    """Worker for ``anju batch``: run one workspace; return (workspace, status, messages)."""
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
def batch(root: Path, out: Path, jobs: int, policy: str | None) -> None:
    """Run every workspace under ROOT (folders with workspace.toml), one plan each in OUT/<name>.

    Counties are independent, so this is how a prefecture or province scales out on one
    machine; on a cluster, run `anju run` per county as separate jobs.
    """
    workspaces = sorted(p.parent for p in root.glob("*/workspace.toml"))
    if (root / "workspace.toml").exists():
        workspaces.insert(0, root)
    if not workspaces:
        click.echo(f"ERROR: {root}: no folder with a workspace.toml", err=True)
        sys.exit(EXIT_BAD_INPUT)
    tasks = [(str(w), str(out / w.name), policy) for w in workspaces]
    failed = 0
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        for ws, status, msgs in pool.map(_run_one, tasks):
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


@main.command()
@click.argument("plan", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True)
@click.option("--debug", is_flag=True, default=False)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML file with a [dashboard] table (osm, tianditu_key, extra_basemaps, ...)",
)
def serve(plan: Path, host: str, port: int, debug: bool, config_path: Path | None) -> None:
    """Serve the dashboard on the plan directory PLAN."""
    from dashboard.app import create_app
    from dashboard.state import DashboardConfig

    try:
        config = DashboardConfig.from_toml(config_path) if config_path else None
    except ValueError as exc:
        click.echo(f"ERROR: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if (plan / "workspace.toml").is_file() and not (plan / "plan.gpkg").is_file():
        # a workspace, not a plan: say how to make its plan (not the demo's)
        from layers.plan import build_command

        click.echo(
            f"ERROR: {plan} is a workspace (it has workspace.toml), not a plan directory; "
            f"make its plan and serve that: {build_command(plan)}",
            err=True,
        )
        sys.exit(EXIT_BAD_INPUT)
    app = create_app(plan, config=config)
    app.run(host=host, port=port, debug=debug)


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
