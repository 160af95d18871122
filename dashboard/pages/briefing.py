"""Leader's briefing: headline numbers, township ranking, charts, printable PDF/PNG."""

from __future__ import annotations

import logging
from datetime import date

import dash
import pandas as pd
from dash import Input, Output, callback, ctx, dcc, html, no_update

from dashboard import ids
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


def _briefing():
    """:mod:`dashboard.briefing`, imported on the first visit: it loads matplotlib (about
    0.4 s), which no other page needs, so a fresh server answers its first page sooner."""
    import dashboard.briefing

    return dashboard.briefing


def cjk_font() -> str | None:
    """:func:`dashboard.briefing.cjk_font` (the page asks whether it can print)."""
    return _briefing().cjk_font()


def ranking_bars(ranking: pd.DataFrame, lg: str) -> html.Div:
    """Stacked bars per township (best on top, in the order of
    :func:`dashboard.briefing.briefing_ranking`): ready, unconfirmed, blocked, unknown,
    not assessed.

    Plain HTML (a ``div`` per segment, its width the share of the largest township), so
    the page needs no charting library: plotly's 4.8 MB would be the page's largest
    download for one chart. Each segment says its status and count on hover (``title``).
    """
    b = _briefing()
    totals = ranking[[col for col, _, _ in b.RANKING_BARS]].sum(axis=1)
    most = float(totals.max()) if len(totals) else 0.0
    rows = []
    for i, (_, r) in enumerate(ranking.iterrows()):
        segs = []
        for col, code, key in b.RANKING_BARS:
            n = r[col]
            if pd.isna(n) or n <= 0 or most <= 0:
                continue
            segs.append(
                html.Div(
                    className=f"rank-seg rank-{code}",
                    title=f"{t(key, lg)}: {fmt_num(n, lg)}",
                    style={
                        "width": f"{100.0 * float(n) / most:.2f}%",
                        "backgroundColor": STATUS_COLORS[code],
                    },
                )
            )
        rows.append(
            html.Div(
                [
                    html.Div(str(r["township"]), className="rank-label"),
                    html.Div(segs, className="rank-bar"),
                    html.Div(fmt_num(totals.iloc[i], lg), className="rank-total"),
                ],
                className="rank-row",
            )
        )
    legend = html.Div(
        [
            html.Span(
                [
                    html.Span(
                        className=f"rank-swatch rank-{code}",
                        style={"backgroundColor": STATUS_COLORS[code]},
                    ),
                    t(key, lg),
                ],
                className="rank-key",
            )
            for _, code, key in b.RANKING_BARS
        ],
        className="rank-legend",
    )
    return html.Div(
        [html.H3(t("township_ranking", lg)), html.Div(rows, className="rank-rows"), legend],
        className="rank-chart",
    )


def headline_cards(heads: dict, lg: str) -> list[html.Div]:
    """The headline cards, one group for exit readiness and one for the gaps."""
    b = _briefing()
    groups = []
    for group, items in b.HEADLINE_GROUPS:
        cards = [
            html.Div(
                [
                    html.Div(
                        fmt_num(heads.get(k), lg, digits=b.headline_digits(k)), className="value"
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
    b = _briefing()
    heads = headline_numbers(plan.summary, plan.villages, plan.layer("road_gaps"))
    ranking = b.briefing_ranking(plan.villages)
    blockers = b.township_blockers(plan.villages)
    shown = ranking.assign(
        rank=[("—" if pd.isna(r) else str(int(r))) for r in ranking["rank"]],
        ready_frac=ranking["ready_frac"].map(fmt_frac),
        ready_of=[f"{r}/{a}" for r, a in zip(ranking["ready"], ranking["assessed"], strict=True)],
        blockers=[
            b.blockers_text(blockers.get(str(tw)), plan.indicators, lg)
            for tw in ranking["township"]
        ],
    )
    printable = cjk_font() is not None
    prov = b.provenance_lines(plan.manifest, lg)
    notes = [
        html.Div(
            [html.H3(heading), html.Ul([html.Li(line) for line in lines])],
            className="brief-notes",
        )
        for heading, lines in b.notes_lines(plan, lg)
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
                    ranking_bars(ranking, lg),
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
    b = _briefing()
    plan = get_plan()
    lg = lang()
    stamp = date.today().isoformat()
    try:
        if ctx.triggered_id == ids.BRIEF_PDF:
            pdf = b.render_briefing_pdf(plan, lg, previous=b.previous_manifest(plan))
            return dcc.send_bytes(pdf, f"anju_briefing_{stamp}.pdf")
        if ctx.triggered_id == ids.BRIEF_PNG:
            return dcc.send_bytes(b.render_map_png(plan, lg), f"anju_map_{stamp}.png")
    except b.BriefingFontError as exc:  # the page already says so; nothing to download
        log.error("%s", exc)
    return no_update
