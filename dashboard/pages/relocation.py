"""Relocation planning: candidates, sites, allocation flows and scenario comparison.

The scenario panel re-runs the relocation chain with the planner's settings in a background
callback; the result waits in a store and the page shows either it or the baseline, each
figure beside the other. What the page shows of a plan is one JSON-safe view
(:func:`dashboard.viewmodels.relocation_view`); the callbacks only pick and place it.
"""

from __future__ import annotations

import time
from pathlib import Path

import dash
import dash_leaflet as dl
import pandas as pd
from dash import (
    ALL,
    MATCH,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    dcc,
    html,
    no_update,
)

from dashboard import ids, security
from dashboard.components import (
    CAND_STYLE,
    FLOW_STYLE,
    IDLE_SITE_STYLE,
    JS,
    RELOC_RASTERS,
    SITE_COLOR,
    SITE_STYLE,
    context_overlays,
    dem_note,
    grid,
    label_layers,
    legend,
    map_frame,
    reloc_legend_entries,
)
from dashboard.i18n import fmt_num, t
from dashboard.pages._common import load_or_alert
from dashboard.scenario import (
    PARAMS,
    answer_line,
    build_overrides,
    changed_controls,
    changed_params,
    defaults,
    exact_jobs,
    format_param,
    merge_overrides,
    param_format,
    quick_overrides,
    run_quick_view,
    run_settings,
    scenario_settings,
    solver_overrides,
    warm_quick_worker,
)
from dashboard.state import config, get_plan, lang, plan_dir
from dashboard.viewmodels import (
    bypass_line,
    change_summary,
    comparison_rows,
    relocation_view,
)
from layers.errors import AnjuError

dash.register_page(__name__, path="/relocation", name="relocation", title="安居 · 搬迁")


def _controls(plan, lg):
    """Sliders of the scenario panel, each with its current value and unit beside the label
    (kept up to date while dragging by ``anju.paramLabel``) and its range as end marks."""
    vals = defaults(plan.manifest.get("parameters"))
    out = []
    heads = {
        "relocation": ("搬迁对象规则", "Who moves"),
        "suitability": ("安置点", "Sites"),
        "ahp": ("适宜性权重（AHP，1–9）", "Suitability weights (AHP, 1–9)"),
    }
    group = None
    for p in PARAMS:
        if p.group != group:
            group = p.group
            out.append(html.H4(heads[group][1 if lg == "en" else 0]))
        out += [
            html.Div(
                [
                    html.Label(
                        p.label_en if lg == "en" else p.label_zh,
                    ),
                    html.Span(
                        format_param(p.name, vals[p.name], lg),
                        id={"type": ids.RELOC_PARAM_VALUE, "name": p.name},
                        className="param-value",
                    ),
                ],
                className="param-head",
            ),
            dcc.Slider(
                p.vmin,
                p.vmax,
                p.step,
                value=vals[p.name],
                id={"type": ids.RELOC_PARAM, "name": p.name},
                marks={
                    v: {"label": format_param(p.name, v, lg, unit=False)} for v in (p.vmin, p.vmax)
                },
                allow_direct_input=False,
                updatemode="mouseup",
                className="param-slider",
            ),
        ]
    out.append(
        dcc.Store(
            id=ids.RELOC_PARAM_FORMATS, data={p.name: param_format(p.name, lg) for p in PARAMS}
        )
    )
    return out


#: Columns of tables/unplaced.csv the page reads (never household data).
UNPLACED_COLUMNS = ("village_id", "people", "reason_code", "reason_en", "reason_zh")


def read_unplaced(plan_dir: Path) -> pd.DataFrame | None:
    """The plan's ``tables/unplaced.csv`` (its known columns only); None when absent or
    unreadable."""
    path = Path(plan_dir) / "tables" / "unplaced.csv"
    if not path.is_file():
        return None
    try:
        df = pd.read_csv(path, encoding="utf-8-sig", dtype={"village_id": str})
    except (OSError, UnicodeDecodeError, ValueError):  # EmptyDataError, ParserError
        return None
    return df[[c for c in UNPLACED_COLUMNS if c in df.columns]]


