"""Health bureau: the clinic indicator (met / not met / unknown), travel time to the health
centre, share of people within 30/60 min.

The map, the table and the headline all count :func:`dashboard.viewmodels.clinic_status`
(the evaluated clinic indicator): an unknown clinic is never counted as "without a clinic".
"""

from __future__ import annotations

import dash
from dash import html

from dashboard.components import grid
from dashboard.i18n import fmt_frac, t
from dashboard.pages._bureau import (
    BureauSpec,
    bureau_layout,
    indicator_for,
    register_bureau_callbacks,
)
from dashboard.viewmodels import display_records, health_townships, health_villages

dash.register_page(__name__, path="/health", name="health", title="安居 · 卫健")


def _clinic_id(plan) -> str:
    ind = indicator_for(plan, "clinic")
    return ind if ind != "exit_ready" else "clinic"


def _extra(plan, lg):
    tw = health_townships(plan.villages, indicator=_clinic_id(plan))
    county = tw.iloc[-1]
    shown = tw.assign(
        within_30_frac=tw["within_30_frac"].map(fmt_frac),
        within_60_frac=tw["within_60_frac"].map(fmt_frac),
    )
    return [
        html.Div(
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
        ),
        grid(
            "health-townships-grid",
            display_records(shown, lg),
            [
                ("township", t("township", lg)),
                ("population", t("population", lg)),
                ("within_30_frac", "≤30 min"),
                ("within_60_frac", "≤60 min"),
                ("clinic_met", t("clinic_met", lg)),
                ("clinic_not_met", t("clinic_not_met", lg)),
                ("clinic_unknown", t("clinic_unknown_col", lg)),
            ],
            height="260px",
            selectable=False,
        ),
    ]


def _table(plan, lg):
    """The clinic villages with the status and the note in the page's language."""
    out = health_villages(plan.villages, indicator=_clinic_id(plan))
    out = out.assign(clinic_status=out["clinic_status"].map(lambda s: t(s, lg)))
    note = f"clinic_note_{'en' if lg == 'en' else 'zh'}"
    if note in out.columns:
        out = out.assign(clinic_note=out[note])
    return out.drop(columns=[c for c in ("clinic_note_zh", "clinic_note_en") if c in out.columns])


SPEC = BureauSpec(
    page="health",
    title_key="health_title",
    table_title_key="health_villages",
    table=_table,
    key="village_id",
    columns=(
        ("name", "name"),
        ("township", "township"),
        ("population", "population"),
        ("clinic_status", "clinic_status"),  # the note (why unknown) on hover; in the exports
        ("clinic_standard", "clinic_standard"),
        ("clinic_doctor", "clinic_doctor"),
        ("travel_min_health_centre", "minutes_health_centre"),
    ),
    indicator_hint="clinic",
    context=("clinics",),
    rasters=("travel_min_health_centre", "travel_min_village_clinic"),
    extra=_extra,
    min_widths={"name": 84, "township": 84, "population": 84, "clinic_status": 84},
    tooltips={"clinic_status": "clinic_note"},
)


def layout(**_kwargs):
    return bureau_layout(SPEC)


register_bureau_callbacks(SPEC)
