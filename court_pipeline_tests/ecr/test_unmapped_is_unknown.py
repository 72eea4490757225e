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


def test_an_attorney_row_without_a_mapped_name_keeps_the_attorneys_name(
    warehouse, make_template, write_rows
):
    """A later template that maps only the attorney's bar number says nothing of the
    attorney's name: the name an earlier file gave stays (the same source, so without the
    _absent mark its NULL would clear it)."""
    from court_pipeline_tests.ecr.conftest import HEADER

    header = [*HEADER, "Attorney", "Bar No"]
    named = {**BASE_COLUMNS, "attorney_name": "Attorney", "attorney_bar_number": "Bar No"}
    bar_only = {**BASE_COLUMNS, "attorney_bar_number": "Bar No"}

    def load_and_read(columns, file_name):
        path = write_rows(
            [[*row(pid="P1"), "SMITH, JOHN Q", "24001234"]], name=file_name, header=header
        )
        with warehouse() as con:
            load_file(
                con,
                path,
                make_template(columns=columns),
                agency_id="a1",
                timezone=TZ,
                file_name=file_name,
            )
            return con.execute(
                "SELECT party_id, last_name, first_name, middle_name, bar_number FROM parties "
                "WHERE party_id LIKE 'bar:%'"
            ).fetchall()

    known = [("bar:24001234", "SMITH", "JOHN", "Q", "24001234")]
    assert load_and_read(named, "day1.txt") == known
    assert load_and_read(bar_only, "day2.txt") == known
