"""How ``court-pipeline sql`` prints values: NULL as empty, integers exactly, no pandas.

Going through pandas turned NULL into ``nan``/``NaT``/``<NA>`` (by column type) and large
integers into floats (``1.79352e+09``); plain DuckDB rows keep Python ints, Decimals and dates.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import TextIO

import duckdb

BATCH_ROWS = 10_000


def text(value: object) -> str:
    """One value as an operator reads it: NULL is empty, numbers are exact."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, default=text, ensure_ascii=False)
    return str(value)  # int, Decimal, str, UUID, timedelta: exact


def _rows(result: duckdb.DuckDBPyConnection) -> Iterator[tuple]:
    while batch := result.fetchmany(BATCH_ROWS):
        yield from batch


def write_csv(result: duckdb.DuckDBPyConnection, columns: list[str], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in _rows(result):
        writer.writerow([text(v) for v in row])


def _json_value(value: object) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)  # exact; a JSON float would round it
    return text(value)


def write_json(result: duckdb.DuckDBPyConnection, columns: list[str], out: TextIO) -> None:
    """A JSON array of objects, streamed row by row; NULL is ``null``."""
    out.write("[")
    for index, row in enumerate(_rows(result)):
        record = {c: _json_value(v) for c, v in zip(columns, row, strict=True)}
        out.write(("\n" if index == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
    out.write("\n]\n")


def write_table(result: duckdb.DuckDBPyConnection, columns: list[str], out: TextIO) -> None:
    """An aligned plain-text table (numbers right-aligned) and the row count."""
    rows = result.fetchall()
    if not rows:
        out.write("(no rows)\n")
        return
    cells = [[text(v).replace("\n", "\\n") for v in row] for row in rows]
    numeric = [
        all(isinstance(row[i], int | float | Decimal) and not isinstance(row[i], bool)
            for row in rows if row[i] is not None)
        for i in range(len(columns))
    ]
    widths = [
        max(len(columns[i]), *(len(c[i]) for c in cells)) for i in range(len(columns))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out.write(line(columns) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write(line(row) + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")
