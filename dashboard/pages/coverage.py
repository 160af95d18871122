"""Coverage map (the default page): villages by exit readiness or by one indicator."""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, callback, clientside_callback, dcc, html

from dashboard import ids
from dashboard.components import (
    context_overlays,
    dem_note,
    label_layers,
    legend,
    map_frame,
    village_layer,
    warnings_box,
)
from dashboard.i18n import t
from dashboard.pages._common import load_or_alert
from dashboard.state import config, get_plan, lang
from dashboard.viewmodels import (
    EXIT_READY,
    MAIN_BLOCKER,
    blocker_legend_codes,
    counts_meta,
    counts_text,
    filter_counts,
    indicator_label,
    profile_line,
    status_codes,
    status_options,
    township_bounds,
    village_panel,
)

dash.register_page(
    __name__,
    path="/",
    name="coverage",
    title="安居 · 覆盖图",
    libraries=[],  # no data grid: dash-ag-grid's bundle loads when the user leaves the map
)

META = "coverage-meta"


def layout(**_kwargs) -> html.Div:
    lg = lang()
    plan, alert = load_or_alert(lg)
    if plan is None:
        return alert
    v = plan.villages
    townships = sorted(v["township"].dropna().unique()) if "township" in v.columns else []
    ind_options = [
        {"label": t("main_blocker", lg), "value": MAIN_BLOCKER},
        {"label": t("exit_ready", lg), "value": EXIT_READY},
    ] + [
        {"label": indicator_label(i, lg), "value": i["id"]}
        for i in plan.indicators
        if i["id"] in plan.indicator_ids
    ]
    codes = status_codes(v, plan.indicator_ids)
    c = filter_counts(codes, v["township"])
    sidebar = html.Div(
        [
            html.Label(t("township", lg), htmlFor=ids.FILTER_TOWNSHIP),
            dcc.Dropdown(
                options=[{"label": t("all_townships", lg), "value": ""}]
                + [{"label": s, "value": s} for s in townships],
                value="",
                clearable=False,
                id=ids.FILTER_TOWNSHIP,
            ),
            html.Label(t("indicator", lg), htmlFor=ids.FILTER_INDICATOR),
            dcc.Dropdown(
                options=ind_options, value=MAIN_BLOCKER, clearable=False, id=ids.FILTER_INDICATOR
            ),
            html.Label(t("status", lg), htmlFor=ids.FILTER_STATUS),
            dcc.Dropdown(
                options=status_options("exit", lg),
                value="",
                clearable=False,
                searchable=False,
                id=ids.FILTER_STATUS,
            ),
            html.Div(counts_text(c, lg, view="exit"), id=ids.COUNTS, className="counts"),
            html.Div(profile_line(plan.profile_title(lg), plan.profile, lg), className="evidence"),
            dem_note(plan.manifest, lg),
            warnings_box(plan.manifest, lg),
            dcc.Store(
                id=META,
                data={
                    "keys": [EXIT_READY, *plan.indicator_ids],
                    # the villages' component: the filter restyles its layers in place
                    "layer": ids.VILLAGES,
                    # township → [[south, west], [north, east]]: choosing one zooms to it
                    "tw_bounds": plan.memo("tw_bounds", lambda: township_bounds(plan)),
                    "bounds": plan.bounds,
                    "bcodes": blocker_legend_codes(plan.indicator_ids),
                    "counts": counts_meta(lg),
                    "options": {
                        "exit": status_options("exit", lg),
                        "indicator": status_options("indicator", lg),
                    },
                },
            ),
        ],
        className="sidebar",
    )
    overlays = [
        *context_overlays(plan, lg, checked=("roads", "towns", "hazards")),
        village_layer(plan, lg, indicator=MAIN_BLOCKER),
        *label_layers(plan, lg),
    ]
    children = [
        sidebar,
        map_frame(
            plan,
            config(),
            lg,
            map_id=ids.MAP,
            overlays=overlays,
            legend=legend(lg, plan=plan, view="both"),
        ),
        html.Div(html.P(t("click_village", lg)), id=ids.PANEL, className="panel"),
    ]
    page = html.Div(children, className="coverage")
    return html.Div([alert, page], className="page") if alert is not None else page


