"""The layer catalogue: one declared spec per layer kind.

Each :class:`LayerSpec` says which geometry types a layer may hold, which
columns are required or optional, their types, ranges and allowed values, and
which column is the id. ``layers.validate`` checks a loaded layer against its
spec and collects every problem at once.

Canonical names are English snake_case; a workspace maps its own column names
(often Chinese, e.g. ``村名`` → ``name``) to these through
``[layers.<kind>.rename]`` in ``workspace.toml``. :data:`COMMON_RENAMES` holds
the renames applied automatically when a column with that name is present.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# dtypes: "str", "int", "float", "bool" (nullable: <NA> = unknown), "frac" (float in 0..1)


@dataclass(frozen=True)
class Column:
    """One column of a layer spec."""

    name: str
    dtype: str
    required: bool = False
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    desc: str = ""
    # Values read as another value on load (e.g. ``"未脱贫"`` → ``"not_exited"``): text
    # columns with choices only; matched after stripping, case-insensitively.
    aliases: tuple[tuple[str, str], ...] = ()
    # Report every bad value as its own problem (file, layer, row, column, expected,
    # found) instead of one problem listing the rows.
    per_row: bool = False


@dataclass(frozen=True)
class LayerSpec:
    """What a layer of one kind must look like."""

    kind: str
    geometry: tuple[str, ...]  # allowed base types: Point, LineString, Polygon; () = plain table
    columns: tuple[Column, ...]
    id_column: str | None
    required: bool = True
    desc: str = ""
    extra: dict = field(default_factory=dict)

    def column(self, name: str) -> Column | None:
        """The column spec called ``name``, or None."""
        for c in self.columns:
            if c.name == name:
                return c
        return None

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


#: Status of a registered poor household (建档立卡贫困户): not yet exited, exited, returned
#: to poverty. Poverty incidence counts the poor not yet exited (returned ones included).
REGISTER_STATUSES = ("not_exited", "exited", "returned")
#: Register statuses as county tables write them (read as the codes above on load).
REGISTER_STATUS_ALIASES: tuple[tuple[str, str], ...] = (
    ("未脱贫", "not_exited"),
    ("已脱贫", "exited"),
    ("脱贫", "exited"),
    ("返贫", "returned"),
    ("已返贫", "returned"),
)
#: Earliest and latest exit year accepted (the register began in 2014; 2030 leaves room for
#: planned years of an exit timetable).
EXIT_YEAR_RANGE = (2014, 2030)

#: Stages of a resettlement site (安置点), in order: site selected (选址), under
#: construction (在建), built (竣工), people moved in (入住).
SITE_STAGES = ("selected", "building", "built", "occupied")
#: Site stages as county tables write them (read as the codes above on load).
SITE_STAGE_ALIASES: tuple[tuple[str, str], ...] = (
    ("选址", "selected"),
    ("已选址", "selected"),
    ("规划", "selected"),
    ("在建", "building"),
    ("建设中", "building"),
    ("开工", "building"),
    ("已开工", "building"),
    ("竣工", "built"),
    ("已竣工", "built"),
    ("建成", "built"),
    ("入住", "occupied"),
    ("已入住", "occupied"),
)
#: The date column of each site stage (the day the site reached it; text such as
#: ``2017-05-20``, ``2017-05``, ``2017`` or ``2017年5月20日``, read by
#: :func:`geo.site_progress.parse_stage_date`).
SITE_STAGE_DATES: dict[str, str] = {
    "selected": "selected_date",
    "building": "building_date",
    "built": "built_date",
    "occupied": "occupied_date",
}

#: Hazard kinds by group: each group is its own relocation rule with its own clause
#: (geological hazards under the geological-hazard rules; floods and earthquakes apart).
HAZARD_GROUPS: dict[str, tuple[str, ...]] = {
    "geological": ("landslide", "debris_flow", "collapse", "subsidence"),
    "flood": ("flood",),
    "seismic": ("seismic",),
}
HAZARD_KINDS: tuple[str, ...] = tuple(k for kinds in HAZARD_GROUPS.values() for k in kinds)

ROAD_CLASSES = ("national", "provincial", "county", "township", "village", "track", "path")
SURFACES = ("asphalt", "concrete", "paved", "gravel", "earth", "unknown")
HARDENED_SURFACES = frozenset({"asphalt", "concrete", "paved"})

_B = "bool"
_VILLAGE_BOOLS = (
    ("has_safe_water", "safe drinking water (饮水安全) in the village"),
    ("has_electricity", "grid electricity to households"),
    ("has_broadband", "broadband reaches the village"),
    ("has_culture_venue", "comprehensive cultural service centre / activity venue"),
    ("has_tv", "radio/TV to every household"),
    ("bus_service", "passenger bus stops in the village"),
    (
        "road_hardened_claimed",
        "the register says the road into the village is hardened (cross-checked)",
    ),
    ("clinic_standard", "village clinic built to standard (标准化卫生室)"),
    ("clinic_doctor", "village clinic has a qualified doctor"),
)

SPECS: dict[str, LayerSpec] = {
    "dem": LayerSpec(
        kind="dem",
        geometry=("raster",),
        columns=(),
        id_column=None,
        desc="digital elevation model: GeoTIFF, SRTM .hgt, or either inside a .zip",
    ),
    "boundary": LayerSpec(
        kind="boundary",
        geometry=("Polygon",),
        columns=(Column("name", "str"),),
        id_column=None,
        desc="county outline (one or more polygons, dissolved on load)",
    ),
    "townships": LayerSpec(
        kind="townships",
        geometry=("Polygon",),
        columns=(
            Column("township_id", "str", required=True),
            Column("name", "str", required=True),
        ),
        id_column="township_id",
        desc="township (乡镇) polygons",
    ),
    "villages": LayerSpec(
        kind="villages",
        geometry=("Point", "Polygon"),
        columns=(
            Column("village_id", "str", required=True, desc="12-digit statistical code"),
            Column("name", "str", required=True),
            Column("township", "str", required=True),
            Column("population", "int", required=True, min=0, max=200_000),
            Column("households", "int", required=True, min=0, max=100_000),
            Column(
                "poor_population",
                "int",
                required=True,
                min=0,
                desc="registered poor people (建档立卡) not yet exited (未脱贫, with those "
                "returned to poverty, 返贫): the numerator of poverty incidence",
            ),
            Column(
                "poor_households",
                "int",
                min=0,
                desc="registered poor households not yet exited; the household register must "
                "list at least this many registered poor households",
            ),
            Column(
                "poverty_village",
                _B,
                desc="on the register of poverty villages (贫困村); the village exit rule applies "
                "to these, household exit everywhere",
            ),
            Column(
                "level",
                "str",
                choices=("admin", "hamlet"),
                desc="admin: administrative village (行政村); hamlet: natural village / "
                "villager group (自然村) inside the administrative village named by parent_id",
            ),
            Column(
                "parent_id",
                "str",
                desc="a hamlet's administrative village (its village_id, a row of this layer)",
            ),
            *(Column(n, _B, desc=d) for n, d in _VILLAGE_BOOLS),
            Column(
                "sanitary_toilet_frac",
                "frac",
                min=0,
                max=1,
                desc="share of households with a sanitary toilet (卫生厕所率)",
            ),
            Column(
                "flush_toilet_frac",
                "frac",
                min=0,
                max=1,
                desc="share of households with a flush toilet (水冲式厕所率); not the same "
                "measure as sanitary_toilet_frac (卫生厕所率): keep the two apart",
            ),
            Column("household_road_hardened_frac", "frac", min=0, max=1),
            Column("medical_insurance_frac", "frac", min=0, max=1),
            Column("collective_income_cny", "float", min=0),
            Column("funds_cny", "float", min=0),
            Column(
                "planned_exit_year",
                "int",
                min=EXIT_YEAR_RANGE[0],
                max=EXIT_YEAR_RANGE[1],
                per_row=True,
                desc="year the exit timetable plans the poverty village to exit (计划退出年份)",
            ),
            Column(
                "exit_year",
                "int",
                min=EXIT_YEAR_RANGE[0],
                max=EXIT_YEAR_RANGE[1],
                per_row=True,
                desc="year the poverty village exited (退出年份, 出列); empty = not exited",
            ),
        ),
        id_column="village_id",
        desc="administrative villages (行政村) and optional hamlets (自然村), points or polygons. "
        "An administrative village's population, households and poor counts INCLUDE those of "
        "its hamlets (the hamlet rows are parts of it, never added to it), so sums over the "
        "administrative villages count every person once",
    ),
    "roads": LayerSpec(
        kind="roads",
        geometry=("LineString",),
        columns=(
            Column("road_id", "str", required=True),
            Column("road_class", "str", required=True, choices=ROAD_CLASSES),
            Column("surface", "str", choices=SURFACES),
            Column("name", "str"),
        ),
        id_column="road_id",
        desc="road centre lines with class and surface",
    ),
    "water": LayerSpec(
        kind="water",
        geometry=("Point", "LineString", "Polygon"),
        columns=(
            Column("water_id", "str", required=True),
            Column(
                "kind",
                "str",
                required=True,
                choices=("source", "plant", "network", "service_area", "water_body", "river"),
            ),
            Column("safe", _B),
            Column("name", "str"),
            Column("capacity_m3d", "float", min=0),
            Column("width_m", "float", min=0),
        ),
        id_column="water_id",
        desc=(
            "water sources, plants, piped networks, their service areas, and water bodies "
            "(lakes as polygons, rivers as polygons or lines of kind water_body/river with an "
            "optional width_m: barriers)"
        ),
    ),
    "clinics": LayerSpec(
        kind="clinics",
        geometry=("Point",),
        columns=(
            Column("clinic_id", "str", required=True),
            Column("name", "str"),
            Column(
                "level",
                "str",
                required=True,
                choices=("village_clinic", "township_health_centre", "county_hospital"),
            ),
            Column("standard", _B),
            Column("has_doctor", _B),
            Column("village_id", "str"),
        ),
        id_column="clinic_id",
        desc="village clinics, township health centres, county hospitals",
    ),
    "schools": LayerSpec(
        kind="schools",
        geometry=("Point",),
        columns=(
            Column("school_id", "str", required=True),
            Column("name", "str"),
            Column("level", "str", required=True, choices=("primary", "middle", "teaching_point")),
        ),
        id_column="school_id",
        desc="schools",
    ),
    "towns": LayerSpec(
        kind="towns",
        geometry=("Point",),
        columns=(
            Column("town_id", "str", required=True),
            Column("name", "str", required=True),
            Column(
                "kind",
                "str",
                required=True,
                choices=("county_seat", "township_seat", "industrial_park"),
            ),
            Column("jobs", "int", min=0),
            Column("township", "str"),
        ),
        id_column="town_id",
        desc="county seat, township seats, industrial parks",
    ),
    "hazards": LayerSpec(
        kind="hazards",
        geometry=("Point", "Polygon"),
        columns=(
            Column("hazard_id", "str", required=True),
            Column(
                "kind",
                "str",
                required=True,
                choices=HAZARD_KINDS,
            ),
            Column("radius_m", "float", min=0, max=20_000, desc="required for point hazards"),
        ),
        id_column="hazard_id",
        desc="geological hazard zones and spots (地质灾害隐患点: landslide, debris flow, collapse, "
        "subsidence), flood zones (洪涝), seismic zones (active faults, 地震活跃带)",
    ),
    "protected": LayerSpec(
        kind="protected",
        geometry=("Polygon",),
        columns=(
            Column("protected_id", "str", required=True),
            Column(
                "kind",
                "str",
                required=True,
                choices=("ecological_redline", "basic_farmland", "water_source_protection"),
            ),
        ),
        id_column="protected_id",
        desc="ecological redline, permanent basic farmland, water-source protection zones",
    ),
    "sites": LayerSpec(
        kind="sites",
        geometry=("Point", "Polygon"),
        columns=(
            Column("site_id", "str", required=True),
            Column("name", "str"),
            Column("capacity_people", "int", min=0),
            Column("locked", _B),
            Column(
                "stage",
                "str",
                choices=SITE_STAGES,
                aliases=SITE_STAGE_ALIASES,
                per_row=True,
                desc="how far the site has come: selected (选址), building (在建), built "
                "(竣工), occupied (入住); empty = unknown",
            ),
            *(
                Column(col, "str", desc=f"date the site reached stage {stage!r} (text date)")
                for stage, col in SITE_STAGE_DATES.items()
            ),
            Column("planned_households", "int", min=0, desc="households planned (计划安置户数)"),
            Column("planned_people", "int", min=0, desc="people planned (计划安置人数)"),
            Column("actual_households", "int", min=0, desc="households moved in (实际入住户数)"),
            Column("actual_people", "int", min=0, desc="people moved in (实际入住人数)"),
            Column(
                "jobs_found",
                "int",
                min=0,
                desc="people of the site in work found through follow-up support (后续扶持就业人数)",
            ),
            Column("labour_people", "int", min=0, desc="people of working age and able (劳动力)"),
            Column(
                "land_rights_kept",
                _B,
                desc="the households moved here keep the use rights of their old fields "
                "(保留原承包地、林地经营权)",
            ),
        ),
        id_column="site_id",
        required=False,
        desc="planner-supplied candidate resettlement sites (安置点), optionally followed "
        "through: stage, stage dates, planned and actual households and people, follow-up",
    ),
    "households": LayerSpec(
        kind="households",
        geometry=(),
        columns=(
            Column("household_id", "str", required=True),
            Column("village_id", "str", required=True),
            Column("members", "int", required=True, min=1, max=50),
            Column("registered_poor", _B, required=True),
            Column(
                "register_status",
                "str",
                choices=REGISTER_STATUSES,
                aliases=REGISTER_STATUS_ALIASES,
                per_row=True,
                desc="registered poor household's status: not_exited (未脱贫), exited (已脱贫), "
                "returned (返贫); empty = unknown",
            ),
            Column(
                "exit_year",
                "int",
                min=EXIT_YEAR_RANGE[0],
                max=EXIT_YEAR_RANGE[1],
                per_row=True,
                desc="year the household exited (脱贫年份)",
            ),
            Column(
                "planned_exit_year",
                "int",
                min=EXIT_YEAR_RANGE[0],
                max=EXIT_YEAR_RANGE[1],
                per_row=True,
                desc="year the exit timetable plans the household to exit (计划脱贫年份)",
            ),
            Column("income_per_capita_cny", "float", min=0),
            Column("food_ok", _B),
            Column("clothing_ok", _B),
            Column("education_ok", _B),
            Column("medical_ok", _B),
            Column("housing_ok", _B),
            Column("safe_water_ok", _B),
            Column("head_name", "str"),
            Column("id_number", "str"),
            Column("phone", "str"),
        ),
        id_column="household_id",
        required=False,
        desc="household register (建档立卡) with 两不愁三保障 flags; personal fields are masked in outputs",
    ),
}

LAYER_KINDS = tuple(SPECS)
# destinations of the travel-time rasters (travel_min_<kind>.tif, villages' travel_min_<kind>)
TRAVEL_KINDS = (
    "county_seat",
    "township_seat",
    "industrial_park",
    "village_clinic",
    "health_centre",
    "school",
)
PERSONAL_COLUMNS = ("head_name", "id_number", "phone")
# 两不愁三保障 flags plus safe water, in the households spec's names
HOUSEHOLD_FLAGS = (
    "food_ok",
    "clothing_ok",
    "education_ok",
    "medical_ok",
    "housing_ok",
    "safe_water_ok",
)

# Applied when present and no explicit rename maps the column.
COMMON_RENAMES: dict[str, str] = {
    "村代码": "village_id",
    "村编码": "village_id",
    "村名": "name",
    "名称": "name",
    "乡镇": "township",
    "人口": "population",
    "总人口": "population",
    "户数": "households",
    "贫困人口": "poor_population",
    "贫困户数": "poor_households",
    "贫困村": "poverty_village",
    "是否贫困村": "poverty_village",
    "卫生厕所率": "sanitary_toilet_frac",
    "水冲式厕所率": "flush_toilet_frac",
    "水冲厕所率": "flush_toilet_frac",  # 5 characters: fits a DBF field name (10 bytes)
    "脱贫状态": "register_status",
    "脱贫年份": "exit_year",
    # the exit timetable (villages: 退出 / 出列; households: 脱贫)
    "计划退出年份": "planned_exit_year",
    "计划退出": "planned_exit_year",  # 4 characters: fits a DBF field name
    "计划出列年份": "planned_exit_year",
    "计划脱贫年份": "planned_exit_year",
    "退出年份": "exit_year",
    "出列年份": "exit_year",
    # resettlement sites followed through
    "建设阶段": "stage",
    "阶段": "stage",
    "选址时间": "selected_date",
    "选址日期": "selected_date",
    "开工时间": "building_date",
    "开工日期": "building_date",
    "竣工时间": "built_date",
    "竣工日期": "built_date",
    "入住时间": "occupied_date",
    "入住日期": "occupied_date",
    "计划安置户数": "planned_households",
    "计划户数": "planned_households",
    "计划安置人数": "planned_people",
    "计划人数": "planned_people",
    "实际入住户数": "actual_households",
    "入住户数": "actual_households",
    "实际入住人数": "actual_people",
    "入住人数": "actual_people",
    "就业人数": "jobs_found",
    "劳动力人数": "labour_people",
    "劳动力": "labour_people",
    "保留承包地": "land_rights_kept",
    "等级": "road_class",
    "路面": "surface",
}

# Values normalised on load: road classes and surfaces as counties and OSM write them.
ROAD_CLASS_ALIASES: dict[str, str] = {
    "国道": "national",
    "省道": "provincial",
    "县道": "county",
    "乡道": "township",
    "村道": "village",
    "机耕道": "track",
    "小路": "path",
    "motorway": "national",
    "trunk": "national",
    "primary": "provincial",
    "secondary": "provincial",
    "tertiary": "county",
    "unclassified": "township",
    "residential": "village",
    "service": "village",
    "living_street": "village",
    "road": "village",
    "track": "track",
    "path": "path",
    "footway": "path",
    "steps": "path",
    "bridleway": "path",
    "pedestrian": "path",
    "cycleway": "path",
}
for _k in list(ROAD_CLASS_ALIASES):
    if _k in ("motorway", "trunk", "primary", "secondary", "tertiary"):
        ROAD_CLASS_ALIASES[_k + "_link"] = ROAD_CLASS_ALIASES[_k]

SURFACE_ALIASES: dict[str, str] = {
    "沥青": "asphalt",
    "柏油": "asphalt",
    "水泥": "concrete",
    "混凝土": "concrete",
    "硬化": "paved",
    "砂石": "gravel",
    "碎石": "gravel",
    "泥结石": "gravel",
    "土": "earth",
    "土路": "earth",
    "未知": "unknown",
    "asphalt": "asphalt",
    "concrete": "concrete",
    "cement": "concrete",
    "concrete:plates": "concrete",
    "concrete:lanes": "concrete",
    "paving_stones": "paved",
    "sett": "paved",
    "paved": "paved",
    "gravel": "gravel",
    "fine_gravel": "gravel",
    "compacted": "gravel",
    "pebblestone": "gravel",
    "earth": "earth",
    "dirt": "earth",
    "ground": "earth",
    "grass": "earth",
    "mud": "earth",
    "sand": "earth",
    "unpaved": "earth",
}

# The documented inference rule (parameter ``infer_surface_from_class``): when a road's
# surface is unknown, national/provincial/county/township roads are taken as hardened
# (China's 2017 network: these classes are built to paved standards), tracks and paths as
# unhardened, and *village roads stay unknown* — they are exactly what the transport
# bureau must verify. Inferred values carry ``hardened_inferred = True``.
HARDENED_BY_CLASS: dict[str, bool | None] = {
    "national": True,
    "provincial": True,
    "county": True,
    "township": True,
    "village": None,
    "track": False,
    "path": False,
}
# OSM tracktype: grade1 is a solid (usually paved) track.
TRACKTYPE_HARDENED = {
    "grade1": True,
    "grade2": False,
    "grade3": False,
    "grade4": False,
    "grade5": False,
}

BOOL_UNKNOWN = frozenset({"", "nan", "none", "null", "na", "<na>", "unknown", "未知", "不详", "-"})


#: Figures of a township or county in the province roll-ups (scripts/province.py writes them,
#: dashboard/province.py reads or recomputes them), in the order of the CSV columns.
ROLLUP_FIGURES = (
    "villages",
    "villages_assessed",
    "ready",
    "unconfirmed",
    "blocked",
    "blocked_one",
    "blocked_several",
    "unknown",
    "km_to_harden",
    "km_unknown_surface",
    "water_gap",
    "water_unknown",
    "clinic_gap",
    "clinic_unknown",
    "people_to_relocate",
    "people_to_relocate_poor",
    "people_placed",
    "people_unplaced",
    "sites_opened",
)
