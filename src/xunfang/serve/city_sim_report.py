"""The city simulation report (``city_simulation_report.html``): every district's simulated
month on one page.

Written by ``xunfang simulate run --plan-dir <city plan>`` beside
``city_simulation_summary.csv/json``, with the look, parts and languages of the other city
pages (:mod:`xunfang.serve.city_report`): the city's figures per compared scenario (stations
alone, stations + booths), what they were computed on (scenario, plan, month, incidents,
held out or not), a map of the districts filled by the share of calls answered within
3 minutes, a table of all districts per scenario (calls, response time mean, median and 90th
percentile, share within 3 minutes, unit utilisation) and one by call priority. The city
rows are :func:`xunfang.simulate.city_sim.sim_totals`: sums of the districts' counts, means,
shares and utilisation recomputed from the sums, percentiles of the pooled calls.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import shapely

from xunfang.serve._common import write_atomic
from xunfang.serve.city_report import (
    Column,
    area_label,
    area_text,
    check_lang,
    count,
    district_map,
    district_table,
    earlier_notes,
    failed_notes,
    number,
    percent,
    render_city_page,
    report_links,
    translate,
)
from xunfang.simulate.city_sim import PRIORITIES, SimDistrictSummary, sim_totals

__all__ = ["render_city_sim_html", "write_city_sim_report"]

_TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "City simulation: {n} districts", "zh": "全市仿真：{n} 个辖区"},
    "lead": {
        "en": "{month}, {n} districts, {reps} replication(s): {calls} calls per compared "
        "scenario over the replications. "
        "Calls with a unit on scene within 3 min: {shares}. Calls never served: {unserved}.",
        "zh": "{month}，{n} 个辖区，{reps} 次重复：每个对比方案共 {calls} 起警情（全部重复）。"
        "3 分钟内到场的比例：{shares}。未处置的警情：{unserved}。",
    },
    "stations": {"en": "stations only", "zh": "仅派出所"},
    "booths": {"en": "stations + booths", "zh": "派出所+岗亭"},
    "deployment": {"en": "stations + booths + deployment", "zh": "派出所+岗亭+勤务部署"},
    "card_share": {"en": "within 3 min, {v}", "zh": "3 分钟内到场率（{v}）"},
    "card_mean": {
        "en": "mean response of served calls, {v}",
        "zh": "已处置警情的平均响应时间（{v}）",
    },
    "card_unserved": {"en": "calls unserved, {v}", "zh": "未处置警情（{v}）"},
    "card_calls": {"en": "calls (all replications)", "zh": "警情（全部重复）"},
    "min": {"en": "{x} min", "zh": "{x} 分钟"},
    "calls": {"en": "calls", "zh": "警情"},
    "served": {"en": "served", "zh": "已处置"},
    "mean": {"en": "mean of served (min)", "zh": "已处置平均（分钟）"},
    "unserved": {"en": "unserved", "zh": "未处置"},
    "share_unserved": {"en": "unserved share", "zh": "未处置比例"},
    "p50": {"en": "median (min)", "zh": "中位数（分钟）"},
    "p90": {"en": "90th pct (min)", "zh": "90 分位（分钟）"},
    "within": {"en": "within 3 min", "zh": "3 分钟内"},
    "utilisation": {"en": "unit utilisation", "zh": "警力利用率"},
    "by_variant": {"en": "Districts: {v}", "zh": "各辖区：{v}"},
    "by_priority": {
        "en": "Response time by priority: {v} (mean / median / 90th percentile, min)",
        "zh": "按优先级的响应时间：{v}（平均 / 中位数 / 90 分位，分钟）",
    },
    "prio_calls": {"en": "P{k} calls", "zh": "P{k} 警情"},
    "prio_times": {"en": "P{k} min", "zh": "P{k} 分钟"},
    "prio_within": {"en": "P{k} within 3 min", "zh": "P{k} 3 分钟内"},
    "on_scenario": {
        "en": "Scenario: {name} ({source}); {reps} replication(s), seed {seed}.",
        "zh": "仿真方案：{name}（{source}）；重复 {reps} 次，随机种子 {seed}。",
    },
    "on_plan": {
        "en": "Plan: the city plan in {plan} ({n} districts); each district is simulated on "
        "its own plan's stations and booths, its units serving its own calls only.",
        "zh": "方案：{plan} 中的全市方案（{n} 个辖区）；各辖区按本辖区方案的派出所与岗亭单独仿真，"
        "警力只处置本辖区警情。",
    },
    "on_replay": {
        "en": "Incidents: {incidents} incidents of {month} inside the districts, replayed as "
        "calls at their recorded time and place.",
        "zh": "警情：各辖区内 {month} 的 {incidents} 起警情，按记录的时间与地点回放。",
    },
    "on_training": {
        "en": " {training} incidents of the training months draw the patrol routes.",
        "zh": "训练月份的 {training} 起警情用于生成巡逻路线。",
    },
    "on_sample": {
        "en": "Incidents: calls sampled from the hour-of-week rate of {training} incidents of "
        "the training months ({incidents} incidents of {month} itself are not replayed).",
        "zh": "警情：按训练月份 {training} 起警情的每周各小时发生率抽样生成（不回放 {month} "
        "本月的 {incidents} 起警情）。",
    },
    "on_period": {
        "en": "Period: {month}, local time; every compared scenario sees the same calls.",
        "zh": "时段：{month}（当地时间）；各对比方案使用相同的警情。",
    },
    "on_held": {
        "en": "Held out: the plans were made from incidents of {start} to {end}, outside {month}.",
        "zh": "留出检验：方案所用警情为 {start} 至 {end}，不含 {month}。",
    },
    "on_not_held": {
        "en": "NOT held out: the plans of {areas} were made from incidents of {start} to "
        "{end}, which include the simulated {month}: the booths were placed knowing these "
        "calls. Plan on the months before it for a fair test.",
        "zh": "非留出检验：{areas} 的方案所用警情为 {start} 至 {end}，包含仿真月份 {month}："
        "岗亭选址时已知这些警情。公平检验应使用此前月份的警情制定方案。",
    },
    "on_held_unknown": {
        "en": "Held out: unknown (the plans do not record the period of their incidents).",
        "zh": "是否留出检验：未知（方案未记录所用警情的时段）。",
    },
    "map_what": {
        "en": "the share of calls with a unit on scene within 3 min ({v})",
        "zh": "3 分钟内到场率（{v}）",
    },
    "map_label": {"en": "district: share", "zh": "辖区：到场率"},
    "colour": {"en": "within 3 min", "zh": "3 分钟内"},
    "note_response": {
        "en": "Response time: call received to a unit on scene (call processing, queueing, "
        'dispatch delay and travel). "Within 3 min" counts unserved calls as not reached; '
        "the mean, median and 90th percentile are of the served calls only, so read them "
        'beside "unserved": calls no unit reached in the month (an area without a station '
        "has no unit outside the booths' shifts).",
        "zh": "响应时间：接警至警力到场（接警处理、排队、派警延迟与途中时间）。"
        "“3 分钟内”将未处置的警情计为未到达；平均值、中位数与 90 分位数只计已处置的警情，"
        "须与“未处置”一并阅读：当月没有警力到场的警情（没有派出所的区域在岗亭班次之外无警力）。",
    },
    "note_pooled": {
        "en": "Medians and 90th percentiles are of the served calls of every replication "
        "pooled (for the city: of every district's), by linear interpolation; a "
        "district's own report gives the mean of the replications' percentiles instead.",
        "zh": "中位数与 90 分位数按全部重复中已处置警情合并计算（全市为各辖区合并），线性插值；"
        "各辖区报告中为各次重复分位数的平均值。",
    },
    "note_util": {
        "en": "Unit utilisation: busy time on calls over time on duty, all units of the "
        "district (city: summed over the districts).",
        "zh": "警力利用率：处警忙碌时间 / 在岗时间，辖区全部警力（全市为各辖区之和）。",
    },
}


def _label(variant: str, lang: str) -> str:
    return translate(_TEXT, variant, lang) if variant in _TEXT else variant


def _triple(row: Mapping[str, Any], prefix: str) -> str:
    fmt = number(2)
    return " / ".join(
        fmt(row.get(f"{prefix}_{k}"))
        for k in ("mean_response_min", "response_p50_min", "response_p90_min")
    )


def _held_line(summaries: Sequence[SimDistrictSummary], lang: str) -> str:
    def tr(key: str, **kw: Any) -> str:
        return translate(_TEXT, key, lang, **kw)

    month = summaries[0].month if summaries else "–"
    starts = [s.plan_incidents_from for s in summaries if s.plan_incidents_from]
    ends = [s.plan_incidents_to for s in summaries if s.plan_incidents_to]
    start, end = (min(starts), max(ends)) if starts and ends else ("–", "–")
    not_held = [area_text(s.area, lang) for s in summaries if s.held_out is False]
    if not_held:
        shown = ", ".join(not_held[:6]) + (" ..." if len(not_held) > 6 else "")
        return tr("on_not_held", areas=shown, start=start, end=end, month=month)
    if summaries and all(s.held_out for s in summaries):
        return tr("on_held", start=start, end=end, month=month)
    return tr("on_held_unknown")


def render_city_sim_html(
    summaries: Sequence[SimDistrictSummary],
    polygons_wgs84: Mapping[str, shapely.Geometry],
    lang: str = "en",
    *,
    scenario_name: str,
    scenario_source: str,
    plan_dir: Path | str,
    links: Mapping[str, str] | None = None,
    failed: Mapping[str, str] | None = None,
    plan_failed: Mapping[str, str] | None = None,
    earlier_folders: Sequence[str] = (),
) -> str:
    """The city simulation page.

    Parameters
    ----------
    summaries
        The districts' simulations (:func:`xunfang.simulate.city_sim.simulate_city`).
    polygons_wgs84
        Area -> outline, EPSG:4326 degrees.
    lang
        ``en`` or ``zh``.
    scenario_name, scenario_source, plan_dir
        What it was computed on: the scenario's name and file, the city plan folder.
    links
        Area -> relative link to the district's own report.
    failed, plan_failed
        Area -> reason of the districts whose run failed, and of those the city plan
        itself failed (``failed`` of its ``city_summary.json``): each named in the notes.
    earlier_folders
        The folders beside the page left by an earlier run
        (:func:`xunfang.plan.city_plan.earlier_run_folders`), named in a note.

    Raises
    ------
    ValidationError
        For a language other than ``en`` or ``zh``.
    """
    check_lang(lang)

    def tr(key: str, **kw: Any) -> str:
        return translate(_TEXT, key, lang, **kw)

    t = sim_totals(summaries)
    rows = [s.to_dict() for s in summaries]
    variants = [v for v in ("stations", "booths", "deployment") if f"{v}_calls" in t]
    variants += sorted({v for s in summaries for v in s.counts} - set(variants))
    main = "booths" if "booths" in variants else (variants[0] if variants else "")
    pct = percent(1)
    first = summaries[0] if summaries else None
    month = first.month if first else "–"
    reps = first.replications if first else 0
    month_incidents = sum(s.month_incidents for s in summaries)
    training = sum(s.training_incidents for s in summaries)
    computed_on = [
        tr(
            "on_scenario",
            name=scenario_name,
            source=scenario_source,
            reps=reps,
            seed=first.seed if first else "–",
        ),
        tr("on_plan", plan=str(plan_dir), n=len(summaries)),
        tr(
            "on_sample" if first is not None and first.calls_source == "sample" else "on_replay",
            incidents=count(month_incidents),
            month=month,
            training=count(training),
        )
        + (
            tr("on_training", training=count(training))
            if training and first is not None and first.calls_source != "sample"
            else ""
        ),
        tr("on_period", month=month),
        _held_line(summaries, lang),
    ]
    sections: list[tuple[str, str]] = []
    for v in variants:
        columns = [
            Column(f"{v}_calls", tr("calls"), count),
            Column(f"{v}_served", tr("served"), count),
            Column(f"{v}_unserved", tr("unserved"), count),
            Column(f"{v}_share_unserved", tr("share_unserved"), pct),
            Column(f"{v}_mean_response_min", tr("mean"), number(2)),
            Column(f"{v}_response_p50_min", tr("p50"), number(2)),
            Column(f"{v}_response_p90_min", tr("p90"), number(2)),
            Column(f"{v}_share_within_3min", tr("within"), pct),
            Column(f"{v}_utilisation", tr("utilisation"), pct),
        ]
        body = district_table(columns, rows, lang=lang, total=t, links=links)
        if not sections:
            body = f'<p class="muted">{html.escape(tr("table_help"))}</p>' + body
        sections.append((tr("by_variant", v=_label(v, lang)), body))
    for v in variants:
        prios = [k for k in PRIORITIES if f"{v}_p{k}_calls" in t]
        columns = []
        for k in prios:
            columns += [
                Column(f"{v}_p{k}_calls", tr("prio_calls", k=k), count),
                Column(f"p{k}_times", tr("prio_times", k=k), str),
                Column(f"{v}_p{k}_share_within_3min", tr("prio_within", k=k), pct),
            ]
        prio_rows = [{**r, **{f"p{k}_times": _triple(r, f"{v}_p{k}") for k in prios}} for r in rows]
        total = {**t, **{f"p{k}_times": _triple(t, f"{v}_p{k}") for k in prios}}
        sections.append(
            (
                tr("by_priority", v=_label(v, lang)),
                district_table(columns, prio_rows, lang=lang, total=total, links=links),
            )
        )
    fig = district_map(
        [s.area for s in summaries],
        [r.get(f"{main}_share_within_3min", float("nan")) for r in rows],
        polygons_wgs84,
        labels=[
            f"{area_label(r['area'], lang)}: {pct(r.get(f'{main}_share_within_3min'))}"
            for r in rows
        ],
        hover=[
            f"{html.escape(area_text(r['area'], lang))}<br>"
            + "<br>".join(
                f"{_label(v, lang)}: {pct(r.get(f'{v}_share_within_3min'))}, "
                f"{tr('unserved')} {pct(r.get(f'{v}_share_unserved'))}, "
                f"{tr('mean')} {number(2)(r.get(f'{v}_mean_response_min'))}"
                for v in variants
            )
            for r in rows
        ],
        colour_title=tr("colour"),
        colorscale="Blues",
        tickformat=".0%",
    )
    cards = [(count(t.get(f"{variants[0]}_calls")), tr("card_calls"))] if variants else []
    for v in variants:
        cards.append((pct(t[f"{v}_share_within_3min"]), tr("card_share", v=_label(v, lang))))
        cards.append(
            (
                f"{count(t[f'{v}_unserved'])} ({pct(t[f'{v}_share_unserved'])})",
                tr("card_unserved", v=_label(v, lang)),
            )
        )
        cards.append(
            (
                tr("min", x=number(2)(t[f"{v}_mean_response_min"])),
                tr("card_mean", v=_label(v, lang)),
            )
        )
    return render_city_page(
        lang=lang,
        title=tr("title", n=len(summaries)),
        lead=tr(
            "lead",
            month=month,
            n=len(summaries),
            reps=reps,
            calls=count(t.get(f"{main}_calls")) if main else "–",
            shares=", ".join(
                f"{_label(v, lang)} {pct(t[f'{v}_share_within_3min'])}" for v in variants
            ),
            unserved=", ".join(
                f"{_label(v, lang)} {count(t[f'{v}_unserved'])} ({pct(t[f'{v}_share_unserved'])})"
                for v in variants
            )
            or "–",
        ),
        cards=cards,
        computed_on=computed_on,
        map_fig=fig,
        map_help=tr("map_help", what=tr("map_what", v=_label(main, lang)), label=tr("map_label")),
        sections=sections,
        notes=[
            *failed_notes(plan_failed, lang, "plan"),
            *failed_notes(failed, lang, "simulate"),
            *earlier_notes(earlier_folders, lang, "city_simulation_summary.json"),
            tr("note_response"),
            tr("note_pooled"),
            tr("note_util"),
        ],
    )


def write_city_sim_report(
    summaries: Sequence[SimDistrictSummary],
    polygons_wgs84: Mapping[str, shapely.Geometry],
    out_dir: Path,
    lang: str = "en",
    failed: Mapping[str, str] | None = None,
    **computed_on: Any,
) -> Path:
    """Write ``city_simulation_report.html`` into ``out_dir``, linking the districts'
    ``report.html`` found there; ``computed_on`` as :func:`render_city_sim_html`."""
    links = report_links([s.area for s in summaries], out_dir)
    return write_atomic(
        out_dir / "city_simulation_report.html",
        render_city_sim_html(
            summaries, polygons_wgs84, lang, links=links, failed=failed, **computed_on
        ),
    )
