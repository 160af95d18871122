"""Relocation planning: candidates, sites, allocation flows and scenario comparison."""

from __future__ import annotations

import dash
import dash_leaflet as dl
from dash import ALL, MATCH, Input, Output, State, callback, clientside_callback, dcc, html

from dashboard import ids
from dashboard.components import (
    CAND_STYLE,
    FLOW_STYLE,
    IDLE_SITE_STYLE,
    JS,
    RELOC_RASTERS,
    SCEN_STYLE,
    SITE_COLOR,
    SITE_STYLE,
    context_overlays,
    grid,
    legend,
    map_frame,
    reloc_legend_entries,
)
from dashboard.i18n import fmt_frac, fmt_num, t
from dashboard.pages._common import load_or_alert
from dashboard.scenario import (
    PARAMS,
    build_overrides,
    defaults,
    format_param,
    merge_overrides,
    param_format,
    progress_adapter,
    run_relocation_scenario,
    scenario_metrics,
)
from dashboard.state import config, get_plan, lang, plan_dir
from dashboard.viewmodels import (
    bool_series,
    display_records,
    relocation_candidates,
    site_points_geojson,
    sites_table,
    to_geojson,
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


def compare_table(base: dict, scen: dict | None, lg: str) -> html.Table:
    """Baseline vs scenario table."""

    def f(key, v):
        if key == "allocation_status":
            return t(f"status_{v}", lg) if v else "—"
        if key in ("robustness", "allocation_gap"):
            return fmt_frac(v, lg, digits=2 if key == "allocation_gap" else 1)
        return fmt_num(v, lg, digits=1 if key == "mean_travel_min" else 0)

    rows = [html.Tr([html.Th(""), html.Th(t("baseline", lg)), html.Th(t("scenario_result", lg))])]
    for key in (
        "people_moved",
        "people_unplaced",
        "sites_opened",
        "mean_travel_min",
        "robustness",
        "allocation_status",
        "allocation_gap",
    ):
        rows.append(
            html.Tr(
                [
                    html.Td(t(key, lg)),
                    html.Td(f(key, base.get(key))),
                    html.Td(f(key, scen.get(key)) if scen else "—"),
                ],
                **{"data-metric": key},
            )
        )
    return html.Table(rows, className="compare-table")


def opened_mask(sites):
    """Sites in use: ``opened`` when present, else ``assigned_people`` > 0, else all."""
    if "opened" in sites.columns:
        return bool_series(sites["opened"]).fillna(False).astype(bool)
    if "assigned_people" in sites.columns:
        return sites["assigned_people"].fillna(0) > 0
    return sites.geometry.notna()


def baseline_metrics(plan) -> dict:
    return scenario_metrics(plan.summary, plan.layer("sites"), plan.layer("allocation"))


def layout(**_kwargs):
    lg = lang()
    plan, alert = load_or_alert(lg)
    if plan is None:
        return alert
    cands = relocation_candidates(plan.layer("relocation_candidates"), lg)
    sites = plan.layer("sites")
    overlays = context_overlays(plan, lg, checked=("hazards", "protected", "towns"))
    alloc = plan.layer("allocation")
    if not alloc.empty:
        overlays.append(
            dl.Overlay(
                dl.GeoJSON(
                    data=to_geojson(alloc, columns={"people": "label"}),
                    style=JS["hideout_style"],
                    hideout=FLOW_STYLE,
                    id="reloc-flows",
                ),
                name=t("allocation_flow", lg),
                checked=True,
            )
        )
    if not sites.empty:
        opened = opened_mask(sites)
        # site areas (visible when zoomed in) and site points (visible at county scale)
        overlays.append(
            dl.Overlay(
                dl.LayerGroup(
                    [
                        dl.GeoJSON(
                            data=to_geojson(sites[~opened], columns={"name": "label"}),
                            style=JS["hideout_style"],
                            onEachFeature=JS["label_tooltip"],
                            hideout=IDLE_SITE_STYLE,
                            id="reloc-sites-idle",
                        ),
                        dl.GeoJSON(
                            data=site_points_geojson(sites[~opened], lg),
                            pointToLayer=JS["site_point"],
                            onEachFeature=JS["label_tooltip"],
                            hideout={"opened": False, "color": SITE_COLOR},
                            id="reloc-site-points-idle",
                        ),
                    ]
                ),
                name=t("sites_idle", lg),
                checked=True,
            )
        )
        overlays.append(
            dl.Overlay(
                dl.LayerGroup(
                    [
                        dl.GeoJSON(
                            data=to_geojson(sites[opened], columns={"name": "label"}),
                            style=JS["hideout_style"],
                            onEachFeature=JS["label_tooltip"],
                            hideout=SITE_STYLE,
                            id="reloc-sites",
                        ),
                        dl.GeoJSON(
                            data=site_points_geojson(sites[opened], lg),
                            pointToLayer=JS["site_point"],
                            onEachFeature=JS["label_tooltip"],
                            hideout={"opened": True, "color": SITE_COLOR},
                            id="reloc-site-points",
                        ),
                    ]
                ),
                name=f"{t('sites', lg)}（{t('opened', lg)}）"
                if lg != "en"
                else f"{t('sites', lg)} ({t('opened', lg)})",
                checked=True,
            )
        )
        sites = (
            sites.assign(_o=opened)
            .sort_values(
                ["_o", "assigned_people"] if "assigned_people" in sites.columns else ["_o"],
                ascending=False,
            )
            .drop(columns="_o")
        )
    if not cands.empty:
        overlays.append(
            dl.Overlay(
                dl.GeoJSON(
                    data=to_geojson(cands, columns={"name": "label"}),
                    pointToLayer=JS["poi_point"],
                    onEachFeature=JS["label_tooltip"],
                    hideout=CAND_STYLE,
                    id="reloc-cands",
                ),
                name=t("candidates", lg),
                checked=True,
            )
        )
    overlays.append(
        dl.Overlay(
            dl.GeoJSON(
                data={"type": "FeatureCollection", "features": []},
                style=JS["hideout_style"],
                onEachFeature=JS["label_tooltip"],
                hideout=SCEN_STYLE,
                id=ids.RELOC_SCENARIO_LAYER,
            ),
            name=t("scenario_sites", lg),
            checked=True,
        )
    )
    the_map = map_frame(
        plan,
        config(),
        lg,
        map_id=ids.RELOC_MAP,
        overlays=overlays,
        rasters=RELOC_RASTERS,
        legend=legend(lg, plan=plan, rasters=RELOC_RASTERS, entries=reloc_legend_entries(lg)),
    )
    site_cols = [
        ("name", t("name", lg)),
        ("source", t("source", lg)),
        ("capacity_people", t("capacity", lg)),
        ("assigned_people", t("assigned", lg)),
        ("suitability", t("suitability", lg)),
        ("robustness_frac", t("robustness", lg)),
    ]
    site_rows = sites_table(sites, lg, digits=3)
    side = html.Div(
        [
            html.H3(t("scenario", lg)),
            *_controls(plan, lg),
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
            html.Progress(id=ids.RELOC_PROGRESS, value="0", max="100", style={"width": "100%"}),
            html.Div(id=ids.RELOC_RESULT),
            html.Div(compare_table(baseline_metrics(plan), None, lg), id=ids.RELOC_COMPARE),
        ],
        className="sidebar",
    )
    main = html.Div(
        [
            the_map,
            html.Div(
                [
                    html.Div(
                        [
                            html.H3(f"{t('candidates', lg)} ({len(cands)})"),
                            grid(
                                ids.RELOC_GRID,
                                display_records(cands, lg),
                                [
                                    ("rank", t("rank", lg)),
                                    ("name", t("name", lg)),
                                    ("township", t("township", lg)),
                                    ("score", t("score", lg)),
                                    ("people_to_move", t("people_to_move", lg)),
                                    ("reasons", t("reasons", lg)),
                                ],
                                height="88%",
                                selectable=False,
                                wide=("reasons",),
                                min_widths={
                                    "rank": 72,
                                    "name": 90,
                                    "township": 96,
                                    "score": 76,
                                    "people_to_move": 100,
                                },
                            ),
                        ]
                    ),
                    html.Div(
                        [
                            html.H3(f"{t('sites', lg)} ({len(sites)})"),
                            grid(
                                ids.RELOC_SITES_GRID,
                                site_rows,
                                [c for c in site_cols if c[0] in sites.columns],
                                height="88%",
                                selectable=False,
                                min_widths={
                                    "name": 110,
                                    "source": 104,
                                    "capacity_people": 96,
                                    "assigned_people": 96,
                                    "suitability": 96,
                                    "robustness_frac": 96,
                                },
                            ),
                        ]
                    ),
                ],
                className="two-col reloc-tables",
            ),
        ],
        className="reloc-main",
    )
    page = html.Div([side, main], className="reloc")
    return html.Div([alert, page]) if alert is not None else page


@callback(
    Output(ids.RELOC_COMPARE, "children"),
    Output(ids.RELOC_SCENARIO_LAYER, "data"),
    Output(ids.RELOC_RESULT, "children"),
    Input(ids.RELOC_RUN, "n_clicks"),
    State({"type": ids.RELOC_PARAM, "name": ALL}, "value"),
    State({"type": ids.RELOC_PARAM, "name": ALL}, "id"),
    State(ids.LANG_STORE, "data"),
    background=True,
    running=[
        (Output(ids.RELOC_RUN, "disabled"), True, False),
        (Output(ids.RELOC_CANCEL, "disabled"), False, True),
    ],
    cancel=[Input(ids.RELOC_CANCEL, "n_clicks")],
    progress=[Output(ids.RELOC_PROGRESS, "value"), Output(ids.RELOC_PROGRESS, "max")],
    prevent_initial_call=True,
)
def run_scenario(set_progress, _n, values, pids, lg):
    """Re-run the relocation stage with the panel's overrides; compare with the baseline."""
    lg = lg or "zh"
    plan = get_plan()
    base = baseline_metrics(plan)
    empty = {"type": "FeatureCollection", "features": []}
    overrides = merge_overrides(
        config().scenario_base, build_overrides([p["name"] for p in pids], values)
    )
    set_progress(("0", "100"))
    try:
        res = run_relocation_scenario(
            plan_dir(),
            overrides=overrides,
            progress=progress_adapter(lambda pair: set_progress((str(pair[0]), str(pair[1])))),
        )
    except (AnjuError, ValueError) as exc:
        return (
            compare_table(base, None, lg),
            empty,
            html.Div(f"{t('scenario_failed', lg)}{exc}", className="alert"),
        )
    sites = res.sites
    scen = scenario_metrics(res.summary, sites, res.allocation)
    gj = empty
    if len(sites):
        gj = to_geojson(sites, columns={"name": "label"})
    set_progress(("100", "100"))
    return compare_table(base, scen, lg), gj, html.Div("✓", className="summary-line")


clientside_callback(
    "function(drag, value, fmts, id){ return window.anju.paramLabel(drag, value, fmts, id); }",
    Output({"type": ids.RELOC_PARAM_VALUE, "name": MATCH}, "children"),
    Input({"type": ids.RELOC_PARAM, "name": MATCH}, "drag_value"),
    Input({"type": ids.RELOC_PARAM, "name": MATCH}, "value"),
    State(ids.RELOC_PARAM_FORMATS, "data"),
    State({"type": ids.RELOC_PARAM, "name": MATCH}, "id"),
    prevent_initial_call=True,
)
