"""The 8 OCA entity datasets, built with SQL from the clean tables, then code-mapped and
validated against the contract files.

Each dataset is the agency's current snapshot (every record the clean tables hold), so the
publisher can send new and changed records and delete those that disappeared. Record ids are
derived from Odyssey's own ids, so the ECR and API paths give one id per fact and reruns update
rather than duplicate:

- case status, non-criminal disposition: ``<case_id>``
- charge, criminal disposition:          ``<case_id>-<charge_id>``
- case event:                            ``<case_id>-<event_id>``; a held hearing
                                         ``<case_id>-H<hearing_id>``
- attorney:                              ``<case_id>-<attorney_party_id>-<represents_party_id>``
- party:                                 ``<case_id>-<party_id>``
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from court_pipeline.oca.codemaps import CodeMap, apply_codemap
from court_pipeline.oca.contracts import ENTITY_TYPES, contracts_dir, load_contract
from court_pipeline.oca.validation import HELD_BACK_COLUMNS, validate_frame
from court_pipeline.registry.models import Agency


def short_name(entity_type: str) -> str:
    """'di-texas-oca-court-case-status' -> 'case_status'."""
    return entity_type.removeprefix("di-texas-oca-court-").replace("-", "_")


def dataset_table(entity_type: str) -> str:
    """Warehouse table of the rows that passed (``oca_<short name>``), also the asset name."""
    return f"oca_{short_name(entity_type)}"


DATASET_TABLES = {et: dataset_table(et) for et in ENTITY_TYPES}
STORED_HELD_COLUMNS = (*HELD_BACK_COLUMNS, "code_map_entry")
META_COLUMNS = ("agency_id", "partition_key", "as_of", "built_at")

# ----- SQL: the clean tables -> raw dataset rows ----------------------------------------------
# Columns named "_code:<kind>" carry local codes; codemaps.apply_codemap turns them into OCA
# fields. Dates leave SQL as 'YYYY-MM-DD' text, amounts as DOUBLE (JSON numbers).

_D = "strftime({0}, '%Y-%m-%d')"

_HEADER = """
first_charge AS (
    SELECT case_id, offense_code FROM charges WHERE agency_id = $agency
    QUALIFY row_number() OVER (
        PARTITION BY case_id ORDER BY try_cast(charge_number AS INTEGER) NULLS LAST, charge_id
    ) = 1
),
hdr AS (
    SELECT c.case_id, c.case_number AS cause_number, c.oca_court_id AS court_id_number,
           c.court_name, c.court_type AS "_code:court_type",
           c.case_category_code AS "_code:case_category", c.case_type_code AS "_code:case_type",
           c.case_type AS local_case_type, fc.offense_code AS "_code:offense",
           c.judge_name AS case_judicial_officer_name,
           c.judge_type AS "_code:judicial_officer_type",
           c.file_date, c.case_status_code, c.case_status_date,
           coalesce(c.source_modified_at, c.updated_at) AS case_modified
    FROM cases c LEFT JOIN first_charge fc USING (case_id)
    WHERE c.agency_id = $agency
)"""

_HDR_COLS = (
    "h.cause_number, h.court_id_number, h.court_name, h.\"_code:court_type\", "
    "h.\"_code:case_category\", h.\"_code:case_type\", h.local_case_type, h.\"_code:offense\", "
    "h.case_judicial_officer_name, h.\"_code:judicial_officer_type\""
)

_AGE = (
    "CAST(year({at}) - year({dob}) - CASE WHEN strftime({at}, '%m%d') < strftime({dob}, '%m%d') "
    "THEN 1 ELSE 0 END AS DOUBLE)"
)


def _upd(*timestamps: str) -> str:
    return _D.format(f"CAST(greatest({', '.join(timestamps)}) AS DATE)")


SQL: dict[str, str] = {
    "di-texas-oca-court-case-status": f"""
WITH {_HEADER}
SELECT h.case_id AS recordid, {_HDR_COLS},
       h.case_status_code AS "_code:case_status",
       {_D.format("h.case_status_date")} AS case_status_date,
       {_upd("h.case_modified")} AS update_date
FROM hdr h ORDER BY h.case_id""",
    "di-texas-oca-court-case-events": f"""
WITH {_HEADER}
SELECT h.case_id || '-' || e.event_id AS recordid, {_HDR_COLS},
       e.type_code AS "_code:event_type", {_D.format("e.event_date")} AS event_date,
       {_D.format("h.file_date")} AS case_initial_filing_date,
       NULL AS event_judicial_officer_name,
       {_upd("h.case_modified", "coalesce(e.source_modified_at, e.updated_at)")} AS update_date
