"""Progress page (挂图作战, 挂图消号): the exit timetable year by year on the map, villages
struck off as they exit, townships against the timetable, the villages at risk, the
resettlement sites followed through, and the plan versions of the workspace."""

from __future__ import annotations

import dash
import dash_leaflet as dl
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from dashboard import ids
from dashboard.components import (
    JS,
    context_overlays,
    grid,
    label_layers,
    legend,
    legend_entry,
    map_frame,
)
from dashboard.i18n import t
from dashboard.pages._common import load_or_alert
from dashboard.progress import (
    YEAR_COLORS,
    YEAR_STATES,
    at_risk_rows,
    has_timetable,
    progress_geojson,
    site_rows,
    stage_counts,
    timetable_years,
    township_rows,
    version_fields,
    versions_rows,
    year_counts,
)
from dashboard.state import config, get_plan, lang
from layers.errors import AnjuError

dash.register_page(__name__, path="/progress", name="progress", title="安居 · 进度")


def _current_year(plan, years: list[int]) -> int:
    s = (plan.manifest.get("summary") or {}).get("timetable") or {}
    cy = s.get("current_year") if isinstance(s, dict) else None
    if cy is None:
        cy = ((plan.manifest.get("settings") or {}).get("parameters") or {}).get("current_year")
    try:
        return int(cy)
    except (TypeError, ValueError):
        return years[-1] if years else 0


def _indicator_names(plan, lg: str) -> dict[str, str]:
    key = "name_en" if lg == "en" else "name_zh"
    return {i["id"]: str(i.get(key) or i["id"]) for i in plan.indicators}


def _versions(plan) -> list[dict]:
    """The workspace's plan versions (none when it has no history or it cannot be read)."""
    from layers.history import history_path, open_history

    ws = (plan.manifest.get("workspace") or {}).get("path")
    if not ws or not history_path(ws).is_file():
        return []
    try:
        return versions_rows([v.to_dict() for v in open_history(ws).versions()])
    except (AnjuError, OSError, ValueError):
        return []


def year_legend(counts: dict[str, int], lg: str) -> list[html.Div]:
    """Legend rows of the year's states with their counts (ids updated by the slider)."""
    rows = [html.Div(t("progress_legend_head", lg), className="legend-head")]
    for s in YEAR_STATES:
        row = legend_entry(
            t(f"yst_{s}", lg),
            YEAR_COLORS[s],
            dash=s in ("not_planned", "not_assessed"),
            outline="#6E6E6E" if s in ("not_planned", "not_assessed", "exited") else None,
        )
        row.children = [
            *row.children,
            html.Span(
                str(counts[s]) if s in counts else "—",  # no timetable: blank, never 0
                id={"type": ids.PROGRESS_COUNT, "state": s},
                className="legend-count",
            ),
        ]
        rows.append(row)
    return rows


