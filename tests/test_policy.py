"""Policy profiles: loading, validation messages, province-group thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers.errors import PolicyError
from layers.policy import (
    RULES,
    default_policies_dir,
    list_policies,
    load_policy,
)

NATIONAL = default_policies_dir() / "national.toml"

MINI = """
[profile]
name = "mini"
kind = "pass_fail"

[[indicators]]
id = "water"
name_zh = "饮水安全"
name_en = "Safe water"
rule = "is_true"
evidence = "has_safe_water"
clause = "test clause"

[[indicators]]
id = "incidence"
name_zh = "贫困发生率"
name_en = "Incidence"
rule = "rate_below"
evidence = "poverty_incidence_frac"
threshold = 0.02
threshold_west = 0.03
clause = "test clause"
"""


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_profiles_listed_and_load():
    names = list_policies()
    assert {"national", "nanchang-2017", "guangdong-scored"} <= set(names)
    for name in names:
        prof = load_policy(name)
        assert prof.name == name
        assert prof.indicators
        for ind in prof.indicators:
            assert ind.rule in RULES
            assert ind.clause and ind.name_zh and ind.name_en


def test_national_contents():
    prof = load_policy("national")
    assert prof.kind == "pass_fail"
    assert set(prof.ids) >= {
        "incidence",
        "road",
        "water",
        "power",
        "clinic",
        "culture",
        "broadband",
    }
    inc = prof.indicator("incidence")
    assert inc.threshold_for("east") == 0.02
    assert inc.threshold_for("central") == 0.02
    assert inc.threshold_for("west") == 0.03
    assert "2%" in inc.clause and "3%" in inc.clause
    assert prof.households["income_line_cny"] == 4000
    assert prof.road["snap_tolerance_m"] > 0


def test_scored_profile_weights_sum_to_100():
    prof = load_policy("guangdong-scored")
    assert prof.scored and prof.pass_score == 90
    assert sum(i.weight for i in prof.indicators) == pytest.approx(100)
    assert prof.indicator("incidence").weight == 20
    assert prof.verified is False


def test_load_by_path_and_policies_dir(tmp_path):
    path = write(tmp_path, MINI, "mini.toml")
    assert load_policy(path).name == "mini"
    assert load_policy("mini", policies_dir=tmp_path).ids == ("water", "incidence")
    assert list_policies(policies_dir=tmp_path) == ["mini"]


def test_unknown_profile_name_suggests():
    with pytest.raises(
        PolicyError, match=r"unknown policy profile 'nationl'.*did you mean 'national'"
    ):
        load_policy("nationl")


def test_typo_in_indicator_field_is_refused_with_suggestion(tmp_path):
    text = MINI.replace("threshold = 0.02", "treshold = 0.02")
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    msg = str(err.value)
    assert str(path) in msg
    assert (
        "unknown field 'treshold' in [[indicators]] #2 (id 'incidence'); did you mean 'threshold'?"
        in msg
    )
    # the missing threshold is reported in the same message
    assert "rule rate_below needs a threshold" in msg


def test_unknown_field_in_profile_and_unknown_section(tmp_path):
    text = (
        MINI.replace('kind = "pass_fail"', 'kind = "pass_fail"\ntitel_zh = "x"')
        + "\n[raod]\nx = 1\n"
    )
    with pytest.raises(PolicyError) as err:
        load_policy(write(tmp_path, text))
    msg = str(err.value)
    assert "unknown field 'titel_zh' in [profile]; did you mean 'title_zh'?" in msg
    assert "unknown section [raod]; did you mean 'road'?" in msg


def test_unknown_rule_refused(tmp_path):
    text = MINI.replace('rule = "is_true"', 'rule = "is_treu"')
    with pytest.raises(
        PolicyError, match=r"id 'water'.*unknown rule 'is_treu'; did you mean 'is_true'"
    ):
        load_policy(write(tmp_path, text))


def test_duplicate_ids_refused(tmp_path):
    text = MINI.replace('id = "incidence"', 'id = "water"')
    with pytest.raises(PolicyError, match=r"#2: duplicate indicator id 'water'"):
        load_policy(write(tmp_path, text))


def test_threshold_on_rule_without_one_refused(tmp_path):
    text = MINI.replace('evidence = "has_safe_water"', 'evidence = "has_safe_water"\nthreshold = 1')
    with pytest.raises(PolicyError, match=r"id 'water'.*rule is_true takes no threshold"):
        load_policy(write(tmp_path, text))


def test_rate_threshold_must_be_a_share(tmp_path):
    text = MINI.replace("threshold = 0.02", "threshold = 2")
    with pytest.raises(PolicyError, match=r"share in \[0, 1\], found 2.*write 2% as 0.02"):
        load_policy(write(tmp_path, text))


def test_reserved_id_refused(tmp_path):
    text = MINI.replace('id = "water"', 'id = "has_safe_water"')
    with pytest.raises(PolicyError, match="is a village column name"):
        load_policy(write(tmp_path, text))


def test_households_evidence_needs_share_rule(tmp_path):
    text = MINI.replace('evidence = "has_safe_water"', 'evidence = "households:food_ok"')
    with pytest.raises(PolicyError, match="only rule households_share_at_least reads it"):
        load_policy(write(tmp_path, text))


def test_scored_profile_weights_checked(tmp_path):
    text = (
        MINI.replace('kind = "pass_fail"', 'kind = "scored"\npass_score = 60')
        .replace('evidence = "has_safe_water"', 'evidence = "has_safe_water"\nweight = 40')
        .replace("threshold_west = 0.03", "threshold_west = 0.03\nweight = 50")
    )
    with pytest.raises(PolicyError, match=r"weights of a scored profile must sum to 100, found 90"):
        load_policy(write(tmp_path, text))
    ok = text.replace("weight = 50", "weight = 60")
    prof = load_policy(write(tmp_path, ok))
    assert prof.scored and prof.pass_score == 60
    # a scored profile without a pass score
    with pytest.raises(PolicyError, match="needs pass_score"):
        load_policy(write(tmp_path, ok.replace("pass_score = 60", "")))


def test_weight_in_pass_fail_refused(tmp_path):
    text = MINI.replace('evidence = "has_safe_water"', 'evidence = "has_safe_water"\nweight = 10')
    with pytest.raises(PolicyError, match="weight only applies to kind = 'scored'"):
        load_policy(write(tmp_path, text))


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(write(tmp_path, "[profile\nname="))
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "nope.toml")


def test_raw_sections_kept_and_household_flags_checked(tmp_path):
    from layers.settings import load_settings

    text = MINI + "\n[relocation]\nmax_households = 50\n[suitability]\nslope_max_deg = 14\n"
    prof = load_policy(write(tmp_path, text))
    assert prof.relocation["max_households"] == 50
    assert prof.suitability["slope_max_deg"] == 14
    # the settings refuse what the profile loader keeps raw (the profile does not extend national)
    with pytest.raises(PolicyError, match=r"\[relocation\] unknown key 'max_households'"):
        load_settings(write(tmp_path, text))
    bad = NATIONAL.read_text(encoding="utf-8").replace('"food_ok",', '"food_okk",')
    with pytest.raises(PolicyError, match=r"unknown flag 'food_okk'; did you mean 'food_ok'"):
        load_settings(write(tmp_path, bad, "bad.toml"))


def test_unknown_province_group_and_indicator():
    prof = load_policy("national")
    with pytest.raises(PolicyError, match="unknown province group 'wset'"):
        prof.indicator("incidence").threshold_for("wset")
    with pytest.raises(PolicyError, match="no indicator 'watr'; did you mean 'water'"):
        prof.indicator("watr")


def test_copied_profile_is_independent(tmp_path):
    text = NATIONAL.read_text(encoding="utf-8").replace("threshold = 1.0", "threshold = 0.9")
    prof = load_policy(write(tmp_path, text, "copy.toml"))
    assert prof.indicator("medical_insurance").threshold == 0.9
    assert load_policy("national").indicator("medical_insurance").threshold == 1.0


def test_relocation_and_suitability_sections_accepted_by_their_stages():
    from layers.settings import load_settings

    for name in list_policies():
        prof = load_policy(name)
        s = load_settings(
            name, province_group="west"
        )  # refuses unknown keys, wrong types, missing keys
        assert (
            s.relocation.small_poor_max_households == prof.relocation["small_poor_max_households"]
        )
        assert s.sites.slope_limit_deg == pytest.approx(14.04)
        assert len(s.sites.ahp) == len(s.sites.factors)
