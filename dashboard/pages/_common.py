"""Helpers shared by page layouts: load the plan or return the alert to show."""

from __future__ import annotations

from dash import html

from dashboard.components import plan_alert
from dashboard.plan import Plan, plan_status
from dashboard.state import get_plan, plan_dir
from layers.errors import AnjuError


def load_or_alert(lang: str) -> tuple[Plan | None, html.Div | None]:
    """The plan and an optional banner; (None, alert) when the plan cannot be shown."""
    where = plan_dir()
    status, detail = plan_status(where)
    if status == "missing":
        return None, plan_alert(lang, status=status, detail=detail, plan_dir=where)
    try:
        plan = get_plan()
    except AnjuError as exc:
        return None, plan_alert(lang, status="unreadable", detail=str(exc), plan_dir=where)
    banner = (
        plan_alert(lang, status=status, detail=detail, plan_dir=where)
        if status == "outdated"
        else None
    )
    return plan, banner


def personal_data_allowed(what: str) -> bool:
    """Whether household names, ID numbers and phones may be shown or exported here.

    False unless a signed-in user holds the personal-data permission (the local
    single-user mode keeps them out of the browser, as before); every check is recorded
    in the audit trail with ``what``.
    """
    from dashboard.auth import record_personal_view

    return record_personal_view(what)
