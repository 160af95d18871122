"""Serve the anju dashboard on the demo county: ``python app.py``.

Builds ``data/demo/plan`` first when it is missing or older than its inputs (with the
pipeline's progress bar in the terminal), then serves http://127.0.0.1:8050 with waitress
(``--debug``: Werkzeug's debug server; a host other than loopback needs ``--allow-remote``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WORKSPACE = ROOT / "data" / "demo"
PLAN = WORKSPACE / "plan"


def plan_is_stale(plan: Path) -> bool:
    """True when the plan is missing, or an input it lists changed since it was built."""
    from dashboard.plan import plan_status

    if not (plan / "manifest.json").is_file():
        return True
    return plan_status(plan, root=ROOT)[0] != "ok"


def ensure_plan(workspace: Path = WORKSPACE, plan: Path = PLAN) -> None:
    """Build the plan with the pipeline when stale; report (not raise) when impossible."""
    if not plan_is_stale(plan):
        return
    try:
        from scripts.pipeline import run_pipeline
    except ImportError as exc:
        print(f"anju: cannot build {plan}: the pipeline is not available ({exc}).", file=sys.stderr)
        return
    if not (workspace / "workspace.toml").is_file():
        print(f"anju: no demo workspace at {workspace}; run `anju demo` first.", file=sys.stderr)
        return
    from layers.errors import AnjuError, ValidationError

    print(f"anju: building the demo plan in {plan} ...", file=sys.stderr)
    try:
        from geo.precompile import compile_ahead

        with compile_ahead():  # a fresh machine: the late kernels compile meanwhile
            run_pipeline(workspace, plan, progress=True)
        from layers.history import open_history

        # a version in the workspace's history, as `anju run` records (the progress page
        # lists them; `anju diff` compares them)
        v = open_history(workspace, create=True).record(plan)
        print(f"anju: recorded as version {v.id} of {workspace}", file=sys.stderr)
    except ValidationError as exc:  # the dashboard then shows how to fix and rebuild
        print(f"anju: cannot build {plan}; the inputs have problems:", file=sys.stderr)
        for p in exc.problems:
            print("  " + p.line(), file=sys.stderr)
    except AnjuError as exc:
        print(f"anju: cannot build {plan}: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Parse ``--host``/``--port``/``--plan``, build the demo plan if needed, serve."""
    ap = argparse.ArgumentParser(description="Serve the anju dashboard.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8050)
    ap.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host reachable from other machines (put sign-in and HTTPS in front)",
    )
    ap.add_argument(
        "--debug", action="store_true", help="Werkzeug's debug server (loopback hosts only)"
    )
    ap.add_argument("--plan", type=Path, default=None, help="plan directory (default: the demo)")
    ap.add_argument("--no-build", action="store_true", help="do not build the demo plan")
    ap.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML file with a [dashboard] table (osm, tianditu_key, extra_basemaps)",
    )
    args = ap.parse_args(argv)
    from dashboard.security import REMOTE_WARNING, host_problem, is_loopback, run_server

    problem = host_problem(args.host, debug=args.debug, allow_remote=args.allow_remote)
    if problem is not None:
        print(f"anju: {problem}", file=sys.stderr)
        sys.exit(2)
    plan = args.plan or PLAN
    if args.plan is None and not args.no_build:
        ensure_plan()
    from dashboard.app import create_app
    from dashboard.state import DashboardConfig

    try:
        config = DashboardConfig.from_toml(args.config) if args.config else None
    except ValueError as exc:
        print(f"anju: {exc}", file=sys.stderr)
        sys.exit(2)
    app = create_app(plan, config=config)
    if not is_loopback(args.host):
        print(REMOTE_WARNING.format(host=args.host), file=sys.stderr)
    print(f"anju: dashboard on http://{args.host}:{args.port}", file=sys.stderr)
    run_server(app, host=args.host, port=args.port, debug=args.debug)


if __name__ == "__main__":
    main()
