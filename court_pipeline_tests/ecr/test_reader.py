"""Reading files: encodings, quoting, xlsx, and every kind of bad file."""

from __future__ import annotations

import zipfile
from datetime import date, datetime

import duckdb
import openpyxl
import pytest

from court_pipeline.ecr.load import load_file, sha256_file
from court_pipeline.ecr.reader import EcrFileError, read_ecr_file
from court_pipeline_tests.ecr.conftest import HEADER, row

TZ = "America/Chicago"


def read(path, template):
    con = duckdb.connect()
    raw = read_ecr_file(path, template, con)
    rows = con.execute("SELECT * FROM raw_rows ORDER BY line_no").fetchall()
    rejects = con.execute("SELECT line_no, reason FROM raw_rejects ORDER BY 1").fetchall()
    return raw, rows, rejects


def test_cp1252_file_is_detected_and_transcoded(make_template, write_rows):
    path = write_rows([row(name="PEÑA, JOSÉ"), row(pid="P2", name="MUÑOZ, ANDRÉS")],
                      encoding="cp1252")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    raw, rows, rejects = read(path, make_template())
    assert raw.encoding == "cp1252"
    assert [r[2] for r in rows] == ["PEÑA, JOSÉ", "MUÑOZ, ANDRÉS"]
    assert rejects == []


def test_declared_utf8_but_cp1252_bytes_is_a_clear_error(make_template, write_rows):
    path = write_rows([row(name="PEÑA, JOSÉ")], encoding="cp1252")
    with pytest.raises(EcrFileError, match="ecr.txt: not valid utf-8: set 'encoding: cp1252'"):
        read(path, make_template(encoding="utf-8"))


def test_windows_bytes_past_the_first_64_kb_are_found_and_the_file_re_read(
        make_template, write_rows):
    plain = [row(pid=f"P{i}", name="SMITH, ANN") for i in range(1, 1200)]
    path = write_rows([*plain, row(pid="PX", name="PEÑA, JOSÉ")], encoding="cp1252")
    assert path.stat().st_size > 64 * 1024 and path.read_bytes()[:65536].isascii()
    raw, rows, rejects = read(path, make_template())
    assert raw.encoding == "cp1252"
    assert len(rows) == 1200 and rows[-1][1:3] == ("PX", "PEÑA, JOSÉ")
    assert rejects == []
    with pytest.raises(EcrFileError, match="ecr.txt: not valid utf-8: set 'encoding: cp1252'"):
        read(path, make_template(encoding="utf-8"))


def test_bom_file_reads_the_first_header_name(make_template, write_rows):
    path = write_rows([row()], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    raw, rows, _ = read(path, make_template())
    assert raw.header[0] == "Party ID"
    assert raw.encoding == "utf-8-sig"
    assert rows[0][1] == "P1"


def test_quoted_delimiters_lf_endings_and_trailing_blank_lines(make_template, write_rows):
    path = write_rows([row(location='"Annex | Room 2"'), row(pid="P2", name='"O""BRIEN, PAT"')],
                      newline="\n", suffix="\n\n")
    raw, rows, rejects = read(path, make_template())
    assert [(r[0], r[11]) for r in rows] == [(2, "Annex | Room 2"), (3, "Courthouse")]
    assert rows[1][2] == 'O"BRIEN, PAT'
    assert rejects == []


def test_all_blank_rows_are_skipped_but_a_quoted_quote_is_data(make_template, write_rows):
    """Rows whose fields are all blank (delimiters, spaces, quoted spaces) are not data rows;
    the fast path that skips the per-row blank test must not drop a row holding a real value."""
    blank = ["  "] * 13 + ['" "']
    quote_only = [""] * 13 + ['""""']  # one field holding a literal quote: not blank
    path = write_rows([row(pid="P1"), blank, quote_only, row(pid="P4")])
    raw, rows, rejects = read(path, make_template())
    assert [r[0] for r in rows] == [2, 4, 5]
    assert rows[1][1:14] == (None,) * 13 and rows[1][14] == '"'
    assert rejects == []
    raw, rows, _ = read(write_rows([row(pid="P1"), row(pid="P2")], name="plain.txt"),
                        make_template())
    assert [r[0] for r in rows] == [2, 3]


def test_quoted_line_break_falls_back_to_exact_line_numbers(make_template, write_rows):
    path = write_rows([row(location='"Annex\nRoom 2"'), ["P9", "BAD"], row(pid="P3")])
    raw, rows, rejects = read(path, make_template())
    assert [r[0] for r in rows] == [2, 5]
    assert rows[0][11] == "Annex\nRoom 2"
    assert rejects == [(4, "2 fields, expected 14 (delimiter '|')")]
    assert raw.notes


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "ecr.txt: the file is empty"),
        (b"\x00\x01\x02\x03binary\x00junk" * 50, "ecr.txt: binary data"),
        (b"PK\x03\x04" + b"\x00" * 100, "zip/xlsx file but the template says delimited"),
        (",".join(HEADER).encode() + b"\r\n" + ",".join(row()).encode() + b"\r\n",
         "looks comma-delimited but the template says '|'"),
        ("|".join(HEADER[1:]).encode() + b"\r\n",
         "missing mapped columns: 'Party ID' \\(party_id\\)"),
        ("|".join(HEADER).encode() + b"\r\n\r\n",
         "the file has a header but no data rows"),
    ],
    ids=["empty", "binary", "zip", "wrong-delimiter", "missing-column", "header-only"],
)
def test_bad_files_raise_naming_file_and_problem(make_template, tmp_path, content, message):
    path = tmp_path / "ecr.txt"
    path.write_bytes(content)
    with pytest.raises(EcrFileError, match=message):
        read(path, make_template())


