"""Phone and email normalization for contact rows, fast enough for million-row files.

Source cells hold anything: one phone, several ("713-555-0142 / 281.555.0100"), labels
("Cell: ..."), extensions, placeholders ("N/A") or junk. Every real piece becomes one output
row that is either ``valid`` (E.164 value) or ``rejected`` (with a reason a person understands);
placeholders and blanks produce no row (an empty cell is not a contact).

Speed: the work runs as set-based DuckDB SQL (RE2 regexes, multi-threaded), on distinct cells
and distinct pieces only, joined back to the input rows at the end. Pieces that are plainly
formatted 10-digit numbers of a NANPA region are classified with the ``phonenumbers``
library's own metadata patterns, in the order ``phonenumbers.number_type`` tests them; anything
those patterns do not accept (other NANPA regions such as Canada, international numbers,
extensions, letters, junk) goes through ``phonenumbers.parse`` one distinct piece at a time, so
every verdict equals the library's.

Two entry points: :func:`normalize_phones` / :func:`normalize_emails` take a pandas Series;
:func:`phones_sql` / :func:`emails_sql` work on a table already inside a DuckDB connection (the
ECR loader uses these to avoid moving a million rows through pandas).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import duckdb
import pandas as pd
import phonenumbers as pn
from phonenumbers import NumberParseException, PhoneNumberType

PHONE_COLUMNS = [
    "row", "position", "raw_value", "value", "phone_type", "label", "status", "reject_reason",
]
EMAIL_COLUMNS = ["row", "position", "raw_value", "value", "status", "reject_reason"]

# Cell contents that mean "no value" rather than a bad value.
PLACEHOLDERS = (
    "", "n/a", "na", "none", "null", "nil", "unknown", "-", "--", "---", "?", "no phone",
    "no email", "not provided", "refused", "0",
)
# "713/555-0142" is one number with an area-code slash: protect it before splitting on "/".
_AREA_SLASH = r"(^|[^0-9])([0-9]{3})/([0-9]{3}[-. ]?[0-9]{4})([^0-9]|$)"
# Several phones in one cell: ; , | / & newline, " or ", " and ".
_PHONE_SPLIT = r"(?i)\s*(?:[;,|/&\n\r]|\s+or\s+|\s+and\s+)\s*"
_EMAIL_SPLIT = r"[;,|\s]+"
# Whether a cell may hold several phones (a cheap test before the split regexes).
_MAY_SPLIT = r"(?i)[;,|/&\n\r]|\sor\s|\sand\s"
LABEL_WORDS = {
    "cell": "Cell", "cel": "Cell", "mobile": "Cell", "mob": "Cell", "c": "Cell", "m": "Cell",
    "home": "Home", "h": "Home", "work": "Work", "office": "Work", "w": "Work", "o": "Work",
    "business": "Work", "fax": "Fax", "f": "Fax", "pager": "Pager", "beeper": "Pager",
    "pgr": "Pager",
}
_LABEL_ALT = "|".join(sorted(LABEL_WORDS, key=len, reverse=True))
_LEADING_LABEL = rf"(?i)^\s*\(?\s*({_LABEL_ALT})\s*\)?\s*[:\-.]?\s*([+(0-9].*)$"
_TRAILING_LABEL = rf"(?i)^(.*[0-9])\s*[\-(\[]?\s*({_LABEL_ALT})\s*[)\]]?\s*$"
# A plainly formatted NANPA number: optional +1/1, 3-3-4 digits with common separators.
_PLAIN_NANP = (
    r"^\s*(?:\+?1[\s.\-]*)?\(?\s*([0-9]{3})\s*\)?[\s.\-]*([0-9]{3})[\s.\-]*([0-9]{4})\s*$"
)
_EMAIL_OK = (
    r"[a-z0-9!#$%&'*+/=?^_`{|}~.\-]+@[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*\.[a-z]{2,}"
)
_KIND_NAMES = {
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.UNKNOWN: "unknown",
}


# contacts.phone_type, from the source label and the numbering plan (kind). A fax or pager
# label wins over everything (those never get SMS); a plan that says mobile beats a Home or
# Work label; Cell upgrades a US number the plan cannot tell apart (FIXED_LINE_OR_MOBILE).
PHONE_TYPES = ("mobile", "home", "work", "fax", "pager", "landline", "unknown")
_PHONE_TYPE_SQL = """CASE WHEN value IS NULL THEN NULL
                    WHEN label = 'Fax' THEN 'fax'
                    WHEN label = 'Pager' OR kind = 'pager' THEN 'pager'
                    WHEN kind = 'mobile' THEN 'mobile'
                    WHEN label = 'Cell' AND kind = 'fixed_line_or_mobile' THEN 'mobile'
                    WHEN label = 'Home' THEN 'home'
                    WHEN label = 'Work' THEN 'work'
                    WHEN kind = 'fixed_line' THEN 'landline'
                    ELSE 'unknown' END"""


def _lit(text: str) -> str:
    """A SQL string literal (patterns are inlined so DuckDB compiles each regex once)."""
    return "'" + text.replace("'", "''") + "'"


def _placeholder_list() -> str:
    return ", ".join(_lit(p) for p in PLACEHOLDERS)


@cache
def _type_case_sql(region: str) -> str | None:
    """A SQL CASE giving phonenumbers' type name for column ``nsn`` (None: not NANPA)."""
    meta = pn.PhoneMetadata.metadata_for_region(region.upper())
    if meta is None or meta.country_code != 1 or meta.general_desc is None:
        return None

    def pattern(desc: object) -> str | None:
        return getattr(desc, "national_number_pattern", None) if desc is not None else None

    order = [
        ("premium_rate", "premium_rate"), ("toll_free", "toll_free"),
        ("shared_cost", "shared_cost"), ("voip", "voip"),
        ("personal_number", "personal_number"), ("pager", "pager"), ("uan", "uan"),
        ("voicemail", "voicemail"),
    ]
    arms = [f"WHEN NOT regexp_full_match(nsn, {_lit(pattern(meta.general_desc))}) THEN NULL"]
    for attr, name in order:
        pat = pattern(getattr(meta, attr))
        if pat:
            arms.append(f"WHEN regexp_full_match(nsn, {_lit(pat)}) THEN '{name}'")
    fixed, mobile = pattern(meta.fixed_line), pattern(meta.mobile)
    if fixed:
        if meta.same_mobile_and_fixed_line_pattern or not mobile:
            arms.append(f"WHEN regexp_full_match(nsn, {_lit(fixed)}) THEN 'fixed_line_or_mobile'")
        else:
            arms.append(
                f"WHEN regexp_full_match(nsn, {_lit(fixed)}) THEN CASE WHEN "
                f"regexp_full_match(nsn, {_lit(mobile)}) THEN 'fixed_line_or_mobile' "
                "ELSE 'fixed_line' END"
            )
    if mobile and not meta.same_mobile_and_fixed_line_pattern:
        arms.append(f"WHEN regexp_full_match(nsn, {_lit(mobile)}) THEN 'mobile'")
    return "CASE " + " ".join(arms) + " ELSE NULL END"


