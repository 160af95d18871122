"""Health bureau: the clinic indicator (met / not met / unknown), travel time to the
township health centre (the raster overlay is on when the page opens, its colour ramp in
minutes in the legend), share of people within 30/60 min, and the clinic gaps.

The map, the table and the headline all count :func:`dashboard.viewmodels.clinic_status`
(the evaluated clinic indicator): an unknown clinic is never counted as "without a clinic".
The clinic-gap table and the map are linked both ways.
"""

from __future__ import annotations

import dash
from dash import html

from dashboard.bureau import health_table
from dashboard.components import grid
from dashboard.i18n import fmt_frac, t
from dashboard.pages._bureau import (
    BureauSpec,
    TableSpec,
    bureau_layout,
    indicator_for,
    register_bureau_callbacks,
)
from dashboard.viewmodels import display_records, health_townships

dash.register_page(__name__, path="/health", name="health", title="安居 · 卫健")

#: The travel-time overlays offered; the first is drawn when the page opens.
RASTERS = ("travel_min_health_centre", "travel_min_village_clinic")


def _clinic_id(plan) -> str:
    ind = indicator_for(plan, "clinic")
    return ind if ind != "exit_ready" else "clinic"


def _summary(plan, lg):
    tw = health_townships(plan.villages, indicator=_clinic_id(plan))
    county = tw.iloc[-1]
    return html.Div(
        [
            html.Span(
                t(
                    "clinic_summary",
                    lg,
                    met=int(county["clinic_met"]),
                    not_met=int(county["clinic_not_met"]),
                    unknown=int(county["clinic_unknown"]),
                ),
                id="health-clinic-counts",
            ),
            html.Br(),
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
    )


def _head(plan, lg, _table):
    return [_summary(plan, lg)]


def _extra(plan, lg):
    tw = health_townships(plan.villages, indicator=_clinic_id(plan))
    shown = tw.assign(
        within_30_frac=tw["within_30_frac"].map(fmt_frac),
        within_60_frac=tw["within_60_frac"].map(fmt_frac),
    )
    return [
        html.H3(t("bu_health_townships", lg)),
        grid(
            "health-townships-grid",
            display_records(shown, lg),
            [
                ("township", t("township", lg)),
                ("population", t("population", lg)),
                ("within_30_frac", t("bu_within", lg, t=30)),
                ("within_60_frac", t("bu_within", lg, t=60)),
                ("clinic_met", t("clinic_met", lg)),
                ("clinic_not_met", t("clinic_not_met", lg)),
                ("clinic_unknown", t("clinic_unknown_col", lg)),
            ],
            height="260px",
            selectable=False,
        ),
    ]


def _table(plan, lg):
    """The clinic gaps with status, evidence, minutes and note in the page's language."""
    return health_table(plan.villages, plan.layer("clinics"), lg, indicator=_clinic_id(plan))


HEALTH = TableSpec(
    name="health",
    title_key="bu_clinic_table",
    table=_table,
    key="village_id",
    columns=(
        ("name", "name"),
        ("township", "township"),
        ("population", "population"),
        ("clinic_status", "clinic_status"),  # the note (why unknown) on hover; in the exports
        ("clinic_quality", "bu_quality"),
        ("clinic_standard", "clinic_standard"),
        ("clinic_doctor", "clinic_doctor"),
        ("travel_min_health_centre", "bu_min_centre"),
        ("travel_min_village_clinic", "bu_min_clinic"),
    ),
    export_extra=(
        ("nearest_health_centre", "bu_nearest_centre"),
        ("hosts_health_centre", "hosts_health_centre"),
        ("clinic_note", "note"),
    ),
    head=_head,
    height="340px",
    min_widths={
        "name": (88, 100),
        "township": (84, 108),
        "population": (84, 112),
        "clinic_status": (100, 96),
        "clinic_quality": (92, 100),
        "clinic_standard": (90, 96),
        "clinic_doctor": (90, 100),
        "travel_min_health_centre": 100,
        "travel_min_village_clinic": 100,
    },
    tooltips={"clinic_status": "clinic_note"},
)

SPEC = BureauSpec(
    page="health",
    title_key="health_title",
    tables=(HEALTH,),
    indicator_hint="clinic",
    context=("clinics",),
    rasters=RASTERS,
    rasters_on=RASTERS[:1],
    extra=_extra,
)


def layout(**_kwargs):
    return bureau_layout(SPEC)


register_bureau_callbacks(SPEC)
