"""Notes with a message key and fields (xunfang.ingest.notes): English as the str itself,
Chinese at the edge."""

from __future__ import annotations

import json
import pickle

import pytest

from xunfang.ingest.notes import Note, note_text, sorted_counts


def test_note_is_its_english_sentence_and_renders_chinese() -> None:
    note = Note(
        "ways_read",
        read=796,
        name="central_shanghai_drive.osm",
        kept=793,
        skipped={},
        excluded=sorted_counts({"access=no": 3}),
    )
    # the English text the road reader wrote before notes carried keys
    english = (
        "Read 796 ways of central_shanghai_drive.osm; kept 793 drivable ways; not drivable by "
        "class: none; closed to cars: access=no 3."
    )
    assert note == english
    assert json.dumps([note]) == json.dumps([english])
    assert note_text(note, "en") == english
    assert note_text(note, "zh") == (
        "读取 central_shanghai_drive.osm 中 796 条道路；保留 793 条可行车道路；"
        "按道路等级不可行车：无；禁止机动车：access=no 3。"
    )
    assert note_text("a plain sentence", "zh") == "a plain sentence"
    with pytest.raises(ValueError, match="'fr' is not one of en, zh"):
        note.text("fr")


def test_nested_notes_counts_and_lists_render_per_language() -> None:
    rules = sorted_counts({"tagged two-way": 265, "tagged one-way": 528})
    assert list(rules) == ["tagged one-way", "tagged two-way"]  # largest first
    oneway = Note("oneway_tags", oneway=528, ways=793, rules=rules)
    assert "(tagged one-way 528, tagged two-way 265)" in oneway
    assert "（标注单行 528，标注双向 265）" in oneway.text("zh")
    stations = Note(
        "stations_left_out",
        used=3,
        total=9,
        source=Note("stations_file"),
        buffer_m=300.0,
        area="西片",
        shown=(Note("station_far", name="A", km=1.04), Note("station_far", name="B", km=2.0)),
        more=Note("and_more", n=1),
    )
    assert stations == (
        "3 of 9 stations of the stations file used; left out (more than 300 m outside 西片): "
        "A (1.0 km outside the area); B (2.0 km outside the area); and 1 more."
    )
    assert stations.text("zh") == (
        "使用 派出所文件 中 9 个派出所中的 3 个；未使用（距 西片 超过 300 米）："
        "A（距区域 1.0 公里）；B（距区域 2.0 公里）；另有 1 个。"
    )
    speeds = Note(
        "speeds_file",
        posted=29,
        edges=687,
        table=Note("table", code="CN"),
        speeds={"primary": 40.0},
    )
    swapped = speeds.with_fields(table=Note("table_stated", code="CN"))
    assert swapped.endswith("the CN road-class table (country CN stated) (km/h: primary 40).")
    assert "CN 道路等级速度表（已指定 country CN）" in swapped.text("zh")


def test_note_pickles_with_its_key() -> None:
    note = Note("left_by_area", areas=[Note("left_in_area", name="EAST", left=2, all=2)])
    back = pickle.loads(pickle.dumps(note))
    assert back == "Nodes left out by area: EAST 2 of 2."
    assert back.key == "left_by_area"
    assert back.text("zh") == "各片区剔除的节点：EAST 2 个中 2 个。"


def test_deployment_note_keeps_its_english_and_has_chinese() -> None:
    note = Note("legs_outside", n=0, legs=1462)
    assert note == (
        "0 of 1462 legs of the sector patrols cannot be walked on their sector's streets and "
        "take the shortest walk on the whole network"
    )
    assert note.text("zh") == (
        "巡区步巡的 1462 段路程中有 0 段无法在本巡区道路上步行，改走全路网最短步行路线"
    )
    groups = Note("places_outside", n=3, groups={"school": 2, "hospital": 1})
    assert groups.endswith("get no posts (school 2, hospital 1)")
    assert groups.text("zh").endswith("不设岗位（school 2，hospital 1）")