FROM case_events e JOIN hdr h USING (case_id)
WHERE e.agency_id = $agency
UNION ALL BY NAME
SELECT h.case_id || '-H' || g.hearing_id AS recordid, {_HDR_COLS},
       g.hearing_type_code AS "_code:hearing_type",
       {_D.format("CAST(g.start_local AS DATE)")} AS event_date,
       {_D.format("h.file_date")} AS case_initial_filing_date,
       g.judge AS event_judicial_officer_name,
       {_upd("h.case_modified", "coalesce(g.source_modified_at, g.updated_at)")} AS update_date
FROM hearings g JOIN hdr h USING (case_id)
WHERE g.agency_id = $agency AND g.removed_at IS NULL
  AND coalesce(g.status, '') NOT IN ('Cancelled', 'Continued', 'Reset', 'Removed')
  AND CAST(g.start_local AS DATE) <= $as_of
ORDER BY recordid""",
    "di-texas-oca-court-charges": f"""
WITH {_HEADER}
SELECT h.case_id || '-' || ch.charge_id AS recordid, {_HDR_COLS},
       {_D.format("h.file_date")} AS case_initial_filing_date,
       {_AGE.format(at="ch.offense_date", dob="p.date_of_birth")} AS party_age_at_time_of_offense,
       p.race AS "_code:race", p.ethnicity AS "_code:ethnicity", p.sex AS "_code:sex",
       left(p.zip, 5) AS party_zip_code,
       {_D.format("ch.offense_date")} AS offense_date, {_D.format("ch.arrest_date")} AS arrest_date,
       ch.charge_number, {_D.format("ch.filing_date")} AS charge_filing_date,
       ch.statute_code AS "_code:statute", ch.statute AS statute_citation,
       ch.offense_code AS filing_offense_code, ch.description AS filing_charge_description,
       ch.degree_code AS "_code:charge_degree",
       {_D.format("ch.disposition_date")} AS charge_disposition_date,
       {_D.format("ch.sentence_date")} AS charge_sentencing_date,
       ch.disposition_code AS "_code:disposition", ch.plea_code AS "_code:plea",
       {_D.format("ch.plea_date")} AS plea_date,
       {_upd("h.case_modified", "coalesce(ch.source_modified_at, ch.updated_at)")} AS update_date
FROM charges ch JOIN hdr h USING (case_id)
LEFT JOIN parties p ON p.agency_id = ch.agency_id AND p.party_id = ch.party_id
WHERE ch.agency_id = $agency ORDER BY recordid""",
    "di-texas-oca-court-attorney": f"""
WITH {_HEADER},
roles AS (
    SELECT case_id, party_id, min(role_code) AS role_code FROM case_parties
    WHERE agency_id = $agency AND role_code NOT IN ('ATTY') GROUP BY ALL
)
SELECT h.case_id || '-' || a.attorney_party_id || '-' || a.represents_party_id AS recordid,
       {_HDR_COLS},
       {_D.format("a.start_date")} AS attorney_entry_date,
       {_D.format("a.end_date")} AS attorney_end_date,
       a.type_code AS "_code:attorney_type", r.role_code AS "_code:party_role",
       a.name AS attorney_name, a.bar_number AS state_bar_card_number,
       {_upd("h.case_modified", "coalesce(a.source_modified_at, a.updated_at)")} AS update_date
FROM attorneys a JOIN hdr h USING (case_id)
LEFT JOIN roles r ON r.case_id = a.case_id AND r.party_id = a.represents_party_id
WHERE a.agency_id = $agency ORDER BY recordid""",
    "di-texas-oca-court-party": f"""
WITH {_HEADER},
first_offense AS (
    SELECT case_id, party_id, min(offense_date) AS offense_date FROM charges
    WHERE agency_id = $agency GROUP BY ALL
)
SELECT h.case_id || '-' || cp.party_id AS recordid, {_HDR_COLS},
       cp.role_code AS "_code:party_role",
       {_AGE.format(at="fo.offense_date", dob="p.date_of_birth")} AS party_age_at_time_of_offense,
       p.race AS "_code:race", p.ethnicity AS "_code:ethnicity", p.sex AS "_code:sex",
       left(p.zip, 5) AS party_zip_code,
       {_upd("h.case_modified", "coalesce(cp.source_modified_at, cp.updated_at)",
             "coalesce(p.source_modified_at, p.updated_at)")} AS update_date
