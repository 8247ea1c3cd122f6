"""One way to make a HiGHS solver for every model in xunfang.plan."""

from __future__ import annotations

from typing import Any

import highspy


def new_highs() -> Any:
    """A silent HiGHS instance.

    The Python wrapper class ``highspy.Highs`` prints a two-line banner when constructed,
    before any option can be set; its core base class does not (falls back to the public
    class if a future highspy drops the private name).

    The ``threads`` option is deliberately left alone: HiGHS keeps one global task scheduler
    per process, and a model that asks for a different thread count than the scheduler was
    started with is refused at ``run()`` (model status "Not Set"). Every model here uses the
    default.
    """
    cls = getattr(highspy, "_Highs", None) or highspy.Highs
    h = cls()
    h.setOptionValue("output_flag", False)
    return h
