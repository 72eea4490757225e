"""Turn a read ECR file (``raw_rows``) into clean record frames, set-based in DuckDB.

Each row is validated once (dates, times, names, keys) into ``typed``; rows that fail or that
a template exclude rule skips join the reader's ``raw_rejects``; the rest become the parties,
contacts, cases, case_parties, hearings and hearing_parties frames handed to ``merge_records``.

Keys (see docs/explanation/ecr-files.md, Keys):

* party_id = the source Party ID, else ``'d:' + sha256(last|first|birth date)`` (or, without a
  birth date, ``last|first|case:<case_id>``), first 24 hex characters;
* case_id = the source case id, else ``'n:' + upper(case number)``;
* hearing_id = the source event id, else ``'d:' + sha256(case_id|local start|hearing type)``.
  Without event ids a rescheduled hearing therefore shows up as a new hearing (and, in snapshot
  mode, the old one as removed): the file carries nothing that links the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from court_pipeline.ecr.reader import RawFile
from court_pipeline.ecr.template import UploadTemplate
from court_pipeline.records.phones import emails_sql, phones_sql

_SUFFIX = r"(?i)[\s,]+(JR\.?|SR\.?|II|III|IV)$"
ROW_GROUP_ROWS = 122_880  # DuckDB's row group size
TABLE_ORDER = ("parties", "contacts", "cases", "case_parties", "hearings", "hearing_parties")


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _list(values: list[str]) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]"


@dataclass
class CleanFrames:
    """Clean frames for one file plus what the snapshot logic needs."""

    frames: dict[str, pa.Table]
    rows_loaded: int
    present_hearing_ids: pa.Array  # every hearing id the file lists (rejected rows too)
    window: tuple[str, str] | None  # (first, last) local date of the file's hearings
    notes: list[str] = field(default_factory=list)
    # (party_id, kind): the file gives the party's current phone (email) list, an empty cell
    # included, for every loaded party when it has that column (records.contact_lists)
    contact_lists: pa.Table | None = None


def _time_clean(expr: str) -> str:
    """'9:00am', '9:00 a.m.' -> '9:00 AM' so one %p format reads them all."""
    return (
        f"regexp_replace(regexp_replace(upper({expr}), '\\s*([AP])\\.?\\s*M\\.?$', ' \\1M'),"
        " '\\s+', ' ', 'g')"
    )


def _map_sql(expr: str, mapping: dict[str, str], keep_unmapped: bool = True) -> str:
    if not mapping:
        return expr
    arms = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in mapping.items())
    return f"CASE lower(trim({expr})) {arms} ELSE {expr if keep_unmapped else 'NULL'} END"


def _typed_sql(t: UploadTemplate, raw: RawFile, tz: str) -> tuple[dict[str, str], str]:
    """Lookup tables to create first ({name: query}) and one query over ``raw_rows``: stage
    (trim, blank -> NULL), parse each value once, then names, maps, errors."""
    mapped = list(raw.field_columns)
    has = set(mapped).__contains__
    lab = raw.field_labels
    date_fmts = t.date_strptime + (["%Y-%m-%d", "%Y-%m-%d %H:%M:%S"] if raw.is_xlsx else [])
    time_fmts = t.time_strptime + (["%H:%M:%S"] if raw.is_xlsx else [])
    dt_fmts = t.datetime_strptime + (["%Y-%m-%d %H:%M:%S"] if raw.is_xlsx else [])
    # trim copies every string; only values that start or end with a space need it (same
    # result, measured ~40% less CPU for this step on a million rows). trim also strips the
    # non-ASCII Unicode spaces (NBSP, ...), so any non-ASCII first/last character takes the
    # trim path too. Columns the reader proved to have no such edge (raw.plain_columns: the
    # usual machine-written file) are taken as they are.
    def staged(col: str) -> str:
        if col in raw.plain_columns:  # DuckDB already reads empty and "" values as NULL
            return col
        edge = (f"starts_with({col}, ' ') OR ends_with({col}, ' ') OR ascii({col}) > 127 "
                f"OR ascii(right({col}, 1)) > 127")
        return f"CASE WHEN {edge} THEN nullif(trim({col}), '') ELSE nullif({col}, '') END"

    stage = ", ".join(f"{staged(col)} AS f_{name}" for name, col in raw.field_columns.items())

    def f(name: str) -> str:
        return f"f_{name}" if has(name) else "NULL"

    def quoted(field: str) -> str:
        """SQL for: <label> '<value>' (non-PII fields only)."""
        return f"{_lit(lab[field] + ' ')} || '''' || f_{field} || ''''"

    # Costly text work (regexes, several strptime formats) runs once per distinct value in a
    # small lookup table joined back by value: a file has ~60 distinct times and ~30k distinct
    # names for a million rows. The lookups are materialized first so the join builds its hash
    # table on the small side (with CTEs the optimizer guessed wrong and hashed the big side).
    lookups: dict[str, str] = {}
    joins: list[str] = []

    def lookup(name: str, field: str, select: str) -> None:
        """Temp table ``name``: one row per distinct trimmed value ``k`` of ``field``."""
        distinct = (f"SELECT DISTINCT nullif(trim({raw.field_columns[field]}), '') AS k "
                    f"FROM {raw.values_table}")
        lookups[name] = f"SELECT k, {select} FROM ({distinct}) WHERE k IS NOT NULL"
        joins.append(f"LEFT JOIN {name} ON {name}.k = base.f_{field}")

    def name_lookup(name: str, field: str) -> None:
        """``LAST, FIRST MIDDLE`` (suffix from either side; no comma: all last name)."""
        lookup(name, field,
               "trim(CASE WHEN contains(k, ',') THEN split_part(k, ',', 1) ELSE k END) AS _last0,"
               " CASE WHEN contains(k, ',') THEN trim(regexp_replace(substr(k, strpos(k, ',') + 1),"
               " '\\s+', ' ', 'g')) END AS _rest0")
        split = (
            f"SELECT k, regexp_replace(_rest0, {_lit(_SUFFIX)}, '') AS _rest1, "
            f"nullif(coalesce(nullif(regexp_extract(_rest0, {_lit(_SUFFIX)}, 1), ''), "
            f"nullif(regexp_extract(_last0, {_lit(_SUFFIX)}, 1), '')), '') AS suffix, "
            f"nullif(regexp_replace(_last0, {_lit(_SUFFIX)}, ''), '') AS last_name "
            f"FROM ({lookups[name]})"
        )
        lookups[name] = (
            "SELECT k, last_name, suffix, "
            "nullif(split_part(_rest1, ' ', 1), '') AS first_name, "
            "nullif(trim(substr(_rest1, strpos(_rest1 || ' ', ' ') + 1)), '') AS middle_name "
            f"FROM ({split})"
        )

    # level 1: every parse exactly once
    p1 = ["base.*"]
    if has("full_name"):
        name_lookup("lk_name", "full_name")
        p1 += ["lk_name.last_name", "lk_name.suffix", "lk_name.first_name",
               "lk_name.middle_name"]
    if has("attorney_name"):
        name_lookup("lk_atty", "attorney_name")
        p1 += [f"lk_atty.{c} AS atty_{c}" for c in
               ("last_name", "suffix", "first_name", "middle_name")]
    else:
        p1 += [f"NULL::VARCHAR AS atty_{c}" for c in
               ("last_name", "suffix", "first_name", "middle_name")]
    if has("date_of_birth"):
        p1.append(f"try_strptime(f_date_of_birth, {_list(date_fmts)})::DATE AS _dob")
    if has("event_datetime"):
        lookup("lk_dt", "event_datetime",
               f"try_strptime({_time_clean('k')}, {_list(dt_fmts)}) AS _start")
        p1.append("lk_dt._start")
    elif has("event_date"):
        p1.append(f"try_strptime(f_event_date, {_list(date_fmts)})::DATE AS _d")
        if has("event_time"):
            lookup("lk_time", "event_time",
                   f"try_strptime({_time_clean('k')}, {_list(time_fmts)})::TIME AS _t")
            p1.append("lk_time._t")
        else:
            p1.append("NULL::TIME AS _t")
    if has("case_fines"):
        p1.append("try_cast(replace(replace(f_case_fines, '$', ''), ',', '') AS DECIMAL(12, 2))"
                  " AS _fines")
    # level 3: output columns and errors
    sel: list[str] = ["line_no"]
    errs: list[str] = []
    if has("full_name"):
        sel += ["last_name", "suffix", "first_name", "middle_name"]
    else:
        sel += [f"{f('last_name')} AS last_name", f"{f('first_name')} AS first_name",
                f"{f('middle_name')} AS middle_name", "NULL AS suffix"]
    sel += [f"{f('party_id')} AS party_id_src", f"{f('event_id')} AS event_id",
            f"coalesce({f('case_id')}, 'n:' || upper({f('case_number')})) AS case_key",
            f"{f('case_number')} AS case_number"]
    if has("date_of_birth"):
        sel.append("_dob AS date_of_birth")
        dob_msg = lab["date_of_birth"] + " matches none of the formats " + ", ".join(
            t.date_formats)
        errs.append(f"CASE WHEN f_date_of_birth IS NOT NULL AND _dob IS NULL THEN "
                    f"{_lit(dob_msg)} END")
    else:
        sel.append("NULL::DATE AS date_of_birth")
    if has("event_datetime"):
        sel.append("_start AS start_local")
        shown = " matches none of the formats " + ", ".join(t.datetime_formats_shown)
        errs.append(
            f"CASE WHEN f_event_datetime IS NULL THEN {_lit(lab['event_datetime'] + ' is blank')}"
            f" WHEN _start IS NULL THEN {quoted('event_datetime')} || {_lit(shown)} END")
    elif has("event_date"):
        sel.append("_d + _t AS start_local")
        d_msg = " matches none of the formats " + ", ".join(t.date_formats)
        t_msg = " matches none of the formats " + ", ".join(t.time_formats)
        errs.append(
            f"CASE WHEN f_event_date IS NULL THEN {_lit(lab['event_date'] + ' is blank')}"
            f" WHEN _d IS NULL THEN {quoted('event_date')} || {_lit(d_msg)} END")
        errs.append(
            f"CASE WHEN f_event_time IS NULL THEN {_lit(lab['event_time'] + ' is blank')}"
            f" WHEN _t IS NULL THEN {quoted('event_time')} || {_lit(t_msg)} END")
    else:
        sel.append("NULL::TIMESTAMP AS start_local")
    sel += ["atty_last_name", "atty_first_name", "atty_middle_name", "atty_suffix",
            f"upper(replace({f('attorney_bar_number')}, ' ', '')) AS atty_bar_number"]
    sel.append(f"{_map_sql(f('event_status'), t.value_map('event_status'))} AS status")
    # the value map first (a template may map 'VN'), then a two-letter code as it is
    lang = f('preferred_language')
    code = (f"CASE WHEN regexp_full_match(lower(trim({lang})), '[a-z]{{2}}') "
            f"THEN lower(trim({lang})) ELSE {lang} END")
    lang_arms = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}"
                         for k, v in t.value_map("preferred_language").items())
    sel.append(f"CASE lower(trim({lang})) {lang_arms} ELSE {code} END AS preferred_language"
               if lang_arms else f"{code} AS preferred_language")
    sel.append(f"coalesce({_map_sql(f('party_role'), t.value_map('party_role'))}, 'Party') AS role")
    for name in ("hearing_type", "location", "courtroom", "judge", "case_type", "case_status",
                 "payment_status", "bond_agent", "phone", "phone_label", "email"):
        sel.append(f"{_map_sql(f(name), t.value_map(name))} AS {name}")
    if has("case_fines"):
        sel.append("_fines AS fines")
        errs.append(f"CASE WHEN f_case_fines IS NOT NULL AND _fines IS NULL THEN "
                    f"{quoted('case_fines')} || ' is not an amount' END")
    else:
        sel.append("NULL::DECIMAL(12, 2) AS fines")
    if has("case_number") or has("case_id"):
        blank = lab.get("case_number", lab.get("case_id", "Case Number")) + " is blank"
        errs.append(f"CASE WHEN {f('case_id')} IS NULL AND {f('case_number')} IS NULL THEN "
                    f"{_lit(blank)} END")
    name_col = "full_name" if has("full_name") else "last_name"
    who = "no " + lab.get("party_id", "Party ID") + " and no " + lab.get(name_col, "name")
    errs.append(f"CASE WHEN {f('party_id')} IS NULL AND {f(name_col)} IS NULL THEN {_lit(who)} END")
    sel.append(f"concat_ws('; ', {', '.join(errs)}) AS errors")
    main = (f"WITH base AS (SELECT line_no, {stage} FROM raw_rows), "
            f"p1 AS (SELECT {', '.join(p1)} FROM base {' '.join(joins)}) "
            f"SELECT {', '.join(sel)} FROM p1")
    return lookups, main


def _exclude_sql(t: UploadTemplate) -> str:
    """SQL giving the first matching exclude rule's description, else NULL."""
    arms = []
    column = {"full_name": "last_name", "event_status": "status", "party_role": "role",
              "party_id": "party_id_src"}
    for rule in t.exclude:
        col = column.get(rule.field, rule.field)
        expr = f"lower(trim(CAST({col} AS VARCHAR)))"
        if rule.in_ is not None:
            cond = f"{expr} IN ({', '.join(_lit(v.strip().lower()) for v in rule.in_)})"
        elif rule.not_in is not None:
            cond = (f"coalesce({expr}, '') NOT IN "
                    f"({', '.join(_lit(v.strip().lower()) for v in rule.not_in)})")
        else:
            cond = f"regexp_matches(CAST({col} AS VARCHAR), {_lit(rule.matches or '')})"
        arms.append(f"WHEN {cond} THEN {_lit('excluded by template rule: ' + rule.describe())}")
    return ("CASE " + " ".join(arms) + " END") if arms else "NULL"


