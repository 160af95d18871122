"""Water bureau: every village by the water network or source that serves it, with its
safe-water status (met / not met / unknown: unknown is shown apart, never as met) and the
quality of the evidence behind it.

A village inside a water service area is served by that area's network; otherwise the
nearest safe source and the straight-line distance to it are given, labelled as such
(:func:`dashboard.bureau.water_supply`). The table and the map are linked both ways.
"""

from __future__ import annotations

import dash
from dash import html

from dashboard.bureau import status_counts, water_by_supply, water_table
from dashboard.components import grid
from dashboard.i18n import t
from dashboard.pages._bureau import (
    BureauSpec,
    TableSpec,
    bureau_layout,
    indicator_for,
    register_bureau_callbacks,
    table_for,
)
from dashboard.viewmodels import display_records

dash.register_page(__name__, path="/water", name="water", title="安居 · 水务")


def _water_id(plan) -> str:
    ind = indicator_for(plan, "water")
    return ind if ind != "exit_ready" else "water"


def _table(plan, lg):
    return water_table(plan.villages, plan.layer("water"), lg, indicator=_water_id(plan))


def status_line(table, lg: str) -> str:
    """Villages met / met (inferred) / not met / unknown, in one line (they add up)."""
    c = status_counts(table["status_code"])
    return t(
        "bu_status_summary" if c["met_inferred"] else "bu_status_summary_plain",
        lg,
        what=t("bu_safe_water", lg),
        met=c["met"],
        inferred=c["met_inferred"],
        not_met=c["not_met"],
        unknown=c["unknown"],
    )


def _head(_plan, lg, table):
    return [html.Div(status_line(table, lg), className="summary-line", id="water-status-counts")]


def _extra(plan, lg):
    table = table_for(plan, WATER, lg)
    per = water_by_supply(table, lg)
    per_tw = _per_township(table)
    counts = [
        ("met", t("bu_col_met", lg)),
        ("met_inferred", t("bu_col_inferred", lg)),
        ("not_met", t("bu_col_not_met", lg)),
        ("unknown", t("bu_col_unknown", lg)),
    ]
    if not (len(per) and (per["met_inferred"] > 0).any()):
        counts = [c for c in counts if c[0] != "met_inferred"]  # no inferred evidence here
    return [
        html.H3(t("bu_by_supply", lg)),
        grid(
            "water-supply-grid",
            display_records(per, lg),
            [
                ("supply_name", t("bu_supply_name", lg)),
                ("supply_kind", t("bu_supply_kind", lg)),
                ("villages", t("bu_col_villages", lg)),
                *counts,
                ("people_not_met", t("bu_people_not_met", lg)),
            ],
            height="260px",
            selectable=False,
            min_widths={"supply_name": 120, "supply_kind": 140},
        ),
        html.H3(t("bu_water_townships", lg)),
        grid(
            "water-townships-grid",
            display_records(per_tw, lg),
            [
                ("township", t("township", lg)),
                ("villages", t("bu_col_villages", lg)),
                *counts,
                ("people_not_met", t("bu_people_not_met", lg)),
            ],
            height="260px",
            selectable=False,
        ),
    ]


def _per_township(table):
    """Villages per township by status (the same counts as the supply table)."""
    if table.empty or "township" not in table.columns:
        return table.iloc[:0]
    t2 = table.assign(supply_kind=table["township"], supply_name=table["township"])
    per = water_by_supply(t2)
    return per.rename(columns={"supply_name": "township"}).drop(columns=["supply_kind"])


WATER = TableSpec(
    name="water",
    title_key="bu_water_table",
    table=_table,
    key="village_id",
    columns=(
        ("name", "name"),
        ("township", "township"),
        ("population", "population"),
        ("water_status", "bu_water_status"),
        ("water_quality", "bu_quality"),
        ("supply_kind", "bu_supply_kind"),
        ("supply_name", "bu_supply_name"),
        ("source_km", "bu_source_km"),
    ),
    export_extra=(("supply_id", "bu_supply_id"), ("water_note", "note")),
    head=_head,
    height="340px",
    min_widths={
        "name": (88, 100),
        "township": (84, 108),
        "population": (84, 112),
        "water_status": (100, 96),
        "water_quality": (92, 100),
        "supply_kind": (120, 168),
        "supply_name": 120,
        "source_km": (110, 120),
    },
    tooltips={"water_status": "water_note", "supply_kind": "supply_kind"},
)

SPEC = BureauSpec(
    page="water",
    title_key="water_title",
    tables=(WATER,),
    indicator_hint="water",
    context=("water",),
    extra=_extra,
)


def layout(**_kwargs):
    return bureau_layout(SPEC)


register_bureau_callbacks(SPEC)
