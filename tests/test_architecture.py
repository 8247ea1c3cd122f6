"""Data flows one way: ingest -> store -> analyse -> plan -> dispatch -> simulate -> serve.

A module imports only from its own stage, the stages to its left, and the shared core.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "xunfang"
STAGES = ["ingest", "store", "analyse", "plan", "dispatch", "simulate", "serve"]
CORE = {"errors", "config", "units", "types", "data", "outputs", "__init__"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m == "xunfang" or m.startswith("xunfang.")}


def test_imports_flow_one_way() -> None:
    problems = []
    checked = 0
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).parts
        stage = rel[0] if len(rel) > 1 else rel[0].removesuffix(".py")
        if stage not in STAGES:
            continue
        allowed = set(STAGES[: STAGES.index(stage) + 1]) | CORE
        checked += 1
        for mod in _imports(path):
            parts = mod.split(".")
            target = parts[1] if len(parts) > 1 else "__init__"
            if target not in allowed:
                problems.append(
                    f"{path.relative_to(SRC)} imports {mod} ({target} is after {stage})"
                )
    assert checked >= 10
    assert problems == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "m.py"
    bad.write_text("from xunfang.serve.cli import app\nimport xunfang.plan.siting\n")
    assert _imports(bad) == {"xunfang.serve.cli", "xunfang.plan.siting"}


def _city_named_outside_ingest(src: Path, city: str) -> list[str]:
    """Modules outside ``ingest/`` whose text names ``city`` (case-insensitive)."""
    return sorted(
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if "ingest" not in p.relative_to(src).parts
        and city in p.read_text(encoding="utf-8").lower()
    )


def test_no_module_outside_ingest_names_the_example_city() -> None:
    # any city reaches analysis, planning, dispatch, simulation and serving as data: the
    # example configuration (data/cities/chicago.toml) is named only by the ingest stage
    assert _city_named_outside_ingest(SRC, "chicago") == []
    # the check sees a name where there is one (the ingest stage's city profile)
    assert (SRC / "ingest" / "profiles.py").read_text(encoding="utf-8").lower().count("chicago")


def test_the_city_check_sees_a_violation(tmp_path: Path) -> None:
    (tmp_path / "plan").mkdir()
    (tmp_path / "ingest").mkdir()
    (tmp_path / "plan" / "x.py").write_text('"""Measured on Chicago districts."""\n')
    (tmp_path / "ingest" / "y.py").write_text('"""Chicago profile."""\n')
    assert _city_named_outside_ingest(tmp_path, "chicago") == ["plan/x.py"]