FROM case_parties cp JOIN hdr h USING (case_id)
LEFT JOIN parties p ON p.agency_id = cp.agency_id AND p.party_id = cp.party_id
LEFT JOIN first_offense fo ON fo.case_id = cp.case_id AND fo.party_id = cp.party_id
WHERE cp.agency_id = $agency
QUALIFY row_number() OVER (PARTITION BY cp.case_id, cp.party_id ORDER BY cp.role_code) = 1
ORDER BY recordid""",
    "di-texas-oca-court-dispositions-criminal": f"""
WITH {_HEADER},
counsel AS (
    SELECT case_id, represents_party_id, min(type_code) AS type_code FROM attorneys
    WHERE agency_id = $agency GROUP BY ALL
)
SELECT h.case_id || '-' || ch.charge_id AS recordid, {_HDR_COLS},
       ch.charge_number, {_D.format("ch.disposition_date")} AS disposition_date,
       ch.disposition_code AS "_code:disposition",
       {_AGE.format(at="ch.offense_date", dob="p.date_of_birth")} AS party_age_at_time_of_offense,
       p.race AS "_code:race", p.ethnicity AS "_code:ethnicity", p.sex AS "_code:sex",
       co.type_code AS "_code:attorney_type", ch.statute_code AS "_code:statute",
       ch.plea_code AS "_code:plea", ch.sentence_type AS "_code:sentence",
       {_D.format("ch.sentence_date")} AS sentencing_date,
       CAST(ch.court_costs AS DOUBLE) AS monetary_penalty_amount_court_costs,
       CAST(ch.fine_amount AS DOUBLE) AS monetary_penalty_amount_fines,
       CAST(ch.restitution AS DOUBLE) AS monetary_penalty_amount_restitution,
       {_upd("h.case_modified", "coalesce(ch.source_modified_at, ch.updated_at)")} AS update_date
FROM charges ch JOIN hdr h USING (case_id)
LEFT JOIN parties p ON p.agency_id = ch.agency_id AND p.party_id = ch.party_id
LEFT JOIN counsel co ON co.case_id = ch.case_id AND co.represents_party_id = ch.party_id
WHERE ch.agency_id = $agency AND coalesce(trim(ch.disposition_code), '') <> ''
ORDER BY recordid""",
    "di-texas-oca-court-dispositions-non-criminal": f"""
WITH {_HEADER}
SELECT h.case_id AS recordid, {_HDR_COLS},
       h.case_status_code AS "_code:case_status",
       {_D.format("h.case_status_date")} AS disposition_date,
       {_upd("h.case_modified")} AS update_date
FROM hdr h
WHERE NOT EXISTS (SELECT 1 FROM charges ch WHERE ch.agency_id = $agency
                  AND ch.case_id = h.case_id)
ORDER BY h.case_id""",
    # No clean table carries court appointments yet (neither ECR templates nor FindCase):
    # the dataset is built empty with the contract's columns until a source exists.
    "di-texas-oca-court-appointments": """
