"""Health bureau: clinic gaps, travel time to the health centre, share within 30/60 min."""

from __future__ import annotations

import dash
from dash import html

from dashboard.components import grid
from dashboard.i18n import fmt_frac, t
from dashboard.pages._bureau import BureauSpec, bureau_layout, register_bureau_callbacks
from dashboard.viewmodels import display_records, health_townships, health_villages

dash.register_page(__name__, path="/health", name="health", title="安居 · 卫健")


def _extra(plan, lg):
    tw = health_townships(plan.villages)
    county = tw.iloc[-1]
    shown = tw.assign(
        within_30_frac=tw["within_30_frac"].map(fmt_frac),
        within_60_frac=tw["within_60_frac"].map(fmt_frac),
    )
    return [
        html.Div(
            [
                html.Span(
                    f"{t('within_30', lg)}: {fmt_frac(county['within_30_frac'])}",
                    id="health-within-30",
                ),
                html.Br(),
                html.Span(
                    f"{t('within_60', lg)}: {fmt_frac(county['within_60_frac'])}",
                    id="health-within-60",
                ),
            ],
            className="summary-line",
        ),
        grid(
            "health-townships-grid",
            display_records(shown, lg),
            [
                ("township", t("township", lg)),
                ("population", t("population", lg)),
                ("within_30_frac", "≤30 min"),
                ("within_60_frac", "≤60 min"),
                ("villages_clinic_gap", t("health_villages", lg)),
            ],
            height="260px",
            selectable=False,
        ),
    ]


SPEC = BureauSpec(
    page="health",
    title_key="health_title",
    table_title_key="health_villages",
    table=lambda plan, lg: health_villages(plan.villages),
    key="village_id",
    columns=(
        ("name", "name"),
        ("township", "township"),
        ("population", "population"),
        ("clinic_standard", "clinic_standard"),
        ("clinic_doctor", "clinic_doctor"),
        ("travel_min_health_centre", "minutes_health_centre"),
    ),
    indicator_hint="clinic",
    context=("clinics",),
    rasters=("travel_min_health_centre", "travel_min_village_clinic"),
    extra=_extra,
)


def layout(**_kwargs):
    return bureau_layout(SPEC)


register_bureau_callbacks(SPEC)
