"""Leader's briefing: headline numbers, township ranking, charts, printable PDF/PNG."""

from __future__ import annotations

from datetime import date

import dash
import plotly.graph_objects as go
from dash import Input, Output, callback, ctx, dcc, html, no_update

from dashboard import ids
from dashboard.briefing import HEADLINE_KEYS, provenance_lines, render_briefing_pdf, render_map_png
from dashboard.components import grid
from dashboard.i18n import fmt_frac, fmt_num, t
from dashboard.pages._common import load_or_alert
from dashboard.state import get_plan, lang
from dashboard.viewmodels import STATUS_COLORS, display_records, headline_numbers, township_ranking

dash.register_page(__name__, path="/briefing", name="briefing", title="安居 · 简报")


def ranking_figure(ranking, lg: str) -> go.Figure:
    """Horizontal stacked bars of villages ready / blocked / unknown per township (best on top)."""
    fig = go.Figure()
    r = ranking.iloc[::-1]
    for col, code, key in (
        ("ready", "m", "ready"),
        ("blocked", "n", "col_not_met"),
        ("unknown", "u", "col_unknown"),
    ):
        fig.add_bar(
            y=r["township"],
            x=r[col],
            name=t(key, lg),
            orientation="h",
            marker_color=STATUS_COLORS[code],
        )
    fig.update_layout(
        barmode="stack",
        height=max(260, 60 + 22 * len(r)),
        margin=dict(l=90, r=10, t=36, b=30),
        title=t("township_ranking", lg),
        legend=dict(orientation="h", y=-0.08),
        plot_bgcolor="#ffffff",
        xaxis=dict(gridcolor="#e5e8ec"),
    )
    return fig


def layout(**_kwargs):
    lg = lang()
    plan, alert = load_or_alert(lg)
    if plan is None:
        return alert
    heads = headline_numbers(plan.summary, plan.villages)
    cards = [
        html.Div(
            [
                html.Div(
                    fmt_num(heads.get(k), lg, digits=1 if k == "km_to_harden" else 0),
                    className="value",
                ),
                html.Div(t(label, lg), className="label"),
            ],
            className="card",
            **{"data-key": k},
        )
        for k, label in HEADLINE_KEYS
    ]
    ranking = township_ranking(plan.villages)
    shown = ranking.assign(ready_frac=ranking["ready_frac"].map(fmt_frac))
    prov = provenance_lines(plan.manifest, lg)
    page = html.Div(
        [
            html.H2(f"{t('briefing_title', lg)} · {plan.profile_title(lg)}"),
            html.Div(
                [
                    html.Button(
                        t("download_pdf", lg), id=ids.BRIEF_PDF, className="btn btn-primary"
                    ),
                    html.Button(t("download_png", lg), id=ids.BRIEF_PNG, className="btn"),
                    dcc.Download(id=ids.BRIEF_DOWNLOAD),
                ],
                className="export-bar",
            ),
            html.Div(cards, className="cards", id=ids.BRIEF_HEADLINES),
            html.Div(
                [
                    dcc.Graph(figure=ranking_figure(ranking, lg), config={"displaylogo": False}),
                    grid(
                        ids.BRIEF_RANKING,
                        display_records(shown, lg),
                        [
                            ("rank", t("rank", lg)),
                            ("township", t("township", lg)),
                            ("villages", t("villages", lg)),
                            ("ready", t("ready", lg)),
                            ("blocked", t("col_not_met", lg)),
                            ("unknown", t("col_unknown", lg)),
                            ("ready_frac", t("ready_frac", lg)),
                        ],
                        height="320px",
                        selectable=False,
                    ),
                ],
                className="two-col",
            ),
            html.Div(
                [
                    html.Img(
                        src="/briefing/map.png", alt=t("exit_ready", lg), className="brief-map"
                    ),
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
    if ctx.triggered_id == ids.BRIEF_PDF:
        return dcc.send_bytes(render_briefing_pdf(plan, lg), f"anju_briefing_{stamp}.pdf")
    if ctx.triggered_id == ids.BRIEF_PNG:
        return dcc.send_bytes(render_map_png(plan, lg), f"anju_map_{stamp}.png")
    return no_update
