"""One settings object: profiles that extend the national base, workspace parameters, every
problem reported at once, and a threshold changed in a file moving a figure."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from layers.errors import PolicyError
from layers.policy import list_policies, load_policy
from layers.settings import Settings, load_settings, settings_from_dict
from layers.workspace import load_workspace
from scripts.cli import main
from scripts.pipeline import run_pipeline
from tests.conftest import write_full_tiny_workspace, write_tiny_workspace

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["national", "nanchang-2017", "guangdong-scored"])
def test_every_builtin_profile_gives_complete_settings(name):
    assert name in list_policies()
    s = load_settings(name, province_group="west")
    assert isinstance(s, Settings)
    # every section is typed and complete: a round trip through plain data is lossless
    assert settings_from_dict(s.to_dict()) == s
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.road.max_snap_m = 1.0  # type: ignore[misc]


def test_extending_profiles_inherit_what_they_do_not_say():
    national = load_settings("national", province_group="west")
    nanchang = load_settings("nanchang-2017", province_group="west")
    assert load_policy("nanchang-2017").extends == "national"
    assert nanchang.relocation == national.relocation
    assert nanchang.sites == national.sites
    assert nanchang.households.income_line_cny == national.households.income_line_cny
    assert nanchang.households.income_line_note != national.households.income_line_note
    assert nanchang.profile.ids != national.profile.ids  # its own indicators


def test_the_demo_workspace_loads_its_settings_once():
    lw = load_workspace(ROOT / "data" / "demo")
    assert lw.errors == []
    s = lw.settings
    assert s is not None and s.profile.name == "national" and s.province_group == "west"
    assert s.parameters.village_catchment_radius_m == 3000.0
    assert s.parameters.cliff_slope_deg == 45.0  # from the profile's [parameters]


def _write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


BASE = '[profile]\nname = "strict"\nextends = "national"\n'


def test_every_problem_in_one_message_one_line_each(tmp_path):
    text = (
        BASE
        + "[road]\nmax_snap_m = -1\nmax_snap = 5\n"
        + "[suitability]\nsite_threshold = 1.5\nrobustness_draws = 2.5\n"
        + '[access]\nwalking = "uphill"\n'
        + "[relocation]\nmin_score = 'high'\n"
    )
    with pytest.raises(PolicyError) as info:
        load_settings(_write(tmp_path, text))
    lines = str(info.value).splitlines()[1:]
    expected = [
        "[road] unknown key 'max_snap'; did you mean 'max_snap_m'?",
        "[road] max_snap_m: expected a number >= 0, found -1",
        "[suitability] site_threshold: expected a number <= 1, found 1.5",
        "[suitability] robustness_draws: expected a whole number, found 2.5",
        "[access] walking: expected one of isotropic, anisotropic, found 'uphill'",
        "min_score: expected a number, found 'high'",
    ]
    for e in expected:
        assert any(e in line for line in lines), (e, lines)


def test_a_profile_without_a_base_must_state_every_key(tmp_path):
    national = (ROOT / "data" / "policies" / "national.toml").read_text(encoding="utf-8")
    text = national.replace("cost_grid_factor = 3", "")
    with pytest.raises(PolicyError, match=r"\[suitability\] missing key 'cost_grid_factor'"):
        load_settings(_write(tmp_path, text))


def test_extends_loop_and_unknown_base_are_refused(tmp_path):
    _write(tmp_path, '[profile]\nname = "a"\nextends = "b"\n', "a.toml")
    _write(tmp_path, '[profile]\nname = "b"\nextends = "a"\n', "b.toml")
    with pytest.raises(PolicyError, match="loops back"):
        load_policy(tmp_path / "a.toml")
    with pytest.raises(
        PolicyError, match="unknown policy profile 'nationl'; did you mean 'national'"
    ):
        load_policy(_write(tmp_path, '[profile]\nname = "c"\nextends = "nationl"\n', "c.toml"))


def test_scenario_overrides_are_validated():
    s = load_settings("national", province_group="west")
    assert s.with_overrides({"relocation": {"min_score": 90}}).relocation.min_score == 90
    with pytest.raises(PolicyError, match="min_score: expected a score in"):
        s.with_overrides({"relocation": {"min_score": 1e308}})
    with pytest.raises(PolicyError, match="unknown section 'weights'"):
        s.with_overrides({"weights": {}})


def test_anju_check_refuses_a_missing_profile_and_bad_parameters(tmp_path):
    ws = write_tiny_workspace(tmp_path / "ws")
    toml = ws / "workspace.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace('policy = "national"', 'policy = "natonal"'), encoding="utf-8")
    assert 'policy = "natonal"' in toml.read_text(encoding="utf-8")
    res = CliRunner().invoke(main, ["check", str(ws)])
    assert res.exit_code == 2
    assert "unknown policy profile 'natonal'; did you mean 'national'" in res.output
    toml.write_text(
        text + "\n[parameters]\ncliff_slope_deg = 'steep'\nradius = 5\n", encoding="utf-8"
    )
    res = CliRunner().invoke(main, ["check", str(ws)])
    assert res.exit_code == 2
    assert "[parameters] cliff_slope_deg: expected a number, found 'steep'" in res.output
    assert "[parameters] unknown key 'radius'" in res.output
    assert "Traceback" not in res.output


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_full_tiny_workspace(tmp_path_factory.mktemp("settings") / "ws")


def test_a_threshold_changed_in_a_profile_moves_the_figure(tiny, tmp_path):
    base = run_pipeline(tiny, tmp_path / "base", progress=False)["summary"]
    assert base["relocation_candidates"] > 0
    # only a perfect score, and no decisive rule, makes a village a relocation candidate
    strict = _write(
        tmp_path,
        BASE
        + "[relocation]\nmin_score = 100\nhazard_decisive = false\nprotected_decisive = false\n",
    )
    moved = run_pipeline(tiny, tmp_path / "strict", policy=str(strict), progress=False)
    assert moved["summary"]["relocation_candidates"] == 0
    assert moved["summary"]["people_to_relocate"] == 0 < base["people_to_relocate"]
    assert moved["settings"]["relocation"]["min_score"] == 100


def test_anisotropic_walking_is_a_profile_option(tiny, tmp_path):
    iso = run_pipeline(tiny, tmp_path / "iso", progress=False)
    prof = _write(tmp_path, BASE + '[access]\nwalking = "anisotropic"\n')
    aniso = run_pipeline(tiny, tmp_path / "aniso", policy=str(prof), progress=False)
    assert aniso["settings"]["access"]["walking"] == "anisotropic"
    import geopandas as gpd

    a = gpd.read_file(tmp_path / "iso" / "plan.gpkg", layer="villages").set_index("village_id")
    b = gpd.read_file(tmp_path / "aniso" / "plan.gpkg", layer="villages").set_index("village_id")
    col = "travel_min_health_centre"
    both = a[col].notna() & b[col].notna()
    assert both.any()
    # the tiny DEM slopes up to the east: direction matters, so the minutes differ...
    assert (a.loc[both, col] - b.loc[both, col]).abs().max() > 0.01
    # ...and every reachable village still names its nearest health centre
    assert b.loc[b[col].notna(), "nearest_health_centre_id"].notna().all()
    assert iso["summary"]["villages"] == aniso["summary"]["villages"]


def test_province_group_is_required_when_thresholds_depend_on_it(tmp_path):
    # the national incidence threshold is 2%, 3% in the west: no silent "west"
    with pytest.raises(PolicyError, match=r"province_group: profile 'national' has thresholds"):
        load_settings("national")
    ws = write_tiny_workspace(tmp_path / "ws")
    toml = ws / "workspace.toml"
    text = toml.read_text(encoding="utf-8")
    assert 'province_group = "west"' in text
    toml.write_text(text.replace('province_group = "west"\n', ""), encoding="utf-8")
    res = CliRunner().invoke(main, ["check", str(ws)])
    assert res.exit_code == 2 and "set [workspace] province_group" in res.output
