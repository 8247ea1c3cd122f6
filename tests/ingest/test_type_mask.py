"""``--types`` values matched against type groups, their names, types and subtypes
(synthetic rows made up here)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from xunfang.ingest.taxonomy import type_mask, unknown_types_message

FRAME = pd.DataFrame(
    {
        "type_group": ["service", "service", "property", "disorder", "traffic"],
        "type": ["求助", "纠纷", "刑事", "治安", "BURGLARY"],
        "subtype": ["走失求助", "邻里纠纷", "扒窃", "打架斗殴", "FORCIBLE ENTRY"],
    }
)


def _rows(*wanted: str) -> list[int]:
    mask, unknown = type_mask(FRAME, list(wanted))
    assert unknown == []
    return np.flatnonzero(mask).tolist()


def test_groups_by_key_and_by_name_in_either_language() -> None:
    assert _rows("service") == [0, 1]
    assert _rows("SERVICE") == [0, 1]
    assert _rows("求助服务") == [0, 1]  # the group's Chinese name
    assert _rows("service / help") == [0, 1]  # its English name
    assert _rows("侵财") == [2]


def test_types_and_subtypes_of_the_data() -> None:
    assert _rows("求助") == [0]  # a type: one of the two service rows
    assert _rows("走失求助") == [0]  # a subtype
    assert _rows("burglary") == [4]  # types match case-insensitively
    assert _rows("forcible entry", "邻里纠纷") == [1, 4]  # a union
    # a group name that is also a type (治安): the group is used
    assert _rows("治安") == [3]


def test_values_with_no_row_are_returned_unknown_and_named() -> None:
    mask, unknown = type_mask(FRAME, ["走失求助", "violent", "ARSON"])
    assert np.flatnonzero(mask).tolist() == [0]
    assert unknown == ["violent", "ARSON"]  # violent: a group, but absent from the data
    assert unknown_types_message(FRAME, unknown) == (
        "--types ['violent', 'ARSON'] match no type group ['disorder', 'property', 'service', "
        "'traffic'], type (e.g. ['BURGLARY', '刑事', '求助', '治安', '纠纷']) or subtype (e.g. "
        "['FORCIBLE ENTRY', '扒窃', '打架斗殴', '走失求助', '邻里纠纷']) of the data"
    )
