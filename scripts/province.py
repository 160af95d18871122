"""A prefecture or province on Dask: one task per county, province roll-ups at the end.

``anju province run MANIFEST --out OUT [--jobs N] [--scheduler tcp://host:port]`` reads a
province manifest (``province.toml``, see :func:`load_province`; or a folder of workspaces),
runs every county as a task on ``dask.distributed`` — a ``LocalCluster`` of ``--jobs`` worker
processes by default, an existing cluster with ``--scheduler`` — each task calling the same
:func:`scripts.pipeline.run_pipeline` as ``anju run``, and writes:

- ``OUT/<adcode>/``: the plan of each county (as ``anju run`` writes it), recorded as a
  version in the county workspace's ``history.gpkg`` by this process, one at a time, as
  ``anju batch`` does;
- ``OUT/province/counties.csv``, ``townships.csv``, ``province.gpkg`` (layers ``counties``
  and ``townships``, EPSG:4490) and ``run.json``: the roll-ups, read back from each county's
  plan (:func:`rollup_plan`): villages ready to exit, blocked (and by which indicator), km of
  road to harden, water and clinic gaps, people to relocate and placed, sites opened.

Relocation stays within each county: every county's allocation only opens that county's sites.

Threads. Every worker gets ``cores // workers-on-its-host`` threads for numba's parallel
kernels and BLAS (:func:`limit_threads`: environment variables before the libraries load,
``numba.set_num_threads`` and threadpoolctl in the task itself), so two workers on two cores
do not fight over them. ``anju batch`` uses the same limiter as its process initializer.
"""

from __future__ import annotations

import logging
import os
import resource
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from layers.catalogue import ROLLUP_FIGURES
from layers.errors import AnjuError, Problem, ValidationError

__all__ = [
    "County",
    "CountyFailed",
    "Province",
    "ProvinceRun",
    "limit_threads",
    "load_province",
    "plan_county",
    "rollup_plan",
    "run_province",
    "thread_env",
    "threads_per_job",
]

