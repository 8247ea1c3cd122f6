"""The call types the service accepts, each in one type group of the taxonomy.

Crime types follow the taxonomy's groups (``xunfang/data/taxonomy.toml``); the service
calls (missing person, dispute, traffic accident, ...) are the usual non-crime 110 / 911
categories. The default priority is 1 (most urgent) .. 5; a dispatcher may override it.
"""

from __future__ import annotations

from dataclasses import dataclass

from xunfang.errors import ValidationError
from xunfang.ingest.taxonomy import load_taxonomy


@dataclass(frozen=True)
class CallType:
    """One call type."""

    key: str
    group: str
    priority: int
    en: str
    zh: str


CALL_TYPES: dict[str, CallType] = {
    t.key: t
    for t in (
        CallType("robbery", "violent", 1, "Robbery", "抢劫"),
        CallType("assault", "violent", 2, "Assault / fight", "殴打 / 打架"),
        CallType("domestic_violence", "violent", 1, "Domestic violence", "家庭暴力"),
        CallType("weapons", "violent", 1, "Weapon / shots fired", "持械 / 枪声"),
        CallType("theft", "property", 3, "Theft", "盗窃"),
        CallType("burglary", "property", 2, "Burglary", "入室盗窃"),
        CallType("fraud", "property", 4, "Fraud", "诈骗"),
        CallType("vandalism", "property", 4, "Criminal damage", "故意毁坏财物"),
        CallType("vehicle_theft", "vehicle", 3, "Vehicle theft", "盗窃车辆"),
        CallType("theft_from_vehicle", "vehicle", 4, "Theft from vehicle", "车内盗窃"),
        CallType("dispute", "service", 3, "Dispute to mediate", "纠纷调解"),
        CallType("disturbance", "disorder", 4, "Disturbance / noise", "扰民 / 噪音"),
        CallType("suspicious_person", "disorder", 3, "Suspicious person", "可疑人员"),
        CallType("narcotics", "disorder", 3, "Narcotics", "涉毒"),
        CallType("traffic_accident", "traffic", 2, "Traffic accident", "交通事故"),
        CallType("traffic_hazard", "traffic", 3, "Traffic hazard / jam", "交通堵塞 / 隐患"),
        CallType("drunk_driving", "traffic", 2, "Drunk driving", "酒驾"),
        CallType("missing_person", "service", 2, "Missing person", "人员走失"),
        CallType("medical_assist", "service", 2, "Medical assistance", "急救协助"),
        CallType("welfare_check", "service", 3, "Welfare check", "安全确认"),
        CallType("lost_property", "service", 5, "Lost property", "失物"),
        CallType("other", "other", 4, "Other", "其他"),
    )
}


def check_call_types() -> None:
    """Raise if a call type names a group the taxonomy does not have.

    Raises
    ------
    ValidationError
        Naming the call type and the taxonomy's groups.
    """
    groups = set(load_taxonomy().groups)
    for t in CALL_TYPES.values():
        if t.group not in groups:
            raise ValidationError(
                f"call type {t.key!r} has group {t.group!r}, not one of {sorted(groups)}"
            )