def _slow_parse(piece: str, region: str) -> tuple[str | None, str | None, str | None]:
    """Full phonenumbers path for one piece: (e164, kind name, reject reason)."""
    digits = sum(ch.isdigit() for ch in piece)
    if digits == 0:
        return None, None, "not a phone number (no digits)"
    try:
        number = pn.parse(piece, region)
    except NumberParseException as exc:
        reasons = {
            NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
            NumberParseException.NOT_A_NUMBER: "not a phone number",
            NumberParseException.TOO_SHORT_AFTER_IDD: "too few digits after the country code",
            NumberParseException.TOO_SHORT_NSN: f"too few digits ({digits})",
            NumberParseException.TOO_LONG: f"too many digits ({digits})",
        }
        return None, None, reasons.get(exc.error_type, "not a phone number")
    if not pn.is_valid_number(number):
        nsn_len = len(pn.national_significant_number(number))
        home = number.country_code == pn.country_code_for_region(region)
        reg = region.upper()
        if home and nsn_len < 10:
            return None, None, f"too few digits ({nsn_len}; a {reg} number has 10)"
        if home and nsn_len > 10:
            return None, None, f"too many digits ({nsn_len}; a {reg} number has 10)"
        return None, None, f"not a valid {reg + ' ' if home else ''}number"
    e164 = pn.format_number(number, pn.PhoneNumberFormat.E164)
    return e164, _KIND_NAMES.get(pn.number_type(number), "unknown"), None