def test_bad_file_damages_nothing_already_loaded(make_template, write_rows, warehouse, tmp_path):
    good = write_rows([row()], name="good.txt")
    with warehouse() as con:
        load_file(con, good, make_template(), agency_id="a1", timezone=TZ)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\xff" * 500)
    with warehouse() as con, pytest.raises(EcrFileError, match="bad.txt: binary data"):
        load_file(con, bad, make_template(), agency_id="a1", timezone=TZ)
    with warehouse() as con:
        assert con.execute("SELECT count(*) FROM hearings").fetchall() == [(1,)]
        assert con.execute("SELECT file_name, rows_loaded FROM file_loads").fetchall() == [
            ("good.txt", 1)]


def _xlsx(path, rows, header=HEADER):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "ECR"
    sheet.append(header)
    for r in rows:
        sheet.append(r)
    book.save(path)
    return path


def test_xlsx_with_typed_dates_and_numbers(make_template, tmp_path, warehouse):
    r1 = row()
    r1[6], r1[7], r1[4] = date(1980, 1, 2), datetime(2026, 12, 1), 7135550142
    r2 = row(pid="P2", case="C2", date="12/03/2026", time="14:30")
    r3 = row(pid="P3", case="C3", date="31/31/2026")
    path = _xlsx(tmp_path / "ecr.xlsx", [r1, r2, [None] * 14, r3])
    template = make_template(format="xlsx")
    with warehouse() as con:
        result = load_file(con, path, template, agency_id="a1", timezone=TZ)
        assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
        got = con.execute("SELECT case_number, start_local FROM hearings ORDER BY 1").fetchall()
        assert got == [("C2", datetime(2026, 12, 3, 14, 30)), ("CR-1", datetime(2026, 12, 1, 9))]
        assert con.execute("SELECT date_of_birth FROM parties WHERE party_id = 'P1'"
                           ).fetchall() == [(date(1980, 1, 2),)]
        assert con.execute("SELECT value FROM contacts WHERE kind = 'phone' AND party_id = 'P1'"
                           ).fetchall() == [("+17135550142",)]
        assert con.execute("SELECT line_number FROM ecr_rejects").fetchall() == [(5,)]


def test_unreadable_xlsx_and_zip_bomb(make_template, tmp_path):
    template = make_template(format="xlsx")
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"this is not a workbook" * 10)
    with pytest.raises(EcrFileError, match="junk.xlsx: not a readable xlsx file"):
        read(junk, template)
    not_xlsx = tmp_path / "other.xlsx"
    with zipfile.ZipFile(not_xlsx, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(EcrFileError, match="not an xlsx workbook"):
        read(not_xlsx, template)
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (50 * 1024 * 1024))
    assert bomb.stat().st_size < 200_000
    with pytest.raises(EcrFileError, match="bomb.xlsx: refused: member 'xl/worksheets/sheet1.xml'"
                                           " compresses [0-9]+:1"):
        read(bomb, template)
    big = make_template(format="xlsx", max_xlsx_ratio=100000, max_xlsx_uncompressed_mb=10)
    with pytest.raises(EcrFileError, match="would inflate to 52 MB \\(limit 10 MB"):
        read(bomb, big)