def _keys_change(table: pa.Table, keys: list[str]) -> pa.Array:
    """True where a row's key differs from the next row's (and for the last row)."""
    n = table.num_rows
    change = None
    for key in keys:
        col = pc.fill_null(table.column(key).combine_chunks().cast(pa.string()), "\x00")
        differs = pc.not_equal(col.slice(0, n - 1), col.slice(1))
        change = differs if change is None else pc.or_(change, differs)
    return pa.concat_arrays([change, pa.array([True])])


def last_per_key(
    con: duckdb.DuckDBPyConnection, select: str, key: str, source: str = "ok",
    order: str = "line_no",
) -> pa.Table:
    """Rows of ``source`` projected by ``select``, one per ``key``: the file's last line wins.

    One sort by (key, ``order``) and a look at each row's neighbour: the last row of every key
    run is the one kept (``order`` must be unique per row). Measured on a million-row file this
    is half the cost of a hash aggregate plus semi-join followed by the same sort, and when every
    key is unique (the usual hearings file) nothing is copied. Rows come out sorted by key: the
    warehouse compresses sorted input faster and the close checkpoint stays short (measured:
    about 1 s of write time for a million-row file).
    """
    table = con.sql(
        f"SELECT {select}, {order} AS _line FROM {source} ORDER BY {key}, _line"
    ).to_arrow_table()
    table = table.drop_columns(["_line"])
    if table.num_rows < 2:
        return table
    keep = _keys_change(table, [k.strip() for k in key.split(",")])
    if pc.all(keep).as_py():
        return table
    # filtering leaves small chunks; the warehouse inserts chunks smaller than a row group on
    # one thread (measured: 2x slower for parties), so hand it row-group-sized chunks
    kept = table.filter(keep).combine_chunks()
    return pa.Table.from_batches(kept.to_batches(max_chunksize=ROW_GROUP_ROWS), kept.schema)


