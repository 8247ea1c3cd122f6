"""Discrete-event simulation of calls, units and dispatch against real incident history.

Modules, in the order data flows through them:

``tables``
    The modelling table (priority, call processing, dispatch delay, on-scene time, traffic
    factors by hour) read from ``xunfang/data/sim_defaults.toml`` or a copy; sources and
    assumptions are documented in that file.
``calls``
    Calls replayed from real incidents (or sampled from a fitted hour-of-week rate), with
    every random quantity drawn up front from one seeded generator.
``engine``
    The event queue: a ``(time, priority, insertion order)`` heap.
``sim``
    The simulation: drives the shared dispatch core (:mod:`xunfang.dispatch`) through the
    life of every call; returns per-call and per-unit tables and, optionally, an exact
    event log.
``units``
    Station cars, booth officers, hotspot patrols, a response team, deployment schedules.
``scenario``, ``world``, ``runner``
    Scenario files (TOML), the study area's network (cached), incidents and sites, and
    the comparison of stations only / + booths / + deployment over replications.
``metrics``, ``validate``
    Figures with confidence intervals, Erlang C, workload per district.
``sweep``
    Sweeps of K booths x officers per booth on dask.distributed.
"""
