"""The STOP list: who must not get reminders, from Odyssey and from SMS replies.

Two sources fill ``reminder_opt_outs``:
- Odyssey's ``SmsOptOut`` (``parties.sms_opt_out``) blocks SMS for that party. Odyssey is the
  system of record for its flag, so the rows are rebuilt from ``parties`` on every plan.
- Replies exported by the SMS/email provider (CSV): 'STOP' from a number blocks SMS to that
  number, 'START' lifts a reply opt-out again (carrier rules); the newest reply wins.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import phonenumbers

STOP_WORDS = frozenset(
    {
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "OPTOUT",
        "REVOKE",
        "ALTO",
        "PARAR",
        "BASTA",
    }
)
START_WORDS = frozenset({"START", "UNSTOP", "YES", "SUBSCRIBE", "OPTIN"})
REPLY_COLUMNS = ("recipient", "keyword", "received_at", "channel", "agency_id")


@dataclass
class ReplyImport:
    """What one reply file did: rows in = opted_out + opted_in + rejected (+ skipped file)."""

    file_name: str
    rows_in: int = 0
    opted_out: int = 0
    opted_in: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    already_imported: bool = False

    @property
    def rows_loaded(self) -> int:
        return self.opted_out + self.opted_in


@dataclass(frozen=True)
class OptOuts:
    """The STOP list of one agency, for quick lookups while planning and sending."""

    sms_parties: frozenset[str]
    email_parties: frozenset[str]
    sms_recipients: frozenset[str]
    email_recipients: frozenset[str]

    def blocks(self, channel: str, party_id: str, recipient: str | None) -> bool:
        parties = self.sms_parties if channel == "sms" else self.email_parties
        recipients = self.sms_recipients if channel == "sms" else self.email_recipients
        return party_id in parties or (recipient is not None and recipient in recipients)


def sync_party_opt_outs(con: duckdb.DuckDBPyConnection, agency_id: str) -> int:
    """Bring the Odyssey-sourced rows in line with ``parties.sms_opt_out``; returns how many.

    Only the difference is written (a party no longer opted out loses its row, a newly
    opted-out party gains one): planning runs this under the warehouse writer lock, and an
    agency's list rarely changes between two plans."""
    con.execute(
        """
        DELETE FROM reminder_opt_outs o
        WHERE o.agency_id = ? AND o.source = 'odyssey' AND NOT EXISTS (
            SELECT 1 FROM parties p WHERE p.agency_id = o.agency_id
              AND p.party_id = o.subject AND p.sms_opt_out)
        """,
        [agency_id],
    )
    con.execute(
        """
        INSERT INTO reminder_opt_outs
            (agency_id, source, channel, subject, party_id, keyword, opted_out_at, source_ref)
        SELECT p.agency_id, 'odyssey', 'sms', p.party_id, p.party_id, 'SmsOptOut',
               coalesce(p.source_modified_at, p.updated_at), p.source
        FROM parties p WHERE p.agency_id = ? AND p.sms_opt_out AND NOT EXISTS (
            SELECT 1 FROM reminder_opt_outs o WHERE o.agency_id = p.agency_id
              AND o.source = 'odyssey' AND o.channel = 'sms' AND o.subject = p.party_id)
        """,
        [agency_id],
    )
    row = con.execute(
        "SELECT count(*) FROM reminder_opt_outs WHERE agency_id = ? AND source = 'odyssey'",
        [agency_id],
    ).fetchone()
    return int(row[0]) if row else 0


def load_opt_outs(con: duckdb.DuckDBPyConnection, agency_id: str) -> OptOuts:
    """Read the agency's STOP list ('all' rows block both channels)."""
    rows = con.execute(
        "SELECT channel, party_id, recipient FROM reminder_opt_outs WHERE agency_id = ?",
        [agency_id],
    ).fetchall()
    sets: dict[str, set[str]] = {k: set() for k in ("sp", "ep", "sr", "er")}
    for channel, party_id, recipient in rows:
        for ch in ("sms", "email") if channel == "all" else (channel,):
            if party_id:
                sets["sp" if ch == "sms" else "ep"].add(party_id)
            if recipient:
                sets["sr" if ch == "sms" else "er"].add(recipient)
    return OptOuts(
        frozenset(sets["sp"]), frozenset(sets["ep"]), frozenset(sets["sr"]), frozenset(sets["er"])
    )


