"""Unknown is not empty for ECR files: a column the agency's upload template does not map
leaves the known value as it is; a mapped column with an empty cell clears it.

Three real loads into one warehouse per field: the full template, then a template without
the field's column (the file still has it), then the full template with the cell empty.
"""

from __future__ import annotations

import pytest

from court_pipeline.ecr.load import load_file
from court_pipeline_tests.ecr.conftest import BASE_COLUMNS, row

TZ = "America/Chicago"
# template field -> (row() argument, table, column, value after the first load, after an
# empty cell: a blank role is the template's default 'Party', every other field is cleared)
FIELDS = {
    "full_name": ("name", "parties", "last_name", "PEÑA", None),
    "preferred_language": ("lang", "parties", "preferred_language", "es", None),
    "date_of_birth": ("dob", "parties", "date_of_birth", "1980-01-02", None),
    "party_role": ("role", "hearing_parties", "role", "Defendant", "Party"),
    "event_status": ("status", "hearings", "status", "Scheduled", None),
    "location": ("location", "hearings", "location", "Courthouse", None),
    "judge": ("judge", "hearings", "judge", "Hon. A", None),
}


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_unmapped_column_keeps_the_value_and_empty_cell_clears_it(
    field, warehouse, make_template, write_rows
):
    arg, table, column, loaded, emptied = FIELDS[field]
    full = make_template()
    without = make_template(columns={k: v for k, v in BASE_COLUMNS.items() if k != field})

    def load_and_read(template, file_name, **cells):
        path = write_rows([row(**cells)], name=file_name)
        with warehouse() as con:
            load_file(con, path, template, agency_id="a1", timezone=TZ, file_name=file_name)
            return con.execute(f"SELECT CAST({column} AS VARCHAR) FROM {table}").fetchall()

    assert load_and_read(full, "day1.txt") == [(loaded,)]
    assert load_and_read(without, "day2.txt", **{arg: "CHANGED"}) == [(loaded,)]
    assert load_and_read(full, "day3.txt", **{arg: ""}) == [(emptied,)]
