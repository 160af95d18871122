"""Chinese (default) and English strings, and locale-aware number formatting.

Strings live in one table keyed by a short id; :func:`t` looks one up.  Numbers are
formatted per locale by :func:`fmt_num`: Chinese uses 万 (10^4) and 亿 (10^8) for large
numbers, English uses thousands separators.
"""

from __future__ import annotations

import math
from typing import Any

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

_STRINGS: dict[str, tuple[str, str]] = {
    "app_title": ("安居 · 脱贫与易地搬迁规划", "Anju · poverty exit & relocation planning"),
    "nav_coverage": ("覆盖图", "Coverage"),
    "nav_transport": ("交通", "Transport"),
    "nav_water": ("水务", "Water"),
    "nav_health": ("卫健", "Health"),
    "nav_relocation": ("搬迁", "Relocation"),
    "nav_briefing": ("简报", "Briefing"),
    "nav_progress": ("进度", "Progress"),
    # --- province page (issue 18) ---
    "nav_province": ("全省", "Province"),
    "prov_title": ("{name}：各县总览", "{name}: counties"),
    "prov_metric": ("地图指标", "Map metric"),
    "prov_m_ready_frac": ("具备退出条件的贫困村比例", "Share of assessed villages ready to exit"),
    "prov_m_blocked": ("受阻的贫困村（有未达标指标）", "Villages blocked (an indicator not met)"),
    "prov_m_km_to_harden": ("待硬化道路（公里）", "Road to harden (km)"),
    "prov_m_water_gap_people": ("饮水不安全的人口", "People without safe water"),
    "prov_m_clinic_gap_people": ("卫生室不达标的人口", "People without a standard clinic"),
    "prov_m_water_gap": ("饮水不安全的村", "Villages without safe water"),
    "prov_m_clinic_gap": ("卫生室不达标的村", "Villages without a standard clinic"),
    "prov_m_people_to_relocate": ("需搬迁人口", "People to relocate"),
    "prov_m_sites_opened": ("安置点（启用）", "Resettlement sites (opened)"),
    "prov_none_assessed": ("无需评估（无贫困村）", "nothing to assess (no poverty village)"),
    "prov_unknown": ("未知（无数据，不计为零）", "unknown (no data, not zero)"),
    "prov_legend_head": ("{metric}（{level}数）", "{metric} (number of {level})"),
    "prov_level_county": ("县", "counties"),
    "prov_level_township": ("乡镇", "townships"),
    "prov_counties": ("各县", "Counties"),
    "prov_townships": ("{county}的乡镇", "Townships of {county}"),
    "prov_click_county": (
        "点击地图或表格中的县，查看其乡镇。",
        "Click a county on the map or in the table to see its townships.",
    ),
    "prov_open_county": ("打开{county}的村级地图 →", "Open the village map of {county} →"),
    "prov_no_plan": (
        "该县没有规划（运行失败）：数字未知。",
        "This county has no plan (its run failed): figures unknown.",
    ),
    "prov_source_rollup": (
        "数字来自省级汇总：{path}",
        "Figures from the province roll-ups: {path}",
    ),
    "prov_source_plans": (
        "未找到省级汇总文件：数字由各县规划现场汇总。",
        "No province roll-up files: figures summed from each county's plan.",
    ),
    "prov_none": (
        "本服务未加载省级数据。请用 anju serve --province OUT 启动（OUT 为 anju province run 的输出目录）。",
        "No province is served. Start the dashboard with anju serve --province OUT "
        "(OUT: the output folder of anju province run).",
    ),
    "prov_headline": (
        "{n} 个县：评估 {assessed} 个贫困村，具备退出条件 {ready} 个，受阻 {blocked} 个；"
        "待硬化道路 {km} 公里；需搬迁 {people} 人；安置点 {sites} 个",
        "{n} counties: {assessed} villages assessed, {ready} ready to exit, {blocked} blocked; "
        "{km} km of road to harden; {people} people to relocate; {sites} sites",
    ),
    "prov_failed": (
        "{n} 个县没有规划（运行失败）：地图上显示为未知，合计不含这些县。",
        "{n} county(ies) have no plan (the run failed): unknown on the map, left out of the totals.",
    ),
    "prov_col_county": ("县", "County"),
    "prov_col_township": ("乡镇", "Township"),
    "prov_col_status": ("状态", "Status"),
    "prov_col_villages": ("村数", "Villages"),
    "prov_col_assessed": ("评估的贫困村", "Villages assessed"),
    "prov_col_ready": ("具备退出条件", "Ready"),
    "prov_col_unknown": ("状态未知", "Unknown"),
    "prov_col_water_unknown": ("饮水情况未知的村", "Villages, water unknown"),
    "prov_col_clinic_unknown": ("卫生室情况未知的村", "Villages, clinic unknown"),
    "prov_status_ok": ("完成", "planned"),
    "prov_status_failed": ("失败", "failed"),
    "prov_status_other": ("无规划", "no plan"),
    "brief_timetable": ("脱贫时间表与安置点", "Exit timetable and sites"),
    "brief_tt_none": (
        "村表无计划退出年份：时间表未评估",
        "No planned exit years in the villages: the timetable is not assessed",
    ),
    "brief_tt_year": (
        "{year} 年：到期 {due} 村，已退出 {exited}，有风险 {at_risk}，状态未知 {unknown}",
        "{year}: {due} villages due, {exited} exited, {at_risk} at risk, {unknown} unknown",
    ),
    "brief_tt_work": (
        "本年到期未退出 {n} 村，还需硬化道路 {km} 公里",
        "{n} villages due this year not exited; {km} km still to harden for them",
    ),
    "brief_tt_sites": (
        "安置点：选址 {selected}、在建 {building}、竣工 {built}、入住 {occupied}；入住率 {occ}",
        "Sites: {selected} selected, {building} building, {built} built, {occupied} occupied; "
        "occupancy {occ}",
    ),
    # --- progress page (挂图作战) ---
    "progress_title": ("脱贫时间表与进度", "Exit timetable and progress"),
    "progress_year": ("年份", "Year"),
    "progress_state_note": (
        "地图按所选年份显示：已退出的村划去（灰色虚圈）；到期未退出的村按当前数据的指标状态着色（{year} 年数据）。",
        "The map shows the chosen year: villages that exited are struck off (grey dotted ring); "
        "villages due and not exited are coloured by their current indicators (data of {year}).",
    ),
    "progress_no_timetable": (
        "村表没有计划退出年份（计划退出年份 / planned_exit_year）：时间表未评估，不计为零。",
        "The villages carry no planned exit year (planned_exit_year): the timetable is not "
        "assessed (not counted as zero).",
    ),
    "progress_no_timetable_short": ("时间表未评估", "Timetable not assessed"),
    "progress_legend_head": ("所选年份的村数", "Villages in the year shown"),
    "yst_exited": ("已退出（划去）", "exited (struck off)"),
    "yst_at_risk": ("到期未达标（有风险）", "due and blocked (at risk)"),
    "yst_ready": ("到期，具备退出条件", "due, ready to exit"),
    "yst_unconfirmed": ("到期，待确认（仅推定达标）", "due, unconfirmed (met by inference)"),
    "yst_unknown": ("到期，状态未知", "due, unknown"),
    "yst_later": ("计划以后年份退出", "planned for a later year"),
    "yst_not_planned": ("无计划退出年份", "no planned exit year"),
    "yst_not_assessed": ("不评估（非贫困村、自然村）", "not assessed (not registered, hamlet)"),
    "progress_head": (
        "{year} 年：到期 {due} 村，已退出 {exited}，有风险 {at_risk}，具备条件 {ready}，未知 {unknown}",
        "{year}: {due} villages due, {exited} exited, {at_risk} at risk, {ready} ready, "
        "{unknown} unknown",
    ),
    "progress_townships": ("各乡镇对照时间表", "Townships against the timetable"),
    "pt_due": ("到期村", "Due"),
    "pt_exited": ("已退出", "Exited"),
    "pt_at_risk": ("有风险", "At risk"),
    "pt_ready": ("具备条件", "Ready"),
    "pt_unknown": ("未知", "Unknown"),
    "pt_exited_frac": ("到期村退出率", "Share of due exited"),
    "progress_risk": ("{year} 年有风险的村（{n}）", "Villages at risk in {year} ({n})"),
    "pr_planned": ("计划退出年份", "Planned exit"),
    "pr_overdue": ("逾期（年）", "Overdue (years)"),
    "pr_blockers": ("未达标项", "Blocked by"),
    "progress_sites": ("安置点建设阶段", "Resettlement sites by stage"),
    "progress_sites_table": (
        "安置点跟踪（选址→在建→竣工→入住）",
        "Sites followed through (selected → building → built → occupied)",
    ),
    "stage_selected": ("选址", "selected"),
    "stage_building": ("在建", "building"),
    "stage_built": ("竣工", "built"),
    "stage_occupied": ("入住", "occupied"),
    "ps_stage": ("阶段", "Stage"),
    "ps_date": ("阶段日期", "Stage date"),
    "ps_planned": ("计划安置人数", "Planned people"),
    "ps_actual": ("实际入住人数", "People moved in"),
    "ps_occupancy": ("入住率", "Occupancy"),
    "ps_gaps": ("后续扶持缺口", "Follow-up gaps"),
    "progress_versions": ("方案版本（{n}）", "Plan versions ({n})"),
    "pv_line": (
        "第 {id} 版 · {date} · 具备条件 {ready} 村 · 有未达标项 {blocked} 村 · 待硬化 {km} 公里",
        "v{id} · {date} · {ready} ready · {blocked} blocked · {km} km to harden",
    ),
    "pv_id": ("版本", "Version"),
    "pv_created": ("日期", "Date"),
    "pv_ready": ("具备条件", "Ready"),
    "pv_blocked": ("有未达标项", "Blocked"),
    "pv_km": ("待硬化（公里）", "To harden (km)"),
    "progress_diff_hint": (
        "两版之间的变化及原因：anju diff 旧版本 新版本 --workspace 工作区",
        "What changed between two versions and why: anju diff OLD NEW --workspace WORKSPACE",
    ),
    "progress_no_versions": (
        "本工作区尚无方案历史（anju run 每运行一次记一版）。",
        "No plan history for this workspace yet (every anju run records a version).",
    ),
    "lang_button": ("English", "中文"),
    "plan_missing_title": ("规划结果不存在或无法读取", "The plan is missing or unreadable"),
    "plan_missing_body": (
        "请先生成规划结果，在项目目录运行：",
        "Build the plan first; in the project folder run:",
    ),
    "plan_outdated": (
        "规划结果早于输入数据，请重新运行：",
        "The plan is older than its inputs; rebuild it with:",
    ),
    "township": ("乡镇", "Township"),
    "all_townships": ("全部乡镇", "All townships"),
    "indicator": ("指标", "Indicator"),
    "status": ("状态", "Status"),
    "all_status": ("全部状态", "All statuses"),
    "exit_ready": ("具备退出条件", "Ready to exit"),
    "met": ("达标", "met"),
    "not_met": ("未达标", "not met"),
    "unknown": ("未知", "unknown"),
    "villages": ("行政村", "Villages"),
    "village": ("村", "Village"),
    "population": ("人口", "Population"),
    "poor_population": ("建档立卡贫困人口", "Registered poor"),
    "met_inferred": ("达标（推定）", "met (inferred)"),
    "not_assessed": ("不评估", "not assessed"),
    # exit-readiness view of the map: one label per status code
    "exit_met": ("具备退出条件", "ready to exit"),
    "exit_met_inferred": ("待确认（仅推定达标）", "unconfirmed (met only by inference)"),
    "exit_not_met": ("有未达标项", "blocked"),
    "exit_unknown": ("未知", "unknown"),
    "exit_not_assessed": ("不评估（非贫困村、自然村）", "not assessed (not registered, hamlet)"),
    # the main-blocker view (coverage page default)
    "main_blocker": ("主要短板（按村着色）", "Main blocker (villages coloured by it)"),
    "blocker_legend_head": (
        "主要短板：村数 / 该项未达标的贫困村总数",
        "Main blocker: villages / registered villages failing it at all",
    ),
    "blocker_other": ("其他（户级未达标）", "other (household level)"),
    "blocker_any": ("共 {n} 个贫困村此项未达标", "{n} registered villages fail it in all"),
    "township_labels": ("乡镇名称", "Township names"),
    "village_labels": ("村名（放大后显示）", "Village names (when zoomed in)"),
    # blocker classes (village panel)
    "bc_ready": ("具备退出条件", "ready to exit"),
    "bc_unconfirmed": ("待确认：仅推定达标，确认前不计入", "unconfirmed: met only by inference"),
    "bc_blocked_one": ("差一项", "blocked by one item"),
    "bc_blocked_several": ("差多项", "blocked by several items"),
    "bc_unknown": ("未知：有指标无法判断", "unknown: an indicator cannot be decided"),
    "bc_not_registered": (
        "不评估：非建档立卡贫困村",
        "not assessed: not a registered poverty village",
    ),
    "bc_hamlet": (
        "不评估：自然村（随所属行政村评估）",
        "not assessed: hamlet (assessed with its village)",
    ),
    "to_confirm": ("待确认", "to confirm"),
    "exit_status_title": ("退出状态", "Exit readiness"),
    # evidence quality
    "quality": ("证据", "Quality"),
    "quality_measured": ("实测", "measured"),
    "quality_attribute": ("属性", "attribute"),
    "quality_inferred": ("推定", "inferred"),
    "quality_missing": ("缺失", "missing"),
    "unverified": ("待核实", "unverified"),
    "unverified_title": (
        "标准或条款为占位值，待核实",
        "threshold or clause is a placeholder to confirm",
    ),
    "profile_unverified": ("（标准待核实）", " (thresholds to confirm)"),
    "inferred_counts": ("推定证据按达标计", "inferred evidence counted as met"),
    "value": ("数值", "Value"),
    "note": ("说明", "Note"),
    "counts_head": ("显示 {n} 个村", "{n} villages shown"),
    "counts_of": ("（共 {total} 个）", " of {total}"),
    "counts_item": ("{label} {count}", "{count} {label}"),
    "counts_sep": ("：\n", ":\n"),
    "counts_join": ("\n", "\n"),
    "warnings": ("数据提示", "Data warnings"),
    "dem_line": ("高程数据 {cell} 米格网（{crs}）", "Elevation data: {cell} m cells ({crs})"),
    "dem_coarse": (
        "——粗于 {limit} 米：坡度及同一格内的通行时间可信度低",
        " — coarser than {limit} m: slopes and travel times within a cell are low-confidence",
    ),
    "dem_too_coarse": (
        "；粗于 {limit} 米：坡度类搬迁规则未评估（记为未知）",
        "; coarser than {limit} m: the slope-based relocation rules are not evaluated (unknown)",
    ),
    "click_village": (
        "点击地图上的村查看各项指标",
        "Click a village on the map to see every indicator",
    ),
    "measured": ("实测值", "Measured"),
    "threshold": ("标准", "Threshold"),
    "evidence": ("依据数据", "Evidence"),
    "clause": ("政策条款", "Clause"),
    "roads": ("道路", "Roads"),
    "hardened": ("已硬化", "hardened"),
    "unhardened": ("未硬化", "unhardened"),
    "road_inferred": ("路面按道路等级推定", "surface inferred from road class"),
    "clinics": ("卫生室/卫生院", "Clinics"),
    "water": ("水源与供水", "Water sources & supply"),
    "service_area": ("供水覆盖区", "Water service areas"),
    "water_network": ("供水管网", "Water network"),
    "water_bodies": ("河流水库", "Rivers and reservoirs"),
    "gap": ("未硬化", "not hardened"),
    "no_road": ("不通路", "no road"),
    "opened": ("启用", "opened"),
    "sites_idle": ("候选安置点（未启用）", "Candidate sites (not opened)"),
    "source": ("来源", "Source"),
    "generated": ("系统生成", "generated"),
    "planner": ("规划提供", "planner"),
    "schools": ("学校", "Schools"),
    "towns": ("城镇/园区", "Towns & parks"),
    "hazards": ("地质灾害", "Hazards"),
    "protected": ("生态红线/基本农田", "Protected land"),
    "boundary": ("县界", "County boundary"),
    "townships": ("乡镇界", "Township boundaries"),
    "hillshade": ("地形晕渲（离线）", "Hillshade (offline)"),
    "elevation": ("高程晕渲（离线）", "Elevation tint (offline)"),
    "osm": ("OpenStreetMap（在线）", "OpenStreetMap (online)"),
    "tianditu": ("天地图（在线）", "Tianditu (online)"),
    "slope_deg": ("坡度（度）", "Slope (deg)"),
    "suitability": ("安置适宜性", "Site suitability"),
    "travel_min_county_seat": ("到县城时间（分钟）", "Minutes to county seat"),
    "travel_min_township_seat": ("到乡镇时间（分钟）", "Minutes to township seat"),
    "travel_min_industrial_park": ("到园区时间（分钟）", "Minutes to industrial park"),
    "travel_min_village_clinic": ("到卫生室时间（分钟）", "Minutes to village clinic"),
    "travel_min_health_centre": ("到卫生院时间（分钟）", "Minutes to health centre"),
    "travel_min_school": ("到学校时间（分钟）", "Minutes to school"),
    "overlay_opacity": ("栅格图层透明度", "Raster overlay opacity"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "export_xlsx": ("导出 Excel", "Export XLSX"),
    "export_geojson": ("导出 GeoJSON", "Export GeoJSON"),
    "transport_title": ("交通局：通硬化路", "Transport bureau: hardened roads"),
    "transport_villages": (
        "未确认通硬化路的村（未通、路况未知或仅推定硬化）",
        "Villages without a confirmed hardened road (gap, unknown or inferred)",
    ),
    "road_gaps": ("待硬化路段（按每公里受益人数排序）", "Road gaps ranked by people per km"),
    "km_per_township": ("各乡镇待硬化里程", "Km to harden per township"),
    "road_gaps_total": ("合计（公里）", "Total (km)"),
    "water_title": ("水务局：饮水安全", "Water bureau: safe drinking water"),
    "water_villages": ("饮水不安全或情况未知的村", "Villages without confirmed safe water"),
    "health_title": ("卫健局：标准化卫生室与就医时间", "Health bureau: clinics and travel time"),
    "health_villages": (
        "卫生室未达标或情况未知的村",
        "Villages whose clinic is not met or unknown",
    ),
    "within_30": ("30分钟内到卫生院人口比例", "Share of people within 30 min of a health centre"),
    "within_60": ("60分钟内到卫生院人口比例", "Share of people within 60 min of a health centre"),
    "relocation_title": ("易地扶贫搬迁规划", "Ex-situ relocation planning"),
    "candidates": ("搬迁对象村", "Relocation candidates"),
    "sites": ("安置点", "Resettlement sites"),
    "allocation": ("搬迁去向", "Allocation flows"),
    "scenario": ("情景分析", "Scenario"),
    "run_scenario": ("运行情景", "Run scenario"),
    "cancel": ("取消", "Cancel"),
    "baseline": ("基准方案", "Baseline"),
    "scenario_result": ("新情景", "Scenario"),
    "people_moved": ("搬迁人口", "People moved"),
    "sites_opened": ("启用安置点", "Sites opened"),
    "mean_travel_min": ("人均到安置点时间（分钟）", "Mean travel time (min)"),
    "robustness": ("稳健性", "Robustness"),
    "people_unplaced": ("未能安置人口", "People not placed"),
    "allocation_status": ("分配求解状态", "Allocation solver status"),
    "allocation_gap": ("最优性间隙", "Optimality gap"),
    # the allocation solver's own verdict (geo.siting.AllocationResult.status)
    "status_optimal": ("已证明最优", "Proven optimal"),
    "status_gap_limit": (
        "在允许间隙内（未证明最优）",
        "Within the allowed gap (not proven optimal)",
    ),
    "status_time_limit": ("达到时限（非最优）", "Time limit (not proven optimal)"),
    "status_infeasible": ("无可行解", "Infeasible"),
    "status_heuristic": (
        "快速启发式（未证明最优，与下界的差距见最优性间隙）",
        "Fast heuristic (not proven optimal; the gap to a lower bound is shown)",
    ),
    "solver_choice": ("安置分配求解方法", "Allocation solver"),
    "status_nothing_to_place": ("无人需要安置", "Nobody to place"),
    "status_no_sites": ("没有候选安置点", "No candidate site"),
    "status_none_placeable": ("没有可安置的村", "No village could be placed"),
    "capacity_factor": ("安置容量系数", "Capacity factor"),
    "n_sites": ("安置点数量", "Number of sites"),
    "scenario_failed": ("情景计算失败：", "The scenario failed: "),
    "briefing_title": ("领导简报", "Leader's briefing"),
    "download_pdf": ("下载 PDF 简报", "Download PDF briefing"),
    "download_png": ("下载地图 PNG", "Download map PNG"),
    "villages_total": ("村总数（含自然村）", "Villages (with hamlets)"),
    "villages_assessed": ("参与退出评估", "Assessed for exit"),
    "ready": ("具备退出条件", "Ready to exit"),
    "unconfirmed": ("待确认（仅推定达标）", "Unconfirmed (met by inference)"),
    "blocked_one": ("差一项", "Blocked by one item"),
    "blocked_several": ("差多项", "Blocked by several"),
    "not_assessed_villages": (
        "不评估（非贫困村、自然村）",
        "Not assessed (not registered, hamlets)",
    ),
    "people_to_relocate": ("拟搬迁人口", "People to relocate"),
    "km_to_harden": ("待硬化里程（公里）", "Km to harden"),
    "km_known_unhardened": ("已知未硬化（公里）", "Known unhardened (km)"),
    "km_unknown_surface": ("路面未知，待核查（公里）", "Unknown surface, to survey (km)"),
    "km_to_connect": ("需新建连接路（公里）", "Connection to build (km)"),
    "no_safe_water": ("无安全饮水村", "Villages without safe water"),
    "no_standard_clinic": ("卫生室未达标村", "Villages without a standard clinic"),
    "clinic_unknown": ("卫生室情况未知村", "Villages with clinic unknown"),
    "headline_exit": ("退出评估", "Exit assessment"),
    "headline_gaps": ("缺口与搬迁", "Gaps and relocation"),
    "unverified_indicators": (
        "待核实的标准（阈值或条款为占位值）",
        "Unverified thresholds (placeholders to confirm)",
    ),
    "col_unconfirmed": ("待确认", "Unconfirmed"),
    "col_not_assessed": ("不评估", "Not assessed"),
    "col_assessed": ("参与评估", "Assessed"),
    "township_ranking": ("乡镇排名（退出率）", "Township ranking (share ready)"),
    "ready_frac": ("退出率", "Share ready"),
    "provenance": ("数据来源", "Provenance"),
    "policy": ("政策标准", "Policy profile"),
    "created": ("生成时间", "Created"),
    "name": ("名称", "Name"),
    "length_km": ("长度（公里）", "Length (km)"),
    "people_served": ("受益人口", "People served"),
    "people_per_km": ("每公里受益人数", "People per km"),
    "rank": ("排名", "Rank"),
    "score": ("得分", "Score"),
    "reasons": ("原因", "Reasons"),
    "capacity": ("容量（人）", "Capacity (people)"),
    "assigned": ("已分配（人）", "Assigned (people)"),
    "nearest_water": ("最近安全水源", "Nearest safe source"),
    "water_id": ("水源编号", "Source id"),
    "per_township": ("按乡镇汇总", "Per township"),
    "water_dist_m": ("距离（米）", "Distance (m)"),
    "road_access": ("道路状况", "Road access"),
    "road_status": ("通硬化路指标", "Road indicator"),
    "unhardened_km": ("已知未硬化（公里）", "Known unhardened (km)"),
    "unknown_surface_km": ("路面未知（公里）", "Unknown surface (km)"),
    "connection_km": ("需新建连接（公里）", "Connection to build (km)"),
    "gap_kind": ("类型", "Kind"),
    "harden": ("硬化", "harden"),
    "connection": ("新建连接", "connection"),
    "clinic_status": ("卫生室指标", "Clinic indicator"),
    "hosts_health_centre": ("卫生院所在村", "Hosts health centre"),
    "clinic_met": ("达标", "Met"),
    "clinic_not_met": ("未达标", "Not met"),
    "clinic_unknown_col": ("未知", "Unknown"),
    "clinic_summary": (
        "卫生室：达标 {met} 个村，未达标 {not_met} 个村，情况未知 {unknown} 个村",
        "Clinics: {met} villages met, {not_met} not met, {unknown} unknown",
    ),
    "gaps_summary": (
        "已知未硬化 {known} km · 路面未知 {unknown} km · 需新建连接 {conn} km",
        "{known} km known unhardened · {unknown} km unknown surface · {conn} km connection to build",
    ),
    "minutes_health_centre": ("到卫生院（分钟）", "Minutes to health centre"),
    "clinic_standard": ("标准化卫生室", "Standard clinic"),
    "clinic_doctor": ("有合格村医", "Qualified doctor"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "eligible": ("符合条件", "Eligible"),
    "people_to_move": ("搬迁人数", "People to move"),
    "legend": ("图例", "Legend"),
    "not_opened": ("未启用", "not opened"),
    "unknown_villages": ("状态未知", "Status unknown"),
    "col_not_met": ("未达标", "Not met"),
    "col_unknown": ("未知", "Unknown"),
    "allocation_flow": ("搬迁去向（村→安置点）", "Allocation flows (village → site)"),
    # relocation page: scenario panel, comparison, results
    "points_unit": (" 分", " pts"),
    "cmp_min_score": ("搬迁评分门槛", "Score threshold"),
    "cmp_candidates": ("搬迁对象村（个）", "Villages to move"),
    "cmp_decisive_bypass": (
        "其中：因决定性规则搬迁（低于门槛）",
        "of which moved by a decisive rule",
    ),
    "cmp_people_total": ("搬迁人口", "People to move"),
    "cmp_people_poor": ("其中：建档立卡贫困人口", "of which registered poor"),
    "cmp_people_other": ("其中：同步搬迁的其他人口", "of which others moving with them"),
    "cmp_needs_review": (
        "待核实的村（数据缺失，可能符合条件）",
        "Villages to review (data missing, may qualify)",
    ),
    "cmp_sites_candidate": ("候选安置点（个）", "Candidate sites"),
    "cmp_sites_opened": ("启用安置点（个）", "Sites opened"),
    "cmp_people_placed": ("已安置人口", "People placed"),
    "cmp_people_unplaced": ("未能安置人口", "People not placed"),
    "cmp_mean_travel_min": ("人均到安置点时间（分钟）", "Mean travel time to the site (min)"),
    "cmp_robustness": ("安置点稳健性", "Site robustness"),
    "cmp_allocation_status": ("分配求解状态", "Allocation solver status"),
    "cmp_allocation_gap": ("最优性间隙", "Optimality gap"),
    "cmp_relocation_cost_cny": (
        "搬迁成本估算（每人 {unit}，单价待核实）",
        "Relocation cost ({unit} per person, unit cost unverified)",
    ),
    "compare_change": ("变化", "Change"),
    "no_change": ("持平", "no change"),
    "summary_baseline": (
        "基准方案：搬迁 {villages} 个村、{people} 人；启用 {sites} 个安置点；未能安置 {unplaced} 人。",
        "Baseline: {villages} villages, {people} people move; {sites} sites open; "
        "{unplaced} people not placed.",
    ),
    "summary_scenario": (
        "新情景（括号内为较基准方案的变化）：搬迁 {villages} 个村（{dv}）、{people} 人（{dp}）；"
        "启用 {sites} 个安置点（{ds}）；未能安置 {unplaced} 人（{du}）。",
        "Scenario (change from the baseline in brackets): {villages} villages ({dv}), "
        "{people} people ({dp}) move; {sites} sites open ({ds}); {unplaced} people not placed ({du}).",
    ),
    "bypass_line": (
        "{n} 个村（{people} 人）得分低于门槛 {thr}，但触发了决定性规则，不论门槛都须搬迁：{rules}。",
        "{n} villages ({people} people) score below the threshold of {thr} but move regardless, "
        "because a decisive rule applies: {rules}.",
    ),
    "rule_count": ("{name} {n} 个村", "{name} ({n})"),
    "basis": ("搬迁依据", "Why it moves"),
    "basis_score": ("评分达到门槛", "score reaches threshold"),
    "basis_decisive": (
        "决定性规则：{rules}（低于门槛）",
        "decisive rule: {rules} (below threshold)",
    ),
    "move_scope": ("搬迁范围", "Who moves"),
    "scope_registered_poor": ("仅建档立卡贫困人口", "registered poor only"),
    "scope_whole_settlement": ("整村同步搬迁", "whole settlement"),
    "people_poor_col": ("其中贫困人口", "Registered poor"),
    "people_other_col": ("其中其他人口", "Others"),
    "label_score": ("得分 {score}", "score {score}"),
    "label_people": ("搬迁 {people} 人", "{people} people move"),
    "label_unplaced": ("未能安置：{reason}", "not placed: {reason}"),
    "flow_label": (
        "{village} → {site}：{people} 人，{minutes} 分钟",
        "{village} → {site}: {people} people, {minutes} min",
    ),
    "site_load": ("已分配 {assigned} / 容量 {capacity} 人", "{assigned} of {capacity} people"),
    "results": ("结果对比", "Results"),
    "view_label": ("地图与表格显示：", "Map and tables show:"),
    "view_baseline": ("基准方案", "Baseline"),
    "view_scenario": ("新情景", "Scenario"),
    "map_shows": ("地图显示：{label}", "Map shows: {label}"),
    "run_hint": (
        "调整参数后点“运行情景”；结果在右侧与基准方案逐项对比，可随时切回基准方案。",
        "Adjust the settings and press Run; the results appear on the right beside the "
        "baseline, and you can switch back to the baseline at any time.",
    ),
    "run_starting": ("正在准备…", "Starting…"),
    "run_done": (
        "新情景已算完（用时 {s} 秒），地图与表格现显示新情景。",
        "The scenario finished in {s} s; the map and tables now show it.",
    ),
    "run_cancelled": (
        "计算已取消（或中断）：没有生成新情景，页面显示的内容未改变。",
        "The run was cancelled (or stopped): no new scenario, the page shows what it showed before.",
    ),
    "changed_settings": ("改动的参数：{items}", "Settings changed: {items}"),
    "no_changed_settings": ("参数与基准方案相同。", "Same settings as the baseline."),
    "run_settings": (
        "情景计算另用：{items}（基准方案的值在箭头前）。",
        "The scenario run also uses: {items} (the baseline's value before the arrow).",
    ),
    "unplaced_title": ("未能安置的村（{label}）", "Villages not placed ({label})"),
    "unplaced_table_missing": (
        "未能安置的村的原因表（tables/unplaced.csv）缺失或无法读取，原因无法显示",
        "the table of villages not placed (tables/unplaced.csv) is missing or unreadable: "
        "their reasons cannot be shown",
    ),
    "unplaced_none": ("搬迁人口全部安置。", "Everyone who moves is placed."),
    "unplaced_people": ("人数", "People"),
    "notes_title": ("提示（{label}）", "Notes ({label})"),
    "tab_candidates": ("搬迁对象村 · {label}（{n}）", "Villages to move · {label} ({n})"),
    "tab_sites": (
        "安置点 · {label}（启用 {opened} / 共 {n}）",
        "Sites · {label} ({opened} opened of {n})",
    ),
    "legend_bypass": (
        "因决定性规则搬迁（低于门槛）",
        "Moves by a decisive rule (below threshold)",
    ),
    "legend_unplaced": ("未能安置的村", "Village not placed"),
    "stage_screening": ("搬迁对象筛选", "screening who moves"),
    "stage_suitability": ("安置适宜性评价", "site suitability"),
    "stage_sites": ("识别候选安置点", "finding candidate sites"),
    "stage_travel": ("计算村到安置点的通行时间", "travel times from villages to sites"),
    "stage_allocation": ("分配搬迁人口（求解）", "allocating people to sites (solver)"),
    "stage_robustness": ("稳健性检验", "robustness check"),
    "stage_running": ("正在计算：{stage}（{pct}%）", "Running: {stage} ({pct}%)"),
    # relocation page: which answer a scenario shows (fast heuristic, then the exact solve)
    "answer_hint": (
        "情景先用快速启发式给出结果（约 1 秒，注明与下界的间隙，不做稳健性抽样），"
        "精确求解（HiGHS，含稳健性检验）随后在后台进行，完成后自动替换。",
        "A scenario answers first with the fast heuristic (about 1 s, with its gap to a lower "
        "bound, no robustness draws); the exact solve (HiGHS, with the robustness check) then "
        "runs in the background and replaces it when it ends.",
    ),
    "answer_heuristic": (
        "显示的是快速启发式结果（未证明最优）：与下界相差不超过 {gap}。",
        "Shown: the fast heuristic answer (not proven optimal), within {gap} of a lower bound.",
    ),
    "answer_heuristic_nobound": (
        "显示的是快速启发式结果（未证明最优，与下界的间隙未知）。",
        "Shown: the fast heuristic answer (not proven optimal; its gap to a lower bound is unknown).",
    ),
    "answer_running": (
        "精确求解（HiGHS）正在后台进行（{s} 秒），完成后替换此结果。",
        "The exact solve (HiGHS) is running in the background ({s} s); its result will replace this one.",
    ),
    "answer_running_bg": (
        "精确求解（HiGHS）正在后台进行，完成后替换此结果。",
        "The exact solve (HiGHS) is running in the background; its result will replace this one.",
    ),
    "answer_optimal": (
        "显示的是精确结果：HiGHS 已证明其最优（间隙 0）。",
        "Shown: the exact result, proven optimal by HiGHS (gap 0).",
    ),
    "answer_stopped": (
        "显示的是精确求解的结果，但求解器提前停止（{status}）：未证明最优，间隙 {gap}。",
        "Shown: the exact solve's result, but the solver stopped early ({status}): not proven "
        "optimal, gap {gap}.",
    ),
    "answer_exact_other": (
        "显示的是精确求解的结果（状态：{status}）。",
        "Shown: the exact solve's result (status: {status}).",
    ),
    "answer_failed": (
        "精确求解失败：{error}。仍显示启发式结果。",
        "The exact solve failed: {error}. The heuristic answer is still shown.",
    ),
    "answer_refused": (
        "精确求解未启动：{error}。仍显示启发式结果。",
        "The exact solve did not start: {error}. The heuristic answer is still shown.",
    ),
    "answer_cancelled": (
        "精确求解已取消。仍显示启发式结果。",
        "The exact solve was cancelled. The heuristic answer is still shown.",
    ),
    "selected_village": ("选中的村", "Selected village"),
    # --- briefing (one-page A4) ---
    "brief_cst": ("{time}（北京时间）", "{time} (UTC+8)"),
    "brief_plan_id": ("方案编号", "Plan"),
    "brief_ready_of": ("具备条件/参评村", "Ready / assessed"),
    "brief_printed": ("打印日期", "Printed"),
    "brief_inputs": ("输入数据", "Inputs"),
    "brief_input_dem": ("高程", "elevation"),
    "brief_input_households": ("农户", "households"),
    "brief_map_title": ("各村退出状态", "Exit readiness of every village"),
    "brief_north": ("北", "N"),
    "brief_road_hardened": ("道路：已硬化", "road: hardened"),
    "brief_road_unhardened": ("道路：未硬化", "road: not hardened"),
    "brief_road_unknown": ("道路：路面未知", "road: surface unknown"),
    "brief_road_inferred": ("道路：按等级推定硬化", "road: hardened by inference"),
    "brief_road_connection": ("需新建的连接路", "connection to build"),
    "brief_of_villages": ("共 {total} 村，其中 {skip} 村不评估", "of {total}; {skip} not assessed"),
    "brief_share": ("占参评村 {frac}", "{frac} of assessed"),
    "brief_card_unconfirmed": ("待确认（仅推定达标）", "Unconfirmed (inferred)"),
    "brief_lagging": ("重点关注乡镇", "Townships lagging behind"),
    "brief_lagging_line": (
        "具备退出 {ready}/{assessed}（{frac}）· 未达标 {blocked} 村 · 未退出 {people} 人",
        "{ready}/{assessed} ready ({frac}) · {blocked} blocked · {people} people not ready",
    ),
    "brief_blockers": ("主要短板", "Main blockers"),
    "brief_costs": ("补齐缺口", "Closing the gaps"),
    "brief_cost_harden": ("硬化道路 {amount} 公里", "Harden {amount} km"),
    "brief_cost_connect": ("新建连接路 {amount} 公里", "Build {amount} km of connection"),
    "brief_cost_survey": (
        "路面未知、待核查 {amount} 公里",
        "Survey {amount} km of unknown surface",
    ),
    "brief_cost_relocate": ("易地搬迁 {amount} 人", "Relocate {amount} people"),
    "brief_cost_none": ("未计费用", "not costed"),
    "brief_cost_norate": ("方案未记录单价", "no unit cost in the plan"),
    "brief_cost_rates": (
        "估算单价为方案设定的占位值，待各部门核实：{rates}",
        "Estimated at the plan's placeholder unit costs, to be confirmed: {rates}",
    ),
    "brief_rate_harden": ("硬化 {rate}/公里", "hardening {rate}/km"),
    "brief_rate_connect": ("新建 {rate}/公里", "new road {rate}/km"),
    "brief_rate_relocate": ("搬迁 {rate}/人", "relocation {rate} per person"),
    "brief_cost_other": (
        "无安全饮水 {water} 村、卫生室未达标 {clinic} 村：方案未汇总其费用",
        "{water} villages without safe water, {clinic} without a standard clinic: "
        "not costed in the plan",
    ),
    "brief_changes": ("与上一版方案相比", "Since the previous plan"),
    "brief_changes_since": ("上一版：{id}，{date}", "Previous plan: {id}, {date}"),
    "brief_version": ("第 {n} 版", "version {n}"),
    "brief_no_previous": (
        "本方案未记录上一版方案，无法比较变化",
        "No previous plan recorded: no changes to show",
    ),
    "brief_no_changes": ("主要数字与上一版相同", "Headline figures unchanged"),
    "brief_more_changes": ("……其余变化见第 2 页", "… more changes on page 2"),
    "brief_ranking_title": ("乡镇排名", "Township ranking"),
    "brief_rank_key": (
        "排序：退出率高者在前；退出率相同，未达标村少者在前；再相同，未退出人口少者在前",
        "Order: share ready, highest first; on a tie, fewest villages blocked; "
        "then fewest people not ready",
    ),
    "brief_th_ready_of": ("具备/参评", "Ready/ assessed"),
    "brief_th_ready_frac": ("退出率", "Share ready"),
    "brief_th_blocked_one": ("差一项", "Blocked 1 item"),
    "brief_th_blocked_several": ("差多项", "Blocked 2+ items"),
    "brief_people_waiting": ("未退出人口", "People not ready"),
    "brief_bar_head": ("参评村构成", "Assessed villages"),
    "brief_more_townships": ("…… 其余 {n} 个乡镇见第 2 页", "… {n} more townships on page 2"),
    "brief_page": ("第 {n} 页 / 共 {total} 页", "Page {n} of {total}"),
    "brief_details_title": ("附：明细与数据说明", "Annex: details and data notes"),
    "brief_blocker_matrix": (
        "各乡镇未达标村的短板（村数）",
        "What blocks the blocked villages (villages per indicator)",
    ),
    "brief_blocker_matrix_note": (
        "一个村可有多项未达标；颜色越深村数越多",
        "a village may fail several indicators; darker means more villages",
    ),
    "brief_blocked_n": ("未达标村", "Blocked"),
    "brief_top_gaps": (
        "优先硬化路段（每公里受益人数最多的 10 段）",
        "Road gaps first in line (the 10 with the most people per km)",
    ),
    "brief_font_missing": (
        "打印简报需要中文字体，服务器未安装：请运行 apt-get install fonts-noto-cjk 后重启。",
        "Printing needs a Chinese font that the server lacks: "
        "run apt-get install fonts-noto-cjk and restart.",
    ),
    "brief_ind_incidence": ("贫困发生率", "incidence"),
    "brief_ind_road": ("道路", "road"),
    "brief_ind_water": ("饮水", "water"),
    "brief_ind_power": ("用电", "power"),
    "brief_ind_clinic": ("卫生室", "clinic"),
    "brief_ind_culture": ("文化室", "culture"),
    "brief_ind_broadband": ("宽带", "broadband"),
    "brief_ind_tv": ("广电", "radio/TV"),
    "brief_ind_bus": ("客车", "bus"),
    "brief_ind_medical_insurance": ("医保", "insurance"),
    # --- bureau pages ---
    "bu_km": ("公里", "km"),
    "bu_min": ("分钟", "min"),
    "bu_link_hint": (
        "点击表格中的一行，地图定位并高亮该村或路段；点击地图上的村或路段，表格选中对应的行。",
        "Click a row to find and highlight it on the map; click a village or road gap on "
        "the map to select its row.",
    ),
    "bu_village_id": ("村编号", "Village id"),
    "bu_gap_id": ("路段编号", "Gap id"),
    "bu_road_name": ("道路名称", "Road name"),
    "bu_unnamed_road": ("未命名道路", "unnamed road"),
    "bu_kind_harden": ("硬化或核查", "harden or survey"),
    "bu_kind_connection": ("新建连接路", "connection to build"),
    "bu_villages_served": ("受益村", "Villages served"),
    "bu_n_villages": ("受益村数", "Villages served (count)"),
    "bu_people_served_n": ("受益 {n} 人", "{n} people served"),
    "bu_gap_legend": ("待硬化或待核查路段", "Road gap to harden or survey"),
    "bu_connection_legend": ("需新建的连接路", "Connection to build"),
    "bu_selected_legend": ("选中的路段或村（黑色）", "Selected gap or village (black)"),
    "bu_quality": ("证据质量", "Evidence"),
    "bu_water_status": ("饮水安全指标", "Safe water"),
    "bu_water_table": ("各村供水管网或水源及饮水安全", "Villages by water network or source"),
    "bu_supply_kind": ("供水方式", "Supplied by"),
    "bu_supply_network": ("供水管网", "piped network"),
    "bu_supply_source": ("最近安全水源", "nearest safe source"),
    "bu_supply_none": ("无已知安全水源", "no safe source known"),
    "bu_supply_name": ("管网或水源名称", "Network or source"),
    "bu_supply_id": ("管网或水源编号", "Network or source id"),
    "bu_source_km": ("直线距离（公里）", "Straight-line distance (km)"),
    "bu_by_supply": ("按供水管网或水源汇总", "Per water network or source"),
    "bu_status_summary": (
        "{what}：达标 {met} 个村，达标（推定）{inferred} 个村，未达标 {not_met} 个村，"
        "情况未知 {unknown} 个村（未知不计为达标）",
        "{what}: {met} villages met, {inferred} met (inferred), {not_met} not met, "
        "{unknown} unknown (unknown is never counted as met)",
    ),
    "bu_status_summary_plain": (
        "{what}：达标 {met} 个村，未达标 {not_met} 个村，情况未知 {unknown} 个村（未知不计为达标）",
        "{what}: {met} villages met, {not_met} not met, {unknown} unknown "
        "(unknown is never counted as met)",
    ),
    "bu_safe_water": ("饮水安全", "Safe water"),
    "bu_health_townships": ("各乡镇就医时间与卫生室", "Travel time and clinics per township"),
    "bu_water_townships": ("各乡镇饮水安全", "Safe water per township"),
    "bu_col_met": ("达标村", "Met"),
    "bu_col_inferred": ("推定达标村", "Met (inferred)"),
    "bu_col_not_met": ("未达标村", "Not met"),
    "bu_col_unknown": ("情况未知村", "Unknown"),
    "bu_col_villages": ("村数", "Villages"),
    "bu_people_not_met": ("未达标人口", "People not met"),
    "bu_clinic_table": (
        "卫生室缺口：未达标或情况未知的村",
        "Clinic gaps: villages whose clinic is not met or unknown",
    ),
    "bu_min_centre": ("到卫生院（分钟）", "To health centre (min)"),
    "bu_min_clinic": ("到卫生室（分钟）", "To village clinic (min)"),
    "bu_nearest_centre": ("最近乡镇卫生院", "Nearest health centre"),
    "bu_ramp_title": (
        "到乡镇卫生院通行时间（分钟）",
        "Travel time to the health centre (min)",
    ),
    "bu_ramp_note": ("无颜色：无法到达或无数据", "No colour: unreachable or no data"),
    "bu_within": ("{t} 分钟内", "within {t} min"),
}


#: Units as shown after a number, per language ("" for none).
_UNITS: dict[str, tuple[str, str]] = {
    "min": (" 分钟", " min"),
    "km": (" 公里", " km"),
    "m": (" 米", " m"),
    "°": ("°", "°"),
    "%": ("%", "%"),
    "people": (" 人", " people"),
    "CNY": (" 元", " CNY"),
    "ha": (" 公顷", " ha"),
}


def unit_label(unit: str | None, lang: str = DEFAULT_LANG) -> str:
    """A unit as written after a number in ``lang`` (``"min"`` → ``" 分钟"`` / ``" min"``);
    an unknown unit as it is, after a space."""
    if not unit:
        return ""
    pair = _UNITS.get(unit.strip())
    if pair is None:
        return f" {unit.strip()}"
    return pair[1] if lang == "en" else pair[0]


def t(key: str, lang: str = DEFAULT_LANG, **kwargs: Any) -> str:
    """Translate ``key`` into ``lang`` (``"zh"`` or ``"en"``), formatting ``kwargs`` in.

    An unknown key is returned as is so a missing translation shows, not crashes.
    """
    pair = _STRINGS.get(key)
    if pair is None:
        text = key
    else:
        text = pair[1] if lang == "en" else pair[0]
    return text.format(**kwargs) if kwargs else text


def has_key(key: str) -> bool:
    """Whether ``key`` has a translation."""
    return key in _STRINGS


def fmt_num(value: Any, lang: str = DEFAULT_LANG, *, digits: int = 0) -> str:
    """Format a number for ``lang``.

    Parameters
    ----------
    value : number or None
        The value; None/NaN/NA format as ``"—"``.
    lang : str
        ``"zh"``: values of 10,000 and more are written with 万 or 亿 (``12.3万``);
        ``"en"``: thousands separators (``123,456``).
    digits : int
        Decimal places for values below 10,000 (and in English always).

    Returns
    -------
    str
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "—"
    if math.isnan(x):
        return "—"
    if lang != "en":
        ax = abs(x)
        if ax >= 1e8:
            return f"{x / 1e8:.2f}亿".replace(".00亿", "亿")
        if ax >= 1e4:
            s = f"{x / 1e4:.1f}"
            s = s[:-2] if s.endswith(".0") else s
            return f"{s}万"
    return f"{x:,.{digits}f}"


def fmt_frac(value: Any, lang: str = DEFAULT_LANG, *, digits: int = 1) -> str:
    """Format a 0..1 fraction as a percentage (same in both locales, ``"—"`` when missing)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "—"
    if math.isnan(x):
        return "—"
    return f"{100 * x:.{digits}f}%"


def status_label(status: str | None, lang: str = DEFAULT_LANG) -> str:
    """Label of a status value (``met``/``met_inferred``/``not_met``/``unknown``/``not_assessed``)."""
    if status in ("met", "met_inferred", "not_met", "unknown", "not_assessed"):
        return t(status, lang)
    return t("unknown", lang)
