"""The code location the daemon test loads: the real definitions, steps run in the run process.

``build_definitions`` leaves jobs on Dagster's default multiprocess executor, which starts a
fresh Python process per step (each re-imports the whole code location: seconds per step on
a busy 2-core machine). The daemon test is about the production *instance* (Postgres, queue,
launcher), so it runs each job's steps in its run worker, as docs/production.md recommends.
"""

from __future__ import annotations

import dagster as dg

from court_pipeline.definitions import build_definitions
from court_pipeline.registry import load_registry

defs = dg.Definitions.merge(
    build_definitions(load_registry()), dg.Definitions(executor=dg.in_process_executor)
)