# filters and the clicked village -> hideout (restyle, with a ring on the selected
# village so the map and the side panel agree) and counts; no server round trip
clientside_callback(
    "function(tw, ind, st, click, meta, data, h){ return window.dash_clientside.anju.filter(tw, ind, st, meta, data, h, click); }",
    Output(ids.VILLAGES, "hideout"),
    Output(ids.COUNTS, "children"),
    Output({"type": ids.BLOCKER_COUNT, "code": ALL}, "children"),
    Input(ids.FILTER_TOWNSHIP, "value"),
    Input(ids.FILTER_INDICATOR, "value"),
    Input(ids.FILTER_STATUS, "value"),
    Input(ids.VILLAGES, "clickData"),
    State(META, "data"),
    State(ids.VILLAGES, "data"),
    State(ids.VILLAGES, "hideout"),
    prevent_initial_call=True,
)

# the indicator chosen -> the statuses of its view in the filter and the legend
clientside_callback(
    "function(ind, meta, st){ return window.dash_clientside.anju.statusView(ind, meta, st); }",
    Output(ids.FILTER_STATUS, "options"),
    Output(ids.FILTER_STATUS, "value"),
    Output(ids.LEGEND_BLOCKER, "style"),
    Output(ids.LEGEND_EXIT, "style"),
    Output(ids.LEGEND_INDICATOR, "style"),
    Input(ids.FILTER_INDICATOR, "value"),
    State(META, "data"),
    State(ids.FILTER_STATUS, "value"),
    prevent_initial_call=True,
)


@callback(
    Output(ids.PANEL, "children"),
    Input(ids.VILLAGES, "clickData"),
    prevent_initial_call=True,
)
def show_panel(feature):
    """Side panel for the clicked village (status, evidence quality, value, threshold, note)."""
    lg = lang()
    props = (feature or {}).get("properties") or {}
    vid = props.get("vid")
    plan = get_plan()
    rows = plan.villages[plan.villages["village_id"] == vid]
    if vid is None or rows.empty:
        return html.P(t("click_village", lg))
    return panel_component(village_panel(rows.iloc[0], plan.indicators, lg), lg)


def panel_component(panel: dict, lg: str) -> html.Div:
    """Render :func:`dashboard.viewmodels.village_panel` output."""
    head = html.Tr([html.Th(t(k, lg)) for k in ("indicator", "status", "value", "threshold")])
    body = []
    for r in panel["rows"]:
        name_cell = [html.Div(r["name"], className="ind-name")]
        if r["note"]:
            name_cell.append(html.Div(r["note"], className="ind-note"))
        name_cell += [
            html.Div(f"{t('evidence', lg)}: {r['evidence']}", className="evidence"),
            html.Div(f"{t('clause', lg)}: {r['clause']}", className="evidence"),
        ]
        threshold = [html.Span(r["threshold"])]
        if not r["verified"]:
            threshold.append(
                html.Span(
                    t("unverified", lg), className="unverified", title=t("unverified_title", lg)
                )
            )
        body.append(
            html.Tr(
                [
                    html.Td(name_cell),
                    html.Td(
                        [
                            html.Span(r["status_label"], className=f"status status-{r['status']}"),
                            html.Div(
                                f"{t('quality', lg)}: {r['quality_label']}",
                                className=f"quality quality-{r['quality'] or 'none'}",
                            ),
                        ]
                    ),
                    html.Td(r["value"]),
                    html.Td(threshold),
                ],
                **{"data-indicator": r["id"]},
            )
        )
    exit_line = [
        html.Span(panel["exit"], className=f"status status-{panel['exit_status']}"),
        *[html.Div(d, className="exit-detail") for d in panel["exit_detail"]],
    ]
    return html.Div(
        [
            html.H3(panel["title"], id="panel-title"),
            html.Div(panel["subtitle"], className="subtitle"),
            html.Div(
                [html.Div(t("exit_status_title", lg), className="exit-label"), *exit_line],
                className="exit-line",
            ),
            html.Table([html.Thead(head), html.Tbody(body)], className="ind-table"),
        ]
    )


# the township chosen -> the map flies to it (all townships: the county)
clientside_callback(
    "function(tw, meta){ return window.dash_clientside.anju.zoomTo(tw, meta); }",
    Output(ids.MAP, "viewport"),
    Input(ids.FILTER_TOWNSHIP, "value"),
    State(META, "data"),
    prevent_initial_call=True,
)
