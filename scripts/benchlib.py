"""The rules every anju benchmark follows, in one place.

* **Alternation.** The tools of a comparison run in turn, round after round, the order
  reversed on every other round (A B, B A, A B, ...), so that a slow spell of a shared
  machine does not always fall on the same tool.
* **Same number of runs** for every tool of a comparison (:func:`measure` schedules them).
* **Min, median and CPU time.** Wall time by ``time.perf_counter``; CPU time as user +
  system of this process *and* of its waited-for children (``resource.getrusage``), so a
  tool that runs as a subprocess or on several threads is charged all its CPU.
* **Cold and warm.** The first ``cold_runs`` rounds are timed as *cold*: before each, the
  tool's ``prepare_cold`` hook puts it back into its cold state (a fresh numba cache, ...);
  without a hook, cold is the tool's first call in this process. Warm rounds follow, and
  cold samples never enter the warm statistics.
* **Outputs checked.** Every tool's output is compared with every other tool's
  (:func:`check_outputs`); a comparison whose outputs disagree says so in the table.
* **Failures are reported, never hidden.** A tool that raises or is missing gets no figure,
  only its error, and a ratio that needs it is left empty.

A *row* (a plain dict, JSON-ready) is one comparison: what is compared, per tool its runs,
min, median and CPU time, the ratio (anju's median / the reference's median: below 1 means
anju is faster), the output check, the target and whether it is met. :func:`write_report`
writes rows as ``benchmarks.md`` and ``benchmarks.json`` with the date and the machine.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- tools and timing


@dataclass
class Tool:
    """One side of a comparison: ``run()`` does the work once and returns its output."""

    name: str
    run: Callable[[], Any]
    prepare_cold: Callable[[], None] | None = None  # untimed; before every cold run
    prepare_warm: Callable[[], None] | None = None  # untimed; before every warm run


@dataclass
class Samples:
    """What :func:`measure` recorded for one tool."""

    name: str
    wall: list[float] = field(default_factory=list)  # warm runs
    cpu: list[float] = field(default_factory=list)
    cold_wall: list[float] = field(default_factory=list)
    cold_cpu: list[float] = field(default_factory=list)
    output: Any = None  # output of the last successful run
    error: str | None = None  # first failure; the tool then stops being run

    @property
    def ok(self) -> bool:
        return self.error is None


def _cpu_now() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Run ``fn`` once: (wall seconds, CPU seconds of this process and its children, output)."""
    c0 = _cpu_now()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    return wall, _cpu_now() - c0, out


def schedule(names: Sequence[str], rounds: int) -> Iterator[tuple[int, str]]:
    """(round, tool) in alternating order: the order reversed on every other round."""
    for r in range(rounds):
        for name in names if r % 2 == 0 else list(names)[::-1]:
            yield r, name


