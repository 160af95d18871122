"""Transport bureau: road gaps (the work: which road, which villages it serves, known vs
unknown-surface km), villages without a confirmed hardened road, km per township.

Km are split everywhere into known unhardened road, road of unknown surface (to survey
before it is counted) and connections to build (:func:`dashboard.viewmodels.gap_km_split`).
The gap table and the village table are linked with the map both ways
(:mod:`dashboard.pages._bureau`).
"""

from __future__ import annotations

import dash
import dash_leaflet as dl
from dash import html

from dashboard import ids
from dashboard.bureau import GAP_PROP, gaps_geojson, people, road_gap_table, round_km
from dashboard.components import grid, legend_entry
from dashboard.i18n import fmt_num, t
from dashboard.pages._bureau import (
    BureauSpec,
    TableSpec,
    bureau_layout,
    indicator_for,
    register_bureau_callbacks,
    table_for,
)
from dashboard.viewmodels import (
    display_records,
    km_per_township,
    ranked_road_gaps,
    road_km,
    transport_villages,
)

dash.register_page(__name__, path="/transport", name="transport", title="安居 · 交通")

GAPS_IDS = ids.bureau_ids("transport-gaps")
#: The map layer of the road gaps (features carry ``gid``, the gap table's key).
GAPS_LAYER = GAPS_IDS["geojson"]
GAP_COLOR = "#D55E00"


def _km(x, lg) -> str:
    return fmt_num(x, lg, digits=1)  # None (the plan cannot split the km) reads "—"


def gaps_heading(gaps, lg: str) -> str:
    """The heading of the gaps table: the km split, never one number that mixes them."""
    km = road_km(gaps)
    return t(
        "gaps_summary",
        lg,
        known=_km(km["known_unhardened_km"], lg),
        unknown=_km(km["unknown_surface_km"], lg),
        conn=_km(km["connection_km"], lg),
    )


def _gaps(plan, lg):
    return road_gap_table(
        plan.layer("road_gaps"),
        plan.villages,
        plan.layer("roads"),
        lg,
        metric_crs=plan.manifest.get("crs_metric"),
    )


def _gaps_head(plan, lg, _table):
    return [
        html.Div(
            gaps_heading(plan.layer("road_gaps"), lg), className="summary-line", id="transport-km"
        )
    ]


def _townships(plan, lg):
    per_tw = km_per_township(ranked_road_gaps(plan.layer("road_gaps")))
    return [
        html.H3(t("km_per_township", lg)),
        grid(
            "transport-townships-grid",
            display_records(per_tw, lg, digits=1),
            [
                ("township", t("township", lg)),
                ("known_unhardened_km", t("unhardened_km", lg)),
                ("unknown_surface_km", t("unknown_surface_km", lg)),
                ("connection_km", t("connection_km", lg)),
                ("length_km", t("road_gaps_total", lg)),
                ("people_served", t("people_served", lg)),
            ],
            height="220px",
            selectable=False,
        ),
    ]


def _gap_overlay(plan, lg):
    table = table_for(plan, GAPS, lg)
    if table.empty:
        return []
    return [
        dl.Overlay(
            dl.GeoJSON(
                data=plan.memo(("gaps-geojson", lg), lambda: gaps_geojson(table, lg)),
                style={"variable": "anju.gapStyle"},
                onEachFeature={"variable": "anju.bindLabel"},
                hideout={"color": GAP_COLOR, "weight": 5, "opacity": 0.85, "selected": ""},
                id=GAPS_LAYER,
            ),
            name=t("road_gaps", lg),
            checked=True,
        )
    ]


def _legend_rows(lg):
    return [
        legend_entry(t("bu_gap_legend", lg), GAP_COLOR, shape="line"),
        legend_entry(t("bu_connection_legend", lg), GAP_COLOR, shape="line", dash=True),
        legend_entry(t("bu_selected_legend", lg), "#000000", shape="line"),
    ]


