"""Validate 1,000,000 rows of the OCA charges dataset: pandera (derived from the contract) vs
the equivalent checks as one DuckDB SQL query. Prints both times, the ratio and rows/second.

Run: ``python bench/oca_validate.py [rows]`` (default 1,000,000; bounded: about a minute).
Both paths must agree on the number of rows held back; the script exits non-zero otherwise.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from court_pipeline.oca.contracts import load_contract  # noqa: E402
from court_pipeline.oca.validation import field_rules, validate_frame  # noqa: E402

ENTITY = "di-texas-oca-court-charges"
BROKEN_EVERY = 1000  # one row in a thousand carries a typical mistake


def make_rows(n: int, seed: int = 7) -> pd.DataFrame:
    """n realistic charges rows (pandas string columns, float numbers) with 0.1% broken rows."""
    rng = np.random.default_rng(seed)
    contract = load_contract(ENTITY)
    frame = {}
    for rule in field_rules(contract):
        if rule.enum is not None:
            values = np.array([v for v in rule.enum if v is not None], dtype=object)
            column = values[rng.integers(0, len(values), n)]
            frame[rule.name] = pd.array(column, dtype="str")
        elif rule.format == "date":
            days = rng.integers(0, 3650, n).astype("timedelta64[D]")
            dates = (np.datetime64("2016-01-01") + days).astype(str)
            frame[rule.name] = pd.array(dates, dtype="str")
        elif "number" in rule.types:
            frame[rule.name] = rng.integers(16, 90, n).astype("float64")
        else:
            frame[rule.name] = pd.array(
                np.char.add("v", rng.integers(0, 10**6, n).astype(str)), dtype="str"
            )
    df = pd.DataFrame(frame)
    df["recordid"] = pd.array(np.char.add("5550001-", np.arange(n).astype(str)), dtype="str")
    df["county"] = "Harris"
    df["publisher"] = "Tyler Tech-Odyssey"
    broken = np.arange(0, n, BROKEN_EVERY)
    kinds = broken // BROKEN_EVERY % 4
    df.loc[broken[kinds == 0], "plea_type"] = "Guilty"
    df.loc[broken[kinds == 1], "offense_date"] = "2026-02-30"
    df.loc[broken[kinds == 2], "county"] = "Harris County"
    df.loc[broken[kinds == 3], "arrest_date"] = "11/02/2026"
    return df


def duckdb_sql(contract: dict) -> str:
    """One SQL query counting rows that break any contract rule (same rules as pandera)."""
    conditions = []
    for rule in field_rules(contract):
        col = f'"{rule.name}"'
        if rule.required:
            conditions.append(f"{col} IS NULL")
        if rule.enum is not None:
            values = ", ".join("'" + v.replace("'", "''") + "'" for v in rule.enum if v)
            conditions.append(f"({col} IS NOT NULL AND {col} NOT IN ({values}))")
        if rule.format == "date":
            conditions.append(
                f"({col} IS NOT NULL AND (NOT regexp_full_match({col}, "
                "'[0-9]{4}-[0-9]{2}-[0-9]{2}')"
                f" OR try_strptime({col}, '%Y-%m-%d') IS NULL))"
            )
        if rule.min_length:
            conditions.append(f"length({col}) < {rule.min_length}")
    return "SELECT count(*) FROM rows WHERE " + "\n OR ".join(conditions)


def main(n: int) -> int:
    print(f"generating {n:,} charges rows ...", flush=True)
    df = make_rows(n)
    contract = load_contract(ENTITY)

    start = time.perf_counter()
    result = validate_frame(ENTITY, df)
    pandera_s = time.perf_counter() - start
    pandera_bad = result.held_back_rows

    con = duckdb.connect()
    start = time.perf_counter()
    con.register("rows", df)
    sql_bad = con.execute(duckdb_sql(contract)).fetchone()[0]
    sql_s = time.perf_counter() - start

    print(f"rows: {n:,}  columns: {df.shape[1]}  broken rows: {pandera_bad:,} (pandera) "
          f"{sql_bad:,} (duckdb)")
    print(f"pandera (contract-derived, lazy): {pandera_s:7.2f} s  {n / pandera_s:12,.0f} rows/s")
    print(f"duckdb one SQL query:             {sql_s:7.2f} s  {n / sql_s:12,.0f} rows/s")
    print(f"ratio pandera/duckdb: {pandera_s / sql_s:.1f}x")
    if pandera_bad != sql_bad:
        print("MISMATCH: the two paths disagree on the held-back row count")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
