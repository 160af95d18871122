"""Leader's briefing: headline numbers, township ranking, charts, printable PDF/PNG."""

from __future__ import annotations

import logging
from datetime import date

import dash
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, callback, ctx, dcc, html, no_update

from dashboard import ids
from dashboard.briefing import (
    HEADLINE_GROUPS,
    RANKING_BARS,
    BriefingFontError,
    blockers_text,
    briefing_ranking,
    cjk_font,
    headline_digits,
    notes_lines,
    previous_manifest,
    provenance_lines,
    render_briefing_pdf,
    render_map_png,
    township_blockers,
)
from dashboard.components import grid
from dashboard.i18n import fmt_frac, fmt_num, t
from dashboard.pages._common import load_or_alert
from dashboard.state import get_plan, lang
from dashboard.viewmodels import (
    STATUS_COLORS,
    display_records,
    headline_numbers,
    profile_line,
)

log = logging.getLogger(__name__)

dash.register_page(__name__, path="/briefing", name="briefing", title="安居 · 简报")


def ranking_figure(ranking, lg: str) -> go.Figure:
    """Horizontal stacked bars per township (best on top, in the order of
    :func:`dashboard.briefing.briefing_ranking`): ready, unconfirmed, blocked, unknown,
    not assessed."""
    fig = go.Figure()
    r = ranking.iloc[::-1]
    for col, code, key in RANKING_BARS:
        marker = {"color": STATUS_COLORS[code]}
        if code == "x":
            marker["line"] = {"color": "#6E6E6E", "width": 1}
        fig.add_bar(y=r["township"], x=r[col], name=t(key, lg), orientation="h", marker=marker)
    fig.update_layout(
        barmode="stack",
        height=max(260, 60 + 22 * len(r)),
        margin=dict(l=90, r=10, t=36, b=30),
        title=t("township_ranking", lg),
        legend=dict(orientation="h", y=-0.08, traceorder="normal"),
        plot_bgcolor="#ffffff",
        xaxis=dict(gridcolor="#e5e8ec"),
    )
    return fig


def headline_cards(heads: dict, lg: str) -> list[html.Div]:
    """The headline cards, one group for exit readiness and one for the gaps."""
    groups = []
    for group, items in HEADLINE_GROUPS:
        cards = [
            html.Div(
                [
                    html.Div(
                        fmt_num(heads.get(k), lg, digits=headline_digits(k)), className="value"
                    ),
                    html.Div(t(label, lg), className="label"),
                ],
                className="card",
                **{"data-key": k},
            )
            for k, label in items
        ]
        groups.append(
            html.Div(
                [
                    html.Div(t(group, lg), className="cards-title"),
                    html.Div(cards, className="cards"),
                ],
                className="card-group",
            )
        )
    return groups


def layout(**_kwargs):
    lg = lang()
    plan, alert = load_or_alert(lg)
    if plan is None:
        return alert
    heads = headline_numbers(plan.summary, plan.villages, plan.layer("road_gaps"))
    ranking = briefing_ranking(plan.villages)
    blockers = township_blockers(plan.villages)
    shown = ranking.assign(
        rank=[("—" if pd.isna(r) else str(int(r))) for r in ranking["rank"]],
        ready_frac=ranking["ready_frac"].map(fmt_frac),
        ready_of=[f"{r}/{a}" for r, a in zip(ranking["ready"], ranking["assessed"], strict=True)],
        blockers=[
            blockers_text(blockers.get(str(tw)), plan.indicators, lg) for tw in ranking["township"]
        ],
    )
    printable = cjk_font() is not None
    prov = provenance_lines(plan.manifest, lg)
    notes = [
        html.Div(
            [html.H3(heading), html.Ul([html.Li(line) for line in lines])],
            className="brief-notes",
        )
        for heading, lines in notes_lines(plan, lg)
    ]
    page = html.Div(
        [
            html.H2(
                f"{t('briefing_title', lg)} · "
                f"{profile_line(plan.profile_title(lg), plan.profile, lg)}"
            ),
            html.Div(
                [
                    html.Button(
                        t("download_pdf", lg),
                        id=ids.BRIEF_PDF,
                        className="btn btn-primary",
                        disabled=not printable,
                    ),
                    html.Button(
                        t("download_png", lg),
                        id=ids.BRIEF_PNG,
                        className="btn",
                        disabled=not printable,
                    ),
                    dcc.Download(id=ids.BRIEF_DOWNLOAD),
                    None if printable else html.Span(t("brief_font_missing", lg), role="alert"),
                ],
                className="export-bar",
            ),
            html.Div(headline_cards(heads, lg), id=ids.BRIEF_HEADLINES),
            html.Div(notes, id=ids.BRIEF_NOTES) if notes else None,
            html.Div(
                [
                    dcc.Graph(figure=ranking_figure(ranking, lg), config={"displaylogo": False}),
                    grid(
                        ids.BRIEF_RANKING,
                        display_records(shown, lg),
                        [
                            ("rank", t("rank", lg)),
                            ("township", t("township", lg)),
                            ("ready_of", t("brief_ready_of", lg)),
                            ("ready_frac", t("ready_frac", lg)),
                            ("blocked_one", t("blocked_one", lg)),
                            ("blocked_several", t("blocked_several", lg)),
                            ("unknown", t("col_unknown", lg)),
                            ("unconfirmed", t("col_unconfirmed", lg)),
                            ("not_assessed", t("col_not_assessed", lg)),
                            ("people_waiting", t("brief_people_waiting", lg)),
                            ("blockers", t("brief_blockers", lg)),
                        ],
                        height="320px",
                        selectable=False,
                        wide=("blockers",),
                    ),
                    html.Div(t("brief_rank_key", lg), className="provenance"),
                ],
                className="two-col",
            ),
            html.Div(
                [
                    html.Img(
                        src="/briefing/map.png", alt=t("brief_map_title", lg), className="brief-map"
                    )
                    if printable
                    else html.Div(t("brief_font_missing", lg), className="brief-map"),
                    html.Div(
                        [
                            html.H3(t("provenance", lg)),
                            html.Div([html.Div(line) for line in prov], className="provenance"),
                        ]
                    ),
                ],
                className="two-col",
            ),
        ],
        className="briefing",
    )
    return html.Div([alert, page]) if alert is not None else page


@callback(
    Output(ids.BRIEF_DOWNLOAD, "data"),
    Input(ids.BRIEF_PDF, "n_clicks"),
    Input(ids.BRIEF_PNG, "n_clicks"),
    prevent_initial_call=True,
)
def download(_pdf, _png):
    """Render the briefing PDF or the map PNG on the server."""
    plan = get_plan()
    lg = lang()
    stamp = date.today().isoformat()
    try:
        if ctx.triggered_id == ids.BRIEF_PDF:
            pdf = render_briefing_pdf(plan, lg, previous=previous_manifest(plan))
            return dcc.send_bytes(pdf, f"anju_briefing_{stamp}.pdf")
        if ctx.triggered_id == ids.BRIEF_PNG:
            return dcc.send_bytes(render_map_png(plan, lg), f"anju_map_{stamp}.png")
    except BriefingFontError as exc:  # the page already says so; nothing to download
        log.error("%s", exc)
    return no_update