def _table(plan, lg):
    """Villages without a confirmed hardened road, with readable status, quality and note
    (what the grid shows and the exports write)."""
    df = transport_villages(plan.villages, indicator=_road_id(plan))
    if "road_access" in df.columns:
        df = df.assign(
            road_access=df["road_access"].map(
                lambda x: t(x if isinstance(x, str) else "unknown", lg)
            )
        )
    if "road_status" in df.columns:
        df = df.assign(road_status=df["road_status"].map(lambda s: t(s, lg)))
    if "road_quality" in df.columns:
        df = df.assign(
            road_quality=df["road_quality"].map(
                lambda q: t(f"quality_{q}", lg) if isinstance(q, str) else "—"
            )
        )
    note = f"road_note_{'en' if lg == 'en' else 'zh'}"
    if note in df.columns:
        df = df.assign(road_note=df[note])
    for c in ("unhardened_km", "unknown_surface_km", "connection_km", "inferred_km"):
        if c in df.columns:
            df = df.assign(**{c: round_km(df[c])})
    if "population" in df.columns:
        df = df.assign(population=people(df["population"]))
    return df.drop(columns=[c for c in ("road_note_zh", "road_note_en") if c in df.columns])


def _road_id(plan) -> str:
    ind = indicator_for(plan, "road")
    return ind if ind != "exit_ready" else "road"


GAPS = TableSpec(
    name="transport-gaps",
    title_key="road_gaps",
    table=_gaps,
    key="gap_id",
    key_label="bu_gap_id",
    columns=(
        ("gap_id", "bu_gap_id"),
        ("road_name", "bu_road_name"),
        ("township", "township"),
        ("villages", "bu_villages_served"),
        ("length_km", "length_km"),
        ("known_unhardened_km", "unhardened_km"),
        ("unknown_surface_km", "unknown_surface_km"),
        ("people_served", "people_served"),
        ("people_per_km", "people_per_km"),
    ),
    # the rank (the gaps come in its order), the kind (the road name says "connection to
    # build" for one), its km and the count of villages are in the exports
    export_extra=(
        ("rank", "rank"),
        ("kind", "gap_kind"),
        ("connection_km", "connection_km"),
        ("n_villages", "bu_n_villages"),
    ),
    link=GAPS_LAYER,
    prop=GAP_PROP,
    head=_gaps_head,
    height="300px",
    min_widths={
        "gap_id": 96,
        "road_name": (96, 124),
        "township": (84, 108),
        "villages": 120,
        "length_km": (80, 96),
        "known_unhardened_km": (92, 142),
        "unknown_surface_km": (92, 116),
        "people_served": (88, 100),
        "people_per_km": (92, 100),
    },
    tooltips={"villages": "villages"},
)

VILLAGES = TableSpec(
    name="transport",
    title_key="transport_villages",
    table=_table,
    key="village_id",
    columns=(
        ("name", "name"),
        ("township", "township"),
        ("population", "population"),
        # "达标（推定）" names inferred evidence; the note (hover) says which km; the
        # exports also carry road_quality and road_note
        ("road_status", "road_status"),
        ("unhardened_km", "unhardened_km"),
        ("unknown_surface_km", "unknown_surface_km"),
        ("connection_km", "connection_km"),
    ),
    export_extra=(
        ("road_access", "road_access"),
        ("road_quality", "bu_quality"),
        ("road_note", "note"),
    ),
    height="280px",
    min_widths={
        "name": (88, 100),
        "township": (84, 108),
        "population": (84, 112),
        "road_status": (110, 132),
        "unhardened_km": (92, 142),
        "unknown_surface_km": (92, 116),
        "connection_km": (92, 112),
    },
    tooltips={"road_status": "road_note"},
)

SPEC = BureauSpec(
    page="transport",
    title_key="transport_title",
    tables=(GAPS, VILLAGES),
    indicator_hint="road",
    context=("roads",),
    extra=_townships,
    extra_overlays=_gap_overlay,
    legend_extra=_legend_rows,
)


def layout(**_kwargs):
    return bureau_layout(SPEC)


register_bureau_callbacks(SPEC)
