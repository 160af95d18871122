"""Water bureau: villages without safe water, nearest safe source and its distance."""

from __future__ import annotations

import dash
from dash import html

from dashboard.components import grid
from dashboard.i18n import t
from dashboard.pages._bureau import BureauSpec, bureau_layout, register_bureau_callbacks
from dashboard.viewmodels import count_by_township, display_records, water_villages


def _extra(plan, lg):
    per = count_by_township(water_villages(plan.villages, plan.layer("water")))
    return [
        html.H3(f"{t('water_villages', lg)} · {t('per_township', lg)}"),
        grid(
            "water-townships-grid",
            display_records(per, lg),
            [
                ("township", t("township", lg)),
                ("villages", t("villages", lg)),
                ("population", t("population", lg)),
            ],
            height="300px",
            selectable=False,
        ),
    ]


dash.register_page(__name__, path="/water", name="water", title="安居 · 水务")

SPEC = BureauSpec(
    page="water",
    title_key="water_title",
    table_title_key="water_villages",
    table=lambda plan, lg: water_villages(plan.villages, plan.layer("water")),
    key="village_id",
    columns=(
        ("name", "name"),
        ("township", "township"),
        ("population", "population"),
        ("nearest_water_name", "nearest_water"),
        ("nearest_water_id", "water_id"),
        ("water_dist_m", "water_dist_m"),
    ),
    indicator_hint="water",
    context=("water",),
    extra=_extra,
)


def layout(**_kwargs):
    return bureau_layout(SPEC)


register_bureau_callbacks(SPEC)
