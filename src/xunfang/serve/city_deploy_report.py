"""The city deployment report (``city_deploy_report.html``): every district's week on one page.

Written by ``xunfang deploy --plan-dir <city plan>`` beside ``city_deploy_summary.csv/json``,
with the look, parts and languages of the other city pages (:mod:`xunfang.serve.city_report`):
the city's figures, what they were computed on, a map of the districts filled by the share of
the week's risk within reach of a post, and a table of all districts (officers, booth walks,
hotspot patrol person-times, school-gate posts, hours, risk and its coverage) whose city row
is :func:`xunfang.plan.city_deploy.deploy_totals`: sums of the districts' figures, the
covered share recomputed from the summed risk.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import shapely

from xunfang.plan.city_deploy import DeploySummary, deploy_totals
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

__all__ = ["render_city_deploy_html", "write_city_deploy_report"]

_TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "City deployment: {n} districts", "zh": "全市勤务部署：{n} 个辖区"},
    "lead": {
        "en": "A week of {n} districts, each with the same roster and its own force: "
        "{officers} officers, {person_times} person-times (officer shifts), "
        "{officer_hours} officer-hours. {covered} of the week's risk lies within "
        "{threshold} min of a post.",
        "zh": "{n} 个辖区一周的勤务，各辖区使用同一排班表、各自的警力：警员 {officers} 名，"
        "{person_times} 人次（警员班次），{officer_hours} 人·小时。本周风险中有 {covered} "
        "处于岗位 {threshold} 分钟范围内。",
    },
    "officers": {"en": "officers", "zh": "警员"},
    "person_times": {"en": "person-times (officer shifts)", "zh": "人次（警员班次）"},
    "booth_walks": {"en": "booth walks (sector patrols)", "zh": "岗亭步巡（巡区巡逻人次）"},
    "patrol_person_times": {"en": "hotspot patrol person-times", "zh": "热点巡逻人次"},
    "school_gate_posts": {"en": "school-gate posts", "zh": "校园门口岗位"},
    "rule_posts": {"en": "rule posts (all places)", "zh": "规则岗位（全部地点）"},
    "booths": {"en": "booths", "zh": "岗亭"},
    "officer_hours": {"en": "officer-hours", "zh": "警力时长（人·小时）"},
    "patrol_hours": {"en": "patrol hours", "zh": "巡逻时长（人·小时）"},
    "risk": {"en": "risk (incidents / week)", "zh": "风险（起/周）"},
    "covered_risk": {"en": "risk within reach", "zh": "覆盖范围内风险"},
    "covered_share": {"en": "share within reach", "zh": "风险覆盖率"},
    "covered_card": {"en": "of the risk within {t} min of a post", "zh": "风险处于岗位{t}分钟内"},
    "on_plan": {
        "en": "Plan: the city plan in {plan} ({n} districts); each district's week is planned "
        "on its own booths and patrol sectors.",
        "zh": "方案：{plan} 中的全市方案（{n} 个辖区）；各辖区按本辖区的岗亭与巡区安排一周勤务。",
    },
    "on_roster": {
        "en": "Roster: {roster}, applied to every district (each district its own force); "
        "rule calendar: {calendar}.",
        "zh": "排班表：{roster}，每个辖区使用同一排班（各辖区警力独立）；规则日历：{calendar}。",
    },
    "no_calendar": {"en": "none", "zh": "无"},
    "on_incidents": {
        "en": "Incidents: {incidents} inside the districts, {start} to {end}, from {source}.",
        "zh": "警情：各辖区内共 {incidents} 起，{start} 至 {end}，来源 {source}。",
    },
    "plans_files": {
        "en": "the files each district's plan records",
        "zh": "各辖区方案记录的警情文件",
    },
    "on_period": {
        "en": "Period: a typical week of {blocks} time blocks per district; the risk of a "
        "block is the incidents per week in its hours of the week over {weeks} weeks of "
        "history, weighted by the calendar's type emphasis.",
        "zh": "时段：典型一周，每个辖区 {blocks} 个时段；时段风险为 {weeks} 周历史中该时段每周的"
        "警情数，并按日历中的类型权重加权。",
    },
    "on_held": {
        "en": "Not held out: the risk and its coverage are estimated from these same "
        "incidents (in sample). The booth plans were made from incidents of {pstart} to "
        "{pend}.",
        "zh": "非留出检验：风险及其覆盖率由上述同一批警情估计（样本内）。岗亭方案所用警情为 "
        "{pstart} 至 {pend}。",
    },
    "on_held_unknown": {
        "en": "Not held out: the risk and its coverage are estimated from these same "
        "incidents (in sample).",
        "zh": "非留出检验：风险及其覆盖率由上述同一批警情估计（样本内）。",
    },
    "map_what": {"en": "the share of the week's risk within reach of a post", "zh": "风险覆盖率"},
    "map_label": {"en": "district: share", "zh": "辖区：覆盖率"},
    "colour": {"en": "share within reach", "zh": "覆盖率"},
    "notes": {
        "en": "Officers: roster names with a post in the week (booths, rule posts, patrols, "
        "relief, reserve). Person-times count each officer once per shift worked. Booth "
        "walks: the loops booth officers walk in their own sector, one per booth and block. "
        "Hotspot patrol person-times: the shifts of vehicle crews and foot patrols. "
        "School-gate posts: the calendar's school places staffed, once per place and "
        "block; rule posts: every calendar place.",
        "zh": "警员：本周有岗位的排班人员（岗亭、规则岗位、巡逻、替岗、备勤）。人次：每名警员每个"
        "班次计一次。岗亭步巡：岗亭警员在本岗巡区内步巡的圈数，每个岗亭每个时段一圈。热点巡逻人次："
        "车巡与步巡警员的班次数。校园门口岗位：日历中学校地点的在岗次数，每个地点每个时段计一次；"
        "规则岗位：日历中全部地点。",
    },
    "notes_city": {
        "en": "A district's posts and patrols stay inside it; the city figures are the sums "
        "of the districts' weeks.",
        "zh": "各辖区岗位与巡逻不跨辖区；全市数值为各辖区一周数值之和。",
    },
}


def _span(values: Sequence[str]) -> tuple[str, str]:
    days = [v for v in values if v]
    return (min(days), max(days)) if days else ("–", "–")


def _weeks(summaries: Sequence[DeploySummary]) -> str:
    w = sorted({round(s.history_weeks, 1) for s in summaries if s.history_weeks == s.history_weeks})
    if not w:
        return "–"
    return f"{w[0]:g}" if len(w) == 1 else f"{w[0]:g}-{w[-1]:g}"


def render_city_deploy_html(
    summaries: Sequence[DeploySummary],
    polygons_wgs84: Mapping[str, shapely.Geometry],
    lang: str = "en",
    *,
    plan_dir: Path | str,
    roster: Path | str,
    calendar: Path | str | None = None,
    incident_files: Sequence[Path] = (),
    links: Mapping[str, str] | None = None,
    failed: Mapping[str, str] | None = None,
    plan_failed: Mapping[str, str] | None = None,
    earlier_folders: Sequence[str] = (),
) -> str:
    """The city deployment page.

    Parameters
    ----------
    summaries
        The districts' weeks (:func:`xunfang.plan.city_deploy.deploy_city`).
    polygons_wgs84
        Area -> outline, EPSG:4326 degrees.
    lang
        ``en`` or ``zh``.
    plan_dir, roster, calendar, incident_files
        What the week was computed on (the city plan folder, the roster and calendar files,
        the incident files given, empty: those the plans record).
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

    t = deploy_totals(summaries)
    pct = percent(1)
    thr = sorted({s.threshold_min for s in summaries if s.threshold_min == s.threshold_min})
    threshold = "/".join(f"{x:g}" for x in thr) or "–"
    columns = [
        Column("booths", tr("booths"), count),
        Column("officers", tr("officers"), count),
        Column("person_times", tr("person_times"), count),
        Column("booth_walks", tr("booth_walks"), count),
        Column("patrol_person_times", tr("patrol_person_times"), count),
        Column("school_gate_posts", tr("school_gate_posts"), count),
        Column("rule_posts", tr("rule_posts"), count),
        Column("officer_hours", tr("officer_hours"), number(0)),
        Column("patrol_hours", tr("patrol_hours"), number(0)),
        Column("risk", tr("risk"), number(1)),
        Column("covered_risk", tr("covered_risk"), number(1)),
        Column("covered_share", tr("covered_share"), pct),
    ]
    start, end = _span([s.incidents_from for s in summaries] + [s.incidents_to for s in summaries])
    pstart, pend = _span(
        [s.plan_incidents_from for s in summaries] + [s.plan_incidents_to for s in summaries]
    )
    source = ", ".join(str(p) for p in incident_files) or tr("plans_files")
    blocks = sorted({s.blocks for s in summaries})
    computed_on = [
        tr("on_plan", plan=str(plan_dir), n=t["districts"]),
        tr(
            "on_roster",
            roster=str(roster),
            calendar=str(calendar) if calendar is not None else tr("no_calendar"),
        ),
        tr("on_incidents", incidents=count(t["incidents"]), start=start, end=end, source=source),
        tr(
            "on_period",
            blocks="/".join(str(b) for b in blocks) or "–",
            weeks=_weeks(summaries),
        ),
        tr("on_held", pstart=pstart, pend=pend) if pstart != "–" else tr("on_held_unknown"),
    ]
    fig = district_map(
        [s.area for s in summaries],
        [s.covered_share for s in summaries],
        polygons_wgs84,
        labels=[f"{area_label(s.area, lang)}: {pct(s.covered_share)}" for s in summaries],
        hover=[
            f"{html.escape(area_text(s.area, lang))}<br>{tr('officers')} {s.officers}<br>"
            f"{tr('booth_walks')} {s.booth_walks}<br>"
            f"{tr('patrol_person_times')} {s.patrol_person_times}<br>"
            f"{tr('school_gate_posts')} {s.school_gate_posts}<br>"
            f"{tr('covered_share')} {pct(s.covered_share)}"
            for s in summaries
        ],
        colour_title=tr("colour"),
        colorscale="Blues",
        tickformat=".1%",
    )
    return render_city_page(
        lang=lang,
        title=tr("title", n=t["districts"]),
        lead=tr(
            "lead",
            n=t["districts"],
            officers=count(t["officers"]),
            person_times=count(t["person_times"]),
            officer_hours=count(t["officer_hours"]),
            covered=pct(t["covered_share"]),
            threshold=threshold,
        ),
        cards=[
            (count(t["officers"]), tr("officers")),
            (count(t["person_times"]), tr("person_times")),
            (count(t["booth_walks"]), tr("booth_walks")),
            (count(t["patrol_person_times"]), tr("patrol_person_times")),
            (count(t["school_gate_posts"]), tr("school_gate_posts")),
            (pct(t["covered_share"]), tr("covered_card", t=threshold)),
        ],
        computed_on=computed_on,
        map_fig=fig,
        map_help=tr("map_help", what=tr("map_what"), label=tr("map_label")),
        sections=[
            (
                tr("districts"),
                f'<p class="muted">{html.escape(tr("table_help"))}</p>'
                + district_table(
                    columns,
                    [s.to_dict() for s in summaries],
                    lang=lang,
                    total=t,
                    links=links,
                ),
            )
        ],
        notes=[
            *failed_notes(plan_failed, lang, "plan"),
            *failed_notes(failed, lang, "deploy"),
            *earlier_notes(earlier_folders, lang, "city_deploy_summary.json"),
            tr("notes"),
            tr("notes_city"),
        ],
    )


def write_city_deploy_report(
    summaries: Sequence[DeploySummary],
    polygons_wgs84: Mapping[str, shapely.Geometry],
    out_dir: Path,
    lang: str = "en",
    failed: Mapping[str, str] | None = None,
    **computed_on: Any,
) -> Path:
    """Write ``city_deploy_report.html`` into ``out_dir``, linking the districts'
    ``report.html`` found there; ``computed_on`` as :func:`render_city_deploy_html`."""
    links = report_links([s.area for s in summaries], out_dir)
    return write_atomic(
        out_dir / "city_deploy_report.html",
        render_city_deploy_html(
            summaries, polygons_wgs84, lang, links=links, failed=failed, **computed_on
        ),
    )
