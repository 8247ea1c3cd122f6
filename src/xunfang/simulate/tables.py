"""The simulation's modelling table: priorities, call processing, dispatch delay, on-scene
time and time-of-day traffic factors.

The defaults, with their sources and the values that are assumptions, are in
``xunfang/data/sim_defaults.toml`` (read that file: it is the documentation of every
value). A copy can be edited and named in a scenario file.

Every distribution is sampled by inverse transform from a uniform quantile
(:meth:`Distribution.from_quantile`), so one stream of uniforms drives every scenario of
a comparison the same way (common random numbers, Law 2015, *Simulation Modeling and
Analysis*, 5th ed., section 11.2).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError
from scipy.special import ndtri

from xunfang.dispatch.model import UnitKind
from xunfang.errors import DataFileError, ValidationError, read_toml_text

M = TypeVar("M", bound=BaseModel)

Z90 = float(ndtri(0.9))
"""The standard normal 90th percentile, 1.2816."""

DEFAULT_TABLE = "sim_defaults.toml"


class Distribution(BaseModel):
    """A positive duration distribution: fixed, exponential or lognormal.

    ``{dist = "fixed", value = x}``, ``{dist = "exponential", mean = x}`` or
    ``{dist = "lognormal", median = x, p90 = y}``; the unit is the one of the table key
    (seconds or minutes).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    dist: Literal["fixed", "exponential", "lognormal"]
    value: float | None = Field(default=None, ge=0)
    mean: float | None = Field(default=None, gt=0)
    median: float | None = Field(default=None, gt=0)
    p90: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Distribution:
        need = {"fixed": ("value",), "exponential": ("mean",), "lognormal": ("median", "p90")}
        wanted = need[self.dist]
        missing = [k for k in wanted if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a {self.dist} distribution needs {' and '.join(missing)}")
        extra = [
            k for k in ("value", "mean", "median", "p90") if k not in wanted and getattr(self, k)
        ]
        if extra:
            raise ValueError(f"a {self.dist} distribution takes no {', '.join(extra)}")
        if self.dist == "lognormal" and not self.p90 > self.median:  # type: ignore[operator]
            raise ValueError(f"p90 ({self.p90}) must be greater than median ({self.median})")
        return self

    @property
    def mean_value(self) -> float:
        """The mean, in the table's unit."""
        if self.dist == "fixed":
            return float(self.value)  # type: ignore[arg-type]
        if self.dist == "exponential":
            return float(self.mean)  # type: ignore[arg-type]
        sigma = math.log(self.p90 / self.median) / Z90  # type: ignore[operator]
        return float(self.median) * math.exp(sigma * sigma / 2.0)  # type: ignore[arg-type]

    def from_quantile(self, q: np.ndarray | float) -> np.ndarray:
        """Inverse CDF at ``q`` (values in (0, 1)), vectorised, float64."""
        qa = np.asarray(q, dtype=np.float64)
        if self.dist == "fixed":
            return np.full(qa.shape, float(self.value))  # type: ignore[arg-type]
        if self.dist == "exponential":
            return -float(self.mean) * np.log1p(-qa)  # type: ignore[arg-type]
        sigma = math.log(self.p90 / self.median) / Z90  # type: ignore[operator]
        return float(self.median) * np.exp(sigma * ndtri(qa))  # type: ignore[arg-type]

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` draws, by inverse transform of ``rng.random(size)``."""
        return self.from_quantile(rng.random(size))


class _Travel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    speed_factor_by_hour: list[float] = Field(min_length=24, max_length=24)
    foot_factor: float = Field(gt=0)

    @model_validator(mode="after")
    def _positive(self) -> _Travel:
        bad = [i for i, f in enumerate(self.speed_factor_by_hour) if not f > 0]
        if bad:
            raise ValueError(f"speed_factor_by_hour must be > 0 (hours {bad})")
        return self


class _Priority(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    group: dict[str, int]
    type: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _range(self) -> _Priority:
        for where, table in (("group", self.group), ("type", self.type)):
            bad = {k: v for k, v in table.items() if not 1 <= v <= 5}
            if bad:
                raise ValueError(f"priority.{where} values must be 1..5: {bad}")
        return self


class _TableFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    version: Literal[1]
    priority: _Priority
    call_processing_s: Distribution
    dispatch_delay_s: dict[UnitKind, Distribution]
    on_scene_min: dict[str, Distribution]
    travel: _Travel

    @model_validator(mode="after")
    def _complete(self) -> _TableFile:
        missing = sorted(set(UnitKind) - set(self.dispatch_delay_s))
        if missing:
            raise ValueError(f"dispatch_delay_s needs every unit kind; missing {missing}")
        groups = set(self.priority.group)
        if groups != set(self.on_scene_min):
            raise ValueError(
                "priority.group and on_scene_min must name the same type groups; "
                f"only in priority.group: {sorted(groups - set(self.on_scene_min))}, "
                f"only in on_scene_min: {sorted(set(self.on_scene_min) - groups)}"
            )
        return self


@dataclass(frozen=True)
class SimTable:
    """The modelling table (see ``sim_defaults.toml``).

    Attributes
    ----------
    priority_group
        Type group -> priority 1..5.
    priority_type
        Source type (e.g. CPD primary type) -> priority, overriding the group.
    call_processing_s
        Answering plus processing, seconds.
    dispatch_delay_s
        Unit kind -> dispatch-to-en-route delay, seconds.
    on_scene_min
        Type group -> on-scene time, minutes.
    speed_factor_by_hour
        24 travel-time multipliers for vehicles by local hour.
    foot_factor
        Travel-time multiplier of an officer on foot relative to free-flow car time.
    source
        The file read.
    """

    priority_group: Mapping[str, int]
    priority_type: Mapping[str, int]
    call_processing_s: Distribution
    dispatch_delay_s: Mapping[UnitKind, Distribution]
    on_scene_min: Mapping[str, Distribution]
    speed_factor_by_hour: tuple[float, ...]
    foot_factor: float
    source: str

    def priorities(self, type_group: np.ndarray, source_type: np.ndarray) -> np.ndarray:
        """(n,) int64 priorities: by source type where listed, else by type group.

        Raises
        ------
        ValidationError
            If a type group is not in the table (naming it).
        """
        groups = np.asarray(type_group, dtype=object)
        unknown = sorted(set(groups.tolist()) - set(self.priority_group))
        if unknown:
            raise ValidationError(
                f"type groups {unknown} are not in the simulation table {self.source} "
                f"(priority.group has {sorted(self.priority_group)}); add them"
            )
        out = np.fromiter(
            (self.priority_group[g] for g in groups.tolist()), dtype=np.int64, count=groups.size
        )
        if self.priority_type:
            types = np.asarray(source_type, dtype=object).tolist()
            over = np.fromiter(
                (self.priority_type.get(str(t).upper(), 0) for t in types),
                dtype=np.int64,
                count=groups.size,
            )
            out = np.where(over > 0, over, out)
        return out

    def on_scene_s(self, type_group: np.ndarray, q: np.ndarray) -> np.ndarray:
        """(n,) on-scene seconds of calls of these groups at uniform quantiles ``q``."""
        groups = np.asarray(type_group, dtype=object)
        out = np.empty(groups.size, dtype=np.float64)
        for name, dist in self.on_scene_min.items():
            mask = groups == name
            if mask.any():
                out[mask] = dist.from_quantile(q[mask]) * 60.0
        unknown = ~np.isin(groups, list(self.on_scene_min))
        if unknown.any():
            raise ValidationError(
                f"type groups {sorted(set(groups[unknown].tolist()))} have no on_scene_min "
                f"in {self.source}"
            )
        return out


def load_sim_table(path: str | Path | None = None) -> SimTable:
    """Read a simulation table (default: the packaged ``sim_defaults.toml``).

    Raises
    ------
    DataFileError
        If the file is missing, not TOML, or a field is missing or wrong; the message lists
        every problem and ``field`` names the first.
    """
    if path is None:
        ref = resources.files("xunfang.data").joinpath(DEFAULT_TABLE)
        text, where = ref.read_text(encoding="utf-8"), f"xunfang/data/{DEFAULT_TABLE}"
    else:
        where = str(path)
        try:
            text = read_toml_text(path)
        except OSError as exc:
            raise DataFileError(path, f"cannot read the simulation table: {exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(where, f"not valid TOML: {exc}") from exc
    model = validate_model(_TableFile, raw, where)
    return SimTable(
        priority_group=MappingProxyType(dict(model.priority.group)),
        priority_type=MappingProxyType({k.upper(): v for k, v in model.priority.type.items()}),
        call_processing_s=model.call_processing_s,
        dispatch_delay_s=MappingProxyType(dict(model.dispatch_delay_s)),
        on_scene_min=MappingProxyType(dict(model.on_scene_min)),
        speed_factor_by_hour=tuple(model.travel.speed_factor_by_hour),
        foot_factor=model.travel.foot_factor,
        source=where,
    )


def validate_model(cls: type[M], raw: dict[str, Any], where: str | Path) -> M:
    """Validate a parsed TOML document, turning pydantic's errors into one
    :class:`DataFileError` that lists every problem with its dotted field name."""
    try:
        return cls.model_validate(raw)
    except PydanticValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (misspelt? see the example scenario file)"
            elif err["type"] == "missing":
                msg = "required field is missing"
            problems.append((loc, msg))
        first = problems[0][0] or None
        text = "; ".join(f"{loc or '(top level)'}: {msg}" for loc, msg in problems)
        count = f"{len(problems)} problems: " if len(problems) > 1 else ""
        raise DataFileError(where, count + text, field=first) from None