def plan_relocation_settings(plan) -> dict:
    """The relocation settings the plan was screened with (manifest ``settings``, else
    ``parameters``)."""
    m = plan.manifest
    return dict(
        ((m.get("settings") or {}).get("relocation"))
        or ((m.get("parameters") or {}).get("relocation"))
        or {}
    )


def baseline_view(plan, lg: str) -> dict:
    """The plan as the page shows it (:func:`relocation_view`), once per plan and language."""

    def build() -> dict:
        unplaced = read_unplaced(plan.plan_dir)
        notes = [str(w) for w in plan.manifest.get("warnings") or []]
        if unplaced is None and (plan.summary.get("people_unplaced") or 0) > 0:
            notes.append(t("unplaced_table_missing", lg))
        return relocation_view(
            candidates=plan.layer("relocation_candidates"),
            sites=plan.layer("sites"),
            allocation=plan.layer("allocation"),
            unplaced=unplaced,
            summary=plan.summary,
            notes=notes,
            settings=plan_relocation_settings(plan),
            lang=lg,
        )

    return plan.memo(("reloc_view", lg), build)


def view_options(lg: str, *, scenario: bool) -> list[dict]:
    """The choices of what the map and tables show (the scenario once there is one)."""
    return [
        {"label": t("view_baseline", lg), "value": "baseline"},
        {"label": t("view_scenario", lg), "value": "scenario", "disabled": not scenario},
    ]


def compare_table(rows: list[dict], lg: str, *, scenario: bool, shown: str) -> html.Table:
    """Baseline vs scenario, figure by figure (:func:`comparison_rows`); the column the map
    shows is marked."""

    def th(text, col):
        return html.Th(text, className="col-shown" if col == shown else None)

    head = [html.Th(""), th(t("baseline", lg), "baseline")]
    if scenario:
        head += [th(t("scenario_result", lg), "scenario"), html.Th(t("compare_change", lg))]
    body = []
    for r in rows:
        cells = [html.Td(r["label"]), html.Td(r["base"])]
        if scenario:
            moved = r["delta"] not in ("", "0")
            cells += [
                html.Td(r["scen"]),
                html.Td(r["delta"], className="delta changed" if moved else "delta"),
            ]
        body.append(
            html.Tr(cells, className="sub" if r["sub"] else None, **{"data-metric": r["key"]})
        )
    return html.Table([html.Thead(html.Tr(head)), html.Tbody(body)], className="compare-table")


def summary_block(base: dict, scen: dict | None, lg: str) -> list:
    """What changed in one line; the settings changed; why a threshold does not bind."""
    bf = base["figures"]
    sf = scen["figures"] if scen else None
    out = [html.P(change_summary(bf, sf, lg), className="summary-line")]
    line = answer_line(scen, lg) if scen is not None else ""
    if line:
        kind = (scen or {}).get("answer", {}).get("kind")
        out.append(html.P(line, id=ids.RELOC_ANSWER, className=f"answer-line answer-{kind}"))
    if scen is not None:
        changes = scen.get("changes") or []
        sep = "；" if lg != "en" else "; "
        out.append(
            html.P(
                t("changed_settings", lg, items=sep.join(changes))
                if changes
                else t("no_changed_settings", lg),
                className="changes-line",
            )
        )
        if scen.get("run_settings"):
            out.append(
                html.P(
                    t("run_settings", lg, items=sep.join(scen["run_settings"])),
                    className="muted-line",
                )
            )
    for label, fig in (("view_baseline", bf), ("view_scenario", sf)):
        line = bypass_line(fig, lg) if fig is not None else None
        if line:
            colon = "：" if lg != "en" else ": "
            out.append(html.P(f"{t(label, lg)}{colon}{line}", className="bypass-line"))
    return out