def normalize_recipient(raw: str, region: str = "US") -> tuple[str, str] | None:
    """(channel, value): an email lower-cased, a phone as E.164; None when neither."""
    text = raw.strip()
    if "@" in text:
        local, _, domain = text.partition("@")
        if local and "." in domain and " " not in text:
            return "email", text.lower()
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return "sms", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse_time(text: str | None) -> datetime | None:
    """ISO 8601 (offset or UTC assumed) or 'MM/DD/YYYY hh:mm[:ss]' (UTC) from provider exports."""
    if not text or not text.strip():
        return None
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        for pattern in ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%m/%d/%Y"):
            try:
                parsed = datetime.strptime(value, pattern)  # UTC by contract
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"received_at {value!r} is not a date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def import_replies_csv(
    con: duckdb.DuckDBPyConnection,
    agency_id: str,
    path: str | Path,
    *,
    region: str = "US",
    now: datetime | None = None,
) -> ReplyImport:
    """Apply a provider's reply export (CSV, header row) to the STOP list.

    Columns: ``recipient`` (phone in any format, or email) and ``keyword`` (the reply text)
    are required; ``received_at``, ``channel`` (sms/email/all) and ``agency_id`` are optional.
    A file already imported (same bytes) is skipped. Bad rows land in
    ``reminder_reply_rejects`` with the line number and reason.
    """
    file = Path(path)
    data = file.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    result = ReplyImport(file_name=file.name)
    seen = con.execute(
        "SELECT 1 FROM reminder_reply_files WHERE agency_id = ? AND sha256 = ?", [agency_id, sha]
    ).fetchone()
    if seen:
        result.already_imported = True
        return result
    stamp = now or datetime.now(UTC)
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ("recipient", "keyword") if c not in header]
    if missing:
        raise ValueError(
            f"{file}: reply file lacks column(s) {', '.join(missing)}; "
            f"expected a header with {', '.join(REPLY_COLUMNS)}"
        )
    reader.fieldnames = header
    con.begin()
    try:
        _apply_rows(con, agency_id, file, sha, reader, result, stamp, region)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return result


def _apply_rows(
    con: duckdb.DuckDBPyConnection,
    agency_id: str,
    file: Path,
    sha: str,
    reader: csv.DictReader,
    result: ReplyImport,
    stamp: datetime,
    region: str,
) -> None:
    """Apply each reply row in order (inside the caller's transaction)."""
    rejects: list[tuple[int, str, str]] = []
    for row in reader:
        line = reader.line_num
        result.rows_in += 1
        raw_row = ",".join(str(v) for v in row.values() if v is not None)
        row_agency = (row.get("agency_id") or "").strip()
        keyword = ((row.get("keyword") or "").strip().split() or [""])[0].upper().strip(".!")
        target = normalize_recipient(row.get("recipient") or "", region)
        try:
            received = _parse_time(row.get("received_at")) or stamp
        except ValueError as exc:
            rejects.append((line, str(exc), raw_row))
            continue
        channel = (row.get("channel") or "").strip().lower() or None
        reason = None
        if row_agency and row_agency != agency_id:
            reason = f"agency_id {row_agency!r} is not {agency_id!r}"
        elif target is None:
            reason = "recipient is not a valid phone number or email address"
        elif keyword not in STOP_WORDS | START_WORDS:
            reason = "reply is not a STOP or START keyword"
        elif channel not in (None, "sms", "email", "all"):
            reason = f"channel {channel!r} is not sms, email or all"
        if reason:
            rejects.append((line, reason, raw_row))
            continue
        assert target is not None
        kind, recipient = target
        channel = channel or ("all" if keyword == "STOPALL" else kind)
        current = con.execute(
            "SELECT opted_out_at FROM reminder_opt_outs WHERE agency_id = ? AND source = 'reply' "
            "AND channel = ? AND subject = ?",
            [agency_id, channel, recipient],
        ).fetchone()
        newer = current is None or current[0] is None or received >= current[0]
        if keyword in START_WORDS:
            if current is not None and newer:
                con.execute(
                    "DELETE FROM reminder_opt_outs WHERE agency_id = ? AND source = 'reply' "
                    "AND channel = ? AND subject = ?",
                    [agency_id, channel, recipient],
                )
            result.opted_in += 1
            continue
        if newer:
            con.execute(
                """
                INSERT OR REPLACE INTO reminder_opt_outs
                    (agency_id, source, channel, subject, party_id, recipient, keyword,
                     opted_out_at, source_ref, updated_at)
                VALUES (?, 'reply', ?, ?, NULL, ?, ?, ?, ?, now())
                """,
                [
                    agency_id,
                    channel,
                    recipient,
                    recipient,
                    keyword,
                    received,
                    f"{file.name}:{line}",
                ],
            )
        result.opted_out += 1
    result.rejected = [(line, reason) for line, reason, _ in rejects]
    if rejects:
        con.executemany(
            "INSERT INTO reminder_reply_rejects (agency_id, sha256, file_name, line_number, "
            "reason, raw_row) VALUES (?, ?, ?, ?, ?, ?)",
            [[agency_id, sha, file.name, line, reason, raw] for line, reason, raw in rejects],
        )
    con.execute(
        "INSERT INTO reminder_reply_files (agency_id, sha256, file_name, rows_in, rows_loaded, "
        "rows_rejected) VALUES (?, ?, ?, ?, ?, ?)",
        [agency_id, sha, file.name, result.rows_in, result.rows_loaded, len(rejects)],
    )


def import_reply_folder(
    con: duckdb.DuckDBPyConnection, agency_id: str, folder: Path
) -> list[ReplyImport]:
    """Import every ``*.csv`` in the folder (already imported files are skipped)."""
    if not folder.is_dir():
        return []
    return [import_replies_csv(con, agency_id, file) for file in sorted(folder.glob("*.csv"))]