SELECT CAST(NULL AS VARCHAR) AS recordid WHERE false""",
}


@dataclass
class DatasetBuild:
    """One built dataset: rows that passed, and every broken rule of rows held back."""

    entity_type: str
    agency_id: str
    partition_key: str
    passed: pd.DataFrame
    held_back: pd.DataFrame  # STORED_HELD_COLUMNS
    rows: int  # rows considered (after dropping not-reported rows)
    not_reported: int  # rows whose local code maps to "not reported" (events, parties)
    contract_dir: Path
    code_map: str
    provisional: bool
    notes: list[str] = field(default_factory=list)

    @property
    def held_back_rows(self) -> int:
        return int(self.held_back["recordid"].nunique(dropna=False)) if len(self.held_back) else 0

    def top_reasons(self, limit: int = 10) -> pd.DataFrame:
        """(field, rule, rows, example value) of the most frequent reasons."""
        if not len(self.held_back):
            return pd.DataFrame(columns=["field", "rule", "rows", "example"])
        grouped = (
            self.held_back.groupby(["field", "rule"], dropna=False)
            .agg(rows=("recordid", "nunique"), example=("value", "first"))
            .reset_index()
            .sort_values("rows", ascending=False)
        )
        return grouped.head(limit).reset_index(drop=True)

    def code_map_entries(self) -> pd.DataFrame:
        """(code_map_entry, field, rows): the entries to add to the code map, most rows first."""
        held = self.held_back
        if not len(held) or held["code_map_entry"].isna().all():
            return pd.DataFrame(columns=["code_map_entry", "field", "rows"])
        held = held[held["code_map_entry"].notna()]
        return (held.groupby(["code_map_entry", "field"]).agg(rows=("recordid", "nunique"))
                .reset_index().sort_values(["rows", "code_map_entry"], ascending=[False, True])
                .reset_index(drop=True))


def read_dataset_source(
    con: duckdb.DuckDBPyConnection, entity_type: str, agency: Agency, as_of: date
) -> pd.DataFrame:
    """The clean-table rows one entity dataset is built from (the only warehouse read)."""
    sql = SQL[entity_type]
    params = {k: v for k, v in (("agency", agency.id), ("as_of", as_of)) if f"${k}" in sql}
    return con.execute(sql, params).fetchdf()


def build_dataset_from(
    raw: pd.DataFrame,
    entity_type: str,
    agency: Agency,
    codemap: CodeMap,
    partition_key: str,
    contracts_path: Path | None = None,
) -> DatasetBuild:
    """Code-map and validate rows read by :func:`read_dataset_source`. Needs no connection,
    so the asset runs it between a short read and a short write instead of holding the
    warehouse lock through pandas and pandera."""
    contract = load_contract(entity_type, contracts_path)
    fields = list(contract["properties"])
    notes = []
    if entity_type == "di-texas-oca-court-appointments":
        notes.append("no clean table carries court appointments yet: dataset is empty")
    extra_fields = fields
    if entity_type == "di-texas-oca-court-dispositions-non-criminal":
        extra_fields = [*fields, "current_case_status"]
    mapped = apply_codemap(raw, codemap, extra_fields, entity_type)
    frame = mapped.frame
    not_reported = mapped.dropped_rows
    held_parts = [mapped.held_back]
    if entity_type == "di-texas-oca-court-dispositions-non-criminal":
        # Only closed cases have a disposition. A case whose status code is unmapped may be
        # closed: it is held back for that code. Any other gap (court type, case type...) of
        # an open case is not this dataset's business: the row is simply not reported.
        disposed = frame.get("current_case_status", pd.Series(dtype=object)) == "Disposed"
        held_map = mapped.held_back
        status_unknown = held_map.loc[held_map["_kind"] == "case_status", "_row"] if len(
            held_map) else pd.Series(dtype="int64")
        unknown = frame.index.isin(status_unknown)
        keep = np.flatnonzero(disposed.to_numpy(dtype=bool) | unknown)
        not_reported += len(frame) - len(keep)  # open cases: no disposition to report
        renumber = {old: new for new, old in enumerate(keep)}
        frame = frame.iloc[keep].reset_index(drop=True)
        if len(mapped.held_back):
            held = mapped.held_back[mapped.held_back["_row"].isin(keep)].copy()
            held["_row"] = held["_row"].map(renumber)
            held_parts = [held]
        frame = frame.drop(columns=["current_case_status"], errors="ignore")
    frame["county"] = agency.county
    frame["publisher"] = agency.publisher
    for name in fields:
        if name not in frame.columns:
            frame[name] = None
    frame = frame[[c for c in fields] + [c for c in frame.columns if c not in fields]]
    frame = _normalize_types(frame, contract)
    result = validate_frame(entity_type, frame, contracts_path)
    held_parts.append(result.held_back)
    held = pd.concat([p for p in held_parts if len(p)], ignore_index=True) if any(
        len(p) for p in held_parts) else result.held_back
    held = held.assign(code_map_entry=held.get("code_map_entry", pd.Series(
        [None] * len(held), index=held.index, dtype=object)))
    held["code_map_entry"] = held["code_map_entry"].astype(object).where(
        held["code_map_entry"].notna(), None)
    bad_rows = set(held["_row"].astype(int)) if len(held) else set()
    keep_mask = np.array([i not in bad_rows for i in range(len(frame))], dtype=bool)
    passed = frame.iloc[np.flatnonzero(keep_mask)].reset_index(drop=True)
    return DatasetBuild(
        entity_type=entity_type,
        agency_id=agency.id,
        partition_key=partition_key,
        passed=passed,
        held_back=held[list(STORED_HELD_COLUMNS)].reset_index(drop=True) if len(held) else
        pd.DataFrame(columns=list(STORED_HELD_COLUMNS)),
        rows=len(frame),
        not_reported=not_reported,
        contract_dir=(contracts_path or contracts_dir()),
        code_map=codemap.label,
        provisional=bool(contract.get("x-provisional", False)),
        notes=notes,
    )


def _normalize_types(frame: pd.DataFrame, contract: dict) -> pd.DataFrame:
    """Object columns for string fields (nulls as None), floats for number fields."""
    out = frame.copy()
    for name, prop in contract["properties"].items():
        types = prop.get("type") if isinstance(prop, dict) else None
        types = [types] if isinstance(types, str) else (types or [])
        column = out[name]
        if "number" in types and pd.api.types.is_numeric_dtype(column.dtype):
            out[name] = column.astype("float64")
        elif column.isna().all():
            out[name] = pd.Series([None] * len(out), index=out.index, dtype=object)
    return out


# ----- writing --------------------------------------------------------------------------------

def _sql_type(prop: dict) -> str:
    types = prop.get("type") if isinstance(prop, dict) else None
    types = [types] if isinstance(types, str) else (types or [])
    if "number" in types or "integer" in types:
        return "DOUBLE"
    if "boolean" in types:
        return "BOOLEAN"
    return "VARCHAR"


def ensure_dataset_table(con: duckdb.DuckDBPyConnection, entity_type: str, contract: dict) -> str:
    """Create the dataset table if needed and add any column a newer contract brings."""
    table = dataset_table(entity_type)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (agency_id VARCHAR NOT NULL, "
        "partition_key VARCHAR, as_of DATE, built_at TIMESTAMPTZ)"
    )
    for name, prop in contract["properties"].items():
        con.execute(
            f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "{name}" {_sql_type(prop)}'
        )
    return table


def write_dataset(
    con: duckdb.DuckDBPyConnection, build: DatasetBuild, as_of: date,
    contracts_path: Path | None = None,
) -> None:
    """Replace the agency's rows of this dataset and its hold-backs; log the build."""
    contract = load_contract(build.entity_type, contracts_path)
    table = ensure_dataset_table(con, build.entity_type, contract)
    now = datetime.now().astimezone()
    fields = list(contract["properties"])
    passed = build.passed[fields].copy()
    passed.insert(0, "built_at", now)
    passed.insert(0, "as_of", as_of)
    passed.insert(0, "partition_key", build.partition_key)
    passed.insert(0, "agency_id", build.agency_id)
    held = build.held_back.copy()
    held.insert(0, "agency_id", build.agency_id)
    held["partition_key"] = build.partition_key
    held["detected_at"] = now
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {table} WHERE agency_id = ?", [build.agency_id])
        if len(passed):
            con.register("_oca_passed", passed)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _oca_passed")
            con.unregister("_oca_passed")
        con.execute(
            "DELETE FROM oca_dataset_held_back WHERE agency_id = ? AND entity_type = ?",
            [build.agency_id, build.entity_type],
        )
        if len(held):
            held["value"] = held["value"].map(lambda v: None if v is None else str(v))
            con.register("_oca_held", held)
            con.execute("INSERT INTO oca_dataset_held_back BY NAME SELECT * FROM _oca_held")
            con.unregister("_oca_held")
        con.execute(
            "INSERT INTO oca_dataset_builds (agency_id, entity_type, partition_key, as_of, "
            "rows, rows_passed, rows_held_back, not_reported, contract_dir, code_map, "
            "top_reasons, built_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                build.agency_id, build.entity_type, build.partition_key, as_of, build.rows,
                len(build.passed), build.held_back_rows, build.not_reported,
                str(build.contract_dir), build.code_map,
                json.dumps(build.top_reasons()[["field", "rule", "rows"]].to_dict("records")),
                now,
            ],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def write_unmapped(
    con: duckdb.DuckDBPyConnection, agency_id: str, found: pd.DataFrame
) -> None:
    """Replace the agency's unmapped codes, keeping first_seen of codes still unmapped."""
    now = datetime.now().astimezone()
    frame = found.copy()
    frame.insert(0, "agency_id", agency_id)
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("_oca_unmapped", frame)
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _oca_unmapped_new AS
            SELECT n.agency_id, n.code_kind, n.local_code, n.local_description,
                   CAST(n.count AS BIGINT) AS count,
                   coalesce(o.first_seen, CAST(? AS TIMESTAMPTZ)) AS first_seen,
                   CAST(? AS TIMESTAMPTZ) AS last_seen
            FROM _oca_unmapped n
            LEFT JOIN oca_unmapped_codes o
              ON o.agency_id = n.agency_id AND o.code_kind = n.code_kind
             AND o.local_code = n.local_code
            """,
            [now, now],
        )
        con.unregister("_oca_unmapped")
        con.execute("DELETE FROM oca_unmapped_codes WHERE agency_id = ?", [agency_id])
        con.execute("INSERT INTO oca_unmapped_codes BY NAME SELECT * FROM _oca_unmapped_new")
        con.execute("DROP TABLE _oca_unmapped_new")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
