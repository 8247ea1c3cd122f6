"""The event queue of the discrete-event simulation.

A binary heap of ``(time_s, priority, seq, kind, a, b)`` tuples, as in SimPy's core
(``simpy/core.py``: ``(time, priority, event id, event)``): events are processed in time
order; at equal times a smaller ``priority`` goes first (:data:`URGENT` before
:data:`NORMAL`); at equal time and priority, in the order they were scheduled (``seq``
counts insertions). The ordering is therefore total and the run deterministic.

The rule at one instant
-----------------------
The simulator (:mod:`xunfang.simulate.sim`) gives every kind of event a priority, so that
what happens at one instant does not depend on the order in which the events happened to
be scheduled:

1. :data:`DUTY` -- units come on or go off duty;
2. :data:`UNIT_FREED` -- units clear their calls or reach their posts;
3. :data:`CALL` -- calls are received and become ready for dispatch (in the order
   received: their events are scheduled in that order);
4. :data:`DISPATCH` -- one dispatch round: the waiting calls, in queue order (priority,
   time received), each get the closest available unit;
5. :data:`UNIT_MOVES` -- units set off and arrive on scene.

So a unit that clears is available to a call that becomes ready at the same instant, a
unit that comes on duty at that instant likewise, one that goes off duty is not, and of
two calls ready at the same instant the more urgent is served first, whichever event was
scheduled first.

Events are plain integers (``kind``) with two integer arguments; cancelling is done by
the caller with a version number (a *token*) carried in an argument and compared when the
event is popped, which keeps the heap free of deletions (lazy deletion).
"""

from __future__ import annotations

import heapq
import math

from xunfang.errors import ValidationError

URGENT = 0
"""Priority of events that must precede others at the same instant (duty changes)."""
NORMAL = 1
"""Priority of every other event."""

# the simulator's priorities (see "The rule at one instant" above)
DUTY = URGENT
"""Units come on or go off duty."""
UNIT_FREED = 1
"""A unit clears its call or reaches its post."""
CALL = 2
"""A call is received or becomes ready for dispatch."""
DISPATCH = 3
"""A dispatch round."""
UNIT_MOVES = 4
"""A unit sets off or arrives on scene."""


class EventQueue:
    """Time-ordered events, ties broken by priority, then insertion order.

    Times are seconds on the simulation clock (0 = start of the simulated period).
    """

    __slots__ = ("_heap", "_seq", "now")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, int, int, int]] = []
        self._seq = 0
        self.now = 0.0

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(
        self, time_s: float, kind: int, a: int = 0, b: int = 0, *, priority: int = NORMAL
    ) -> None:
        """Schedule event ``kind(a, b)`` at ``time_s``.

        Raises
        ------
        ValidationError
            If ``time_s`` is NaN or before the current time (the past cannot change).
        """
        if not time_s >= self.now or math.isnan(time_s):
            raise ValidationError(
                f"event {kind} scheduled at t={time_s} s, before the current time {self.now} s"
            )
        heapq.heappush(self._heap, (time_s, priority, self._seq, kind, a, b))
        self._seq += 1

    def pop(self) -> tuple[float, int, int, int]:
        """The next event as ``(time_s, kind, a, b)``; advances :attr:`now`."""
        time_s, _prio, _seq, kind, a, b = heapq.heappop(self._heap)
        self.now = time_s
        return time_s, kind, a, b

    @property
    def scheduled(self) -> int:
        """Events scheduled so far (including those already processed)."""
        return self._seq