def unplaced_block(rows: list[dict], label: str, lg: str) -> list:
    """The villages not placed and why (text from the plan, shown as text)."""
    out: list = [html.H4(t("unplaced_title", lg, label=label))]
    if not rows:
        out.append(html.P(t("unplaced_none", lg), className="muted-line"))
        return out
    head = html.Tr(
        [html.Th(t("village", lg)), html.Th(t("unplaced_people", lg)), html.Th(t("reasons", lg))]
    )
    body = [
        html.Tr(
            [
                html.Td(f"{r['name']}（{r['township']}）" if r["township"] else r["name"]),
                html.Td(fmt_num(r["people"], "en")),
                html.Td(r["reason"]),
            ],
            **{"data-village": r["village_id"]},
        )
        for r in rows
    ]
    out.append(html.Table([html.Thead(head), html.Tbody(body)], className="unplaced-table"))
    return out


def notes_block(notes: list[str], label: str, lg: str, *, open_: bool) -> list:
    """The run's warnings (DESIGN.md rule 3: no silent figure)."""
    if not notes:
        return []
    return [
        html.Details(
            [
                html.Summary(f"{t('notes_title', lg, label=label)} ({len(notes)})"),
                html.Ul([html.Li(n) for n in notes]),
            ],
            className="warnings",
            open=open_,
        )
    ]


#: What :func:`render` fills, in the order of the display callback's outputs.
VIEW_OUTPUTS: tuple[tuple[str, str], ...] = (
    (ids.RELOC_SUMMARY, "children"),
    (ids.RELOC_COMPARE, "children"),
    (ids.RELOC_UNPLACED, "children"),
    (ids.RELOC_NOTES, "children"),
    (ids.RELOC_BADGE, "children"),
    (ids.RELOC_CAND_TITLE, "label"),
    (ids.RELOC_GRID, "rowData"),
    (ids.RELOC_SITES_TITLE, "label"),
    (ids.RELOC_SITES_GRID, "rowData"),
    (ids.RELOC_CANDS, "data"),
    (ids.RELOC_FLOWS, "data"),
    (ids.RELOC_SITES_OPEN, "data"),
    (ids.RELOC_SITE_POINTS_OPEN, "data"),
    (ids.RELOC_SITES_IDLE, "data"),
    (ids.RELOC_SITE_POINTS_IDLE, "data"),
)


def render(base: dict, scen: dict | None, mode: str, lg: str) -> dict[tuple[str, str], object]:
    """Every part of the page that follows the choice of baseline or scenario."""
    shown = scen if (mode == "scenario" and scen is not None) else base
    mode = "scenario" if shown is scen else "baseline"
    label = t(f"view_{mode}", lg)
    geo = shown["geo"]
    return {
        (ids.RELOC_SUMMARY, "children"): summary_block(base, scen, lg),
        (ids.RELOC_COMPARE, "children"): compare_table(
            comparison_rows(base["figures"], scen["figures"] if scen else None, lg),
            lg,
            scenario=scen is not None,
            shown=mode,
        ),
        (ids.RELOC_UNPLACED, "children"): unplaced_block(shown["unplaced_rows"], label, lg),
        (ids.RELOC_NOTES, "children"): notes_block(
            shown["notes"], label, lg, open_=mode == "scenario"
        ),
        (ids.RELOC_BADGE, "children"): t("map_shows", lg, label=label),
        (ids.RELOC_CAND_TITLE, "label"): t(
            "tab_candidates", lg, label=label, n=len(shown["cand_rows"])
        ),
        (ids.RELOC_GRID, "rowData"): shown["cand_rows"],
        (ids.RELOC_SITES_TITLE, "label"): t(
            "tab_sites",
            lg,
            label=label,
            opened=fmt_num(shown["figures"].get("sites_opened"), "en"),
            n=len(shown["site_rows"]),
        ),
        (ids.RELOC_SITES_GRID, "rowData"): shown["site_rows"],
        (ids.RELOC_CANDS, "data"): geo["cands"],
        (ids.RELOC_FLOWS, "data"): geo["flows"],
        (ids.RELOC_SITES_OPEN, "data"): geo["open"],
        (ids.RELOC_SITE_POINTS_OPEN, "data"): geo["open_points"],
        (ids.RELOC_SITES_IDLE, "data"): geo["idle"],
        (ids.RELOC_SITE_POINTS_IDLE, "data"): geo["idle_points"],
    }


