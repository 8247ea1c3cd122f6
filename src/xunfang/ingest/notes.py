"""Notes (caveat sentences) that carry a message key and fields, shown in the reader's language.

A :class:`Note` *is* its English sentence (a ``str``), so the JSON and CSV outputs and every
caller that treats notes as text see what they saw before; :func:`note_text` renders it in
``en`` or ``zh`` at the edge (terminal, HTML report), like :mod:`xunfang.ingest.messages`.
A plain ``str`` passed to :func:`note_text` comes back as it is.

Field values are rendered per language before formatting: a :class:`Note` by its own text,
a ``dict`` of counts or speeds as ``label value, ...`` (labels in :data:`_LABELS` translated,
an empty dict as "none"), a ``list`` joined with ``, `` (``、`` in Chinese), a ``tuple``
with ``; `` (``；``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xunfang.ingest.messages import _lang

__all__ = ["Note", "note_text", "sorted_counts"]

_NOTES: dict[str, dict[str, str]] = {
    "en": {
        # ingest/road_graph.py (an OSM road file)
        "ways_cut": (
            "{segments} segments of {ways} ways have an end node that is not in the file "
            "(ways cut at the extract's edge) and were dropped."
        ),
        "clip_area": (
            "Clipping to the study area (with its margin) dropped {nodes} nodes and "
            "{segments} segments outside it."
        ),
        "simplified": (
            "Simplified {segments} directed segments between {nodes} nodes to {edges} directed "
            "edges between intersections and dead ends; the travel time of a joined edge is the "
            "sum of its segments' times at each segment's own speed."
        ),
        "scc_file": (
            "Kept the largest strongly connected component: {kept} of {nodes} nodes; left out "
            "{left} nodes, {edges} directed edges and {km:.2f} km of road in {components} "
            "smaller components (streets that cannot be both entered and left, e.g. one-way "
            "streets cut at the file's edge)."
        ),
        "area_kept": (
            "{share:.1f} % of the {km:.1f} km of road inside the study area kept ({cut_km:.2f} "
            "km cut off with the smaller components)."
        ),
        "oneway_tags": (
            "One-way streets from the 'oneway' tags: {oneway} of {ways} ways are one-way "
            "({rules}); 'oneway=reversible' is taken as two-way."
        ),
        "oneway_none": "The file states no direction of travel, so every road is two-way.",
        "ways_read": (
            "Read {read} ways of {name}; kept {kept} drivable ways; not drivable by class: "
            "{skipped}; closed to cars: {excluded}."
        ),
        "speeds_file": (
            "Speeds: the posted maxspeed on all or part of {posted} of {edges} directed edges; "
            "elsewhere {table} (km/h: {speeds})."
        ),
        "final_file": (
            "The final graph has {nodes} nodes, {edges} directed edges and {pieces} road "
            "pieces, {km:.1f} km of road."
        ),
        "osm_credit": "Road data (c) OpenStreetMap contributors, ODbL 1.0.",
        # the road-class speed table (ingest/city.py road_country)
        "table": "the {code} road-class table",
        "table_auto_cn": "the CN road-class table (country auto: the area is in mainland China)",
        "table_auto_default": (
            "the default road-class table (country auto: outside mainland China)"
        ),
        "table_default": "the default road-class table (country default)",
        "table_stated": "the {code} road-class table (country {code} stated)",
        # ingest/network.py (OSMnx GraphML areas)
        "no_length": (
            "{edges} drivable edges had no usable 'length'; the straight-line distance between "
            "their end nodes was used."
        ),
        "clip_polygon": (
            "Clipping to the polygon dropped {nodes} drivable nodes outside it and {edges} "
            "directed edges with an end outside it."
        ),
        "stitched": (
            "The {areas} area graphs share no streets, so {links} straight links (both ways, "
            "{kph:g} km/h) were added between nodes of different areas{by_name}{longest}. A "
            "link can cross where no street does (e.g. a river without a bridge); check them "
            "on the map (highway='stitch')."
        ),
        "stitched_by_name": (
            " ({nearest} to the nearest node within {threshold_m:g} m, {named} between the "
            "closest nodes of a street name found in both areas within {name_threshold_m:g} m, "
            "i.e. bridges)"
        ),
        "stitched_longest": "; the longest is {m:.1f} m",
        "scc_areas": (
            "Kept the largest strongly connected component: {kept} of {nodes} drivable nodes; "
            "{left} nodes in {components} smaller components were left out."
        ),
        "left_by_area": "Nodes left out by area: {areas}.",
        "left_in_area": "{name} {left} of {all}",
        "cut_off": (
            "Most of {names} is cut off from the kept component: the stitch links did not "
            "reach it. Raise stitch_threshold_m, or set same_name_threshold_m (e.g. 200) to "
            "rejoin streets cut at a river."
        ),
        "oneway_graph_none": (
            "The source graphs have no one-way data (OSM walk networks store every street in "
            "both directions), so every drivable street is treated as two-way: travel times "
            "ignore one-way restrictions and can be optimistic."
        ),
        "oneway_graph": "One-way streets are taken from the source graphs' 'oneway' attribute.",
        "edges_read": (
            "Kept {kept} of {read} directed edges as drivable road classes; dropped by class: "
            "{dropped}."
        ),
        "speeds_graph": (
            "Speeds are imputed by road class (assumed urban speeds, km/h: {speeds}, links "
            "{link_kph:g}); the OSM maxspeed tag was used on {posted} directed edges of the "
            "final graph."
        ),
        "final_graph": (
            "The final graph has {nodes} nodes and {pieces} road pieces, {km:.1f} km of road."
        ),
        # ingest/network_cache.py cut_network
        "cut_network": (
            "Cut from a larger network ({big} nodes) to {name}: {inside} nodes inside, {kept} "
            "kept in the largest strongly connected component ({left} left out), {pieces} road "
            "pieces, {km:.1f} km."
        ),
        # plan/roster.py read_calendar
        "schools_read": (
            "{n} schools read from {file} ({counts}); bell times are not in the file: the "
            "calendar's windows set them"
        ),
        # ingest/city.py City.incident_frame_note
        "frame_from_area": (
            "Incident coordinates read as {frame}, the frame of the area's boundary: "
            "{profile} states no frame for them and no --frame was given; if they are in "
            "another frame, give it with --frame (wgs84, gcj02 or bd09)."
        ),
        "frame_assumed_wgs84": (
            "Incident coordinates read as WGS-84: {profile} states no frame for them and no "
            "--frame was given; exports in China are often GCJ-02 (AMap, Tencent) or BD-09 "
            "(Baidu): if so, give --frame gcj02 or --frame bd09."
        ),
        # plan/booth_plan.py _fixed_sites
        "stations_left_out": (
            "{used} of {total} stations of {source} used; left out (more than {buffer_m:.0f} m "
            "outside {area}): {shown}{more}."
        ),
        "station_far": "{name} ({km:.1f} km outside the area)",
        "and_more": "; and {n} more",
        "stations_file": "the stations file",
        # serve/report.py plan_notes
        "fixed_merged": (
            "{n} fixed site(s) snapped to the same road node as another and were merged."
        ),
        # plan/booth_value.py (no final full stop: the report adds it)
        "workload": (
            "workload: {per_day:.1f} incidents per day over {days:.0f} days; each call "
            "{scene_min:.0f} min on scene plus the drive there and back"
        ),
        "no_queue": "no queueing figures: {error}",
        "hypercube": (
            "hypercube approximation (Larson 1975; Jarvis 1985): {units} units, load {load:.3f} "
            "per unit, {converged} in {iterations} iterations"
        ),
        "converged": "converged",
        "not_converged": "not converged",
        # plan/deployment.py (no final full stop, as the deployment wrote them)
        "places_outside": (
            "{n} places of the calendar are outside the study area and get no posts ({groups})"
        ),
        "places_far": (
            "{n} places are more than 250 m from the nearest drivable street node (largest "
            "{largest_m:.0f} m): their posts stand at that node"
        ),
        "window_outside": "window {name}: none of its {n} places is in the area",
        "risk_empty": "the risk surface is empty in every block: no patrol positions to choose",
        "idle_vehicles": (
            "shift {shift}: up to {n} vehicle(s) stand idle in some blocks for lack of crews "
            "({crew} officers each) after the booths and rule posts"
        ),
        "legs_outside": (
            "{n} of {legs} legs of the sector patrols cannot be walked on their sector's streets "
            "and take the shortest walk on the whole network"
        ),
        "no_sectors": (
            "no patrol sectors (the plan folder has no sectors.geojson: an older plan, or made "
            "with --no-sectors): booth officers stay at their booths, and hotspots go to the "
            "vehicles, nearest first"
        ),
        "sector_patrol_off": "--sector-patrol-min 0: booth officers stay at their booths",
        "booths_no_sector": "booths without a sector in {source}: {booths} (they do not patrol)",
        "sector_patrols": (
            "sector patrols: one officer of each booth walks a loop of at most {minutes:g} min "
            "per block over the riskiest hotspots of the booth's own sector (the sector that "
            "contains a hotspot decides its booth, not the nearest booth); a booth with one "
            "officer stands empty during the loop. Walks use the sector's streets; a leg they "
            "cannot connect takes the shortest walk on the whole network. {n_outside} network "
            "nodes on a sector edge or past the area take the nearest sector"
        ),
        # plan/booth_plan.py (demand without incident history)
        "demand_road_length": (
            "No incident history used: demand is road length, {km:.1f} km of road inside "
            "{area}, each node weighted by half the length of its streets (km); shares below "
            "are shares of road length, not of incidents."
        ),
        "demand_points": (
            "No incident history used: demand is the {n} places of {file} (weight {weight:g})"
            "{outside}."
        ),
        "demand_points_outside": "; {n} outside {area} left out",
        "none": "none",
    },
    "zh": {
        "ways_cut": (
            "{ways} 条道路的 {segments} 段有端点不在文件中（道路在数据范围边缘被截断），已剔除。"
        ),
        "clip_area": "按研究区域（含外扩边距）裁剪：剔除区外 {nodes} 个节点、{segments} 段道路。",
        "simplified": (
            "将 {nodes} 个节点之间的 {segments} 段有向路段简化为路口与尽头路之间的 {edges} 条"
            "有向边；合并后每条边的通行时间为其各路段按各自速度计算的时间之和。"
        ),
        "scc_file": (
            "保留最大强连通分量：{nodes} 个节点中保留 {kept} 个；{components} 个较小分量中的 "
            "{left} 个节点、{edges} 条有向边、{km:.2f} 公里道路被剔除（无法既驶入又驶出的道路，"
            "如在文件边缘被截断的单行道）。"
        ),
        "area_kept": (
            "研究区域内 {km:.1f} 公里道路保留 {share:.1f} %（{cut_km:.2f} 公里随较小分量被剔除）。"
        ),
        "oneway_tags": (
            "单行道依据 'oneway' 标签：{ways} 条道路中 {oneway} 条为单行（{rules}）；"
            "'oneway=reversible' 按双向处理。"
        ),
        "oneway_none": "文件未给出通行方向，所有道路按双向处理。",
        "ways_read": (
            "读取 {name} 中 {read} 条道路；保留 {kept} 条可行车道路；"
            "按道路等级不可行车：{skipped}；禁止机动车：{excluded}。"
        ),
        "speeds_file": (
            "速度：{edges} 条有向边中 {posted} 条全部或部分采用标注限速（maxspeed）；"
            "其余按{table}取值，公里/小时：{speeds}。"
        ),
        "final_file": (
            "最终路网有 {nodes} 个节点、{edges} 条有向边、{pieces} 段道路，共 {km:.1f} 公里。"
        ),
        "osm_credit": "道路数据 (c) OpenStreetMap 贡献者，ODbL 1.0 许可。",
        "table": " {code} 道路等级速度表",
        "table_auto_cn": " CN 道路等级速度表（country auto：区域位于中国大陆）",
        "table_auto_default": "默认道路等级速度表（country auto：区域在中国大陆以外）",
        "table_default": "默认道路等级速度表（country default）",
        "table_stated": " {code} 道路等级速度表（已指定 country {code}）",
        "no_length": "{edges} 条可行车边没有可用的 'length'，改用两端节点间的直线距离。",
        "clip_polygon": (
            "按多边形裁剪：剔除多边形外 {nodes} 个可行车节点，以及 {edges} 条有端点在外的有向边。"
        ),
        "stitched": (
            "{areas} 个片区路网没有共用道路，因此在不同片区的节点间添加了 {links} 条直线连接"
            "（双向，{kph:g} 公里/小时）{by_name}{longest}。连接可能跨越没有道路的地方"
            "（如没有桥的河流）；请在地图上核对（highway='stitch'）。"
        ),
        "stitched_by_name": (
            "（{nearest} 条连到 {threshold_m:g} 米内最近的节点，{named} 条连接两个片区中同名道路"
            "在 {name_threshold_m:g} 米内最近的节点，即桥梁）"
        ),
        "stitched_longest": "；最长 {m:.1f} 米",
        "scc_areas": (
            "保留最大强连通分量：{nodes} 个可行车节点中保留 {kept} 个；{components} 个较小分量中的 "
            "{left} 个节点被剔除。"
        ),
        "left_by_area": "各片区剔除的节点：{areas}。",
        "left_in_area": "{name} {all} 个中 {left} 个",
        "cut_off": (
            "{names} 的大部分与保留的分量不连通：拼接连接未能到达。请调大 stitch_threshold_m，"
            "或设置 same_name_threshold_m（如 200）以重新连接被河流隔断的道路。"
        ),
        "oneway_graph_none": (
            "源路网没有单行数据（OSM 步行路网把每条道路都存为双向），因此所有可行车道路按双向处理："
            "通行时间未考虑单行限制，可能偏乐观。"
        ),
        "oneway_graph": "单行道取自源路网的 'oneway' 属性。",
        "edges_read": "{read} 条有向边中保留 {kept} 条可行车等级的道路；按等级剔除：{dropped}。",
        "speeds_graph": (
            "速度按道路等级估算（假定的城市车速，公里/小时：{speeds}，匝道 {link_kph:g}）；"
            "最终路网中 {posted} 条有向边采用了 OSM maxspeed 标注。"
        ),
        "final_graph": "最终路网有 {nodes} 个节点、{pieces} 段道路，共 {km:.1f} 公里。",
        "cut_network": (
            "从更大的路网（{big} 个节点）中裁出 {name}：区域内 {inside} 个节点，最大强连通分量保留 "
            "{kept} 个（剔除 {left} 个），{pieces} 段道路，共 {km:.1f} 公里。"
        ),
        "schools_read": (
            "从 {file} 读取 {n} 所学校（{counts}）；文件中没有上下学时间：由日程规则的时段设定"
        ),
        "frame_from_area": (
            "警情坐标按区域边界的坐标系 {frame} 读取：{profile} 未写明其坐标系，也未给出 --frame；"
            "如警情是其他坐标系，请用 --frame 指定（wgs84、gcj02 或 bd09）。"
        ),
        "frame_assumed_wgs84": (
            "警情坐标按 WGS-84 读取：{profile} 未写明其坐标系，也未给出 --frame；国内导出数据常为 "
            "GCJ-02（高德、腾讯）或 BD-09（百度）坐标：如是，请用 --frame gcj02 或 --frame bd09。"
        ),
        "stations_left_out": (
            "使用 {source} 中 {total} 个派出所中的 {used} 个；未使用（距 {area} 超过 "
            "{buffer_m:.0f} 米）：{shown}{more}。"
        ),
        "station_far": "{name}（距区域 {km:.1f} 公里）",
        "and_more": "；另有 {n} 个",
        "stations_file": "派出所文件",
        "fixed_merged": "{n} 个固定站点与其他站点吸附到同一路网节点，已合并。",
        "workload": (
            "工作量：{days:.0f} 天内平均每天 {per_day:.1f} 起警情；"
            "每起现场处置 {scene_min:.0f} 分钟，另加往返车程"
        ),
        "no_queue": "无排队模型结果：{error}",
        "hypercube": (
            "超立方体近似（Larson 1975；Jarvis 1985）：{units} 个单位，每单位负荷 {load:.3f}，"
            "{iterations} 次迭代后{converged}"
        ),
        "converged": "收敛",
        "not_converged": "未收敛",
        "places_outside": "日历中 {n} 个地点位于研究区域之外，不设岗位（{groups}）",
        "places_far": (
            "{n} 个地点距最近的可行车道路节点超过 250 米（最远 {largest_m:.0f} 米）：岗位设在该节点"
        ),
        "window_outside": "时间窗 {name}：其 {n} 个地点都不在区域内",
        "risk_empty": "所有时段的风险均为零：无巡逻位置可选",
        "idle_vehicles": (
            "班次 {shift}：安排岗亭和规则岗位后，部分时段最多 {n} 辆车因缺少车组"
            "（每车 {crew} 人）而闲置"
        ),
        "legs_outside": (
            "巡区步巡的 {legs} 段路程中有 {n} 段无法在本巡区道路上步行，改走全路网最短步行路线"
        ),
        "no_sectors": (
            "没有巡区（方案目录中没有 sectors.geojson：较早的方案，或使用了 --no-sectors）："
            "岗亭警力留守岗亭，热点由车巡负责，就近优先"
        ),
        "sector_patrol_off": "--sector-patrol-min 0：岗亭警力留守岗亭",
        "booths_no_sector": "{source} 中没有巡区的岗亭：{booths}（不参与步巡）",
        "sector_patrols": (
            "巡区步巡：每个岗亭每个时段派一名警员步行巡逻一圈，最长 {minutes:g} 分钟，"
            "经过本岗亭所属巡区风险最高的热点（热点归属其所在巡区的岗亭，而非最近的岗亭）；"
            "只有一名警员的岗亭在巡逻期间无人值守。步巡走本巡区的道路，无法连通的路段改走全路网"
            "最短步行路线。位于巡区边界或区域以外的 {n_outside} 个路网节点归入最近的巡区"
        ),
        "demand_road_length": (
            "未使用历史警情：需求为道路长度，{area} 内道路 {km:.1f} 公里，每个节点按其相连道路"
            "长度的一半（公里）加权；下文的比例是道路长度的比例，而非警情的比例。"
        ),
        "demand_points": (
            "未使用历史警情：需求为 {file} 中的 {n} 个地点（权重 {weight:g}）{outside}。"
        ),
        "demand_points_outside": "；{area} 以外的 {n} 个地点未使用",
        "none": "无",
    },
}

# words inside count fields (ingest/road_graph.py); OSM classes and tags stay as they are
_LABELS: dict[str, dict[str, str]] = {
    "en": {},
    "zh": {
        "tagged one-way": "标注单行",
        "tagged two-way": "标注双向",
        "implied one-way (roundabout, motorway)": "推定单行（环岛、高速公路）",
        "reversible, taken as two-way": "可变向，按双向处理",
        "unrecognised oneway value, taken as two-way": "无法识别的 oneway 值，按双向处理",
        "untagged, two-way": "未标注，双向",
        "fewer than 2 nodes": "不足 2 个节点",
    },
}

_SEP: dict[type, dict[str, str]] = {
    dict: {"en": ", ", "zh": "，"},
    list: {"en": ", ", "zh": "、"},
    tuple: {"en": "; ", "zh": "；"},
}


def _field(value: Any, lang: str) -> Any:
    if isinstance(value, Note):
        return value.text(lang)
    if isinstance(value, Mapping):
        if not value:
            return _NOTES[lang]["none"]
        labels = _LABELS[lang]
        return _SEP[dict][lang].join(
            f"{labels.get(k, k)} {v if isinstance(v, int) else format(v, 'g')}"
            for k, v in value.items()
        )
    if isinstance(value, (list, tuple)):
        sep = _SEP[list if isinstance(value, list) else tuple][lang]
        return sep.join(str(_field(v, lang)) for v in value)
    return value


def _render(key: str, lang: str, fields: Mapping[str, Any]) -> str:
    return _NOTES[_lang(lang)][key].format(**{k: _field(v, lang) for k, v in fields.items()})


def _make(key: str, fields: dict[str, Any]) -> Note:  # unpickling
    return Note(key, **fields)


class Note(str):
    """A note: its English sentence as a ``str``, plus the message ``key`` and ``fields``
    to render it in another language with :meth:`text`.

    Parameters
    ----------
    key
        A message of this module (``KeyError`` if unknown).
    **fields
        The values the message names (numbers, strings, nested notes, count dicts, lists).
    """

    key: str
    fields: dict[str, Any]

    def __new__(cls, key: str, **fields: Any) -> Note:
        self = super().__new__(cls, _render(key, "en", fields))
        self.key = key
        self.fields = fields
        return self

    def text(self, lang: str = "en") -> str:
        """The sentence in ``lang`` (``en`` or ``zh``; ``ValueError`` otherwise)."""
        return _render(self.key, lang, self.fields)

    def with_fields(self, **fields: Any) -> Note:
        """The same message with ``fields`` replaced."""
        return Note(self.key, **{**self.fields, **fields})

    def __reduce__(self) -> tuple[Any, ...]:
        return (_make, (self.key, dict(self.fields)))


def note_text(note: str, lang: str = "en") -> str:
    """``note`` in ``lang`` when it is a :class:`Note`; a plain ``str`` as it is."""
    return note.text(lang) if isinstance(note, Note) else note


def sorted_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """``counts`` largest first, then by label (the order notes list them in)."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