def measure(
    tools: Sequence[Tool],
    *,
    runs: int,
    cold_runs: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Samples]:
    """Time every tool ``cold_runs`` times cold, then ``runs`` times warm, alternating.

    A tool that raises is recorded with its error and not run again; the others go on.
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    by_name = {t.name: t for t in tools}
    if len(by_name) != len(tools):
        raise ValueError("tool names must be unique")
    res = {t.name: Samples(t.name) for t in tools}
    names = [t.name for t in tools]
    plan = [(True, r, n) for r, n in schedule(names, cold_runs)]
    # the warm rounds continue the alternation where the cold ones stopped
    plan += [(False, r, n) for r, n in schedule(names, cold_runs + runs) if r >= cold_runs]
    for cold, r, name in plan:
        tool, s = by_name[name], res[name]
        if not s.ok:
            continue
        try:
            hook = tool.prepare_cold if cold else tool.prepare_warm
            if hook is not None:
                hook()
            if progress:
                progress(f"{name}: {'cold' if cold else 'warm'} run {r + 1}")
            wall, cpu, out = timed(tool.run)
        except Exception as exc:  # noqa: BLE001 - reported in the table, never hidden
            s.error = f"{type(exc).__name__}: {exc}".strip()[:300]
            continue
        s.output = out
        (s.cold_wall if cold else s.wall).append(wall)
        (s.cold_cpu if cold else s.cpu).append(cpu)
    return res


def stats(values: Sequence[float]) -> dict[str, float | None]:
    """min, median and count of a list of seconds (None when empty)."""
    v = [float(x) for x in values if x is not None and math.isfinite(x)]
    if not v:
        return {"min_s": None, "median_s": None, "n": 0}
    return {"min_s": min(v), "median_s": statistics.median(v), "n": len(v)}


# --------------------------------------------------------------------------- subprocesses


class CommandFailed(RuntimeError):
    pass


def run_cmd(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | str | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """Run a command to completion (its CPU lands in RUSAGE_CHILDREN); raise on failure
    with the last line of its stderr."""
    full_env = None if env is None else {**os.environ, **env}
    p = subprocess.run(
        list(cmd), env=full_env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if p.returncode != 0:
        tail = (p.stderr or p.stdout or "").strip().splitlines()[-1:] or [""]
        raise CommandFailed(f"exit {p.returncode}: {' '.join(map(str, cmd))[:120]}: {tail[0]}")
    return p


# --------------------------------------------------------------------------- output checks


def check_outputs(
    samples: dict[str, Samples], compare: Callable[[Any, Any], tuple[bool, str]]
) -> dict[str, Any]:
    """Compare every pair of successful tools' outputs with ``compare(a, b) -> (ok, note)``.

    Returns ``{"ok": bool | None, "detail": str}``; None when fewer than two tools answered
    (nothing to compare) or a comparison itself failed.
    """
    names = [n for n, s in samples.items() if s.ok]
    notes, oks = [], []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            try:
                ok, note = compare(samples[a].output, samples[b].output)
            except Exception as exc:  # noqa: BLE001
                ok, note = None, f"comparison failed: {type(exc).__name__}: {exc}"
            oks.append(ok)
            notes.append(f"{a} vs {b}: {'OK' if ok else 'MISMATCH' if ok is False else '?'} {note}")
    failed = [n for n, s in samples.items() if not s.ok]
    notes += [f"{n} failed, not checked" for n in failed]
    if not oks or any(o is None for o in oks):
        ok_all = None if not any(o is False for o in oks) else False
    else:
        ok_all = all(oks)
    return {"ok": ok_all, "detail": "; ".join(notes)}


def close_arrays(rtol: float = 1e-6, atol: float = 1e-6, *, nan_equal: bool = True):
    """A ``compare`` for numpy arrays: same shape, same NaN cells, values within tolerance."""
    import numpy as np

    def cmp(a, b) -> tuple[bool, str]:
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            return False, f"shapes {a.shape} and {b.shape}"
        na, nb = np.isnan(a), np.isnan(b)
        same_nan = bool(np.array_equal(na, nb))
        both = ~na & ~nb
        d = float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0
        within = bool(np.allclose(a[both], b[both], rtol=rtol, atol=atol)) if both.any() else True
        ok = within and (same_nan or not nan_equal)
        return ok, f"max abs diff {d:.2e}" + (
            "" if same_nan else f", NaN cells differ ({int((na ^ nb).sum())})"
        )

    return cmp


# --------------------------------------------------------------------------- rows


#: "warm" and "cold" as defined above; "process": every run is a fresh process of its own
MODES = ("warm", "cold", "process")


def _tool_entry(s: Samples, mode: str) -> dict[str, Any]:
    wall = s.cold_wall if mode == "cold" else s.wall
    cpu = s.cold_cpu if mode == "cold" else s.cpu
    st = stats(wall)
    return {
        "tool": s.name,
        "runs": st["n"],
        "min_s": st["min_s"],
        "median_s": st["median_s"],
        "cpu_median_s": stats(cpu)["median_s"],
        "error": s.error,
    }


def make_row(
    name: str,
    what: str,
    samples: dict[str, Samples],
    *,
    mode: str = "warm",
    anju: str | None = None,
    reference: str | None = None,
    check: dict[str, Any] | None = None,
    target: str | None = None,
    met: bool | None = None,
    headline: bool = False,
    notes: str = "",
) -> dict[str, Any]:
    """One table row. ``ratio`` = median of ``anju`` / median of ``reference`` (< 1: anju
    faster), empty if either has no runs. Every tool must have the same number of runs
    (unless it failed): :func:`measure` guarantees it."""
    if mode not in MODES:
        raise ValueError(mode)
    tools = [_tool_entry(s, mode) for s in samples.values()]
    counts = {t["runs"] for t in tools if t["error"] is None}
    if len(counts) > 1:
        raise ValueError(f"{name}: tools ran different numbers of times: {counts}")
    by = {t["tool"]: t for t in tools}
    ratio = None
    if anju and reference and anju in by and reference in by:
        a, r = by[anju]["median_s"], by[reference]["median_s"]
        if a is not None and r not in (None, 0.0):
            ratio = a / r
    return {
        "name": name,
        "what": what,
        "mode": mode,
        "headline": headline,
        "tools": tools,
        "anju": anju,
        "reference": reference,
        "ratio": ratio,
        "check": check if check is not None else {"ok": None, "detail": "not checked"},
        "target": target,
        "met": met,
        "notes": notes,
    }


def failed_row(name: str, what: str, error: str, *, target: str | None = None) -> dict[str, Any]:
    """A row for a benchmark that could not run (missing tool, crash): no figures."""
    return {
        "name": name,
        "what": what,
        "mode": "-",
        "headline": False,
        "tools": [],
        "anju": None,
        "reference": None,
        "ratio": None,
        "check": {"ok": None, "detail": "not run"},
        "target": target,
        "met": None if target is None else False,
        "notes": f"NOT AVAILABLE: {error}",
    }


def value_row(
    name: str,
    what: str,
    values: dict[str, list[float]],
    *,
    mode: str = "warm",
    target: str | None = None,
    met: bool | None = None,
    check: dict[str, Any] | None = None,
    notes: str = "",
    unit: str = "s",
    cpu: dict[str, list[float]] | None = None,
) -> dict[str, Any]:
    """A row from figures measured elsewhere (e.g. another script's JSON, or a stage time
    read from a manifest): per label a list of samples."""
    tools = []
    for label, vals in values.items():
        st = stats(vals)
        tools.append(
            {
                "tool": label,
                "runs": st["n"],
                "min_s": st["min_s"],
                "median_s": st["median_s"],
                "cpu_median_s": stats((cpu or {}).get(label, []))["median_s"],
                "error": None if st["n"] else "no value",
                "unit": unit,
            }
        )
    return {
        "name": name,
        "what": what,
        "mode": mode,
        "headline": False,
        "tools": tools,
        "anju": None,
        "reference": None,
        "ratio": None,
        "check": check if check is not None else {"ok": None, "detail": "not checked"},
        "target": target,
        "met": met,
        "notes": notes,
    }


# --------------------------------------------------------------------------- machine and report


def _version(mod: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(mod)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python, library versions, git commit, load."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        ram_gb = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        ram_gb = None
    libs = {}
    for m in (
        "numpy", "numba", "scipy", "rasterio", "shapely", "geopandas", "exactextract",
        "rasterstats", "scikit-image", "xarray-spatial", "highspy", "PuLP", "spopt", "dash",
        "playwright",
    ):  # fmt: skip
        libs[m] = _version(m)
    try:
        import rasterio

        libs["GDAL (rasterio)"] = rasterio.__gdal_version__
    except ImportError:
        pass
    try:
        out = subprocess.run(["gdaldem", "--version"], capture_output=True, text=True, timeout=10)
        first = (out.stdout or "").strip().splitlines()[:1]  # old gdaldem adds its usage
        libs["gdaldem"] = first[0].split(",")[0] if first else None
    except (OSError, subprocess.TimeoutExpired):
        libs["gdaldem"] = None
    commit = None
    try:
        c = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        d = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        commit = c.stdout.strip() + (" (with uncommitted changes)" if d.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "libraries": libs,
        "commit": commit,
        "load_average": list(os.getloadavg()),
    }


def _f(v: float | None, unit: str = "s") -> str:
    if v is None:
        return "—"
    if unit != "s":
        return f"{v:.1f} {unit}"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def _check_text(c: dict[str, Any], limit: int = 220) -> str:
    """Short form for the table (the JSON keeps the whole detail): on a mismatch, the
    failing comparisons only."""
    ok = c.get("ok")
    head = "OK" if ok else "MISMATCH" if ok is False else "—"
    parts = [p for p in (c.get("detail") or "").split("; ") if p]
    if ok is False:
        parts = [p for p in parts if "MISMATCH" in p or "failed" in p] or parts
    d = "; ".join(parts)
    if len(d) > limit:
        d = d[:limit].rsplit(" ", 1)[0] + " …"
    return f"{head}: {d}" if d else head


def _speed_text(report: dict[str, Any]) -> str:
    a, b = report.get("speed_start"), report.get("speed_end")
    if not a or not b:
        return ""
    return (
        "; machine speed (scripts/benchlib.py calibrate(), seconds, start → end): Python loop "
        f"{a['python_loop_s']:.3f} → {b['python_loop_s']:.3f}, memory passes "
        f"{a['memory_pass_s']:.3f} → {b['memory_pass_s']:.3f}"
    )


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: header with date and machine, then one table."""
    m = report["machine"]
    lines = [
        "# anju benchmarks",
        "",
        f"Measured {report['date']} by `{report['command']}`"
        + (" (quick: small inputs, few runs — not for quoting)" if report.get("quick") else ""),
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['os']}, "
        f"Python {m['python']}; commit {m['commit']}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in report.get('load_start', m['load_average']))}, "
        f"at end {', '.join(f'{x:.2f}' for x in report.get('load_end', m['load_average']))}"
        + _speed_text(report)
        + ".",
        "",
        "Libraries: "
        + ", ".join(f"{k} {v}" for k, v in m["libraries"].items() if v)
        + ". Missing: "
        + (", ".join(k for k, v in m["libraries"].items() if not v) or "none")
        + ".",
        "",
        "Every comparison alternates its tools (order reversed every other round), runs each "
        "the same number of times, and reports min and median wall time and the median CPU "
        "time (user + system, child processes included). *ratio* = anju's median / the "
        "reference's median (below 1: anju faster). **Bold** rows are the headline, "
        "like-for-like comparisons. *cold* and *warm* are defined in the README.",
        "",
        "| benchmark | mode | tool | runs | min s | median s | CPU s | ratio | output check | target | met |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        name = f"**{row['name']}**" if row.get("headline") else row["name"]
        met = {True: "yes", False: "NO", None: "—"}[row.get("met")]
        first = True
        tools = row["tools"] or [None]
        for t in tools:
            if first:
                cells = [
                    f"{name}<br><small>{row['what']}</small>"
                    + (f"<br><small>{row['notes']}</small>" if row.get("notes") else ""),
                    row["mode"],
                ]
            else:
                cells = ["", ""]
            if t is None:
                cells += ["—", "0", "—", "—", "—"]
            else:
                unit = t.get("unit", "s")
                label = t["tool"] + (
                    f" (FAILED: {t['error']})" if t.get("error") and t["runs"] == 0 else ""
                )
                cells += [
                    label.replace("|", "/"),
                    str(t["runs"]),
                    _f(t["min_s"], unit),
                    _f(t["median_s"], unit),
                    _f(t.get("cpu_median_s")),
                ]
            if first:
                r = row.get("ratio")
                cells += [
                    "—" if r is None else f"{r:.3g}",
                    _check_text(row["check"]).replace("|", "/"),
                    row.get("target") or "—",
                    met,
                ]
            else:
                cells += ["", "", "", ""]
            lines.append("| " + " | ".join(cells) + " |")
            first = False
    lines.append("")
    return "\n".join(lines)