def test_sha256_file(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    assert sha256_file(path) == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


@pytest.mark.parametrize("position", range(len(HEADER)))
def test_a_stray_delimiter_in_any_column_is_a_ragged_row_never_a_shift(
        make_template, write_rows, position):
    """A stray '|' inside field ``position`` of a row whose last field is empty: DuckDB would
    drop the empty last field and shift every column after the stray one."""
    stray = row(pid="P2", htype="")
    stray[position] = (stray[position] or "x") + "|Ramírez"
    path = write_rows([row(htype=""), stray, row(pid="P3", htype="")])
    raw, rows, rejects = read(path, make_template())
    assert [r[1] for r in rows] == ["P1", "P3"]
    assert [(r[13], r[14]) for r in rows] == [("CR-1", None), ("CR-1", None)]
    assert [no for no, _ in rejects] == [3]
    assert rejects[0][1].startswith("ragged row: more fields than the header")
    assert rejects[0][1].endswith("(expected 14 fields separated by '|')")


def test_a_stray_delimiter_in_a_quoted_file_is_ragged_and_a_quoted_one_is_data(
        make_template, write_rows):
    path = write_rows([row(judge='"Hon. A|B"', htype=""), row(pid="P2", judge="A|B", htype="")])
    raw, rows, rejects = read(path, make_template())
    assert [(r[1], r[12]) for r in rows] == [("P1", "Hon. A|B")]
    assert [(no, reason.split(":")[0]) for no, reason in rejects] == [(3, "ragged row")]


def test_trailing_delimiter_must_be_declared(make_template, write_rows):
    """Every line ending in '|' (header too): undeclared, each data row is ragged; declared,
    the empty last field is dropped and a second one is still ragged."""
    rows = [row(pid="P1") + [""], row(pid="P2") + [""], row(pid="P3") + ["", ""]]
    path = write_rows(rows, header=HEADER)
    with pytest.raises(EcrFileError, match="declare 'trailing_delimiter: true'"):
        read(path, make_template())
    raw, loaded, rejects = read(path, make_template(trailing_delimiter=True))
    assert [r[1] for r in loaded] == ["P1", "P2"]
    assert [(no, reason.split(":")[0]) for no, reason in rejects] == [(4, "ragged row")]


def test_positional_template_with_declared_trailing_delimiter(make_template, write_rows):
    columns = {"party_id": 1, "full_name": 2, "event_date": 8, "event_time": 9,
               "case_number": 13, "event_id": 14}
    rows = [row(pid="P1", htype="H1") + [""], row(pid="P2", htype="H2") + [""],
            row(pid="P3", htype="Status Conference", case="CR|9") + [""]]
    path = write_rows(rows, header=None)
    template = make_template(has_header=False, columns=columns, trailing_delimiter=True)
    raw, loaded, rejects = read(path, template)
    assert [(r[1], r[14]) for r in loaded] == [("P1", "H1"), ("P2", "H2")]
    assert [(no, reason.split(":")[0]) for no, reason in rejects] == [(3, "ragged row")]
    undeclared = make_template(has_header=False, columns=columns)
    _, loaded, rejects = read(path, undeclared)
    # the first line sets the width (15 with the empty last field): no shift either way
    assert [(r[1], r[14]) for r in loaded] == [("P1", "H1"), ("P2", "H2")]
    assert [no for no, _ in rejects] == [3]


def test_an_over_long_line_is_one_rejected_row_and_the_rest_load(make_template, write_rows):
    """A 17 MB line (over the 16 MB per-line limit) in the middle of 21 rows."""
    from court_pipeline.ecr.reader import MAX_LINE_BYTES

    rows = [row(pid=f"P{i}") for i in range(1, 22)]
    rows[9] = row(pid="P10", judge="J" * (MAX_LINE_BYTES + 1_000_000))
    path = write_rows(rows)
    raw, loaded, rejects = read(path, make_template())
    assert [r[1] for r in loaded] == [f"P{i}" for i in range(1, 22) if i != 10]
    assert rejects == [(11, "line is 17.0 MB, over the limit of 16 MB per line (a missing "
                            "line break or a broken quote?)")]
    con = raw.con
    [(text,)] = con.execute("SELECT raw_text FROM raw_rejects").fetchall()
    assert text.startswith("P10|PEÑA, MARÍA ELENA|") and text.endswith("…") and len(text) < 300
    assert raw.notes == ["1 line(s) over 16 MB rejected"]
