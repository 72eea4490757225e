"""Reference data copied into the project (Texas counties, OCA v3 enumerations).

The project must not depend on ``../shared`` at run time, so the facts live here.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

_DIR = Path(__file__).resolve().parent


@cache
def texas_counties() -> tuple[str, ...]:
    """The 254 Texas counties spelled as OCA wants them ("Harris", not "Harris County")."""
    lines = (_DIR / "tx_counties.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip())


@cache
def oca_enums() -> dict[str, list[str]]:
    """OCA v3 enumerations: field name -> allowed values (null is also allowed everywhere)."""
    return json.loads((_DIR / "oca_v3_enums.json").read_text(encoding="utf-8"))
