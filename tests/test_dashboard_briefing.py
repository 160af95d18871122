"""Printable briefing: PDF pages, map PNG, provenance, font fallback."""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image

import dashboard.briefing as briefing
from dashboard.plan import load_plan
from tests.sample_plan import write_sample_plan


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    return load_plan(write_sample_plan(tmp_path_factory.mktemp("brief") / "plan", n_villages=15))


def test_pdf_has_two_pages_and_date(plan):
    pdf = briefing.render_briefing_pdf(plan, "en", today=date(2026, 1, 2))
    assert pdf.startswith(b"%PDF")
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert pages == 2
    assert b"2026-01-02" in pdf or b"CreationDate" in pdf


def test_map_png_decodes(plan):
    img = Image.open(io.BytesIO(briefing.render_map_png(plan, "zh", dpi=50)))
    assert img.format == "PNG" and img.size[0] >= 300


def test_provenance_lines_name_inputs_and_stages(plan):
    lines = briefing.provenance_lines(plan.manifest, "en")
    assert any("sha256 000000000000" in ln for ln in lines)
    assert any("terrain 0.1s" in ln for ln in lines)
    assert lines[1].startswith("Policy profile: ")


def test_falls_back_to_english_without_cjk_font(monkeypatch):
    monkeypatch.setattr(briefing, "cjk_font", lambda: None)
    assert briefing.briefing_lang("zh") == "en"
    monkeypatch.setattr(briefing, "cjk_font", lambda: "Noto Sans CJK SC")
    assert briefing.briefing_lang("zh") == "zh"
