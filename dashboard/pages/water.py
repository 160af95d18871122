"""Water bureau: villages without safe water, nearest safe source and its distance."""

from __future__ import annotations

import dash

from dashboard.pages._bureau import BureauSpec, bureau_layout, register_bureau_callbacks
from dashboard.viewmodels import water_villages

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
        ("nearest_water_id", "nearest_water"),
        ("water_dist_m", "water_dist_m"),
    ),
    indicator_hint="water",
    context=("water",),
)


def layout(**_kwargs):
    return bureau_layout(SPEC)


register_bureau_callbacks(SPEC)