def _carried(columns: Sequence[str], alias: str = "s.") -> str:
    """``, s."col", ...`` for columns copied from the source rows into the output."""
    return "".join(f', {alias}"{c}"' for c in columns)


def _label_sql(expr: str) -> str:
    """SQL mapping a source label ('Cell', 'MOBILE', 'Home Phone') to Cell/Home/Work/Fax."""
    word = f"regexp_extract(lower(trim({expr})), '^([a-z]+)', 1)"
    arms = " ".join(f"WHEN {word} = {_lit(k)} THEN {_lit(v)}" for k, v in LABEL_WORDS.items())
    return f"CASE WHEN nullif(trim({expr}), '') IS NULL THEN NULL {arms} ELSE trim({expr}) END"


def phones_sql(
    con: duckdb.DuckDBPyConnection,
    source: str,
    target: str,
    *,
    region: str = "US",
    row_col: str = "row",
    cell_col: str = "cell",
    label_col: str | None = None,
    carry: Sequence[str] = (),
    ordered: bool = True,
) -> None:
    """Normalize phone cells of table/view ``source`` into temp table ``target``.

    ``source`` has a row key column and a cell column (and optionally a source label column).
    ``target`` gets :data:`PHONE_COLUMNS` (``row`` holds the row key) plus the ``carry``
    columns of ``source`` (saves the caller a join back), ordered by row, position unless
    ``ordered=False`` (a million-row sort the ECR loader does not need).
    """
    label_expr = _label_sql(f"s.{label_col}") if label_col else "NULL"
    strip = _lit(" \t\"'")
    placeholders = _placeholder_list()
    # Most cells hold one piece: only cells with a separator go through the split, unnest and
    # numbering (same pieces and positions, less work)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _ph_pieces AS
        WITH distinct_cells AS (
            SELECT DISTINCT {cell_col} AS cell FROM {source}
            WHERE {cell_col} IS NOT NULL AND lower(trim({cell_col})) NOT IN ({placeholders})
        ), cells AS (
            SELECT cell, regexp_matches(cell, {_lit(_MAY_SPLIT)}) AS several FROM distinct_cells
        ), split AS (
            SELECT cell, regexp_split_to_array(
                regexp_replace(cell, {_lit(_AREA_SLASH)}, '\\1\\2-\\3\\4', 'g'),
                {_lit(_PHONE_SPLIT)}) AS parts
            FROM cells WHERE several
        ), pieces AS (
            SELECT cell, unnest(parts) AS piece, generate_subscripts(parts, 1) AS pos FROM split
        )
        SELECT cell, trim(piece, {strip}) AS piece,
               row_number() OVER (PARTITION BY cell ORDER BY pos) - 1 AS position
        FROM pieces
        WHERE lower(trim(piece, {strip})) NOT IN ({placeholders})
        UNION ALL
        SELECT cell, trim(cell, {strip}), 0 FROM cells
        WHERE NOT several AND lower(trim(cell, {strip})) NOT IN ({placeholders})
    """)
    type_case = _type_case_sql(region)
    nanp = type_case is not None
    plain = f"regexp_extract(piece, {_lit(_PLAIN_NANP)}, ['a', 'b', 'c'])" if nanp else "NULL"
    # A plainly formatted NANPA number holds no label word: one regex gives its 10 digits, and
    # only the other pieces go through the label regexes.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _ph_uniq AS
        WITH u AS (SELECT DISTINCT piece FROM _ph_pieces),
        plain AS (SELECT piece, {plain} AS m FROM u),
        lead AS (
            SELECT piece,
                   nullif(regexp_extract(piece, {_lit(_LEADING_LABEL)}, 1), '') AS lead_label,
                   regexp_extract(piece, {_lit(_LEADING_LABEL)}, 2) AS lead_body
            FROM plain WHERE m IS NULL OR m.a = ''
        ), trail AS (
            SELECT piece, lead_label,
                   CASE WHEN lead_label IS NULL THEN piece ELSE lead_body END AS body0
            FROM lead
        ), body AS (
            SELECT piece,
                   coalesce(lead_label,
                            nullif(regexp_extract(body0, {_lit(_TRAILING_LABEL)}, 2), ''))
                       AS label_word,
                   CASE WHEN regexp_matches(body0, {_lit(_TRAILING_LABEL)})
                        THEN regexp_extract(body0, {_lit(_TRAILING_LABEL)}, 1)
                        ELSE body0 END AS body
            FROM trail
        ), nsn AS (
            SELECT piece, NULL::VARCHAR AS label_word, piece AS body,
                   m.a || m.b || m.c AS nsn
            FROM plain WHERE m.a <> ''
            UNION ALL
            SELECT piece, label_word, body,
                   CASE WHEN {str(nanp).lower()} AND regexp_matches(body, {_lit(_PLAIN_NANP)})
                        THEN regexp_extract(body, {_lit(_PLAIN_NANP)}, 1)
                          || regexp_extract(body, {_lit(_PLAIN_NANP)}, 2)
                          || regexp_extract(body, {_lit(_PLAIN_NANP)}, 3) END AS nsn
            FROM body
        ), kinds AS (
            SELECT piece, body, nsn, {_label_sql("label_word")} AS label_found,
                   {type_case if nanp else "NULL"} AS kind
            FROM nsn
        )
        SELECT piece, body, label_found, kind,
               CASE WHEN kind IS NOT NULL THEN '+1' || nsn END AS value, NULL::VARCHAR AS reason
        FROM kinds
    """)
    slow = con.execute("SELECT piece, body FROM _ph_uniq WHERE kind IS NULL").fetchall()
    if slow:
        results = [(piece, *_slow_parse(body, region)) for piece, body in slow]
        slow_frame = pd.DataFrame(results, columns=["piece", "value", "kind", "reason"])
        con.register("_ph_slow_frame", slow_frame)
        con.execute("""
            UPDATE _ph_uniq SET value = f.value, kind = f.kind, reason = f.reason
            FROM _ph_slow_frame f WHERE _ph_uniq.piece = f.piece
        """)
        con.unregister("_ph_slow_frame")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {target} AS
        WITH joined AS (
            SELECT s.{row_col} AS row, p.position, p.piece AS raw_value, u.value, u.kind,
                   coalesce(u.label_found, {label_expr}) AS label, u.reason{_carried(carry)}
            FROM {source} s
            JOIN _ph_pieces p ON s.{cell_col} = p.cell
            JOIN _ph_uniq u ON p.piece = u.piece
        )
        SELECT row, position, raw_value, value,
               {_PHONE_TYPE_SQL} AS phone_type,
               label,
               CASE WHEN value IS NULL THEN 'rejected' ELSE 'valid' END AS status,
               CASE WHEN value IS NULL THEN coalesce(reason, 'not a phone number') END
                   AS reject_reason{_carried(carry, "")}
        FROM joined
        {"ORDER BY row, position" if ordered else ""}
    """)
    con.execute("DROP TABLE IF EXISTS _ph_pieces")
    con.execute("DROP TABLE IF EXISTS _ph_uniq")


def emails_sql(
    con: duckdb.DuckDBPyConnection,
    source: str,
    target: str,
    *,
    row_col: str = "row",
    cell_col: str = "cell",
    carry: Sequence[str] = (),
    ordered: bool = True,
) -> None:
    """Normalize email cells of ``source`` into temp table ``target`` (:data:`EMAIL_COLUMNS`,
    plus ``carry`` and ``ordered`` as in :func:`phones_sql`)."""
    placeholders = _placeholder_list()
    # one-piece cells (the usual) skip the split, unnest and numbering; the address pattern is
    # tested once per distinct piece
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {target} AS
        WITH distinct_cells AS (
            SELECT DISTINCT {cell_col} AS cell FROM {source}
            WHERE {cell_col} IS NOT NULL AND lower(trim({cell_col})) NOT IN ({placeholders})
        ), cells AS (
            SELECT cell, regexp_matches(trim(cell), {_lit(_EMAIL_SPLIT)}) AS several
            FROM distinct_cells
        ), pieces AS (
            SELECT cell, unnest(parts) AS piece, generate_subscripts(parts, 1) AS pos
            FROM (SELECT cell, regexp_split_to_array(trim(cell), {_lit(_EMAIL_SPLIT)}) AS parts
                  FROM cells WHERE several)
        ), kept AS (
            SELECT cell, piece,
                   row_number() OVER (PARTITION BY cell ORDER BY pos) - 1 AS position
            FROM pieces WHERE lower(trim(piece)) NOT IN ({placeholders})
            UNION ALL
            SELECT cell, trim(cell), 0 FROM cells WHERE NOT several
        ), uniq AS (
            SELECT piece, lower(rtrim(trim(regexp_replace(trim(piece), '(?i)^mailto:', ''),
                                      '<>()[]"'''), '.')) AS cleaned
            FROM (SELECT DISTINCT piece FROM kept)
        ), checked AS (
            SELECT piece, cleaned, regexp_full_match(cleaned, {_lit(_EMAIL_OK)}) AS ok FROM uniq
        ), judged AS (
            SELECT piece,
                   CASE WHEN ok THEN cleaned END AS value,
                   CASE WHEN ok THEN NULL
                        WHEN NOT contains(cleaned, '@') THEN 'not an email address (no @)'
                        WHEN length(cleaned) - length(replace(cleaned, '@', '')) > 1
                            THEN 'not a valid email address (more than one @)'
                        ELSE 'not a valid email address' END AS reject_reason
            FROM checked
        )
        SELECT s.{row_col} AS row, k.position, k.piece AS raw_value, j.value,
               CASE WHEN j.value IS NULL THEN 'rejected' ELSE 'valid' END AS status,
               j.reject_reason{_carried(carry)}
        FROM {source} s JOIN kept k ON s.{cell_col} = k.cell JOIN judged j ON k.piece = j.piece
        {"ORDER BY row, position" if ordered else ""}
    """)