def normalize(raw: RawFile, template: UploadTemplate, timezone: str) -> CleanFrames:
    """Validate ``raw_rows`` and build the clean frames; add failing rows to ``raw_rejects``."""
    con = raw.con
    has = set(raw.field_columns).__contains__
    lookups, typed_sql = _typed_sql(template, raw, timezone)
    for name, query in lookups.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {query}")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE typed AS
        SELECT *,
               {_exclude_sql(template)} AS excluded,
               coalesce(party_id_src, 'd:' || substr(sha256(concat_ws('|', lower(last_name),
                   lower(coalesce(first_name, '')),
                   coalesce(CAST(date_of_birth AS VARCHAR), 'case:' || case_key))), 1, 24))
                   AS party_id,
               coalesce(event_id, CASE WHEN start_local IS NOT NULL AND case_key IS NOT NULL THEN
                   'd:' || substr(sha256(concat_ws('|', case_key,
                       strftime(start_local, '%Y-%m-%dT%H:%M'),
                       upper(coalesce(hearing_type, '')))), 1, 24) END) AS hearing_id,
               timezone({_lit(timezone)}, start_local) AS start_at,
               CASE WHEN atty_bar_number IS NOT NULL THEN 'bar:' || atty_bar_number
                    WHEN atty_last_name IS NOT NULL THEN 'd:' || substr(sha256(concat_ws('|',
                        'attorney', lower(atty_last_name), lower(coalesce(atty_first_name, '')))),
                        1, 24) END AS atty_party_id
        FROM ({typed_sql})
        """
    )
    con.execute(
        """
        INSERT INTO raw_rejects
        SELECT t.line_no, l.line, coalesce(t.excluded, t.errors)
        FROM typed t JOIN lines l USING (line_no)
        WHERE t.excluded IS NOT NULL OR t.errors <> ''
        """
    )
    con.execute("CREATE OR REPLACE VIEW ok AS SELECT * FROM typed "
                "WHERE excluded IS NULL AND errors = ''")
    rows_loaded = int(con.execute("SELECT count(*) FROM ok").fetchall()[0][0])

    frames: dict[str, pa.Table] = {}

    last_wins = partial(last_per_key, con)

    # Unknown is not empty: a column the template does not map is left out of the frame (the
    # merge never touches it), and a value a row cannot carry is named in its _absent cell
    party_cols = ["party_id"]
    if has("full_name"):
        party_cols += ["first_name", "middle_name", "last_name", "suffix"]
    else:
        party_cols += [c for c in ("first_name", "middle_name", "last_name") if has(c)]
    if has("date_of_birth"):
        party_cols.append("date_of_birth")
    if has("preferred_language"):
        party_cols.append("preferred_language")
    has_attorney = has("attorney_name") or has("attorney_bar_number")
    if has_attorney:
        # the case's attorney is a party too (role Attorney on case_parties); a row's attorney
        # ranks just after the row's own party when the same key shows up twice
        atty = {"party_id": "atty_party_id", "first_name": "atty_first_name",
                "middle_name": "atty_middle_name", "last_name": "atty_last_name",
                "suffix": "atty_suffix", "date_of_birth": "NULL::DATE",
                "preferred_language": "NULL::VARCHAR"}
        # a party row says nothing of a bar number; an attorney row nothing of a birth date
        # or language, nor of a name (bar number) the template does not map for attorneys
        atty_unknown = [c for c in party_cols if c in ("date_of_birth", "preferred_language")
                        or (c in ("first_name", "middle_name", "last_name", "suffix")
                            and not has("attorney_name"))]
        atty_cols = [c for c in party_cols if c not in atty_unknown or c == "party_id"]
        atty_unknown += [] if has("attorney_bar_number") else ["bar_number"]
        atty_absent = _lit("|" + "|".join(atty_unknown) + "|") if atty_unknown else "NULL"
        party_select = ", ".join(
            f"{atty[c]} AS {c}" if c in atty_cols else f"NULL AS {c}" for c in party_cols)
        frames["parties"] = last_wins(
            "*", "party_id", order="_ord",
            source=f"""(SELECT {", ".join(party_cols)}, NULL::VARCHAR AS bar_number,
                               '|bar_number|' AS _absent, line_no * 2 AS _ord FROM ok
                        UNION ALL
                        SELECT {party_select}, atty_bar_number AS bar_number,
                               {atty_absent}::VARCHAR AS _absent,
                               line_no * 2 + 1 AS _ord FROM ok
                        WHERE atty_party_id IS NOT NULL)""",
        ).drop_columns(["_ord"])
    else:
        frames["parties"] = last_wins(", ".join(party_cols), "party_id")

    has_case = has("case_number") or has("case_id")
    if has_case:
        case_cols = ["case_key AS case_id"] + (["case_number"] if has("case_number") else [])
        for src, dst in (("case_type", "case_type"), ("case_status", "case_status"),
                         ("payment_status", "payment_status"), ("judge", "judge_name"),
                         ("bond_agent", "bond_agent")):
            if has(src):
                case_cols.append(f"{src} AS {dst}")
        if has("case_fines"):
            case_cols.append("fines")
        frames["cases"] = last_wins(", ".join(case_cols), "case_id")
        if has_attorney:
            frames["case_parties"] = last_wins(
                "*", "case_id, party_id, role", order="_ord",
                source="""(SELECT case_key AS case_id, party_id, role, line_no * 2 AS _ord
                           FROM ok
                           UNION ALL
                           SELECT case_key, atty_party_id, 'Attorney', line_no * 2 + 1 FROM ok
                           WHERE atty_party_id IS NOT NULL)""",
            ).drop_columns(["_ord"])
        else:
            frames["case_parties"] = last_wins(
                "case_key AS case_id, party_id, role", "case_id, party_id, role")

    start_known = has("event_datetime") or has("event_date")
    present = pa.array([], pa.string())
    window = None
    if start_known and has_case:
        hearing_cols = ["hearing_id", "case_key AS case_id",
                        *(["case_number"] if has("case_number") else []), "start_at",
                        "start_local", f"{_lit(timezone)} AS court_timezone"]
        for name in ("hearing_type", "location", "courtroom", "judge"):
            if has(name):
                hearing_cols.append(name)
        if has("event_status"):
            hearing_cols.append("status")
        frames["hearings"] = last_wins(", ".join(hearing_cols), "hearing_id")
        # without a mapped role column a new row gets the default role, a known one keeps its
        role_absent = "NULL" if has("party_role") else "'|role|'"
        frames["hearing_parties"] = last_wins(
            f"hearing_id, party_id, role, {role_absent}::VARCHAR AS _absent",
            "hearing_id, party_id")
        present = con.sql("SELECT DISTINCT hearing_id FROM typed WHERE hearing_id IS NOT NULL"
                          ).to_arrow_table().column("hearing_id").combine_chunks()
        row = con.execute(
            "SELECT min(start_local)::DATE, max(start_local)::DATE FROM ok").fetchall()[0]
        if row[0] is not None:
            window = (row[0].isoformat(), row[1].isoformat())

    # Contacts: a party's phone/email cell repeats on each of its hearing rows, so the cells
    # are first reduced to distinct (party, cell[, label]) with their last line; a contact's
    # last occurrence is then the last line (and last piece within it) that produced it.
    contacts = []
    if has("phone"):
        label = ", phone_label" if has("phone_label") else ""
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _ph_src AS
            SELECT party_id, phone{label}, max(line_no) AS line_no FROM ok
            WHERE phone IS NOT NULL GROUP BY ALL
            """
        )
        phones_sql(con, "_ph_src", "ph_out", region=template.phone_region, row_col="line_no",
                   cell_col="phone", label_col="phone_label" if has("phone_label") else None,
                   carry=["party_id"], ordered=False)
        contacts.append(
            "SELECT party_id, 'phone' AS kind, raw_value, value, phone_type, label, status, "
            "reject_reason, row AS line_no, position FROM ph_out"
        )
    if has("email"):
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _em_src AS
            SELECT party_id, email, max(line_no) AS line_no FROM ok
            WHERE email IS NOT NULL GROUP BY ALL
            """
        )
        emails_sql(con, "_em_src", "em_out", row_col="line_no", cell_col="email",
                   carry=["party_id"], ordered=False)
        contacts.append(
            "SELECT party_id, 'email' AS kind, raw_value, value, NULL AS phone_type, "
            "NULL AS label, status, reject_reason, row AS line_no, position FROM em_out"
        )
    if contacts:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE contacts_all AS
            SELECT 'd:' || substr(sha256(concat_ws('|', party_id, kind,
                       coalesce(value, raw_value))), 1, 24) AS contact_id, *
            FROM ({" UNION ALL ".join(contacts)})
            """
        )
        for temp in ("ph_out", "em_out", "_ph_src", "_em_src"):
            con.execute(f"DROP TABLE IF EXISTS {temp}")
        frames["contacts"] = last_wins(
            "contact_id, party_id, kind, raw_value, value, phone_type, label, status, "
            "reject_reason", "contact_id", source="contacts_all",
            # unique per contact row: a line holds one party, and a phone and an email piece
            # of that line at the same position differ in kind
            order="(line_no::HUGEINT * 4294967296 + position) * 2 + (kind = 'email')::INT")
    listed_kinds = [kind for kind, column in (("phone", "phone"), ("email", "email"))
                    if has(column)]
    contact_lists = None
    if listed_kinds:
        contact_lists = con.sql(
            " UNION ".join(f"SELECT DISTINCT party_id, {_lit(kind)} AS kind FROM ok "
                           "WHERE party_id IS NOT NULL" for kind in listed_kinds)
        ).to_arrow_table()
    ordered = {name: frames[name] for name in TABLE_ORDER if name in frames}
    notes = _unknown_languages(con) if has("preferred_language") else []
    return CleanFrames(ordered, rows_loaded, present, window, notes,
                       contact_lists=contact_lists)


def _unknown_languages(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Loaded language values that are no ISO 639-1 code (no value map knew them): reported,
    so a template's value map can be completed."""
    rows = con.execute(
        "SELECT preferred_language, count(*) AS n FROM ok WHERE preferred_language IS NOT NULL "
        "AND NOT regexp_full_match(preferred_language, '[a-z]{2}') GROUP BY 1 "
        "ORDER BY n DESC, 1 LIMIT 10").fetchall()
    if not rows:
        return []
    shown = ", ".join(f"{value!r} ({n})" for value, n in rows)
    return [f"preferred_language: values that are no known language, kept as written "
            f"(add them to value_maps.preferred_language): {shown}"]
