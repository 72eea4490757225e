"""A realistic synthetic Odyssey ECR file, for the demo, the bench and tests.

Texas-flavoured data: accented and particle surnames (Peña, Nguyễn, De La Cruz), several phones
in one cell, labels ("Cell:"), invalid phones, quoted fields holding the delimiter, hearings on
both DST change days, and a few junk rows (bad dates, wrong field counts, blank case numbers)
so every reject path shows up. Deterministic for a given seed. All names are invented.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

HEADER = [
    "Party ID", "Defendant Name", "Party Description", "Preferred Language", "Phone", "Email",
    "Date of Birth", "Event Date", "Event Time", "Event Status", "Location Name", "Courtroom",
    "Judge Name", "Case Number", "Hearing Type", "Case Type", "Event ID",
]
LAST = ["Peña", "Nguyễn", "De La Cruz", "García", "Hernández", "Martínez", "Smith", "Johnson",
        "Trần", "Lê", "Rodríguez", "López", "González", "Pérez", "Sánchez", "Ramírez", "Williams",
        "Brown", "Jones", "Davis", "Miller", "Wilson", "Moore", "Taylor", "Anderson", "Thomas",
        "Jackson", "White", "Harris", "Van Der Berg", "O'Brien", "Muñoz", "Phạm", "Hoàng",
        "Del Toro", "St. John", "Washington", "Okafor", "Kim", "Patel"]
FIRST = ["María", "José", "Juan", "Ana", "Luis", "Minh", "Thảo", "James", "Mary", "Robert",
         "Linda", "Michael", "Jennifer", "David", "Guadalupe", "Jesús", "Sofía", "Emily", "Daniel",
         "Ngọc", "Carlos", "Rosa", "Francisco", "Lan", "Chinedu", "Ji-woo", "Priya", "William"]
MIDDLE = ["", "", "A", "Elena", "Lee", "Thi", "Van", "Marie", "J", "Luis"]
LANGS = ["English"] * 6 + ["Spanish"] * 3 + ["Vietnamese", "Chinese", "Arabic", ""]
ROLES = ["Defendant"] * 8 + ["Witness", "Plaintiff"]
STATUSES = ["Scheduled"] * 12 + ["Cancelled", "Continued", "Reset", "Held"]
LOCATIONS = ["Travis County Courthouse", "Blackwell-Thurman Criminal Justice Center",
             "Heman Marion Sweatt Courthouse", "Justice of the Peace Pct. 5",
             "Annex | Room 2"]  # the last one needs quoting in a pipe file
JUDGES = ["Hon. R. Martínez", "Hon. A. Chen", "Hon. L. Okafor", "Hon. D. Smith"]
HEARING_TYPES = ["Arraignment", "Pretrial Hearing", "Jury Trial", "Plea Hearing",
                 "Status Conference", "Sentencing"]
CASE_TYPES = ["Misdemeanor", "Felony", "Traffic", "Family Violence"]
AREA = [512, 737, 713, 281, 832, 210, 214, 469, 972, 915, 956]
DST_DAYS = (date(2026, 3, 8), date(2026, 11, 1))


@dataclass(frozen=True)
class GeneratedFile:
    """What was written: counts a test can check."""

    path: Path
    rows: int
    junk_rows: int  # rows built to be rejected by the demo template


def _phone(rng: random.Random) -> str:
    a, b, c = rng.choice(AREA), rng.randint(200, 999), rng.randint(0, 9999)
    shape = rng.random()
    if shape < 0.35:
        return f"({a}) {b}-{c:04d}"
    if shape < 0.6:
        return f"{a}-{b}-{c:04d}"
    if shape < 0.75:
        return f"{a}.{b}.{c:04d}"
    if shape < 0.85:
        return f"Cell: {a}-{b}-{c:04d}"
    return f"{a}{b}{c:04d}"


def _phone_cell(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.08:
        return ""
    if roll < 0.12:
        return rng.choice(["555-0142", "000-000-0000", "N/A", "unknown", "123"])
    if roll < 0.30:
        return f"{_phone(rng)} / {_phone(rng)}"
    if roll < 0.33:
        return f"{_phone(rng)}; {_phone(rng)} or {_phone(rng)}"
    return _phone(rng)


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.replace("đ", "d")).encode("ascii", "ignore")
    return plain.decode().lower().replace(" ", "").replace("'", "").replace(".", "")


def _time_text(rng: random.Random, hour: int, minute: int) -> str:
    roll = rng.random()
    if roll < 0.7:
        return f"{(hour - 1) % 12 + 1}:{minute:02d} {'AM' if hour < 12 else 'PM'}"
    if roll < 0.9:
        return f"{hour:02d}:{minute:02d}"
    return f"{hour:02d}{minute:02d}"


def _quote(value: str, delimiter: str) -> str:
    if delimiter in value or '"' in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def generate_ecr_file(
    path: str | Path,
    rows: int,
    seed: int = 7,
    template: str = "demo",
    *,
    start: date = date(2026, 11, 2),
    days: int = 60,
    junk_every: int = 200,
    delimiter: str = "|",
    encoding: str = "utf-8",
) -> GeneratedFile:
    """Write ``rows`` data rows in the bundled ``demo`` template's layout; return counts.

    About one row in ``junk_every`` is deliberately bad (bad date, wrong field count, blank
    case number); the first hearings fall on the 2026 DST change days.
    """
    if template != "demo":
        raise ValueError(f"no generator layout for template {template!r} (only 'demo')")
    rng = random.Random(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_parties = max(1, rows // 3)
    people = []
    for i in range(n_parties):
        last, first, mid = rng.choice(LAST), rng.choice(FIRST), rng.choice(MIDDLE)
        suffix = " JR" if rng.random() < 0.03 else ""
        name = f"{last.upper() if rng.random() < 0.5 else last}{suffix}, {first} {mid}".strip()
        dob = date(1950, 1, 1) + timedelta(days=rng.randint(0, 20000))
        email = "" if rng.random() < 0.5 else (
            f"{_ascii(first)}.{_ascii(last)}{rng.randint(1, 99)}@example.com"
            if rng.random() < 0.95 else "not-an-email")
        people.append((f"P{100000 + i}", name, rng.choice(LANGS), _phone_cell(rng), email,
                       dob.strftime("%m/%d/%Y")))
    n_cases = max(1, rows // 4)
    cases = [(f"{rng.choice(['CR', 'M', 'JP5', 'D-1'])}-26-{200000 + i:06d}",
              rng.choice(CASE_TYPES), rng.choice(JUDGES)) for i in range(n_cases)]
    junk = 0
    with path.open("w", encoding=encoding, newline="", errors="replace") as out:
        out.write(delimiter.join(HEADER) + "\r\n")
        for i in range(rows):
            party = people[i % n_parties] if i < n_parties else rng.choice(people)
            case_no, case_type, judge = cases[i % n_cases]
            day = DST_DAYS[i % 2] if i < 4 else start + timedelta(days=rng.randrange(days))
            hour, minute = rng.choice([8, 9, 9, 10, 11, 13, 14, 15]), rng.choice([0, 0, 15, 30])
            event_date = day.strftime("%m/%d/%Y") if rng.random() < 0.9 else day.isoformat()
            fields = [
                party[0], party[1], rng.choice(ROLES), party[2], party[3], party[4], party[5],
                event_date, _time_text(rng, hour, minute), rng.choice(STATUSES),
                rng.choice(LOCATIONS), f"{rng.randint(1, 12)}{rng.choice('ABC')}", judge,
                case_no, rng.choice(HEARING_TYPES), case_type, f"E{5000000 + i}",
            ]
            if junk_every and i % junk_every == junk_every - 1:
                junk += 1
                kind = (i // junk_every) % 3
                if kind == 0:
                    fields[7] = "13/45/2026"
                elif kind == 1:
                    fields = fields[:9]
                else:
                    fields[13] = ""
            out.write(delimiter.join(_quote(f, delimiter) for f in fields) + "\r\n")
    return GeneratedFile(path, rows, junk)
