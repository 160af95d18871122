"""Policy profiles: exit indicators as data (``data/policies/*.toml``).

A province or city adds its own exit standard by writing a TOML file, not code.
:func:`load_policy` reads and validates one; :func:`list_policies` names the
built-in ones.

Schema
------
``[profile]`` (required)
    ``name`` (str, required), ``title_zh``, ``title_en``, ``source`` (str),
    ``kind`` = ``"pass_fail"`` (every indicator must be met) or ``"scored"``
    (points per met indicator, pass at ``pass_score``), ``pass_score``
    (scored only, 0 < pass_score <= 100), ``verified`` (bool, default true: false
    marks figures that are placeholders to confirm), ``notes`` (str).

``[[indicators]]`` (at least one)
    ``id``
        identifier ``[a-z][a-z0-9_]*``; becomes the column ``<id>`` (nullable
        boolean) and ``<id>_status`` / ``<id>_value`` / ``<id>_threshold`` in the
        evaluated villages. Must not clash with a canonical village column.
    ``name_zh``, ``name_en``
        labels shown to users (required).
    ``rule``
        one of :data:`RULES`:

        ``rate_below``
            met when value < threshold (strict: exactly the threshold is NOT met);
        ``at_least``
            met when value >= threshold;
        ``at_most``
            met when value <= threshold;
        ``is_true``
            met when the attribute is True (no threshold);
        ``road_access_hardened``
            met when the network stage found a hardened path into the village
            (``road_access == "hardened"``); ``gap``/``no_road`` are not met with the
            value = ``unhardened_km``; ``unknown`` is unknown (no threshold);
        ``clinic_in_village``
            the national rule: met when the village has a standardised clinic with a
            qualified doctor (``clinic_standard`` and ``clinic_doctor``) or hosts the
            township health centre itself (``hosts_health_centre``); not met when it
            has neither; unknown otherwise (no threshold);
        ``clinic_or_health_centre_within``
            a provincial option, not the national rule: met when the village has a
            standard clinic with a doctor OR the evidence travel time (e.g.
            ``travel_min_health_centre``) is <= threshold minutes; a profile using it
            should say so in the indicator's name;
        ``households_share_at_least``
            met when the share of the village's households with the flag True is
            >= threshold; evidence is ``households:<flag>``.
    ``evidence``
        the village column or computed measure read (``has_safe_water``,
        ``road_access``, ``travel_min_health_centre``, ``poverty_incidence_frac``...)
        or ``households:<flag>``.
    ``threshold``
        number; required by every rule except ``is_true`` and
        ``road_access_hardened``. Per province group overrides:
        ``threshold_east``, ``threshold_central``, ``threshold_west``.
    ``clause``
        the text the indicator cites (required).
    ``unit``
        unit of value and threshold (``frac``, ``min``, ``km``, ``cny``, ``bool``).
    ``weight``
        points (scored profiles only; all weights sum to 100).
    ``required``
        scored profiles: a required indicator must be met whatever the score
        (a veto item). Pass/fail profiles: every indicator is required.
    ``verified``
        bool, default true; false marks a placeholder threshold.

``[road]`` (optional)
    ``snap_tolerance_m`` (hardened-network snapping tolerance) and ``max_snap_m``
    (beyond it a village has no road), read by the network stage.
``[households]`` (optional)
    ``income_line_cny`` (the household income line), ``income_line_year``,
    ``income_line_note``, ``flags`` (list of household flags that must be met:
    ``food_ok``, ``clothing_ok``, ``education_ok``, ``medical_ok``,
    ``housing_ok``, ``safe_water_ok``).
``[relocation]``, ``[suitability]`` (optional)
    raw tables kept as dicts; the relocation and suitability stages validate
    their own keys.

Everything else is refused: unknown sections or fields (with the closest valid
name suggested), unknown rules, missing thresholds, duplicate ids, weights that
do not sum to 100 in scored profiles. All problems of a file are reported at once
in one :class:`~layers.errors.PolicyError`.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeGuard

from layers.catalogue import HOUSEHOLD_FLAGS
from layers.errors import PolicyError

__all__ = [
    "RULES",
    "PROVINCE_GROUPS",
    "HOUSEHOLD_FLAGS",
    "Indicator",
    "PolicyProfile",
    "load_policy",
    "list_policies",
    "default_policies_dir",
]

#: Rule types an indicator may use.
RULES: tuple[str, ...] = (
    "rate_below",
    "at_least",
    "at_most",
    "is_true",
    "road_access_hardened",
    "clinic_in_village",
    "clinic_or_health_centre_within",
    "households_share_at_least",
)
#: Rules that need no threshold.
_NO_THRESHOLD = frozenset({"is_true", "road_access_hardened", "clinic_in_village"})
#: Rules whose threshold is a share in [0, 1].
_FRACTION_RULES = frozenset({"rate_below", "households_share_at_least"})

PROVINCE_GROUPS: tuple[str, ...] = ("east", "central", "west")

#: Settings sections (validated by :mod:`layers.settings`); a profile that ``extends``
#: another merges each of them key by key over its base.
SETTINGS_SECTIONS = (
    "parameters",
    "road",
    "evidence",
    "access",
    "households",
    "relocation",
    "suitability",
)
_SECTIONS = ("profile", "indicators", *SETTINGS_SECTIONS)
_PROFILE_FIELDS = (
    "name",
    "extends",
    "title_zh",
    "title_en",
    "kind",
    "pass_score",
    "source",
    "verified",
    "notes",
)
_INDICATOR_FIELDS = (
    "id",
    "name_zh",
    "name_en",
    "rule",
    "evidence",
    "threshold",
    "threshold_east",
    "threshold_central",
    "threshold_west",
    "clause",
    "clause_en",
    "unit",
    "weight",
    "required",
    "verified",
    "notes",
)
_ROAD_FIELDS = ("snap_tolerance_m", "max_snap_m")
_HOUSEHOLD_FIELDS = ("income_line_cny", "income_line_year", "income_line_note", "flags")
_KINDS = ("pass_fail", "scored")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")

#: Column names an indicator id must not take (it would overwrite its own evidence
#: or an output column).
RESERVED_IDS = frozenset(
    {
        "village_id",
        "name",
        "township",
        "population",
        "households",
        "poor_population",
        "poor_households",
        "level",
        "parent_id",
        "geometry",
        "has_safe_water",
        "poverty_village",
        "sanitary_toilet_frac",
        "hosts_health_centre",
        "exit_applicable",
        "unconfirmed",
        "n_unconfirmed",
        "connection_km",
        "inferred_km",
        "road_evidence",
        "has_electricity",
        "has_broadband",
        "has_culture_venue",
        "has_tv",
        "bus_service",
        "road_hardened_claimed",
        "clinic_standard",
        "clinic_doctor",
        "flush_toilet_frac",
        "household_road_hardened_frac",
        "medical_insurance_frac",
        "collective_income_cny",
        "funds_cny",
        "road_access",
        "unhardened_km",
        "road_snap_m",
        "unknown_surface_km",
        "water_dist_m",
        "nearest_water_id",
        "in_water_service_area",
        "exit_ready",
        "unmet",
        "unknown",
        "n_unmet",
        "n_unknown",
        "score",
        "blocker_class",
        "road_claim_conflict",
        "incidence_conflict",
        "incidence_source",
        "poverty_incidence_frac",
        "incidence_households_frac",
        "incidence_attribute_frac",
    }
)


def default_policies_dir() -> Path:
    """Folder of the built-in profiles (``data/policies`` beside the packages)."""
    return Path(__file__).resolve().parents[1] / "data" / "policies"


@dataclass(frozen=True)
class Indicator:
    """One exit indicator of a policy profile (see the module docstring)."""

    id: str
    name_zh: str
    name_en: str
    rule: str
    evidence: str
    clause: str
    threshold: float | None = None
    thresholds_by_group: Mapping[str, float] = field(default_factory=dict)
    unit: str = ""
    weight: float | None = None
    required: bool = True
    verified: bool = True
    notes: str = ""
    clause_en: str = ""  # an English rendering of the clause (the Chinese is the source)

    def threshold_for(self, province_group: str | None = None) -> float | None:
        """Threshold that applies in ``province_group`` (east, central, west).

        Parameters
        ----------
        province_group : str or None
            Province group; its override wins over ``threshold`` when present.

        Returns
        -------
        float or None
            None for rules without a threshold.

        Raises
        ------
        PolicyError
            If ``province_group`` is not one of :data:`PROVINCE_GROUPS`.
        """
        if province_group is not None and province_group not in PROVINCE_GROUPS:
            raise PolicyError(
                f"unknown province group {province_group!r}; expected one of "
                f"{', '.join(PROVINCE_GROUPS)}"
            )
        if province_group is not None and province_group in self.thresholds_by_group:
            return self.thresholds_by_group[province_group]
        return self.threshold

    @property
    def household_flag(self) -> str | None:
        """The flag name for ``households:<flag>`` evidence, else None."""
        if self.evidence.startswith("households:"):
            return self.evidence.split(":", 1)[1]
        return None


@dataclass(frozen=True)
class PolicyProfile:
    """A validated policy profile. Built by :func:`load_policy`."""

    name: str
    kind: str
    indicators: tuple[Indicator, ...]
    title_zh: str = ""
    title_en: str = ""
    source: str = ""
    pass_score: float | None = None
    verified: bool = True
    notes: str = ""
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    path: str = ""
    extends: str = ""

    @property
    def road(self) -> Mapping[str, Any]:
        """The raw ``[road]`` section (merged over the base profile)."""
        return self.sections.get("road", {})

    @property
    def households(self) -> Mapping[str, Any]:
        """The raw ``[households]`` section (merged over the base profile)."""
        return self.sections.get("households", {})

    @property
    def relocation(self) -> Mapping[str, Any]:
        """The raw ``[relocation]`` section (merged over the base profile)."""
        return self.sections.get("relocation", {})

    @property
    def suitability(self) -> Mapping[str, Any]:
        """The raw ``[suitability]`` section (merged over the base profile)."""
        return self.sections.get("suitability", {})

    @property
    def scored(self) -> bool:
        """True for a scored (points) profile."""
        return self.kind == "scored"

    @property
    def ids(self) -> tuple[str, ...]:
        """Indicator ids in file order."""
        return tuple(i.id for i in self.indicators)

    def indicator(self, indicator_id: str) -> Indicator:
        """The indicator with ``indicator_id``.

        Raises
        ------
        PolicyError
            If the profile has no such indicator (the closest id is suggested).
        """
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise PolicyError(
            f"profile {self.name!r} has no indicator {indicator_id!r}"
            f"{_suggest(indicator_id, self.ids)}; it has {', '.join(self.ids)}"
        )

    def indicators_by_rule(self, rule: str) -> tuple[Indicator, ...]:
        """Indicators that use ``rule`` (e.g. the road indicator)."""
        return tuple(i for i in self.indicators if i.rule == rule)


# --------------------------------------------------------------------------- loading


def list_policies(*, policies_dir: str | Path | None = None) -> list[str]:
    """Names of the profiles in ``policies_dir`` (default: the built-in ones).

    Parameters
    ----------
    policies_dir : str or Path, optional
        Folder holding ``<name>.toml`` files.

    Returns
    -------
    list of str
        Sorted profile names (file stems).
    """
    folder = Path(policies_dir) if policies_dir is not None else default_policies_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml"))


def load_policy(
    name_or_path: str | Path, *, policies_dir: str | Path | None = None
) -> PolicyProfile:
    """Read and validate a policy profile.

    Parameters
    ----------
    name_or_path : str or Path
        A profile name (``"national"`` → ``<policies_dir>/national.toml``) or the
        path of a TOML file.
    policies_dir : str or Path, optional
        Where named profiles live; default :func:`default_policies_dir`.

    Returns
    -------
    PolicyProfile

    Raises
    ------
    PolicyError
        If the profile cannot be found, is not valid TOML, or breaks the schema
        (all problems of the file in one message, each naming the file and the
        indicator).
    """
    return _load(name_or_path, policies_dir, chain=())


def _load(
    name_or_path: str | Path, policies_dir: str | Path | None, *, chain: tuple[str, ...]
) -> PolicyProfile:
    path = _resolve(name_or_path, policies_dir)
    if str(path.resolve()) in chain:
        raise PolicyError(
            f"policy profile {path}: 'extends' loops back to itself ({' -> '.join(chain)})"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: expected UTF-8 text: {exc}") from exc
    base = None
    parent = (
        (raw.get("profile") or {}).get("extends") if isinstance(raw.get("profile"), dict) else None
    )
    if parent is not None:
        if not isinstance(parent, str) or not parent:
            raise PolicyError(
                f"policy profile {path}: [profile] extends must name a profile, found {parent!r}"
            )
        # a named base is looked up beside the profile first, then among the built-in ones
        beside = path.parent / f"{parent}.toml"
        ref: str | Path = beside if beside.is_file() and "/" not in parent else parent
        base = _load(ref, policies_dir, chain=(*chain, str(path.resolve())))
    return _build(raw, str(path), base=base)


def _resolve(name_or_path: str | Path, policies_dir: str | Path | None) -> Path:
    text = str(name_or_path)
    candidate = Path(text)
    looks_like_path = text.endswith(".toml") or "/" in text or "\\" in text
    if looks_like_path or candidate.is_file():
        if not candidate.is_file():
            raise PolicyError(f"policy profile file {text!r} not found")
        return candidate
    folder = Path(policies_dir) if policies_dir is not None else default_policies_dir()
    path = folder / f"{text}.toml"
    if not path.is_file():
        known = list_policies(policies_dir=folder)
        raise PolicyError(
            f"unknown policy profile {text!r}{_suggest(text, known)}; "
            f"available in {folder}: {', '.join(known) or '(none)'}"
        )
    return path


def _suggest(word: str, valid: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(valid), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _unknown_fields(table: Mapping[str, Any], valid: tuple[str, ...], where: str) -> list[str]:
    return [
        f"unknown field {key!r} in {where}{_suggest(key, valid)}"
        for key in table
        if key not in valid
    ]


def _is_number(x: object) -> TypeGuard[float]:
    # TypeGuard, not TypeIs: a False answer (bool, NaN, text) says nothing about the type
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _build(raw: dict[str, Any], path: str, *, base: PolicyProfile | None = None) -> PolicyProfile:
    problems: list[str] = []
    for key in raw:
        if key not in _SECTIONS:
            problems.append(f"unknown section [{key}]{_suggest(key, _SECTIONS)}")

    prof = raw.get("profile")
    if not isinstance(prof, dict):
        problems.append("missing [profile] table")
        prof = {}
    problems += _unknown_fields(prof, _PROFILE_FIELDS, "[profile]")
    name = prof.get("name")
    if not isinstance(name, str) or not name:
        problems.append("[profile] needs a non-empty string 'name'")
        name = Path(path).stem
    kind = prof.get("kind", "pass_fail")
    if kind not in _KINDS:
        problems.append(
            f"[profile] kind must be one of {', '.join(_KINDS)}, found {kind!r}"
            f"{_suggest(str(kind), _KINDS)}"
        )
    pass_score = prof.get("pass_score")
    if kind == "scored":
        if not _is_number(pass_score) or not 0 < pass_score <= 100:
            problems.append(
                f"[profile] a scored profile needs pass_score in (0, 100], found {pass_score!r}"
            )
    elif pass_score is not None:
        problems.append("[profile] pass_score only applies to kind = 'scored'")
    for key in ("title_zh", "title_en", "source", "notes"):
        if key in prof and not isinstance(prof[key], str):
            problems.append(f"[profile] {key} must be a string, found {prof[key]!r}")
    if "verified" in prof and not isinstance(prof["verified"], bool):
        problems.append(f"[profile] verified must be true or false, found {prof['verified']!r}")

    raw_inds = raw.get("indicators")
    inherited = base is not None and raw_inds is None
    if inherited:
        raw_inds = []
    elif not isinstance(raw_inds, list) or not raw_inds:
        problems.append("missing [[indicators]]: a profile needs at least one indicator")
        raw_inds = []
    indicators: list[Indicator] = []
    seen: set[str] = set()
    for pos, item in enumerate(raw_inds, start=1):
        ind, ind_problems = _build_indicator(item, pos, kind)
        problems += ind_problems
        if ind is None:
            continue
        if ind.id in seen:
            problems.append(f"[[indicators]] #{pos}: duplicate indicator id {ind.id!r}")
        seen.add(ind.id)
        indicators.append(ind)

    if inherited and base is not None:
        indicators = list(base.indicators)
    weights = [i.weight for i in indicators if i.weight is not None]
    if kind == "scored" and indicators and len(weights) == len(indicators):
        total = sum(weights)
        if abs(total - 100.0) > 1e-6:
            detail = ", ".join(f"{i.id}={w:g}" for i, w in zip(indicators, weights, strict=True))
            problems.append(
                f"weights of a scored profile must sum to 100, found {total:g} ({detail})"
            )

    sections: dict[str, dict[str, Any]] = {
        k: dict(v) for k, v in (base.sections.items() if base is not None else ())
    }
    for key in SETTINGS_SECTIONS:
        if key not in raw:
            continue
        if not isinstance(raw[key], dict):
            problems.append(f"[{key}] must be a table")
            continue
        # one level deep: a table value (e.g. [access.road_speeds_kmh]) merges too
        merged = dict(sections.get(key, {}))
        for k, v in raw[key].items():
            if isinstance(v, dict) and isinstance(merged.get(k), dict):
                merged[k] = {**merged[k], **v}
            else:
                merged[k] = v
        sections[key] = merged

    if problems:
        raise PolicyError(
            f"policy profile {path}: {len(problems)} problem(s):\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    return PolicyProfile(
        name=name,
        kind=kind,
        indicators=tuple(indicators),
        title_zh=prof.get("title_zh", ""),
        title_en=prof.get("title_en", ""),
        source=prof.get("source", ""),
        pass_score=float(pass_score) if pass_score is not None else None,
        verified=prof.get("verified", True),
        notes=prof.get("notes", ""),
        sections=MappingProxyType({k: MappingProxyType(v) for k, v in sections.items()}),
        path=path,
        extends=base.name if base is not None else "",
    )


def _build_indicator(item: Any, pos: int, kind: str) -> tuple[Indicator | None, list[str]]:
    if not isinstance(item, dict):
        return None, [f"[[indicators]] #{pos}: expected a table, found {item!r}"]
    ident = item.get("id")
    where = f"[[indicators]] #{pos}" + (f" (id {ident!r})" if isinstance(ident, str) else "")
    problems = _unknown_fields(item, _INDICATOR_FIELDS, where)
    if not isinstance(ident, str) or not _ID_RE.match(ident):
        problems.append(f"{where}: id must match [a-z][a-z0-9_]*, found {ident!r}")
    elif ident in RESERVED_IDS:
        problems.append(
            f"{where}: id {ident!r} is a village column name; choose another id "
            "(the evaluated table would overwrite that column)"
        )
    for key in ("name_zh", "name_en", "clause", "evidence"):
        if not isinstance(item.get(key), str) or not item.get(key):
            problems.append(f"{where}: missing field {key!r} (a non-empty string)")
    rule = item.get("rule")
    if rule not in RULES:
        problems.append(
            f"{where}: unknown rule {rule!r}{_suggest(str(rule), RULES)}; "
            f"expected one of {', '.join(RULES)}"
        )
    evidence = item.get("evidence", "")
    if rule == "households_share_at_least" and isinstance(evidence, str):
        flag = evidence.split(":", 1)[1] if evidence.startswith("households:") else None
        if not flag:
            problems.append(
                f"{where}: rule households_share_at_least needs evidence "
                f"'households:<flag>', found {evidence!r}"
            )
    elif isinstance(evidence, str) and evidence.startswith("households:"):
        problems.append(
            f"{where}: evidence {evidence!r} comes from the households table; "
            "only rule households_share_at_least reads it"
        )

    threshold = item.get("threshold")
    by_group: dict[str, float] = {}
    for group in PROVINCE_GROUPS:
        key = f"threshold_{group}"
        if key in item:
            by_group[group] = item[key]
    if rule in RULES:
        if rule in _NO_THRESHOLD:
            if threshold is not None or by_group:
                problems.append(f"{where}: rule {rule} takes no threshold")
        elif threshold is None:
            problems.append(f"{where}: rule {rule} needs a threshold; none given")
        for key, val in [("threshold", threshold)] + [
            (f"threshold_{g}", v) for g, v in by_group.items()
        ]:
            if val is None:
                continue
            if not _is_number(val):
                problems.append(f"{where}: {key} must be a number, found {val!r}")
            elif rule in _FRACTION_RULES and not 0 <= val <= 1:
                problems.append(
                    f"{where}: {key} of rule {rule} is a share in [0, 1], found {val!r} "
                    "(write 2% as 0.02)"
                )
    weight = item.get("weight")
    if kind == "scored":
        if not _is_number(weight) or weight <= 0:
            problems.append(f"{where}: a scored profile needs a weight > 0, found {weight!r}")
    elif weight is not None:
        problems.append(f"{where}: weight only applies to kind = 'scored'")
    for key in ("required", "verified"):
        if key in item and not isinstance(item[key], bool):
            problems.append(f"{where}: {key} must be true or false, found {item[key]!r}")
    if kind != "scored" and item.get("required") is False:
        problems.append(f"{where}: in a pass_fail profile every indicator is required")
    for key in ("unit", "notes"):
        if key in item and not isinstance(item[key], str):
            problems.append(f"{where}: {key} must be a string, found {item[key]!r}")
    if problems:
        return None, problems
    # with no problems the checks above have established both
    assert isinstance(ident, str) and isinstance(rule, str)
    return (
        Indicator(
            id=ident,
            name_zh=item["name_zh"],
            name_en=item["name_en"],
            rule=rule,
            evidence=evidence,
            clause=item["clause"],
            threshold=float(threshold) if threshold is not None else None,
            thresholds_by_group=MappingProxyType({g: float(v) for g, v in by_group.items()}),
            unit=item.get("unit", ""),
            weight=float(weight) if weight is not None else None,
            required=item.get("required", kind != "scored"),
            verified=item.get("verified", True),
            notes=item.get("notes", ""),
            clause_en=str(item.get("clause_en") or ""),
        ),
        [],
    )
