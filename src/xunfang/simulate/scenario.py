"""Scenario files (TOML): what to simulate, validated field by field.

Example (``examples/simulate/district1_june2015.toml`` is a complete one)::

    [scenario]
    name = "District 1, June 2015"
    area = "district:1"          # a study area (xunfang areas), or "city"
    # city = "../cities/my_city.toml"  # optional city file (default: the data directory's)
    month = "2015-06"            # the held-out month whose incidents are replayed
    replications = 5
    seed = 20150601
    compare = ["stations", "booths", "deployment"]
    preemption = true            # priority-1 calls divert units from routine calls
    preempt_min = 3              # ... travelling to calls of priority >= 3
    cleared_at = "scene"         # a unit that clears drives back from the scene
                                 # ("post": it is back at its post at once)

    [calls]
    source = "replay"            # or "sample" (hour-of-week rate fitted on the
                                 # training months before `month`)
    midnight = "spread"          # exact-midnight stamps: spread over their day, or "keep"
    table = "default"            # or a copy of xunfang/data/sim_defaults.toml
    training_months = 3          # months before `month` for routes and fitted rates

    [plan]
    sites_csv = "out/demo/sites.csv"   # an `xunfang plan` output folder's sites.csv ...
    # booths = 27                      # ... or make the plan here (MCLP on the months
    # threshold_min = 3.0              #     before `month`, i.e. without the held-out one)

    [units.station_car]
    per_station = 6
    shift_hours = [0, 24]

    [units.booth]
    officers_per_booth = 1
    mode = "car"                 # or "foot"
    max_travel_min = 3.0         # a booth officer only takes calls in its own area
    shift_hours = [8, 20]

    [units.patrol]
    count = 4
    waypoints = 6
    dwell_min = 10.0

    [units.response_team]
    count = 1
    post = "station"             # the first station, or [lon, lat]
    max_priority = 1

    [deployment]
    schedule_csv = "deployment.csv"    # absent file: the third scenario is skipped

    [travel]                     # optional: overrides the table's hourly factors
    speed_factor_by_hour = [1.0, ...]  # 24 values

Relative paths are relative to the scenario file. Unknown keys are errors (a misspelt key
would otherwise be ignored silently).

The three compared scenarios use the same calls (same seeds):

``stations``
    station cars, patrols and the response team;
``booths``
    the same plus the booth officers of the plan;
``deployment``
    the same plus the units of the deployment schedule (on duty in their blocks only).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from xunfang.errors import DataFileError, read_toml_text
from xunfang.simulate.tables import validate_model

VARIANTS = ("stations", "booths", "deployment")
Variant = Literal["stations", "booths", "deployment"]


def _all_variants() -> list[Variant]:
    return ["stations", "booths", "deployment"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_shift(value: list[float]) -> list[float]:
    if len(value) != 2 or not all(0 <= h <= 24 for h in value) or value[0] == value[1]:
        raise ValueError("must be [start_hour, end_hour], two different hours in 0..24")
    return value


class ScenarioSection(_Strict):
    """``[scenario]``."""

    name: str = "scenario"
    area: str
    month: str
    city: str | None = None
    """A city file (``xunfang.ingest.city``), relative to the scenario; default the
    default city of the data directory."""

    @field_validator("month")
    @classmethod
    def _month(cls, value: str) -> str:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
            raise ValueError(f"must be a month like 2015-06, got {value!r}")
        return value

    replications: int = Field(default=3, ge=1, le=1000)
    seed: int = Field(default=0, ge=0)
    compare: list[Variant] = Field(default_factory=_all_variants, min_length=1)
    preemption: bool = False
    preempt_min: int = Field(default=3, ge=2, le=5)
    cleared_at: Literal["scene", "post"] = "scene"
    incidents: list[str] = Field(default_factory=list)


class CallsSection(_Strict):
    """``[calls]``."""

    source: Literal["replay", "sample"] = "replay"
    midnight: Literal["spread", "keep"] = "spread"
    table: str = "default"
    training_months: int = Field(default=3, ge=1, le=60)
    types: list[str] = Field(default_factory=list)


class PlanSection(_Strict):
    """``[plan]``: a sites.csv, or the parameters of a plan to make."""

    sites_csv: str | None = None
    booths: int | None = Field(default=None, ge=0)
    threshold_min: float = Field(default=3.0, gt=0, le=120.0)  # booth_plan.MAX_THRESHOLD_MIN
    time_limit_s: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _one_source(self) -> PlanSection:
        if self.sites_csv is not None and self.booths is not None:
            raise ValueError("give either sites_csv or booths, not both")
        return self


class StationCars(_Strict):
    """``[units.station_car]``."""

    per_station: int = Field(default=4, ge=0)
    counts: dict[str, int] = Field(default_factory=dict)
    shift_hours: list[float] = Field(default_factory=lambda: [0.0, 24.0])

    _shift = field_validator("shift_hours")(_check_shift)


class Booths(_Strict):
    """``[units.booth]``."""

    officers_per_booth: int = Field(default=1, ge=0)
    mode: Literal["car", "foot"] = "car"
    max_travel_min: float | None = Field(default=3.0, gt=0)
    shift_hours: list[float] = Field(default_factory=lambda: [0.0, 24.0])

    _shift = field_validator("shift_hours")(_check_shift)


class Patrols(_Strict):
    """``[units.patrol]``: cars on routes through hotspots of the training months."""

    count: int = Field(default=0, ge=0)
    waypoints: int = Field(default=6, ge=1)
    dwell_min: float = Field(default=10.0, gt=0)
    shift_hours: list[float] = Field(default_factory=lambda: [0.0, 24.0])

    _shift = field_validator("shift_hours")(_check_shift)


class ResponseTeam(_Strict):
    """``[units.response_team]``."""

    count: int = Field(default=0, ge=0)
    post: Literal["station"] | list[float] = "station"
    max_priority: int = Field(default=1, ge=1, le=5)
    speed_factor: float = Field(default=0.9, gt=0)
    shift_hours: list[float] = Field(default_factory=lambda: [0.0, 24.0])

    _shift = field_validator("shift_hours")(_check_shift)

    @field_validator("post")
    @classmethod
    def _lonlat(cls, value: str | list[float]) -> str | list[float]:
        if isinstance(value, list) and (
            len(value) != 2 or not (-180 <= value[0] <= 180 and -90 <= value[1] <= 90)
        ):
            raise ValueError('must be "station" or [lon, lat] in WGS-84 degrees')
        return value


class UnitsSection(_Strict):
    """``[units]``."""

    station_car: StationCars = Field(default_factory=StationCars)
    booth: Booths = Field(default_factory=Booths)
    patrol: Patrols = Field(default_factory=Patrols)
    response_team: ResponseTeam = Field(default_factory=ResponseTeam)


class DeploymentSection(_Strict):
    """``[deployment]``."""

    schedule_csv: str | None = None


class TravelSection(_Strict):
    """``[travel]``."""

    speed_factor_by_hour: list[float] | None = Field(default=None, min_length=24, max_length=24)

    @field_validator("speed_factor_by_hour")
    @classmethod
    def _positive(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and min(value) <= 0:
            raise ValueError("every factor must be > 0")
        return value


class Scenario(_Strict):
    """A validated scenario file. ``base_dir`` is the folder of the file (for paths)."""

    scenario: ScenarioSection
    calls: CallsSection = Field(default_factory=CallsSection)
    plan: PlanSection = Field(default_factory=PlanSection)
    units: UnitsSection = Field(default_factory=UnitsSection)
    deployment: DeploymentSection = Field(default_factory=DeploymentSection)
    travel: TravelSection = Field(default_factory=TravelSection)
    base_dir: str = "."
    source: str = "<memory>"

    def path(self, value: str) -> Path:
        """A path of the file, resolved against the scenario's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    def with_changes(self, **sections: dict[str, object]) -> Scenario:
        """A copy with some fields of some sections replaced, re-validated, e.g.
        ``with_changes(plan={"booths": 10}, units={"booth": {...}})``."""
        raw = self.model_dump()
        for section, values in sections.items():
            target = raw.setdefault(section, {})
            for key, value in values.items():
                if isinstance(value, dict) and isinstance(target.get(key), dict):
                    target[key] = {**target[key], **value}
                else:
                    target[key] = value
        return validate_model(Scenario, raw, self.source)


def load_scenario(path: str | Path, *, default_area: str | None = None) -> Scenario:
    """Read and validate a scenario file.

    ``default_area`` is the ``scenario.area`` of a file that gives none (``simulate run
    --plan-dir`` replaces the area by each district's, so it does not need one); without
    it, ``scenario.area`` is required.

    Raises
    ------
    DataFileError
        If the file cannot be read, is not TOML, or has a wrong, missing or unknown field
        (the message lists each with its dotted name, e.g. ``units.booth.max_travel_min``).
    """
    path = Path(path)
    try:
        text = read_toml_text(path)
    except FileNotFoundError:
        raise DataFileError(path, "scenario file not found") from None
    except OSError as exc:
        raise DataFileError(path, f"cannot read the scenario file: {exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(path, f"not valid TOML: {exc}") from exc
    for key in ("base_dir", "source"):
        if key in raw:
            raise DataFileError(path, "reserved key; remove it", field=key)
    section = raw.get("scenario")
    if default_area is not None and isinstance(section, dict) and "area" not in section:
        section["area"] = default_area
    raw["base_dir"] = str(path.resolve().parent)
    raw["source"] = str(path)
    return validate_model(Scenario, raw, path)