def _frame_out(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> pd.DataFrame:
    frame = con.execute(f"SELECT {', '.join(columns)} FROM {table}").df()
    for column in columns:
        if column not in ("row", "position"):
            col = frame[column].astype(object)
            frame[column] = col.where(col.notna(), None)
    frame["position"] = frame["position"].astype("int64")
    return frame


def _input_frame(raw: pd.Series, labels: pd.Series | None) -> pd.DataFrame:
    raw = pd.Series(raw)
    frame = pd.DataFrame(
        {"row": raw.index, "cell": raw.astype(object).where(raw.notna(), None).map(
            lambda v: None if v is None else str(v))}
    )
    if labels is not None:
        lab = pd.Series(labels).reindex(raw.index)
        frame["label"] = lab.astype(object).where(lab.notna(), None).map(
            lambda v: None if v is None else str(v))
    return frame


def normalize_phones(
    raw: pd.Series, region: str = "US", labels: pd.Series | None = None
) -> pd.DataFrame:
    """Split, normalize and classify phone cells.

    Returns one row per phone piece with columns ``row`` (the input index), ``position``
    (order within the cell), ``raw_value`` (the piece as received), ``value`` (E.164 or None),
    ``phone_type`` (one of :data:`PHONE_TYPES`), ``label`` ('Cell', 'Home', 'Work', 'Fax',
    'Pager' from the cell text, else from ``labels`` aligned by index), ``status`` ('valid' |
    'rejected') and ``reject_reason``. US numbers are mostly FIXED_LINE_OR_MOBILE in the
    numbering plan, so the label decides (Cell -> mobile, Home -> home, Fax -> fax, ...);
    without one they are reported honestly as 'unknown'.
    """
    frame = _input_frame(raw, labels)
    con = duckdb.connect()
    try:
        con.register("_ph_input", frame)
        phones_sql(con, "_ph_input", "_ph_out", region=region,
                   label_col="label" if labels is not None else None)
        out = _frame_out(con, "_ph_out", PHONE_COLUMNS)
    finally:
        con.close()
    out["row"] = out["row"].astype(frame["row"].dtype) if len(out) else out["row"]
    return out


def normalize_emails(raw: pd.Series) -> pd.DataFrame:
    """Split, lower-case and check email cells; invalid ones are kept as rejected rows.

    Columns: ``row``, ``position``, ``raw_value``, ``value`` (lower-case; None when rejected),
    ``status`` ('valid' | 'rejected'), ``reject_reason``.
    """
    frame = _input_frame(raw, None)
    con = duckdb.connect()
    try:
        con.register("_em_input", frame)
        emails_sql(con, "_em_input", "_em_out")
        out = _frame_out(con, "_em_out", EMAIL_COLUMNS)
    finally:
        con.close()
    return out


__all__ = [
    "EMAIL_COLUMNS", "PHONE_COLUMNS", "PHONE_TYPES", "emails_sql", "normalize_emails",
    "normalize_phones", "phones_sql",
]