def _site_group(geo: dict, *, opened: bool) -> dl.LayerGroup:
    """Site areas (seen when zoomed in) and site points (seen at county scale)."""
    key = "open" if opened else "idle"
    return dl.LayerGroup(
        [
            dl.GeoJSON(
                data=geo[key],
                style=JS["hideout_style"],
                onEachFeature=JS["label_tooltip"],
                hideout=SITE_STYLE if opened else IDLE_SITE_STYLE,
                id=ids.RELOC_SITES_OPEN if opened else ids.RELOC_SITES_IDLE,
            ),
            dl.GeoJSON(
                data=geo[f"{key}_points"],
                pointToLayer=JS["site_point"],
                onEachFeature=JS["label_tooltip"],
                hideout={"opened": opened, "color": SITE_COLOR},
                id=ids.RELOC_SITE_POINTS_OPEN if opened else ids.RELOC_SITE_POINTS_IDLE,
            ),
        ]
    )


def _overlays(plan, lg: str, geo: dict) -> list:
    """Context layers, flows, sites (only the opened ones drawn until the planner ticks the
    others), candidate villages."""
    overlays = context_overlays(plan, lg, checked=("hazards", "protected", "towns"))
    paren = "（{}）" if lg != "en" else " ({})"
    overlays += [
        dl.Overlay(
            dl.GeoJSON(
                data=geo["flows"],
                style=JS["hideout_style"],
                onEachFeature=JS["label_tooltip"],
                hideout=FLOW_STYLE,
                id=ids.RELOC_FLOWS,
            ),
            name=t("allocation_flow", lg),
            checked=True,
        ),
        dl.Overlay(_site_group(geo, opened=False), name=t("sites_idle", lg), checked=False),
        dl.Overlay(
            _site_group(geo, opened=True),
            name=t("sites", lg) + paren.format(t("opened", lg)),
            checked=True,
        ),
        dl.Overlay(
            dl.GeoJSON(
                data=geo["cands"],
                pointToLayer=JS["cand_point"],
                onEachFeature=JS["label_tooltip"],
                hideout=CAND_STYLE,
                id=ids.RELOC_CANDS,
            ),
            name=t("candidates", lg),
            checked=True,
        ),
        *label_layers(plan, lg),
    ]
    return overlays


