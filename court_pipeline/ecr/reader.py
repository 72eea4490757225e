"""Read one ECR file (delimited text or xlsx) into an in-memory DuckDB staging table.

The result is two tables in a scratch DuckDB connection (never the warehouse, so parsing a
big file holds no warehouse lock):

* ``raw_rows`` (a view): ``line_no`` and one VARCHAR column ``c1..cN`` per source column;
* ``raw_rejects``: ``line_no``, ``raw_text``, ``reason`` for lines the CSV reader could not split
  into the expected number of fields.

Delimited files go through DuckDB's ``read_csv`` (explicit delimiter/quote, ``all_varchar``,
``strict_mode``, ``store_rejects``): rows it cannot parse land in its rejects table with their
line numbers. Line numbers of good rows come from a second, cheap DuckDB read of the physical
lines: parsed rows map one-to-one, in order, to the non-blank data lines that were not rejected.
When that count does not add up (a quoted field spanning lines, or a broken quote that made the
reader resynchronise), the file is re-read with Python's C ``csv`` module, which tracks line
numbers exactly. Bad files raise :class:`EcrFileError` naming the file and the problem.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import duckdb
import pyarrow as pa
from charset_normalizer import from_bytes

from court_pipeline.ecr.template import UploadTemplate

SAMPLE_BYTES = 64 * 1024
CHUNK = 4 * 1024 * 1024
_OTHER_DELIMS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}


class EcrFileError(Exception):
    """This file cannot be read at all (the message names the file and the problem).

    ``transient`` is true when the bytes may be fine and reading them failed (an I/O error):
    worth another try, unlike a binary or empty file."""

    transient: bool = False


@dataclass
class RawFile:
    """A file read into the scratch connection: see the module docstring."""

    con: duckdb.DuckDBPyConnection
    file_name: str
    header: list[str] | None
    field_columns: dict[str, str]  # canonical field -> c<k>
    field_labels: dict[str, str]  # canonical field -> name people see (header text)
    encoding: str
    is_xlsx: bool
    notes: list[str] = field(default_factory=list)
    # table holding c1..cN of every parsed row (a superset of raw_rows: blank and footer rows
    # too); normalize reads distinct values of single columns from it without the row filters
    values_table: str = "raw_rows"
    # columns (c<k>) proven to hold no value that starts or ends with a space DuckDB's trim()
    # removes: normalize takes them as they are instead of testing every value's edges
    plain_columns: frozenset[str] = frozenset()

    @property
    def rows_parsed(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM raw_rows").fetchall()[0][0])

    @property
    def rows_rejected(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM raw_rejects").fetchall()[0][0])


def _fail(name: str, problem: str) -> EcrFileError:
    return EcrFileError(f"{name}: {problem}")


# -- encoding -------------------------------------------------------------------------------
def _check_not_binary(name: str, sample: bytes) -> None:
    if sample.startswith(b"PK\x03\x04"):
        raise _fail(name, "this is a zip/xlsx file but the template says delimited text")
    if b"\x00" in sample:
        raise _fail(name, "binary data (NUL bytes), not a delimited text file")
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if sample and control / len(sample) > 0.05:
        raise _fail(name, "binary data (control characters), not a delimited text file")


class NotUtf8(Exception):
    """DuckDB met bytes that are not UTF-8 past the sample: re-read in a legacy encoding."""


def _sample_is_utf8(sample: bytes, whole_file: bool) -> bool:
    """Strict UTF-8 check of the first bytes (a character cut at the sample's end is fine)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=whole_file)
    except UnicodeDecodeError:
        return False
    return True


def _legacy_guess(sample: bytes) -> str:
    best = from_bytes(sample, cp_isolation=["cp1252", "utf_8", "latin_1"]).best()
    guess = (best.encoding if best else "cp1252").replace("_", "-")
    return guess if guess not in ("latin-1", "windows-1252", "utf-8", "ascii") else "cp1252"


def _not_utf8(name: str, declared: str) -> EcrFileError:
    return _fail(name, f"not valid {declared}: set 'encoding: cp1252' in the upload template "
                 "if the file comes from Windows")


def detect_encoding(sample: bytes, declared: str | None, name: str) -> str:
    """The file's encoding from its first bytes (``SAMPLE_BYTES``): the template's, else
    BOM / UTF-8 / charset-normalizer.

    Only the first 64 KB are checked here. The rest of a UTF-8 file is validated by DuckDB's
    own read of the lines (it refuses invalid UTF-8), so a big file is not decoded twice: when
    that read fails, :func:`read_delimited` reports the error (UTF-8 declared) or re-reads the
    file as cp1252 (nothing declared).
    """
    whole = len(sample) < SAMPLE_BYTES
    if declared in ("utf-8", "utf-8-sig"):
        if not _sample_is_utf8(sample, whole):
            raise _not_utf8(name, declared)
        return declared
    if declared == "cp1252":
        return "cp1252"
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if _sample_is_utf8(sample, whole):
        return "utf-8"
    return _legacy_guess(sample)


@contextlib.contextmanager
def utf8_copy(path: Path, encoding: str) -> Iterator[Path]:
    """A UTF-8 path for DuckDB: the file itself, or a transcoded temporary copy."""
    if encoding in ("utf-8", "utf-8-sig"):
        yield path
        return
    fd, tmp = tempfile.mkstemp(suffix=".txt", prefix="ecr-utf8-")
    try:
        with (
            os.fdopen(fd, "w", encoding="utf-8", newline="") as out,
            path.open("r", encoding=encoding, errors="replace", newline="") as src,
        ):
            while chunk := src.read(4 * 1024 * 1024):
                out.write(chunk)
        yield Path(tmp)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


# -- column mapping -----------------------------------------------------------------------------
def resolve_columns(
    template: UploadTemplate, header: list[str] | None, n_cols: int, name: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Canonical field -> 'c<k>' (1-based) and -> the label people see in messages."""
    columns: dict[str, str] = {}
    labels: dict[str, str] = {}
    missing: list[str] = []
    lookup: dict[str, int] = {}
    if header is not None:
        for i, text in enumerate(header, start=1):
            key = text.strip().lower() if template.case_insensitive else text.strip()
            lookup.setdefault(key, i)
    for canonical, source in template.columns.items():
        if isinstance(source, int):
            if source > n_cols:
                missing.append(f"column {source} ({canonical}; the file has {n_cols} columns)")
                continue
            columns[canonical] = f"c{source}"
            labels[canonical] = header[source - 1].strip() if header else f"column {source}"
        else:
            key = source.strip().lower() if template.case_insensitive else source.strip()
            if key not in lookup:
                missing.append(f"{source!r} ({canonical})")
                continue
            columns[canonical] = f"c{lookup[key]}"
            labels[canonical] = source
    if missing:
        hint = ""
        if header is not None and len(header) == 1:
            for delim, word in _OTHER_DELIMS.items():
                if delim != template.delimiter and delim in header[0]:
                    hint = (f" The header has one column and contains {word}s: the file looks "
                            f"{word}-delimited but the template says {template.delimiter!r}.")
                    break
        shown = ", ".join(repr(h) for h in (header or [])[:40])
        raise _fail(
            name,
            "missing mapped columns: " + ", ".join(missing)
            + (f". Header columns are: {shown}" if header is not None else "") + "." + hint,
        )
    return columns, labels


# -- delimited ---------------------------------------------------------------------------------
def _split_one(line: str, template: UploadTemplate) -> list[str]:
    return next(csv.reader([line], delimiter=template.delimiter, quotechar=template.quote))


_DUCK_REASONS = {
    "MISSING COLUMNS": "fewer fields than the header",
    "TOO MANY COLUMNS": "ragged row: more fields than the header",
    "RAGGED": "ragged row: more fields than the header (a stray delimiter inside a value, "
              "or an undeclared trailing delimiter: see trailing_delimiter)",
    "UNQUOTED VALUE": "a quote is not closed or stray text follows a closing quote",
    "INVALID UNICODE": "characters that are not valid in the file's encoding",
    "LINE SIZE OVER MAXIMUM": "line is too long",
}


def _lines_table(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    con.execute(
        f"""
        CREATE OR REPLACE TABLE lines AS
        SELECT row_number() OVER () AS line_no, line
        FROM read_csv(?, delim = chr(1), quote = '', escape = '', header = false,
                      auto_detect = false, columns = {{'line': 'VARCHAR'}}, all_varchar = true,
                      strict_mode = false, null_padding = true,
                      max_line_size = {MAX_LINE_BYTES})
        """,
        [str(path)],
    )
    con.execute("UPDATE lines SET line = rtrim(line, chr(13)) WHERE line LIKE '%' || chr(13)")


def _first_lines(path: Path, encoding: str, count: int) -> list[str]:
    out: list[str] = []
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        for line in handle:
            out.append(line.rstrip("\r\n"))
            if len(out) >= count:
                break
    return out


def _mark_footer(con: duckdb.DuckDBPyConnection, template: UploadTemplate, first_data: int) -> None:
    con.execute("ALTER TABLE lines ADD COLUMN footer BOOLEAN DEFAULT false")
    if template.footer_rows:
        con.execute(
            """
            UPDATE lines SET footer = true WHERE line_no IN (
                SELECT line_no FROM lines WHERE nullif(trim(line), '') IS NOT NULL
                  AND line_no >= ? ORDER BY line_no DESC LIMIT ?)
            """,
            [first_data, template.footer_rows],
        )
    if template.footer_pattern:
        con.execute(
            "UPDATE lines SET footer = true WHERE line_no >= ? AND regexp_matches(line, ?)",
            [first_data, template.footer_pattern],
        )


def _duck_parse(
    con: duckdb.DuckDBPyConnection, path: Path, template: UploadTemplate, n_cols: int,
    first_data: int, lines_side: Future,
) -> tuple[bool, frozenset[str]]:
    """read_csv into ``parsed`` + ``duck_rejects``; True when lines map one-to-one, and the
    columns where some value starts or ends with an ASCII space.

    ``lines_side`` is the running read of ``lines``; it is waited for only once the fields
    are parsed. A file DuckDB finds not to be UTF-8 raises :class:`NotUtf8`.
    """
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(1, n_cols + 1)) + "}"
    escape = template.escape if template.escape is not None else template.quote
    con.execute(
        f"""
        CREATE OR REPLACE TABLE parsed AS
        SELECT * FROM read_csv(?, delim = ?, quote = ?, escape = ?, header = false,
                               skip = ?, auto_detect = false, columns = {cols},
                               all_varchar = true, strict_mode = true,
                               null_padding = ?, store_rejects = true,
                               rejects_table = 'duck_rejects', rejects_scan = 'duck_scans',
                               max_line_size = {MAX_LINE_BYTES})
        """,
        [str(path), template.delimiter, template.quote, escape, first_data - 1,
         template.allow_short_rows],
    )
    # one scan for both facts: a value with a line break (then line numbers cannot be mapped)
    # and, per column, a value with a space at either end
    names = [f"c{i}" for i in range(1, n_cols + 1)]
    facts = con.execute(
        "SELECT count(*) FILTER (" + " OR ".join(f"contains({c}, chr(10))" for c in names) + "), "
        + ", ".join(f"count(*) FILTER ({c} LIKE ' %' OR {c} LIKE '% ')" for c in names)
        + " FROM parsed"
    ).fetchall()[0]
    has_newline = bool(facts[0])
    edge_columns = frozenset(c for c, edged in zip(names, facts[1:], strict=True) if edged)
    try:
        lines_side.result()
    except duckdb.Error as exc:
        if "invalid unicode" in str(exc).lower():
            raise NotUtf8 from None
        raise
    con.execute(
        """
        CREATE OR REPLACE TABLE rej_lines AS
        SELECT line AS line_no, first(error_type ORDER BY column_idx)::VARCHAR AS error_type
        FROM duck_rejects GROUP BY line
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE good_lines AS
        SELECT row_number() OVER (ORDER BY line_no) - 1 AS ord, line_no FROM lines
        WHERE line_no >= ? AND nullif(line, '') IS NOT NULL
          AND line_no NOT IN (SELECT line_no FROM rej_lines)
        """,
        [first_data],
    )
    n_parsed = con.execute("SELECT count(*) FROM parsed").fetchall()[0][0]
    n_good = con.execute("SELECT count(*) FROM good_lines").fetchall()[0][0]
    _mark_ragged(con, template, n_cols, first_data)
    return n_parsed == n_good and not has_newline, edge_columns


def _fields_allowed(template: UploadTemplate, n_cols: int, fields: list[str]) -> bool:
    """Whether a split line has the header's fields (plus a declared trailing delimiter)."""
    if len(fields) == n_cols:
        return True
    if template.trailing_delimiter and len(fields) == n_cols + 1 and fields[-1] == "":
        return True
    return template.allow_short_rows and len(fields) < n_cols


def _ragged_candidates(
    con: duckdb.DuckDBPyConnection, template: UploadTemplate, n_cols: int, first_data: int
) -> None:
    """Data lines with more delimiters than the header allows (read beside the field parse).

    Delimiters inside quoted values do not count: quoted segments are cut out first (a
    doubled quote is two adjacent segments). Only a template with its own escape character
    leaves quoted lines to an exact split (``needs_split``)."""
    allowed = n_cols + (1 if template.trailing_delimiter else 0)

    def count(expr: str) -> str:
        if template.delimiter.isascii():
            return f"strlen({expr}) - strlen(replace({expr}, $d, ''))"
        return f"length({expr}) - length(replace({expr}, $d, ''))"

    exotic = template.escape not in (None, template.quote)
    q = re.escape(template.quote)
    unquoted = "regexp_replace(line, $qre, '', 'g')"
    con.execute(
        f"""
        CREATE OR REPLACE TABLE ragged_candidates AS
        SELECT line_no, line, contains(line, $q) AND $exotic AS needs_split FROM lines
        WHERE line_no >= $first AND NOT footer AND {count("line")} >= $allowed
          AND (NOT contains(line, $q) OR $exotic OR {count(unquoted)} >= $allowed)
        """,
        {"d": template.delimiter, "q": template.quote, "qre": f"{q}[^{q}]*{q}",
         "first": first_data, "allowed": allowed, "exotic": exotic})


def _mark_ragged(
    con: duckdb.DuckDBPyConnection, template: UploadTemplate, n_cols: int, first_data: int
) -> None:
    """Lines DuckDB accepted after dropping empty trailing fields: ragged, not trimmed.

    DuckDB's reader silently drops empty fields beyond the header, so ``a|b|c|`` parses as
    three fields and a stray delimiter inside a value shifts the columns. The lines read
    (beside the field parse) keeps lines with more delimiters than allowed; of those not yet
    rejected, only the few with quotes (usually none) are split exactly.
    Their parsed rows are left out of ``parsed_lines`` and they join ``rej_lines``.
    """
    con.execute("DELETE FROM ragged_candidates WHERE line_no IN (SELECT line_no FROM rej_lines)")
    # the delimiter count outside quotes is the field count: ragged for sure
    con.execute("CREATE OR REPLACE TABLE ragged_lines AS "
                "SELECT line_no FROM ragged_candidates WHERE NOT needs_split")
    quoted = con.execute("SELECT line_no, line FROM ragged_candidates WHERE needs_split "
                         "ORDER BY line_no").fetchall()
    con.execute("DROP TABLE ragged_candidates")
    split = [no for no, line in quoted
             if not _fields_allowed(template, n_cols, _split_one(line, template))]
    if split:
        con.register("_ragged", pa.table({"line_no": pa.array(split, pa.int64())}))
        con.execute("INSERT INTO ragged_lines SELECT line_no FROM _ragged")
        con.unregister("_ragged")
    if con.execute("SELECT count(*) FROM ragged_lines").fetchall()[0][0]:
        con.execute("INSERT INTO rej_lines SELECT line_no, 'RAGGED' FROM ragged_lines")


def _python_parse(
    con: duckdb.DuckDBPyConnection, path: Path, template: UploadTemplate, n_cols: int,
    first_data: int,
) -> None:
    """Exact-line fallback with the C csv module (quoted newlines, broken quotes)."""
    line_nos: list[int] = []
    values: list[list[str | None]] = [[] for _ in range(n_cols)]
    rej_no: list[int] = []
    rej_reason: list[str] = []
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=template.delimiter, quotechar=template.quote,
                            strict=False)
        last = 0
        for fields in reader:
            start = last + 1
            last = reader.line_num
            if start < first_data or not fields or fields == [""]:
                continue
            if _fields_allowed(template, n_cols, fields):
                line_nos.append(start)
                for i in range(n_cols):
                    values[i].append(fields[i] if i < len(fields) else None)
            else:
                rej_no.append(start)
                ragged = "ragged row: " if len(fields) > n_cols else ""
                rej_reason.append(f"{ragged}{len(fields)} fields, expected {n_cols} "
                                  f"(delimiter {template.delimiter!r})")
    table = pa.table({"line_no": pa.array(line_nos, pa.int64()),
                      **{f"c{i + 1}": pa.array(values[i], pa.string()) for i in range(n_cols)}})
    con.register("_py_parsed", table)
    con.execute("CREATE OR REPLACE TABLE parsed_lines AS SELECT * FROM _py_parsed")
    con.unregister("_py_parsed")
    rej = pa.table({"line_no": pa.array(rej_no, pa.int64()), "reason": pa.array(rej_reason)})
    con.register("_py_rej", rej)
    con.execute("CREATE OR REPLACE TABLE rej_reasons AS SELECT * FROM _py_rej")
    con.unregister("_py_rej")


MAX_LINE_BYTES = 16_000_000  # DuckDB's max_line_size below; longer lines become rejects
_LONG_PREFIX = 200


def _split_long_lines(path: Path, out: Path) -> dict[int, tuple[int, bytes]]:
    """Copy ``path`` to ``out`` with every line over ``MAX_LINE_BYTES`` left empty; return
    {line number: (bytes, first bytes)} of those lines. Streams in chunks: a 50 MB line is
    never held whole."""
    long: dict[int, tuple[int, bytes]] = {}
    line_no, size = 1, 0
    kept: bytearray | None = bytearray()
    prefix, cr = b"", False
    with path.open("rb") as src, out.open("wb") as dst:
        while chunk := src.read(CHUNK):
            start = 0
            while True:
                end = chunk.find(b"\n", start)
                piece = chunk[start:] if end < 0 else chunk[start:end]
                size += len(piece)
                cr = piece.endswith(b"\r") if piece else cr  # a chunk may end after the \r
                if kept is not None and size > MAX_LINE_BYTES:
                    prefix, kept = bytes(kept[:_LONG_PREFIX]), None
                elif kept is not None:
                    kept += piece
                if end < 0:
                    break
                if kept is None:  # keep the file's line ends (DuckDB refuses mixed ones)
                    long[line_no] = (size, prefix)
                    kept = bytearray(b"\r" if cr else b"")
                dst.write(kept + b"\n")
                line_no, size, kept, start = line_no + 1, 0, bytearray(), end + 1
        if kept is None:
            long[line_no] = (size, prefix)
        elif kept:
            dst.write(kept)
    return long


def _reject_long_lines(
    con: duckdb.DuckDBPyConnection, long: dict[int, tuple[int, bytes]], encoding: str
) -> None:
    """The over-long lines join ``raw_rejects`` (their start as raw text), as rows."""
    rows = [(no, prefix.decode(encoding, errors="replace") + "…",
             f"line is {size / 1e6:.1f} MB, over the limit of {MAX_LINE_BYTES / 1e6:.0f} MB "
             "per line (a missing line break or a broken quote?)")
            for no, (size, prefix) in sorted(long.items())]
    con.executemany("INSERT INTO raw_rejects VALUES (?, ?, ?)", rows)


def read_delimited(
    path: Path, template: UploadTemplate, name: str, con: duckdb.DuckDBPyConnection
) -> RawFile:
    """Read a delimited ECR file; see the module docstring.

    A line longer than ``MAX_LINE_BYTES`` makes DuckDB fail the whole file; only then is the
    file copied with such lines emptied and read again, the lines rejected as rows."""
    try:
        return _read_delimited(path, template, name, con)
    except duckdb.Error:
        fd, tmp = tempfile.mkstemp(suffix=".txt", prefix="ecr-short-")
        os.close(fd)
        try:
            long = _split_long_lines(path, Path(tmp))
            if not long:
                raise
            if min(long) <= template.skip_rows + int(template.has_header):
                raise _fail(name, f"line {min(long)} (before the data) is over the limit of "
                            f"{MAX_LINE_BYTES / 1e6:.0f} MB per line") from None
            for table in ("duck_rejects", "duck_scans"):
                con.execute(f"DROP TABLE IF EXISTS {table}")
            raw = _read_delimited(Path(tmp), template, name, con)
            _reject_long_lines(con, long, "utf-8" if raw.encoding == "utf-8-sig"
                               else raw.encoding)
            raw.notes.append(f"{len(long)} line(s) over {MAX_LINE_BYTES / 1e6:.0f} MB "
                             "rejected")
            return raw
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _read_delimited(
    path: Path, template: UploadTemplate, name: str, con: duckdb.DuckDBPyConnection
) -> RawFile:
    if path.stat().st_size == 0:
        raise _fail(name, "the file is empty (0 bytes)")
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    _check_not_binary(name, sample)
    encoding = detect_encoding(sample, template.encoding, name)
    try:
        return _read_delimited_as(path, encoding, template, name, con)
    except NotUtf8:
        if template.encoding in ("utf-8", "utf-8-sig"):
            raise _not_utf8(name, template.encoding) from None
        for table in ("duck_rejects", "duck_scans"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        return _read_delimited_as(path, _legacy_guess(sample), template, name, con)


# what DuckDB's trim() strips: the space and Unicode's other space separators (category Zs)
_ZS_SPACES = r"[\x{00A0}\x{1680}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}]"


def _read_lines_side(
    con: duckdb.DuckDBPyConnection, path: Path, template: UploadTemplate, first_data: int,
    n_cols: int,
) -> tuple[bool, bool]:
    """``lines`` with footer marks, then two facts about the data lines: whether one holds
    only delimiters, spaces and quotes (an all-blank row), and whether any holds a non-ASCII
    space separator (NBSP, ...). Runs on its own cursor beside the field parse."""
    _lines_table(con, path)
    _mark_footer(con, template, first_data)
    _ragged_candidates(con, template, n_cols, first_data)
    chars = template.delimiter + " " + template.quote
    blank_rows = con.execute(
        "SELECT count(*) FROM lines WHERE line_no >= ? AND line <> '' AND ltrim(line, ?) = ''",
        [first_data, chars]).fetchall()[0][0] > 0
    unicode_space = con.execute(
        "SELECT EXISTS (SELECT 1 FROM lines WHERE line_no >= ? AND strlen(line) <> length(line) "
        "AND regexp_matches(line, ?))",  # the regex only on lines with non-ASCII characters
        [first_data, _ZS_SPACES]).fetchall()[0][0]
    return blank_rows, bool(unicode_space)


def _read_delimited_as(
    path: Path, encoding: str, template: UploadTemplate, name: str,
    con: duckdb.DuckDBPyConnection,
) -> RawFile:
    with utf8_copy(path, encoding) as utf8:
        first = _first_lines(utf8, "utf-8-sig", template.skip_rows + 2)
        head_idx = template.skip_rows
        if len(first) <= head_idx or not any(line.strip() for line in first[head_idx:]):
            raise _fail(name, "the file has no header or data lines")
        header = _split_one(first[head_idx], template) if template.has_header else None
        if header is not None:
            header = [h.strip() for h in header]
        n_cols = len(header) if header is not None else len(_split_one(first[head_idx], template))
        if template.trailing_delimiter and n_cols > 1 and \
                _split_one(first[head_idx], template)[-1].strip() == "":
            n_cols -= 1  # the declared trailing delimiter is not a column
            header = header[:-1] if header is not None else None
        field_columns, labels = resolve_columns(template, header, n_cols, name)
        first_data = template.skip_rows + (2 if template.has_header else 1)

        # The physical lines (for line numbers and the raw text of rejects) are read on a
        # second cursor while this one parses the fields: the lines read is single-threaded,
        # so the two overlap on a two-core machine (measured ~0.5 s of 1.9 s on 1M rows).
        with ThreadPoolExecutor(max_workers=1) as pool:
            side = con.cursor()
            lines_side = pool.submit(_read_lines_side, side, utf8, template, first_data,
                                     n_cols)
            try:
                one_to_one, edge_columns = _duck_parse(
                    con, utf8, template, n_cols, first_data, lines_side)
            finally:
                wait([lines_side])
                side.close()
        blank_rows, unicode_space = lines_side.result()
        notes: list[str] = []
        values = "parsed"
        plain: frozenset[str] = frozenset()
        if one_to_one:
            if not unicode_space:
                plain = frozenset(f"c{i}" for i in range(1, n_cols + 1)) - edge_columns
            # parsed rows keep file order (preserve_insertion_order), so the k-th row's rowid
            # is k: a hash join on it runs on every core (a POSITIONAL JOIN does not)
            select_cols = ", ".join(f"p.c{i}" for i in range(1, n_cols + 1))
            has_ragged = con.execute("SELECT count(*) FROM ragged_lines").fetchall()[0][0] > 0
            not_ragged = "WHERE g.line_no NOT IN (SELECT line_no FROM ragged_lines)" \
                if has_ragged else ""
            con.execute(
                f"""
                CREATE OR REPLACE VIEW parsed_lines AS
                SELECT g.line_no, {select_cols}
                FROM parsed p JOIN good_lines g ON g.ord = p.rowid {not_ragged}
                """
            )
            arms = " ".join(
                f"WHEN '{k}' THEN {_sql_lit(v)}" for k, v in _DUCK_REASONS.items()
            )
            con.execute(
                f"""
                CREATE OR REPLACE TABLE rej_reasons AS
                SELECT line_no, CASE error_type {arms} ELSE 'the line could not be read' END
                       || ' (expected {n_cols} fields separated by '
                       || {_sql_lit(repr(template.delimiter))} || ')' AS reason
                FROM rej_lines
                """
            )
        else:
            notes.append("re-read with exact line tracking (quoted line breaks or broken quotes)")
            values = "parsed_lines"
            blank_rows = True
            _python_parse(con, utf8, template, n_cols, first_data)
    _finish(con, n_cols, blank_rows)
    has_data = _has_rows(con)
    bad_rows = con.execute("SELECT count(*) FROM raw_rejects").fetchall()[0][0]
    if not has_data and bad_rows == 0:
        raise _fail(name, "the file has a header but no data rows")
    if not has_data and header is not None:
        ragged = con.execute(
            "SELECT count(*) FROM raw_rejects WHERE starts_with(reason, 'ragged row')"
        ).fetchall()[0][0]
        hint = (" (every line has more fields than the header: if lines end with the "
                "delimiter, declare 'trailing_delimiter: true' in the upload template)"
                if ragged == bad_rows else "")
        raise _fail(
            name, f"none of the {bad_rows} data lines has the header's {n_cols} fields: wrong "
            f"delimiter (template says {template.delimiter!r}) or not an ECR file{hint}",
        )
    return RawFile(con, name, header, field_columns, labels, encoding, False, notes, values,
                   plain)


def _has_rows(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether raw_rows has a row (stops at the first one instead of counting the view)."""
    return bool(con.execute("SELECT EXISTS (SELECT 1 FROM raw_rows)").fetchall()[0][0])


def _sql_lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _finish(con: duckdb.DuckDBPyConnection, n_cols: int, blank_rows: bool = True) -> None:
    """raw_rows / raw_rejects without footer lines and all-blank rows (raw text stays in
    ``lines``: joined only for the few rejected rows).

    ``raw_rows`` is a view: normalize scans it once, so copying a million wide rows into
    another table would only cost time and memory. ``blank_rows=False`` (the caller proved no
    row can be all blank) skips the per-row test of every column.
    """
    blank = " AND ".join(f"nullif(trim(p.c{i}), '') IS NULL" for i in range(1, n_cols + 1))
    blank = blank if blank_rows else "false"
    has_footer = con.execute("SELECT count(*) FROM lines WHERE footer").fetchall()[0][0] > 0
    footer = " AND p.line_no NOT IN (SELECT line_no FROM lines WHERE footer)" if has_footer else ""
    con.execute(
        f"""
        CREATE OR REPLACE VIEW raw_rows AS
        SELECT p.* FROM parsed_lines p
        WHERE NOT ({blank}){footer}
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE raw_rejects AS
        SELECT r.line_no, l.line AS raw_text, r.reason
        FROM rej_reasons r JOIN lines l USING (line_no)
        WHERE true {footer.replace("p.line_no", "r.line_no")}
        ORDER BY r.line_no
        """
    )
    for table in ("rej_lines", "rej_reasons"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


# -- xlsx -----------------------------------------------------------------------------------------
def check_zip_safe(path: Path, template: UploadTemplate, name: str) -> None:
    """Refuse zip bombs before any XML is inflated: declared sizes and compression ratios."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise _fail(name, f"not a readable xlsx file (not a valid zip archive: {exc})") from None
    limit = template.max_xlsx_uncompressed_mb * 1024 * 1024
    total = sum(info.file_size for info in infos)
    if total > limit:
        raise _fail(
            name, f"refused: the xlsx would inflate to {total / 1e6:.0f} MB "
            f"(limit {template.max_xlsx_uncompressed_mb} MB; possible zip bomb)",
        )
    for info in infos:
        if info.compress_size and info.file_size / info.compress_size > template.max_xlsx_ratio:
            raise _fail(
                name, f"refused: member {info.filename!r} compresses "
                f"{info.file_size / info.compress_size:.0f}:1 (limit "
                f"{template.max_xlsx_ratio}:1; possible zip bomb)",
            )
    if not any(info.filename.startswith("xl/") for info in infos):
        raise _fail(name, "not an xlsx workbook (no xl/ part in the zip archive)")


def _cell_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") if value.time() != time(0) else (
            value.strftime("%Y-%m-%d"))
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    return str(value)


def read_xlsx(
    path: Path, template: UploadTemplate, name: str, con: duckdb.DuckDBPyConnection
) -> RawFile:
    """Read the first (or named) sheet with python-calamine, after the zip-bomb check."""
    if path.stat().st_size == 0:
        raise _fail(name, "the file is empty (0 bytes)")
    check_zip_safe(path, template, name)
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet_name = template.sheet or workbook.sheet_names[0]
        if sheet_name not in workbook.sheet_names:
            raise _fail(name, f"no sheet named {sheet_name!r} (sheets: {workbook.sheet_names})")
        rows = workbook.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
    except EcrFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - calamine raises several types for corrupt files
        raise _fail(name, f"unreadable xlsx workbook ({type(exc).__name__}: {exc})") from None
    texts = [[_cell_text(v) for v in row] for row in rows]
    head_idx = template.skip_rows
    if len(texts) <= head_idx:
        raise _fail(name, "the sheet has no header or data rows")
    header = [(h or "").strip() for h in texts[head_idx]] if template.has_header else None
    if header is not None:
        while header and not header[-1]:
            header.pop()
    n_cols = len(header) if header is not None else max(len(r) for r in texts[head_idx:])
    field_columns, labels = resolve_columns(template, header, n_cols, name)
    first_data = head_idx + (2 if template.has_header else 1)

    line_nos, raw_lines, parsed_no = [], [], []
    values: list[list[str | None]] = [[] for _ in range(n_cols)]
    rej_no, rej_reason = [], []
    for idx in range(first_data - 1, len(texts)):
        row = texts[idx]
        line_no = idx + 1
        if not any(v is not None and v.strip() for v in row):
            continue
        line_nos.append(line_no)
        raw_lines.append(template.delimiter.join(v or "" for v in row))
        extra = [v for v in row[n_cols:] if v is not None and v.strip()]
        if extra:
            rej_no.append(line_no)
            rej_reason.append(f"{n_cols + len(extra)} filled cells, expected {n_cols}")
            continue
        parsed_no.append(line_no)
        for i in range(n_cols):
            values[i].append(row[i] if i < len(row) else None)
    con.register("_x_lines", pa.table({"line_no": pa.array(line_nos, pa.int64()),
                                       "line": pa.array(raw_lines, pa.string())}))
    con.execute("CREATE OR REPLACE TABLE lines AS SELECT * FROM _x_lines")
    con.unregister("_x_lines")
    _mark_footer(con, template, first_data)
    con.register("_x_rows", pa.table({"line_no": pa.array(parsed_no, pa.int64()),
                                      **{f"c{i + 1}": pa.array(values[i], pa.string())
                                         for i in range(n_cols)}}))
    con.execute("CREATE OR REPLACE TABLE parsed_lines AS SELECT * FROM _x_rows")
    con.unregister("_x_rows")
    con.register("_x_rej", pa.table({"line_no": pa.array(rej_no, pa.int64()),
                                     "reason": pa.array(rej_reason, pa.string())}))
    con.execute("CREATE OR REPLACE TABLE rej_reasons AS SELECT * FROM _x_rej")
    con.unregister("_x_rej")
    _finish(con, n_cols)
    if not _has_rows(con) and \
            con.execute("SELECT count(*) FROM raw_rejects").fetchall()[0][0] == 0:
        raise _fail(name, "the sheet has a header but no data rows")
    return RawFile(con, name, header, field_columns, labels, "xlsx", True, [], "parsed_lines")


def read_ecr_file(
    path: str | Path, template: UploadTemplate, con: duckdb.DuckDBPyConnection,
    file_name: str | None = None,
) -> RawFile:
    """Read ``path`` with ``template`` into ``con``; raise :class:`EcrFileError` if unreadable."""
    path = Path(path)
    name = file_name or path.name
    try:
        if template.format == "xlsx":
            return read_xlsx(path, template, name, con)
        return read_delimited(path, template, name, con)
    except EcrFileError:
        raise
    except duckdb.Error as exc:
        raise _fail(name, f"could not be read as delimited text: {str(exc).splitlines()[0]}") \
            from None
    except OSError as exc:
        error = _fail(name, f"could not be read: {exc}")
        error.transient = True
        raise error from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _fail(name, f"could not be read: {exc}") from None