#: Environment variables that cap the thread pools of numba, OpenMP and the BLAS libraries.
THREAD_VARS = (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
#: Set for the pipeline (and geo code that wants to size a solver's thread pool) to read.
ANJU_THREADS = "ANJU_THREADS"

_PROVINCE_KEYS = {"name", "adcode", "target_exit_year", "dem_tiles"}
_COUNTY_KEYS = {"name", "adcode", "workspace", "target_exit_year"}
_EVENT = "anju-county-attempt"


# --------------------------------------------------------------------------------------------
# threads
# --------------------------------------------------------------------------------------------


def threads_per_job(jobs: int, cores: int | None = None) -> int:
    """Threads each of ``jobs`` processes may use on ``cores`` cores (at least 1).

    Parameters
    ----------
    jobs
        Processes running at the same time on the machine.
    cores
        Cores of the machine (default: the cores this process may run on).

    Returns
    -------
    int
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, int(cores or 1) // max(1, jobs))


def thread_env(threads: int) -> dict[str, str]:
    """The environment variables that cap every thread pool at ``threads``."""
    env = {k: str(int(threads)) for k in THREAD_VARS}
    env[ANJU_THREADS] = str(int(threads))
    return env


def limit_threads(threads: int) -> None:
    """Cap this process's thread pools at ``threads`` (a worker initializer; also per task).

    Environment variables reach the libraries not loaded yet; numba (if loaded) is capped
    with ``numba.set_num_threads`` (for the calling thread only) and loaded BLAS / OpenMP
    pools with threadpoolctl when it is installed. The search kernels and HiGHS read
    :func:`geo.threads.kernel_threads`, which the process-wide share set here caps in every
    thread: the pipeline's relocation thread too, which numba's per-thread count misses.

    Parameters
    ----------
    threads
        Threads allowed (at least 1).
    """
    from geo.threads import set_thread_share

    threads = max(1, int(threads))
    os.environ.update(thread_env(threads))
    set_thread_share(lambda: threads)
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    if "numpy" in sys.modules or "scipy" in sys.modules:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # optional: the environment variables did what they could
            return
        threadpool_limits(limits=threads)


# --------------------------------------------------------------------------------------------
# the manifest
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class County:
    """One county of a province manifest.

    Attributes
    ----------
    name
        County name.
    adcode
        Six-digit administrative code (the folder of its plan in OUT), or the workspace
        folder's name when the counties come from a folder of workspaces.
    workspace
        Workspace folder (holding ``workspace.toml``).
    target_exit_year
        Year the county is to leave the register (None: not stated).
    """

    name: str
    adcode: str
    workspace: Path
    target_exit_year: int | None = None


@dataclass(frozen=True)
class Province:
    """A province (or prefecture) manifest: its counties and their workspaces."""

    name: str
    adcode: str | None
    path: Path
    counties: tuple[County, ...]
    target_exit_year: int | None = None


def _year(value: Any, where: str, problems: list[Problem], file: str, row: str | None) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1990 <= value <= 2100:
        problems.append(
            Problem(
                file,
                where,
                f"expected a year (an integer 1990-2100), found {value!r}",
                row=row,
                column="target_exit_year",
            )
        )
        return None
    return value


def _adcode(value: Any, where: str, problems: list[Problem], file: str, row: str | None) -> Any:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not (len(text) == 6 and text.isdigit()):
        problems.append(
            Problem(
                file,
                where,
                f'expected a 6-digit administrative code such as "439901", found {value!r}',
                row=row,
                column="adcode",
            )
        )
        return None
    return text


def _from_folder(root: Path) -> Province:
    workspaces = sorted(p.parent for p in root.glob("*/workspace.toml"))
    if not workspaces:
        raise ValidationError(
            [
                Problem(
                    str(root),
                    "province",
                    "expected a province.toml, or folders with a workspace.toml, found neither",
                )
            ]
        )
    counties = tuple(County(name=w.name, adcode=w.name, workspace=w) for w in workspaces)
    return Province(name=root.resolve().name, adcode=None, path=root, counties=counties)


def load_province(path: str | Path) -> Province:
    """Read and check a province manifest.

    ``province.toml``::

        [province]
        name = "青山州"
        adcode = "439900"            # optional
        target_exit_year = 2020      # optional
        dem_tiles = "dem"            # optional: the folder of the DEM tiles the counties share

        [[counties]]
        name = "青岩县"
        adcode = "439901"
        workspace = "counties/439901"   # relative to the manifest's folder
        target_exit_year = 2019         # optional

    ``path`` may also be the folder holding ``province.toml``, or a folder of workspaces
    (every sub-folder with a ``workspace.toml`` is a county named after its folder).

    Parameters
    ----------
    path
        The manifest, or a folder.

    Returns
    -------
    Province

    Raises
    ------
    ValidationError
        Every problem of the manifest at once (file, table, row, key, expected, found).
    """
    path = Path(path)
    if path.is_dir():
        if not (path / "province.toml").is_file():
            return _from_folder(path)
        path = path / "province.toml"
    f = str(path)
    if not path.is_file():
        raise ValidationError(
            [Problem(f, "province", "expected a province manifest (province.toml), found nothing")]
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(
            [Problem(f, "province", f"expected TOML (UTF-8), found a syntax error: {exc}")]
        ) from None
    problems: list[Problem] = []
    prov = data.get("province")
    if not isinstance(prov, dict):
        problems.append(
            Problem(f, "province", f"expected a [province] table, found {type(prov).__name__}")
        )
        prov = {}
    for k in sorted(set(prov) - _PROVINCE_KEYS):
        problems.append(
            Problem(
                f,
                "province",
                f"unknown key; expected one of {', '.join(sorted(_PROVINCE_KEYS))}",
                column=k,
            )
        )
    name = prov.get("name", path.parent.resolve().name)
    if not isinstance(name, str) or not name.strip():
        problems.append(
            Problem(f, "province", f"expected a name (text), found {name!r}", column="name")
        )
    adcode = _adcode(prov["adcode"], "province", problems, f, None) if "adcode" in prov else None
    target = _year(prov.get("target_exit_year"), "province", problems, f, None)
    for k in sorted(set(data) - {"province", "counties"}):
        problems.append(
            Problem(f, k, "unknown table; expected [province] and [[counties]]", column=None)
        )
    raw = data.get("counties")
    if not isinstance(raw, list) or not raw or not all(isinstance(c, dict) for c in raw):
        problems.append(
            Problem(
                f,
                "counties",
                "expected one or more [[counties]] tables (name, adcode, workspace), found "
                + ("none" if raw is None else repr(raw)[:80]),
            )
        )
        raw = []
    counties: list[County] = []
    seen_codes: dict[str, int] = {}
    seen_ws: dict[Path, int] = {}
    for i, c in enumerate(raw, start=1):
        row = str(i)
        n0 = len(problems)
        for k in sorted(set(c) - _COUNTY_KEYS):
            problems.append(
                Problem(
                    f,
                    "counties",
                    f"unknown key; expected one of {', '.join(sorted(_COUNTY_KEYS))}",
                    row=row,
                    column=k,
                )
            )
        for k in ("name", "adcode", "workspace"):
            if k not in c:
                problems.append(Problem(f, "counties", "required key missing", row=row, column=k))
        cname = c.get("name")
        if "name" in c and (not isinstance(cname, str) or not cname.strip()):
            problems.append(
                Problem(f, "counties", f"expected text, found {cname!r}", row=row, column="name")
            )
        code = _adcode(c["adcode"], "counties", problems, f, row) if "adcode" in c else None
        if code is not None:
            if code in seen_codes:
                problems.append(
                    Problem(
                        f,
                        "counties",
                        f"duplicate adcode {code} (also county {seen_codes[code]})",
                        row=row,
                        column="adcode",
                    )
                )
            seen_codes.setdefault(code, i)
        ws_raw = c.get("workspace")
        ws: Path | None = None
        if "workspace" in c:
            if not isinstance(ws_raw, str) or not ws_raw:
                problems.append(
                    Problem(
                        f,
                        "counties",
                        f"expected a folder path (text), found {ws_raw!r}",
                        row=row,
                        column="workspace",
                    )
                )
            else:
                ws = Path(ws_raw) if Path(ws_raw).is_absolute() else path.parent / ws_raw
                if not (ws / "workspace.toml").is_file():
                    found = "a folder without workspace.toml" if ws.is_dir() else "nothing"
                    problems.append(
                        Problem(
                            f,
                            "counties",
                            f"expected a workspace folder with workspace.toml at {ws}, found {found}",
                            row=row,
                            column="workspace",
                        )
                    )
                else:
                    key = ws.resolve()
                    if key in seen_ws:
                        problems.append(
                            Problem(
                                f,
                                "counties",
                                f"workspace {ws_raw} is listed twice (also county {seen_ws[key]})",
                                row=row,
                                column="workspace",
                            )
                        )
                    seen_ws.setdefault(key, i)
        year = _year(c.get("target_exit_year"), "counties", problems, f, row)
        if len(problems) == n0 and ws is not None and code is not None:
            counties.append(
                County(name=str(cname), adcode=code, workspace=ws, target_exit_year=year)
            )
    if problems:
        raise ValidationError(problems)
    return Province(
        name=str(name),
        adcode=adcode,
        path=path,
        counties=tuple(counties),
        target_exit_year=target,
    )


# --------------------------------------------------------------------------------------------
# the task
# --------------------------------------------------------------------------------------------


class CountyFailed(AnjuError):
    """A county's run stopped on bad input (the message: one problem per line)."""


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def host_share(workers: dict[str, dict], address: str, cores: int) -> int:
    """Threads a task on the worker at ``address`` may use: ``cores`` (its host's) shared by
    the worker threads the scheduler lists on that host (``workers``: the scheduler's
    ``workers`` by address, each with ``host`` and ``nthreads``). At least 1."""
    me = workers.get(address)
    if me is None:
        return max(1, cores)
    host = me.get("host")
    on_host = sum(int(w.get("nthreads", 1)) for w in workers.values() if w.get("host") == host)
    return threads_per_job(max(1, on_host), cores)


def _task_threads(worker: Any) -> int:
    """:func:`host_share` for the worker running this task, from the scheduler's list of
    workers now: a worker that joined after the run began counts, so the cores are
    shared among the workers there are, not those there were."""
    from distributed import get_client

    workers = get_client().scheduler_info(n_workers=-1)["workers"]
    return host_share(workers, worker.address, threads_per_job(1))


def plan_county(
    workspace: str,
    out: str,
    policy: str | None = None,
    threads: int | None = 1,
    adcode: str = "",
) -> dict[str, Any]:
    """Run ``anju run`` on one county (a Dask task, or called directly).

    Parameters
    ----------
    workspace, out
        Workspace folder and plan directory.
    policy
        Policy profile for the county (default: the workspace's).
    threads
        Threads for this task; or None: on a Dask worker, its host's cores shared by the
        worker threads on that host when the task starts (:func:`host_share`), else every
        core this process may use.
    adcode
        The county's code, for the attempt log.

    Returns
    -------
    dict
        ``summary`` (the plan's headline figures), ``warnings`` (count), ``seconds``,
        ``pid``, ``worker``, ``threads`` and ``peak_rss_mb`` of the process.

    Raises
    ------
    CountyFailed
        On bad input (every problem of the workspace, one per line).
    """
    from scripts.pipeline import run_pipeline

    worker = None
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not on a Dask worker
        worker = None
    if threads is None:
        n = _task_threads(worker) if worker is not None else threads_per_job(1)
    else:
        n = threads
    limit_threads(n)
    if worker is not None:
        worker.log_event(_EVENT, {"adcode": adcode, "pid": os.getpid()})
    t0 = time.perf_counter()
    try:
        m = run_pipeline(Path(workspace), Path(out), policy=policy, progress=False)
    except ValidationError as exc:
        raise CountyFailed(
            "\n".join(p.line() for p in exc.problems if p.severity == "error")
        ) from None
    except AnjuError as exc:
        raise CountyFailed(str(exc)) from None
    return {
        "summary": m["summary"],
        "warnings": len(m.get("warnings", [])),
        "seconds": round(time.perf_counter() - t0, 3),
        "pid": os.getpid(),
        "worker": worker.address if worker is not None else None,
        "threads": n,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


# --------------------------------------------------------------------------------------------
# roll-ups
# --------------------------------------------------------------------------------------------

#: Township and county figures (then blocked_by_<indicator>): the catalogue's.
FIGURES = ROLLUP_FIGURES


def _flag(s: Any) -> Any:
    import pandas as pd

    return pd.Series(s).astype("boolean").fillna(False).astype(bool)


def rollup_plan(plan_dir: str | Path) -> tuple[Any, Any]:
    """County and township figures of one plan, read from its layers.

    Parameters
    ----------
    plan_dir
        A plan directory (``anju run`` output).

    Returns
    -------
    (pandas.DataFrame, geopandas.GeoDataFrame)
        One row per township (``township`` plus :data:`FIGURES` and ``blocked_by_<id>``:
        assessed villages not ready with that indicator unmet), and the townships with
        their polygons (from the plan's ``townships`` layer, EPSG:4490) where the names match.

    Notes
    -----
    ``ready``/``blocked``/``unknown`` count assessed villages by ``blocker_class``;
    ``km_to_harden`` and ``km_unknown_surface`` sum the ``road_gaps`` layer by the gap's
    township; ``water_gap``/``clinic_gap`` count villages whose indicator is ``not_met``
    (``*_unknown``: unknown, never met); people to relocate sum ``people_to_move`` of the
    eligible relocation candidates, placed people the ``allocation`` layer; sites opened by
    the site's township.
    """
    import geopandas as gpd
    import pandas as pd

    from layers.plan import open_plan

    plan = open_plan(plan_dir)
    v = plan.read_layer("villages")
    bc = v["blocker_class"].astype(object)
    assessed = _flag(v["exit_applicable"])

    def status_count(column: str, value: str) -> Any:
        if column not in v.columns:  # the profile has no such indicator: unknown
            return pd.array([pd.NA] * len(v), dtype="Int64")
        return (v[column] == value).astype(int).to_numpy()

    frame = pd.DataFrame(
        {
            "township": v["township"].astype(object).fillna("（未定）").to_numpy(),
            "villages": 1,
            "villages_assessed": assessed.astype(int).to_numpy(),
            "ready": (bc == "ready").astype(int).to_numpy(),
            "unconfirmed": (bc == "unconfirmed").astype(int).to_numpy(),
            "blocked_one": (bc == "blocked_one").astype(int).to_numpy(),
            "blocked_several": (bc == "blocked_several").astype(int).to_numpy(),
            "unknown": (bc == "unknown").astype(int).to_numpy(),
            "water_gap": status_count("water_status", "not_met"),
            "water_unknown": status_count("water_status", "unknown"),
            "clinic_gap": status_count("clinic_status", "not_met"),
            "clinic_unknown": status_count("clinic_status", "unknown"),
        }
    )
    frame["blocked"] = frame["blocked_one"] + frame["blocked_several"]
    blocked = bc.isin(["blocked_one", "blocked_several"]).to_numpy()
    unmet = v["unmet"].astype(object).fillna("").to_numpy()
    ids = sorted({i for s, b in zip(unmet, blocked, strict=True) if b for i in s.split(",") if i})
    for i in ids:
        frame[f"blocked_by_{i}"] = [
            int(b and i in s.split(",")) for s, b in zip(unmet, blocked, strict=True)
        ]
    # min_count=1: a figure the profile does not assess stays blank, never 0
    town = frame.groupby("township", sort=True).sum(min_count=1)
    of_village = dict(zip(v["village_id"].astype(str), frame["township"], strict=True))

    def by_township(layer: str, value: str, township: Any, mask: Any = None) -> pd.Series:
        if layer not in plan.layer_names:
            return pd.Series(dtype=float)
        g = plan.read_layer(layer)
        if not len(g):
            return pd.Series(dtype=float)
        keys = township(g)
        vals = pd.to_numeric(g[value], errors="coerce").fillna(0.0)
        if mask is not None:
            vals = vals.where(mask(g), 0.0)
        return vals.groupby(keys.to_numpy()).sum()

    def own_township(g: Any) -> Any:
        return g["township"].astype(object).fillna("（未定）")

    def village_township(g: Any) -> Any:
        return g["village_id"].astype(str).map(of_village).fillna("（未定）")

    extra = {
        "km_to_harden": by_township("road_gaps", "known_unhardened_km", own_township),
        "km_unknown_surface": by_township("road_gaps", "unknown_surface_km", own_township),
        "people_to_relocate": by_township(
            "relocation_candidates",
            "people_to_move",
            own_township,
            lambda g: _flag(g["eligible"]).to_numpy(),
        ),
        "people_to_relocate_poor": by_township(
            "relocation_candidates",
            "people_to_move_poor",
            own_township,
            lambda g: _flag(g["eligible"]).to_numpy(),
        ),
        "people_placed": by_township("allocation", "people", village_township),
        "sites_opened": by_township(
            "sites", "opened", own_township, lambda g: _flag(g["opened"]).to_numpy()
        ),
    }
    for k, s in extra.items():
        town = town.reindex(town.index.union(s.index), fill_value=0)
        town[k] = s.reindex(town.index, fill_value=0.0)
    town["people_unplaced"] = town["people_to_relocate"] - town["people_placed"]
    for k in FIGURES:
        if k.startswith(("km_",)):
            town[k] = town[k].astype(float).round(3)
        else:
            town[k] = town[k].round().astype("Int64")
    cols = [*FIGURES, *sorted(c for c in town.columns if c.startswith("blocked_by_"))]
    town = town[cols].reset_index().rename(columns={"index": "township"})
    shapes = None
    if "townships" in plan.layer_names:
        t = plan.read_layer("townships")
        if "name" in t.columns:
            shapes = gpd.GeoDataFrame(
                t[["name", "geometry"]].rename(columns={"name": "township"}),
                geometry="geometry",
                crs=t.crs,
            ).dissolve(by="township", as_index=False)
    return town, shapes


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------


@dataclass
class CountyOutcome:
    """How one county's task ended."""

    county: County
    status: str  # "ok", "failed", "not recorded"
    messages: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    attempts: int = 0


@dataclass
class ProvinceRun:
    """What :func:`run_province` did."""

    outcomes: list[CountyOutcome]
    seconds: float
    dashboard: str | None
    workers: dict[str, int]

    @property
    def failed(self) -> list[CountyOutcome]:
        return [o for o in self.outcomes if o.status != "ok"]


class SchedulerError(AnjuError, ConnectionError):
    """The Dask scheduler given with ``--scheduler`` cannot be used."""


def _has_bokeh() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def _client(jobs: int, scheduler: str | None, *, worker_timeout_s: float) -> Any:
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{min(10.0, worker_timeout_s):g}s")
        except (OSError, TimeoutError) as exc:
            raise SchedulerError(
                f"--scheduler {scheduler}: expected a reachable Dask scheduler, found none "
                f"({type(exc).__name__}: {exc})"
            ) from None
        try:
            client.wait_for_workers(1, timeout=worker_timeout_s)
        except TimeoutError:
            client.close()
            raise SchedulerError(
                f"--scheduler {scheduler}: the scheduler has no worker after "
                f"{worker_timeout_s:g} s; start some with `dask worker {scheduler} --nthreads 1`"
            ) from None
        return client
    threads = threads_per_job(jobs)
    cluster = LocalCluster(
        n_workers=jobs,
        threads_per_worker=1,
        processes=True,
        env=thread_env(threads),
        dashboard_address=":0" if _has_bokeh() else None,
        # a failed county is reported by run_province, not by the worker's log
        silence_logs=logging.CRITICAL,
    )
    return Client(cluster)


def _worker_threads(client: Any) -> dict[str, int]:
    """Worker address → threads its tasks may use at the start of the run: its host's
    cores shared by the worker threads on that host (each task works its share out again
    when it starts, :func:`_task_threads`)."""
    cores: dict[str, int] = client.run(threads_per_job, 1)
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return {addr: host_share(workers, addr, cores.get(addr, 1)) for addr in workers}


def _threads_used(at_start: dict[str, int], outcomes: list[CountyOutcome]) -> dict[str, int]:
    """Worker address → threads: what each worker's last task (``outcomes`` in the order
    they finished) used, for a worker that joined later too; the share at the start for a
    worker that ran no task."""
    used = dict(at_start)
    for o in outcomes:
        res = o.result or {}
        if res.get("worker"):
            used[res["worker"]] = int(res["threads"])
    return used


def _record(workspace: Path, out: Path) -> tuple[str, bool]:
    from layers.history import history_path, open_history

    store = history_path(workspace)
    try:
        v = open_history(workspace, create=True).record(out)
    except AnjuError as exc:
        return (
            f"plan written to {out}, but not recorded as a version: {exc} "
            f"(move {store} aside, or run with --no-history)",
            True,
        )
    same = f"; same inputs and settings as version {v.same_as}" if v.same_as else ""
    return f"recorded as version {v.id} in {store}{same}", False


def run_province(
    province: Province,
    out: str | Path,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    policy: str | None = None,
    history: bool = True,
    retries: int = 1,
    echo: Callable[[str, bool], None] | None = None,
    worker_timeout_s: float = 30.0,
) -> ProvinceRun:
    """Run every county of ``province`` on Dask and write the roll-ups into ``out/province``.

    Parameters
    ----------
    province
        The manifest (:func:`load_province`).
    out
        Output folder: ``out/<adcode>/`` per county, ``out/province/`` for the roll-ups.
    jobs
        Worker processes of the local cluster (ignored with ``scheduler``).
    scheduler
        Address of an existing scheduler (``tcp://host:port``); default: a ``LocalCluster``.
    policy
        Policy profile for every county (default: each workspace's own).
    history
        Record each plan in its workspace's ``history.gpkg``.
    retries
        Times a failed county is tried again (Dask ``retries``).
    echo
        ``echo(line, is_error)`` for the progress lines (default: print).
    worker_timeout_s
        How long to wait for the scheduler and its first worker.

    Returns
    -------
    ProvinceRun

    Raises
    ------
    SchedulerError
        When ``scheduler`` is unreachable or has no worker.
    """
    from distributed import as_completed

    def say(line: str, err: bool = False) -> None:
        if echo is not None:
            echo(line, err)
        else:
            print(line, file=sys.stderr if err else sys.stdout)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    client = _client(max(1, jobs), scheduler, worker_timeout_s=worker_timeout_s)
    try:
        threads = _worker_threads(client)
        services = client.scheduler_info(n_workers=0).get("services", {})
        link = client.dashboard_link if "dashboard" in services else None
        where = scheduler or f"a local Dask cluster of {len(threads)} worker process(es)"
        say(
            f"{province.name}: {len(province.counties)} counties on {where}, "
            f"threads per worker {sorted(set(threads.values()))}; dashboard: "
            + (link or "none (the scheduler serves none; the local one needs bokeh)")
        )
        many = [
            a
            for a, w in client.scheduler_info(n_workers=-1)["workers"].items()
            if w["nthreads"] > 1
        ]
        if many:
            say(
                f"WARNING: {len(many)} worker(s) run several tasks at once (--nthreads > 1): "
                "numba's kernels are not safe to run concurrently in one process; start "
                "workers with --nthreads 1",
                True,
            )
        futures = {}
        for c in province.counties:
            fut = client.submit(
                plan_county,
                str(c.workspace.resolve()),
                str((out / c.adcode).resolve()),
                policy,
                None,  # each task shares its host's cores among the workers there then
                c.adcode,
                key=f"anju-county-{c.adcode}-{time.time_ns()}",
                retries=retries,
                pure=False,
            )
            futures[fut] = c
        outcomes: list[CountyOutcome] = []
        n = len(futures)
        for i, fut in enumerate(as_completed(list(futures)), start=1):
            c = futures[fut]
            label = f"[{i}/{n}] {c.name} ({c.adcode})"
            if fut.status == "finished":
                res = fut.result()
                s = res["summary"]
                o = CountyOutcome(c, "ok", result=res)
                line = (
                    f"{s['villages']} villages, {s['exit_ready']} ready, "
                    f"{s.get('people_to_relocate', 0)} to relocate, {res['warnings']} warning(s); "
                    f"{res['seconds']:.1f} s, peak {res['peak_rss_mb']:.0f} MB"
                )
                if history:
                    rec, error = _record(c.workspace, out / c.adcode)
                    if error:
                        o.status, o.messages = "not recorded", [rec]
                    else:
                        line += f"; {rec}"
                if o.status == "ok":
                    say(f"OK {label}: {line}")
                else:
                    say(f"NOT RECORDED {label}: {o.messages[0]}", True)
            else:
                exc = fut.exception()
                msgs = (
                    str(exc).splitlines()
                    if isinstance(exc, CountyFailed)
                    else [f"internal error ({type(exc).__name__}: {exc})"]
                )
                o = CountyOutcome(c, "failed", messages=msgs)
                say(f"FAILED {label}: {len(msgs)} problem(s) after {1 + retries} attempt(s)", True)
                for m in msgs:
                    say("  " + m, True)
            outcomes.append(o)
        attempts: dict[str, int] = {}
        for _, ev in client.get_events(_EVENT):
            attempts[ev["adcode"]] = attempts.get(ev["adcode"], 0) + 1
        for o in outcomes:
            o.attempts = attempts.get(o.county.adcode, 0)
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None and not scheduler:
            cluster.close()
    used = _threads_used(threads, outcomes)  # in the order the tasks finished
    order = {c.adcode: k for k, c in enumerate(province.counties)}
    outcomes.sort(key=lambda o: order[o.county.adcode])
    run = ProvinceRun(
        outcomes=outcomes,
        seconds=round(time.perf_counter() - t0, 3),
        dashboard=link,
        workers=used,
    )
    write_rollups(province, out, run)
    return run


def write_rollups(province: Province, out: Path, run: ProvinceRun) -> Path:
    """Write ``out/province/``: counties.csv, townships.csv, province.gpkg, run.json.

    Only the counties planned are rolled up; a failed county is a row with
    ``status = failed`` and blank figures (never zeros).
    """
    import json

    import geopandas as gpd
    import pandas as pd

    from layers.plan import open_plan

    folder = out / "province"
    tmp = out / ".province.tmp"
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    towns, county_rows, county_shapes, town_shapes = [], [], [], []
    for o in run.outcomes:
        c = o.county
        head = {
            "adcode": c.adcode,
            "county": c.name,
            "target_exit_year": c.target_exit_year,
            "status": o.status,
        }
        if o.status == "failed":
            county_rows.append(head)
            continue
        plan_dir = out / c.adcode
        t, shapes = rollup_plan(plan_dir)
        t.insert(0, "county", c.name)
        t.insert(0, "adcode", c.adcode)
        towns.append(t)
        figs = t[list(t.columns[3:])].sum(numeric_only=True, min_count=1)
        row = {**head, **{k: figs[k] for k in figs.index}}
        row["km_to_harden"] = round(float(row["km_to_harden"]), 3)
        row["km_unknown_surface"] = round(float(row["km_unknown_surface"]), 3)
        row["ready_frac"] = (
            round(row["ready"] / row["villages_assessed"], 4) if row["villages_assessed"] else None
        )
        if o.result is not None:
            row["seconds"] = o.result["seconds"]
            row["peak_rss_mb"] = o.result["peak_rss_mb"]
        county_rows.append(row)
        plan = open_plan(plan_dir)
        if "boundary" in plan.layer_names:
            b = plan.read_layer("boundary")
            county_shapes.append(
                gpd.GeoDataFrame(
                    {"adcode": [c.adcode]}, geometry=[b.geometry.union_all()], crs=b.crs
                )
            )
        if shapes is not None:
            town_shapes.append(shapes.assign(adcode=c.adcode))
    counties = pd.DataFrame(county_rows)
    by_town = pd.concat(towns, ignore_index=True) if towns else pd.DataFrame()
    blocked_by = sorted(c for c in counties.columns if c.startswith("blocked_by_"))
    # an indicator that blocks no village of a county is 0 there; a failed county's figures
    # stay blank (unknown), never zero
    ok = counties["status"] != "failed"
    for col in blocked_by:
        counties.loc[ok, col] = counties.loc[ok, col].fillna(0)
        by_town[col] = by_town[col].fillna(0).astype(int)
    head_cols = ["adcode", "county", "target_exit_year", "status"]
    tail = [c for c in ("ready_frac", "seconds", "peak_rss_mb") if c in counties.columns]
    counties = counties.reindex(
        columns=[*head_cols, *(f for f in FIGURES if f in counties.columns), *tail, *blocked_by]
    )
    for col in [*FIGURES, *blocked_by]:
        if col in counties.columns and not col.startswith("km_"):
            counties[col] = counties[col].astype("Int64")  # counts; blank when failed
    if len(by_town):
        by_town = by_town[
            [c for c in by_town.columns if not c.startswith("blocked_by_")] + blocked_by
        ]
    counties.to_csv(tmp / "counties.csv", index=False, encoding="utf-8-sig")
    by_town.to_csv(tmp / "townships.csv", index=False, encoding="utf-8-sig")
    gpkg = tmp / "province.gpkg"
    if county_shapes:
        geo = pd.concat(county_shapes, ignore_index=True)
        gpd.GeoDataFrame(
            geo.merge(counties, on="adcode", how="left"), geometry="geometry", crs=geo.crs
        ).to_file(gpkg, layer="counties", driver="GPKG")
    if town_shapes and len(by_town):
        ts = pd.concat(town_shapes, ignore_index=True)
        gpd.GeoDataFrame(
            by_town.merge(ts, on=["adcode", "township"], how="left"),
            geometry="geometry",
            crs=ts.crs,
        ).to_file(gpkg, layer="townships", driver="GPKG")
    info = {
        "province": {
            "name": province.name,
            "adcode": province.adcode,
            "manifest": str(province.path),
            "target_exit_year": province.target_exit_year,
        },
        "seconds": run.seconds,
        "dashboard": run.dashboard,
        "worker_threads": run.workers,
        "counties": [
            {
                "adcode": o.county.adcode,
                "name": o.county.name,
                "workspace": str(o.county.workspace),
                "status": o.status,
                "attempts": o.attempts,
                "messages": o.messages,
                **(
                    {k: o.result[k] for k in ("seconds", "pid", "worker", "threads", "peak_rss_mb")}
                    if o.result
                    else {}
                ),
            }
            for o in run.outcomes
        ],
    }
    (tmp / "run.json").write_text(
        json.dumps(info, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    tmp.replace(folder)
    return folder


def headline(out: Path) -> str:
    """One line of province totals from ``out/province/counties.csv``."""
    import pandas as pd

    c = pd.read_csv(out / "province" / "counties.csv", encoding="utf-8-sig")
    ok = c[c["status"] != "failed"]
    if not len(ok):
        return f"no county planned; roll-ups in {out / 'province'}"
    return (
        f"province roll-up of {len(ok)} of {len(c)} counties in {out / 'province'}: "
        f"{int(ok['ready'].sum())} of {int(ok['villages_assessed'].sum())} assessed villages ready, "
        f"{int(ok['blocked'].sum())} blocked, {ok['km_to_harden'].sum():.1f} km to harden, "
        f"{int(ok['water_gap'].sum())} water and {int(ok['clinic_gap'].sum())} clinic gaps, "
        f"{int(ok['people_to_relocate'].sum())} people to relocate, "
        f"{int(ok['sites_opened'].sum())} sites"
    )


def cli_echo(line: str, err: bool) -> None:
    """Progress line printer for the CLI."""
    click.echo(line, err=err)