def layout(**_kwargs):
    lg = lang()
    plan, alert = load_or_alert(lg)
    if plan is None:
        return alert
    base = baseline_view(plan, lg)
    shown = render(base, None, "baseline", lg)
    # read the plan and its village grids in the quick worker now, once per plan
    plan.memo(("quick_warm",), lambda: warm_quick_worker(plan.plan_dir) or True)
    the_map = map_frame(
        plan,
        config(),
        lg,
        map_id=ids.RELOC_MAP,
        overlays=_overlays(plan, lg, base["geo"]),
        rasters=RELOC_RASTERS,
        legend=legend(lg, plan=plan, rasters=RELOC_RASTERS, entries=reloc_legend_entries(lg)),
    )
    the_map.children.append(
        html.Div(shown[(ids.RELOC_BADGE, "children")], id=ids.RELOC_BADGE, className="map-badge")
    )
    cand_grid = grid(
        ids.RELOC_GRID,
        base["cand_rows"],
        [
            ("rank", t("rank", lg)),
            ("name", t("name", lg)),
            ("township", t("township", lg)),
            ("score", t("score", lg)),
            ("basis", t("basis", lg)),
            ("people_to_move", t("people_to_move", lg)),
            ("people_to_move_poor", t("people_poor_col", lg)),
            ("people_to_move_other", t("people_other_col", lg)),
            ("move_scope", t("move_scope", lg)),
            ("reasons", t("reasons", lg)),
        ],
        height="100%",
        row_id="village_id",
        wide=("reasons",),
        min_widths={
            "rank": 84,
            "name": 96,
            "township": 100,
            "score": 84,
            "people_to_move": 100,
            "people_to_move_poor": 100,
            "people_to_move_other": 100,
            "move_scope": 120,
            "basis": 210,
        },
        tooltips={"basis": "basis", "move_scope": "move_scope"},
    )
    sites_grid = grid(
        ids.RELOC_SITES_GRID,
        base["site_rows"],
        [
            ("name", t("name", lg)),
            ("source", t("source", lg)),
            ("opened", t("opened", lg)),
            ("assigned_people", t("assigned", lg)),
            ("capacity_people", t("capacity", lg)),
            ("township", t("township", lg)),
            ("suitability", t("suitability", lg)),
            ("robustness_frac", t("robustness", lg)),
        ],
        height="100%",
        row_id="site_id",
        min_widths={"name": 120, "source": 96},
    )
    tabs = dcc.Tabs(
        [
            dcc.Tab(
                cand_grid,
                label=shown[(ids.RELOC_CAND_TITLE, "label")],
                value="cands",
                id=ids.RELOC_CAND_TITLE,
                className="reloc-tab",
                selected_className="reloc-tab--selected",
            ),
            dcc.Tab(
                sites_grid,
                label=shown[(ids.RELOC_SITES_TITLE, "label")],
                value="sites",
                id=ids.RELOC_SITES_TITLE,
                className="reloc-tab",
                selected_className="reloc-tab--selected",
            ),
        ],
        value="cands",
        id=ids.RELOC_TABS,
        parent_className="reloc-tabs",
        content_className="reloc-tab-content",
    )
    side = html.Div(
        [
            html.H3(t("scenario", lg)),
            dem_note(plan.manifest, lg),
            html.P(t("run_hint", lg), className="muted-line"),
            html.P(t("answer_hint", lg), className="muted-line"),
            html.Div(
                [
                    html.Button(
                        t("run_scenario", lg), id=ids.RELOC_RUN, className="btn btn-primary"
                    ),
                    html.Button(
                        t("cancel", lg), id=ids.RELOC_CANCEL, className="btn", disabled=True
                    ),
                ],
                className="export-bar",
            ),
            html.Div(
                [
                    html.Progress(
                        id=ids.RELOC_PROGRESS, value="0", max="100", style={"width": "100%"}
                    ),
                    html.Div(id=ids.RELOC_STAGE, className="stage-line"),
                ],
                id=ids.RELOC_PROGRESS_BOX,
                style={"display": "none"},
            ),
            html.Div(id=ids.RELOC_EXACT_LINE, className="stage-line"),
            dcc.Interval(id=ids.RELOC_EXACT_POLL, interval=1000, disabled=True),
            *_controls(plan, lg),
        ],
        className="sidebar reloc-controls",
    )
    results = html.Div(
        [
            html.H3(t("results", lg)),
            html.Div(
                [
                    html.Span(t("view_label", lg)),
                    dcc.RadioItems(
                        id=ids.RELOC_VIEW,
                        options=view_options(lg, scenario=False),
                        value="baseline",
                        inline=True,
                    ),
                ],
                className="view-switch",
            ),
            html.Div(
                [
                    html.Span(t("run_cancelled", lg), className="msg-cancelled"),
                    html.Span(id=ids.RELOC_RESULT, className="msg-text"),
                ],
                id=ids.RELOC_STATUS,
                className="run-status",
            ),
            *(
                html.Div(shown[(key, "children")], id=key)
                for key in (
                    ids.RELOC_SUMMARY,
                    ids.RELOC_COMPARE,
                    ids.RELOC_UNPLACED,
                    ids.RELOC_NOTES,
                )
            ),
            dcc.Store(id=ids.RELOC_STORE),
        ],
        className="panel reloc-results",
    )
    main = html.Div([the_map, tabs], className="reloc-main")
    page = html.Div([side, main, results], className="reloc")
    return html.Div([alert, page]) if alert is not None else page