def calibrate(repeat: int = 3) -> dict[str, float]:
    """How fast this machine is now: two fixed single-thread workloads, the min of ``repeat``
    runs each, in seconds: a pure-Python loop (3 million additions) and four numpy passes
    over 256 MB (memory bandwidth). A shared VM's host can make the same code 30-60% slower
    from one hour to the next (seen on this project's machine); the same two figures taken
    at the start and the end of a table, and on another day, say whether its seconds are
    comparable. Ratios within a row come from alternated runs and stand either way."""
    import numpy as np

    a = np.ones(32_000_000)
    loop, passes = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        acc = 0
        for i in range(3_000_000):
            acc += i
        loop.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(4):
            a.sum()
        passes.append(time.perf_counter() - t0)
    return {"python_loop_s": round(min(loop), 3), "memory_pass_s": round(min(passes), 3)}


def write_report(
    rows: list[dict[str, Any]],
    out_dir: Path | str,
    *,
    command: str,
    quick: bool,
    load_start: list[float] | None = None,
    info: dict[str, Any] | None = None,
    speed_start: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Write ``benchmarks.json`` and ``benchmarks.md`` into ``out_dir``; return the report.
    ``speed_start``: :func:`calibrate` at the start (it is measured again at the end)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    m = info or machine()
    report = {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "quick": quick,
        "machine": m,
        "load_start": load_start or m["load_average"],
        "load_end": list(os.getloadavg()),
        "speed_start": speed_start,
        "speed_end": calibrate() if speed_start else None,
        "rows": rows,
    }
    (out / "benchmarks.json").write_text(
        json.dumps(report, indent=1, ensure_ascii=False, default=float) + "\n"
    )
    (out / "benchmarks.md").write_text(markdown(report))
    return report


def dump_rows(rows: list[dict[str, Any]], path: Path | str | None) -> None:
    """Write rows as JSON (for :mod:`scripts.bench_all`) and print them as Markdown."""
    if path:
        Path(path).write_text(json.dumps({"rows": rows}, default=float, ensure_ascii=False))
    fake = {
        "date": "",
        "command": " ".join(sys.argv),
        "machine": {
            "cpu": "", "cores": os.cpu_count(), "ram_gb": None, "os": "", "python": "",
            "libraries": {}, "commit": None, "load_average": list(os.getloadavg()),
        },
        "rows": rows,
    }  # fmt: skip
    print("\n".join(markdown(fake).splitlines()[10:]))