def layout(**_kwargs) -> html.Div:
    lg = lang()
    plan, alert = load_or_alert(lg)
    if plan is None:
        return alert
    v = plan.villages
    years = timetable_years(v)
    cy = _current_year(plan, years)
    if years and cy not in years:
        years = sorted({*years, cy})
    names = _indicator_names(plan, lg)
    has_tt = has_timetable(v)
    counts = year_counts(v, cy) if has_tt else {}
    side: list = [html.H3(t("progress_title", lg))]
    if not has_tt:
        side.append(
            html.Div(t("progress_no_timetable", lg), className="alert-inline", role="alert")
        )
    else:
        side += [
            html.Label(t("progress_year", lg), htmlFor=ids.PROGRESS_YEAR),
            dcc.Slider(
                min(years),
                max(years),
                1,
                value=cy,
                marks={y: str(y) for y in years},
                id=ids.PROGRESS_YEAR,
                included=False,
            ),
            html.P(t("progress_state_note", lg, year=cy), className="muted-line"),
        ]
    stages = stage_counts(plan.layer("sites"))
    side += [
        html.H4(t("progress_sites", lg)),
        html.Div(
            [
                html.Span(f"{t(f'stage_{s}', lg)} {n}", className="stage-chip")
                for s, n in stages.items()
            ],
            className="stage-chips",
        ),
    ]
    vers = _versions(plan)
    side.append(html.H4(t("progress_versions", lg, n=len(vers))))
    if vers:  # one line per version, newest first (the sidebar is too narrow for a grid)
        side.append(
            html.Ul(
                [html.Li(t("pv_line", lg, **version_fields(v))) for v in reversed(vers)],
                id=ids.PROGRESS_VERSIONS,
                className="version-list",
            )
        )
        side.append(html.P(t("progress_diff_hint", lg), className="muted-line"))
    else:
        side.append(html.P(t("progress_no_versions", lg), className="muted-line"))

    overlays = [
        *context_overlays(plan, lg, checked=("roads",)),
        dl.Overlay(
            dl.GeoJSON(
                data=plan.memo("progress_geo", lambda: progress_geojson(v)),
                pointToLayer=JS["progress_point"],
                style=JS["progress_style"],
                onEachFeature=JS["label_tooltip"],
                hideout={
                    "year": cy,
                    "colors": YEAR_COLORS,
                    "states": list(YEAR_STATES),
                    "pane": "villages",
                },
                id=ids.PROGRESS_VILLAGES,
            ),
            name=t("villages", lg),
            checked=True,
        ),
        *label_layers(plan, lg),
    ]
    the_map = map_frame(
        plan,
        config(),
        lg,
        map_id=ids.PROGRESS_MAP,
        overlays=overlays,
        rasters=(),
        legend=legend(lg, plan=plan, rasters=(), entries=year_legend(counts, lg)),
    )
    panel = html.Div(
        [
            html.H3(id=ids.PROGRESS_HEAD),
            html.H4(t("progress_townships", lg)),
            html.Div(id=ids.PROGRESS_TOWNSHIPS),
            html.H4(id=ids.PROGRESS_RISK_HEAD),
            html.Div(id=ids.PROGRESS_RISK),
            html.H4(t("progress_sites_table", lg)),
            grid(
                ids.PROGRESS_SITES,
                site_rows(plan.layer("sites"), lg),
                [
                    ("name", t("name", lg)),
                    ("stage", t("ps_stage", lg)),
                    ("stage_date", t("ps_date", lg)),
                    ("planned_people", t("ps_planned", lg)),
                    ("actual_people", t("ps_actual", lg)),
                    ("occupancy_people_frac", t("ps_occupancy", lg)),
                    ("followup_gaps", t("ps_gaps", lg)),
                ],
                height="220px",
                selectable=False,
                wide=("followup_gaps",),
            ),
            dcc.Store(id=ids.PROGRESS_META, data={"names": names, "has": has_tt}),
        ],
        className="panel progress-panel",
    )
    return html.Div(
        [html.Div(side, className="sidebar"), the_map, panel], className="coverage progress"
    )


@callback(
    Output(ids.PROGRESS_HEAD, "children"),
    Output(ids.PROGRESS_TOWNSHIPS, "children"),
    Output(ids.PROGRESS_RISK_HEAD, "children"),
    Output(ids.PROGRESS_RISK, "children"),
    Input(ids.PROGRESS_YEAR, "value"),
    State(ids.PROGRESS_META, "data"),
)
def show_year(year, meta):
    """The year's headline, townships against the timetable and villages at risk."""
    lg = lang()
    plan = get_plan()
    meta = meta or {}
    if not meta.get("has") or year is None:
        return t("progress_no_timetable_short", lg), "", "", ""
    v = plan.villages
    year = int(year)
    c = year_counts(v, year)
    head = t(
        "progress_head",
        lg,
        year=year,
        exited=c["exited"],
        due=c["exited"] + c["at_risk"] + c["ready"] + c["unconfirmed"] + c["unknown"],
        at_risk=c["at_risk"],
        ready=c["ready"],
        unknown=c["unknown"],
    )
    tw = grid(
        ids.PROGRESS_TW_GRID,
        township_rows(v, year, lg),
        [
            ("township", t("township", lg)),
            ("due", t("pt_due", lg)),
            ("exited", t("pt_exited", lg)),
            ("at_risk", t("pt_at_risk", lg)),
            ("ready", t("pt_ready", lg)),
            ("unknown", t("pt_unknown", lg)),
            ("exited_frac", t("pt_exited_frac", lg)),
        ],
        height="220px",
        selectable=False,
    )
    risk = at_risk_rows(v, year, meta.get("names") or {}, lg)
    rk = grid(
        ids.PROGRESS_RISK_GRID,
        risk,
        [
            ("name", t("name", lg)),
            ("township", t("township", lg)),
            ("planned_exit_year", t("pr_planned", lg)),
            ("overdue_years", t("pr_overdue", lg)),
            ("blockers", t("pr_blockers", lg)),
        ],
        height="220px",
        selectable=False,
        wide=("blockers",),
    )
    return head, tw, t("progress_risk", lg, year=year, n=len(risk)), rk


# the year -> the map restyles (villages struck off as they exit) and the legend counts
clientside_callback(
    "function(y, h, data){ return window.dash_clientside.anju.progressYear(y, h, data); }",
    Output(ids.PROGRESS_VILLAGES, "hideout"),
    Output({"type": ids.PROGRESS_COUNT, "state": dash.ALL}, "children"),
    Input(ids.PROGRESS_YEAR, "value"),
    State(ids.PROGRESS_VILLAGES, "hideout"),
    State(ids.PROGRESS_VILLAGES, "data"),
    prevent_initial_call=True,
)