@callback(
    Output(ids.RELOC_STORE, "data"),
    Output(ids.RELOC_RESULT, "children"),
    Output(ids.RELOC_STATUS, "className"),
    Output(ids.RELOC_VIEW, "value"),
    Output(ids.RELOC_VIEW, "options"),
    Output(ids.RELOC_EXACT_POLL, "disabled"),
    Output(ids.RELOC_CANCEL, "disabled"),
    Input(ids.RELOC_RUN, "n_clicks"),
    State({"type": ids.RELOC_PARAM, "name": ALL}, "value"),
    State({"type": ids.RELOC_PARAM, "name": ALL}, "id"),
    State(ids.LANG_STORE, "data"),
    running=[
        (Output(ids.RELOC_RUN, "disabled"), True, False),
        (Output(ids.RELOC_PROGRESS_BOX, "style"), {"display": "block"}, {"display": "none"}),
        (Output(ids.RELOC_STAGE, "children"), "…", ""),
    ],
    prevent_initial_call=True,
)
def run_scenario(_n, values, pids, lg):
    """Answer a scenario at once with the fast heuristic (:func:`run_quick_view`, in the
    server's quick worker) and start its exact solve in the background
    (:meth:`dashboard.scenario.ExactJobs.start`), which :func:`poll_exact` picks up."""
    lg = lg or "zh"
    plan, cfg = get_plan(), config()
    names = [p["name"] for p in pids]
    start = defaults(plan.manifest.get("parameters"))
    t0 = time.perf_counter()
    web = {
        "metric_crs": plan.manifest.get("crs_metric"),
        "simplify_m": cfg.simplify_m,
        "precision": cfg.precision,
    }
    try:
        moved = build_overrides(*changed_controls(start, names, values))
        exact = merge_overrides(
            merge_overrides(cfg.scenario_base, solver_overrides("exact")), moved
        )
        quick = quick_overrides(exact)
        settings = scenario_settings(plan_relocation_settings(plan), quick)
        view = run_quick_view(plan_dir(), overrides=quick, settings=settings, lang=lg, web=web)
    except (AnjuError, ValueError) as exc:
        return (
            no_update,
            f"{t('scenario_failed', lg)}{exc}",
            "run-status failed",
            no_update,
            no_update,
            True,
            True,
        )
    job = exact_jobs().start(
        plan_dir(),
        overrides=exact,
        settings=settings,
        lang=lg,
        web=web,
        session=security.session_id(),
    )
    plan_settings = plan.manifest.get("settings")
    view["changes"] = changed_params(start, names, values, lg)
    view["run_settings"] = run_settings(_fixed(quick, moved), plan_settings, lg)
    view["exact_run_settings"] = run_settings(_fixed(exact, moved), plan_settings, lg)
    view["exact_job"] = job.status()
    done = t("run_done", lg, s=f"{time.perf_counter() - t0:.1f}")
    return view, done, "run-status done", "scenario", view_options(lg, scenario=True), False, False


def _fixed(overrides: dict, moved: dict) -> dict:
    """The settings of a run the planner did not move on the panel (said on the page)."""
    out = {}
    for section, items in overrides.items():
        mine = moved.get(section) or {}
        rest = {k: v for k, v in items.items() if k not in mine}
        if rest:
            out[section] = rest
    return out


@callback(
    Output(ids.RELOC_STORE, "data", allow_duplicate=True),
    Output(ids.RELOC_EXACT_LINE, "children"),
    Output(ids.RELOC_EXACT_POLL, "disabled", allow_duplicate=True),
    Output(ids.RELOC_CANCEL, "disabled", allow_duplicate=True),
    Input(ids.RELOC_EXACT_POLL, "n_intervals"),
    State(ids.RELOC_STORE, "data"),
    State(ids.LANG_STORE, "data"),
    prevent_initial_call=True,
)
def poll_exact(_n, scen, lg):
    """While the exact solve runs, say so with its seconds; when it ends, its result
    replaces the heuristic answer (or the heuristic stays, saying why)."""
    return exact_update(scen, lg or "zh")


