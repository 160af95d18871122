"""Household exit (两不愁三保障) and masking of personal fields."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.coverage import chinese_headers
from geo.households import (
    DEFAULT_FLAGS,
    evaluate_households,
    households_by_village,
    mask_id_number,
    mask_name,
    mask_personal,
    mask_phone,
    register_counts,
    register_status,
)
from layers.errors import LayerSchemaError
from layers.policy import load_policy

NA = pd.NA
IDS = ["520102199001011234", "52010219851231002X", "520102200502280017"]
PHONES = ["13912345678", "18600001111", "0851-5551234"]
NAMES = ["王小明", "李四", "欧阳娜娜"]


def table(**over) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "household_id": ["h1", "h2", "h3"],
            "village_id": ["v1", "v1", "v2"],
            "members": [3, 4, 2],
            "registered_poor": [True, True, False],
            "income_per_capita_cny": [5000.0, 4000.0, None],
            "head_name": NAMES,
            "id_number": IDS,
            "phone": PHONES,
        }
    )
    for f in DEFAULT_FLAGS:
        df[f] = pd.array([True, True, True], dtype="boolean")
    for k, v in over.items():
        df[k] = v
    return df


def test_household_statuses_and_income_line_borderline():
    hh = table(housing_ok=pd.array([True, True, NA], dtype="boolean"))
    r = evaluate_households(hh, income_line_cny=4000)
    # income exactly at the line is not "above the line"
    assert r["income_status"].tolist() == ["met", "not_met", "unknown"]
    assert r["housing_status"].tolist() == ["met", "met", "unknown"]
    assert r["exit_ready"].tolist() == [True, False, False]
    assert r["unmet"].tolist() == ["", "income", ""]
    assert r["unknown"].tolist() == ["", "", "income,housing"]
    r2 = evaluate_households(hh, income_line_cny=3999.99)
    assert r2["income_status"].tolist()[1] == "met"


def test_each_flag_blocks():
    for flag in DEFAULT_FLAGS:
        hh = table(**{flag: pd.array([False, True, True], dtype="boolean")})
        r = evaluate_households(hh, income_line_cny=1000)
        assert not r["exit_ready"].iloc[0]
        assert r["unmet"].iloc[0] == flag.removesuffix("_ok")


def test_profile_income_line_used():
    prof = load_policy("national")
    r = evaluate_households(
        table(), income_line_cny=prof.households["income_line_cny"], flags=prof.households["flags"]
    )
    assert r["income_status"].tolist()[:2] == ["met", "not_met"]


def test_household_errors():
    with pytest.raises(LayerSchemaError, match="missing column.*food_ok"):
        evaluate_households(table().drop(columns="food_ok"), income_line_cny=4000)
    with pytest.raises(LayerSchemaError, match="income_line_cny must be"):
        evaluate_households(table(), income_line_cny=-1)
    with pytest.raises(LayerSchemaError, match="unknown household flag"):
        evaluate_households(table(), income_line_cny=1, flags=["members"])


def test_mask_functions():
    assert mask_name("王小明") == "王*"
    assert mask_name("李四") == "李*"
    assert mask_id_number("520102199001011234") == "520102********1234"
    assert mask_id_number("52010219851231002X") == "520102********002X"
    assert mask_id_number("520102900101123") == "520102*********"  # old 15-digit: no tail
    assert mask_id_number("123") == "***"
    assert mask_id_number(5.201021990010112e17).startswith("520102********")
    assert mask_phone("13912345678") == "139****5678"
    assert mask_phone("0851-5551234") == "085****1234"
    assert mask_phone("12345") == "*****"
    assert mask_name(None) is None and pd.isna(mask_phone(float("nan")))


def test_masked_by_default_everywhere(tmp_path):
    hh = table()
    out = evaluate_households(hh, income_line_cny=4000)
    path = tmp_path / "households.csv"
    out.to_csv(path, index=False)
    zh = tmp_path / "households_zh.csv"
    chinese_headers(out, "households").to_csv(zh, index=False)
    for p in (path, zh):
        text = p.read_text(encoding="utf-8")
        for secret in IDS + PHONES + NAMES:
            assert secret not in text
        for birth in ("19900101", "19851231", "20050228"):
            assert birth not in text
    assert hh["id_number"].tolist() == IDS  # input untouched
    masked = mask_personal(hh)
    assert masked["head_name"].tolist() == ["王*", "李*", "欧*"]


def test_allow_personal_is_explicit():
    out = evaluate_households(table(), income_line_cny=4000, allow_personal=True)
    assert out["id_number"].tolist() == IDS
    assert mask_personal(table(), allow_personal=True)["phone"].tolist() == PHONES


def test_missing_personal_values_and_other_columns():
    df = pd.DataFrame({"head_name": [None, "张三"], "guardian_phone": ["13800000000", None]})
    m = mask_personal(df, columns=["head_name", "guardian_phone"])
    assert m["head_name"].isna().tolist() == [True, False]
    assert m["guardian_phone"].tolist()[0] == "138****0000"


@settings(max_examples=80, deadline=None)
@given(
    st.from_regex(r"[1-6][0-9]{16}[0-9X]", fullmatch=True),
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
)
def test_mask_never_reveals_middle(id_number, phone):
    m = mask_id_number(id_number)
    assert len(m) == 18 and m[6:14] == "*" * 8 and id_number[6:14] not in m[6:]
    p = mask_phone(phone)
    assert p[3:7] == "****" and phone not in p


def test_households_by_village():
    hh = table(housing_ok=pd.array([True, True, NA], dtype="boolean"))
    r = households_by_village(evaluate_households(hh, income_line_cny=4000))
    assert r["village_id"].tolist() == ["v1", "v2"]
    assert r["n_households"].tolist() == [2, 1]
    assert r["n_registered_poor"].tolist() == [2, 0]
    assert r["poor_people"].tolist() == [7, 0]
    assert r["n_exit_ready"].tolist() == [1, 0]
    assert r["n_poor_not_ready"].tolist() == [1, 0]  # h2: income exactly at the line
    assert r["n_with_unknown"].tolist() == [0, 1]
    assert not set(r.columns) & {"head_name", "id_number", "phone"}
    with pytest.raises(LayerSchemaError, match="pass the output of evaluate_households"):
        households_by_village(hh)


# --------------------------------------------------------------------------- the register


def test_households_by_village_counts_unknown_registered_poor_apart():
    hh = table(registered_poor=pd.array([True, NA, False], dtype="boolean"))
    r = households_by_village(evaluate_households(hh, income_line_cny=4000))
    # h2 (4 people) has an unknown registered_poor: neither poor nor not poor
    assert r["n_registered_poor"].tolist() == [1, 0]
    assert r["n_registered_poor_unknown"].tolist() == [1, 0]
    assert r["poor_people"].tolist() == [3, 0]


def test_evaluate_households_reports_register_status():
    hh = table(register_status=["未脱贫", "已脱贫", None])
    r = evaluate_households(hh, income_line_cny=4000)
    assert r["register_status"].tolist()[:2] == ["not_exited", "exited"]
    assert pd.isna(r["register_status"].iloc[2])
    # a table without the column still evaluates; every status is unknown
    r = evaluate_households(table(), income_line_cny=4000)
    assert r["register_status"].isna().all()
    assert r["exit_ready"].tolist() == [True, False, False]


def test_register_status_refuses_values_outside_the_vocabulary():
    hh = table(register_status=["未脱贫", "脱贫中", "gone"])
    with pytest.raises(LayerSchemaError, match=r"register_status.*2 value\(s\).*gone, 脱贫中"):
        register_status(hh)
    with pytest.raises(LayerSchemaError, match="register_status"):
        evaluate_households(hh, income_line_cny=4000)


def _register() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": [f"h{i}" for i in range(1, 10)],
            "village_id": ["v1"] * 6 + ["v2"] * 3,
            "members": [3, 4, 2, 5, 6, 2, 1, None, 3],
            "registered_poor": ["是", True, "是", "是", "否", "", True, "是", False],
            "register_status": [
                "未脱贫",
                "已脱贫",
                "返贫",
                None,
                None,
                None,
                "exited",
                "未脱贫",
                "exited",
            ],
        }
    )


def test_register_counts_golden():
    # Worked by hand.
    # v1: h1 poor, 未脱贫, 3 people      -> not exited 3
    #     h2 poor, 已脱贫, 4 people      -> exited 4
    #     h3 poor, 返贫 (returned), 2    -> not exited 2 (returned people are poor again)
    #     h4 poor, no status, 5          -> status unknown: 1 household, 5 people
    #     h5 not poor, 6                 -> in no poor column
    #     h6 registered_poor unknown, 2  -> unknown_households 1 (never read as not poor)
    #   listed: h1-h4 = 4 households, 3 + 4 + 2 + 5 = 14 people;
    #   not exited 3 + 2 = 5; exited 4; 5 + 4 + 5 (status unknown) = 14 listed.
    # v2: h7 poor, exited, 1 person      -> exited 1
    #     h8 poor, 未脱贫, members unknown -> listed and not-exited people unknown (<NA>)
    #     h9 not poor, status "exited"   -> ignored (validation warns about the status)
    #   listed 2 households; exited 1; no status unknown.
    r = register_counts(_register()).set_index("village_id")
    assert r.index.tolist() == ["v1", "v2"]
    v1, v2 = r.loc["v1"], r.loc["v2"]
    assert v1["n_households"] == 6 and v2["n_households"] == 3
    assert v1["poor_households_listed"] == 4 and v2["poor_households_listed"] == 2
    assert v1["poor_people_listed"] == 14 and pd.isna(v2["poor_people_listed"])
    assert v1["poor_people_not_exited"] == 5 and pd.isna(v2["poor_people_not_exited"])
    assert v1["poor_people_exited"] == 4 and v2["poor_people_exited"] == 1
    assert v1["status_unknown_households"] == 1 and v2["status_unknown_households"] == 0
    assert v1["status_unknown_people"] == 5 and v2["status_unknown_people"] == 0
    assert v1["unknown_households"] == 1 and v2["unknown_households"] == 0
    # the three status columns add up to the listed poor people where all are known
    assert (
        v1["poor_people_not_exited"] + v1["poor_people_exited"] + v1["status_unknown_people"]
        == v1["poor_people_listed"]
    )
    assert not set(r.columns) & {"head_name", "id_number", "phone"}


def test_register_counts_without_status_column_and_errors():
    df = _register().drop(columns="register_status")
    r = register_counts(df).set_index("village_id")
    # no status anywhere: every listed poor household is status unknown, none exited
    assert r.loc["v1", "status_unknown_households"] == 4
    assert r.loc["v1", "poor_people_not_exited"] == 0 and r.loc["v1", "poor_people_exited"] == 0
    with pytest.raises(LayerSchemaError, match="missing column.*registered_poor"):
        register_counts(df.drop(columns="registered_poor"))
    bad = _register()
    bad.loc[0, "registered_poor"] = "maybe"
    with pytest.raises(LayerSchemaError, match="registered_poor"):
        register_counts(bad)