def exact_update(scen: dict | None, lg: str, *, now: float | None = None) -> tuple:
    """``(store, running line, poll disabled, cancel disabled)`` for the scenario in the
    store and the state of its exact job (:func:`poll_exact`, tested without a browser)."""
    job_state = (scen or {}).get("exact_job") or {}
    if not scen or job_state.get("state") != "running":
        return no_update, "", True, True
    job = exact_jobs().get(job_state.get("key"))
    if job is None:  # the server restarted or forgot it
        scen = {**scen, "exact_job": {**job_state, "state": "failed", "error": "—"}}
        return scen, "", True, True
    if job.state == "running":
        s = int(max(0, (now if now is not None else time.time()) - job.started))
        return no_update, t("answer_running", lg, s=s), False, False
    if job.state == "done" and job.view is not None:
        view = dict(job.view)
        view["changes"] = scen.get("changes") or []
        view["run_settings"] = scen.get("exact_run_settings") or []
        view["exact_job"] = job.status()
        return view, "", True, True
    return {**scen, "exact_job": job.status()}, "", True, True


@callback(
    Output(ids.RELOC_CANCEL, "disabled", allow_duplicate=True),
    Input(ids.RELOC_CANCEL, "n_clicks"),
    State(ids.RELOC_STORE, "data"),
    prevent_initial_call=True,
)
def cancel_exact(_n, scen):
    """Stop the background exact solve; the heuristic answer stays (and says so)."""
    key = ((scen or {}).get("exact_job") or {}).get("key")
    if key:
        exact_jobs().cancel(key)
    return True


@callback(
    [Output(i, prop) for i, prop in VIEW_OUTPUTS],
    Input(ids.RELOC_STORE, "data"),
    Input(ids.RELOC_VIEW, "value"),
    State(ids.LANG_STORE, "data"),
    prevent_initial_call=True,
)
def show_view(scen, mode, lg):
    """Show the baseline or the scenario in the comparison, the tables and the map."""
    lg = lg or "zh"
    shown = render(baseline_view(get_plan(), lg), scen, mode, lg)
    return [shown[key] for key in VIEW_OUTPUTS]


clientside_callback(
    "function(drag, value, fmts, id){ return window.anju.paramLabel(drag, value, fmts, id); }",
    Output({"type": ids.RELOC_PARAM_VALUE, "name": MATCH}, "children"),
    Input({"type": ids.RELOC_PARAM, "name": MATCH}, "drag_value"),
    Input({"type": ids.RELOC_PARAM, "name": MATCH}, "value"),
    State(ids.RELOC_PARAM_FORMATS, "data"),
    State({"type": ids.RELOC_PARAM, "name": MATCH}, "id"),
    prevent_initial_call=True,
)


# tables and map select each other: a row flies the map to its village or site; a village
# or site clicked on the map selects its row (and its tab)
clientside_callback(
    "function(c, s){ return window.dash_clientside.anju.flyToRow(c, s); }",
    Output(ids.RELOC_MAP, "viewport"),
    Input(ids.RELOC_GRID, "selectedRows"),
    Input(ids.RELOC_SITES_GRID, "selectedRows"),
    prevent_initial_call=True,
)
clientside_callback(
    "function(c, so, si, po, pi){ return window.dash_clientside.anju.selectFromMap(c, so, si, po, pi); }",
    Output(ids.RELOC_GRID, "selectedRows"),
    Output(ids.RELOC_GRID, "scrollTo"),
    Output(ids.RELOC_SITES_GRID, "selectedRows"),
    Output(ids.RELOC_SITES_GRID, "scrollTo"),
    Output(ids.RELOC_TABS, "value"),
    Input(ids.RELOC_CANDS, "clickData"),
    Input(ids.RELOC_SITES_OPEN, "clickData"),
    Input(ids.RELOC_SITES_IDLE, "clickData"),
    Input(ids.RELOC_SITE_POINTS_OPEN, "clickData"),
    Input(ids.RELOC_SITE_POINTS_IDLE, "clickData"),
    prevent_initial_call=True,
)
