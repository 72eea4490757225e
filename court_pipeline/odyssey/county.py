"""A synthetic Texas county for the Odyssey simulator, generated from a seed.

Realistic on purpose: names with accents and particles (De La Cruz, Nguyễn, O'Brien, Peña),
businesses, phones in many formats (and some invalid), several languages (and one Odyssey
spells that has no ISO 639-1 code), criminal/civil/family cases with charges, pleas,
dispositions, sentences, attorneys (parties with a bar number), events, financials, and
hearings spread over the window including the two DST change days, with magistrate dockets
at wall times that occur twice (fall back) or never (spring forward).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

FIRST = {
    "anglo": [
        "JAMES",
        "MARY",
        "ROBERT",
        "PATRICIA",
        "JOHN",
        "JENNIFER",
        "MICHAEL",
        "LINDA",
        "SEAN",
        "SIOBHÁN",
        "ZOË",
        "RENÉE",
    ],
    "hispanic": [
        "MARÍA",
        "JOSÉ",
        "JUAN",
        "GUADALUPE",
        "JESÚS",
        "ANA",
        "LUIS",
        "MARIA",
        "ROSA",
        "ÁNGEL",
        "MARÍA DEL CARMEN",
        "JOSE",
    ],
    "vietnamese": ["NGỌC", "THANH", "MINH", "HƯƠNG", "TUẤN", "LAN", "DUC", "PHƯƠNG"],
    "chinese": ["WEI", "XIAO", "JING", "LI", "MEI", "JUN", "YAN"],
    "black": ["DESHAWN", "KEISHA", "TYRONE", "LATOYA", "ANDRE", "IMANI"],
    "arabic": ["MOHAMMED", "FATIMA", "AHMED", "LAYLA", "OMAR"],
}
LAST = {
    "anglo": [
        "SMITH",
        "JOHNSON",
        "O'BRIEN",
        "MCDONALD",
        "ST. JAMES",
        "VAN DER BERG",
        "WILLIAMS",
        "D'AMICO",
        "MÜLLER",
        "SMITH-JONES",
    ],
    "hispanic": [
        "DE LA CRUZ",
        "PEÑA",
        "GARCÍA",
        "HERNANDEZ",
        "DEL RÍO",
        "GARCÍA-LÓPEZ",
        "DE LOS SANTOS",
        "MARTÍNEZ",
        "VILLAREAL",
        "NÚÑEZ",
    ],
    "vietnamese": ["NGUYỄN", "TRẦN", "LÊ", "PHẠM", "HUỲNH", "NGUYEN"],
    "chinese": ["WANG", "ZHANG", "CHEN", "LIU", "HUANG"],
    "black": ["WASHINGTON", "JACKSON", "JEFFERSON", "BROOKS", "HARRIS"],
    "arabic": ["AL-SAYED", "HADDAD", "EL-AMIN", "KHOURY"],
}
GROUP_WEIGHTS = {
    "anglo": 30,
    "hispanic": 35,
    "vietnamese": 8,
    "chinese": 6,
    "black": 16,
    "arabic": 5,
}
LANGUAGE_BY_GROUP = {
    "anglo": [("English", 99), ("French", 1)],
    "hispanic": [("Spanish", 55), ("English", 43), ("Kanjobal", 2)],
    "vietnamese": [("Vietnamese", 60), ("English", 40)],
    "chinese": [("Chinese - Mandarin", 40), ("Cantonese", 20), ("English", 40)],
    "black": [("English", 97), ("Amharic", 3)],
    "arabic": [("Arabic", 50), ("English", 50)],
}
SUFFIXES = ["", "", "", "", "", "", "", "JR", "SR", "III"]
BUSINESSES = [
    "MIDLAND CREDIT MANAGEMENT INC",
    "CAPITAL ONE BANK (USA), N.A.",
    "LONE STAR APARTMENTS LLC",
    "TÍO PEPE'S TAQUERÍA LLC",
    "ACME RENTALS & SONS",
]
AREA_CODES = ["713", "281", "832", "346", "214", "469", "512", "210", "956", "915"]
STREETS = [
    "Main St",
    "Westheimer Rd",
    "Calle Ocho",
    "Bellaire Blvd",
    "MLK Jr Blvd",
    "Avenida de la Paz",
    "FM 1960 Rd",
    "Old Spanish Trl",
]
CITIES = [("Houston", "770"), ("Pasadena", "775"), ("Baytown", "775"), ("Katy", "774")]

COURTS = [
    (
        "CCL2",
        "Statutory County Court",
        "101050002",
        "County Court at Law No. 2",
        "Hon. B. Chen",
        "Courtroom 5B",
        "CCL2 Criminal Docket",
    ),
    (
        "CCL4",
        "Statutory County Court",
        "101050004",
        "County Court at Law No. 4",
        "Hon. María Peña",
        "Courtroom 7A",
        "CCL4 Criminal Docket",
    ),
    (
        "D180",
        "District Court",
        "101010180",
        "180th District Court",
        "Hon. D. O'Brien",
        "Courtroom 15",
        "180th Felony Docket",
    ),
    (
        "JP11",
        "Justice Court",
        "101060011",
        "Justice of the Peace Pct. 1 Pl. 1",
        "Hon. T. Nguyễn",
        "JP Courtroom 1",
        "JP 1-1 Civil Docket",
    ),
    (
        "D245",
        "District Court",
        "101010245",
        "245th District Court (Family)",
        "Hon. R. De La Cruz",
        "Courtroom 9C",
        "245th Family Docket",
    ),
]
MAGISTRATE = (
    "MAG",
    "Magistrate",
    "101070001",
    "Criminal Law Hearing Officer",
    "Hon. S. Washington",
    "JPC Magistrate Room",
    "Magistrate Jail Docket",
)
LOCATION = "Harris County Criminal Justice Center, 1201 Franklin St"
CIVIL_LOCATION = "Harris County Civil Courthouse, 201 Caroline St"

OFFENSES = [
    ("PC", "49.04", "5499", "DRIVING WHILE INTOXICATED", "MB", "Misdemeanor B", "CCL2"),
    ("PC", "31.03", "2399", "THEFT PROP >=$100<$750", "MB", "Misdemeanor B", "CCL4"),
    (
        "PC",
        "22.01",
        "1399",
        "ASSAULT CAUSES BODILY INJ FAMILY MEMBER",
        "MA",
        "Misdemeanor A",
        "CCL4",
    ),
    ("HSC", "481.115", "3599", "POSS CS PG 1 <1G", "FS", "State Jail Felony", "D180"),
    ("PC", "29.02", "1299", "ROBBERY", "F2", "Felony 2", "D180"),
]
CIVIL_TYPES = [
    ("CV", "Civil", "DC", "Debt/Contract - Consumer", "JP11"),
    ("CV", "Civil", "EV", "Eviction", "JP11"),
    ("FAM", "Family", "DIV", "Divorce - No Children", "D245"),
    ("FAM", "Family", "PO", "Protective Order", "D245"),
]
HEARING_TYPES = {
    "CR": [
        ("ARR", "Arraignment"),
        ("PTC", "Pretrial Conference"),
        ("JT", "Jury Trial"),
        ("PLEA", "Plea Hearing"),
    ],
    "CV": [("TRL", "Bench Trial"), ("EVH", "Eviction Hearing")],
    "FAM": [("TEMP", "Temporary Orders Hearing"), ("FIN", "Final Hearing")],
}
SLOTS = [time(8, 30), time(9, 0), time(10, 0), time(13, 30), time(14, 0)]
ATTORNEY_TYPES = [
    ("APD", "Appointed - Public Defender"),
    ("RET", "Retained"),
    ("APP", "Court Appointed"),
]
EVENTS = {
    "CR": [
        ("INFO", "Information Filed"),
        ("OIND", "Order Determining Indigency"),
        ("BOND", "Bond Posted"),
        ("ORD", "Order Setting Conditions"),
    ],
    "CV": [("PET", "Original Petition Filed"), ("CIT", "Citation Issued"), ("ANS", "Answer Filed")],
    "FAM": [("PET", "Original Petition Filed"), ("SVC", "Service Returned")],
}


@dataclass
class Party:
    party_id: str
    first: str = ""
    middle: str = ""
    last: str = ""
    suffix: str = ""
    business: str = ""
    dob: date | None = None
    sex: str = ""
    race: str = ""
    ethnicity: str = ""
    language: str = ""
    interpreter: bool = False
    phones: list[tuple[str, str]] = field(default_factory=list)  # (Type, raw text)
    emails: list[str] = field(default_factory=list)
    address: tuple[str, str, str, str] = ("", "", "", "")
    sms_opt_out: bool = False
    bar_number: str = ""
    cases: list[tuple[str, str, str]] = field(default_factory=list)  # case_id, code, text
    modified: datetime = datetime(2026, 1, 1)


@dataclass
class Session:
    session_id: str
    calendar: str
    start: datetime  # naive court local time
    courtroom: str
    location: str
    judge: str


@dataclass
class Hearing:
    hearing_id: str
    case_id: str
    session_id: str
    type_code: str
    type_text: str
    status: str = "Scheduled"
    status_date: date | None = None


@dataclass
class Case:
    case_id: str
    number: str
    style: str
    category: tuple[str, str]
    ctype: tuple[str, str]
    status: tuple[str, str, date]
    file_date: date
    court: tuple
    parties: list[tuple[str, str, str]] = field(default_factory=list)
    charges: list[dict] = field(default_factory=list)
    attorneys: list[dict] = field(default_factory=list)
    events: list[tuple[str, date, str, str]] = field(default_factory=list)
    financial: tuple[str, str, str, str] = ("", "", "", "")
    modified: datetime = datetime(2026, 1, 1)
    hearing_ids: list[str] = field(default_factory=list)


def dst_change_days(zone: ZoneInfo, start: date, days: int) -> list[date]:
    """Days within [start, start+days) on which the zone's UTC offset changes."""
    out = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        a = datetime.combine(day, time(0), zone).utcoffset()
        b = datetime.combine(day + timedelta(days=1), time(0), zone).utcoffset()
        if a != b:
            out.append(day)
    return out


class County:
    """The whole synthetic county: parties, cases, sessions, hearings."""

    def __init__(self, parties: int, seed: int, anchor: date, zone: ZoneInfo, now: datetime):
        self.rng = random.Random(seed)
        self.zone = zone
        self.anchor = anchor
        self.parties: dict[str, Party] = {}
        self.cases: dict[str, Case] = {}
        self.sessions: dict[str, Session] = {}
        self.hearings: dict[str, Hearing] = {}
        self._session_by_slot: dict[tuple[str, datetime], str] = {}
        self._ids = {
            "party": 100000,
            "case": 5550000,
            "session": 880000,
            "hearing": 9900000,
            "charge": 77000,
            "event": 61000,
            "bar": 24000000,
        }
        self._now = now
        self._generate(parties)

    # --- ids / helpers -------------------------------------------------------------------
    def next_id(self, kind: str) -> str:
        self._ids[kind] += 1
        return str(self._ids[kind])

    def _past_modified(self) -> datetime:
        back = timedelta(days=self.rng.randint(1, 60), minutes=self.rng.randint(0, 1440))
        return (self._now - back).replace(second=0, microsecond=0)

    def _phone(self) -> str:
        r = self.rng
        area, ex, sub = r.choice(AREA_CODES), r.randint(200, 989), r.randint(0, 9999)
        if ex == 555:
            ex = 556
        formats = [
            f"({area}) {ex}-{sub:04d}",
            f"{area}.{ex}.{sub:04d}",
            f"{area}-{ex}-{sub:04d}",
            f"{area}{ex}{sub:04d}",
            f"+1 {area} {ex} {sub:04d}",
            f"1-{area}-{ex}-{sub:04d}",
            f"({area}){ex}-{sub:04d} ext {r.randint(1, 99)}",
            f"{area} {ex} {sub:04d}",
        ]
        invalid = [
            f"{ex}-{sub:04d}",
            "000-000-0000",
            f"({area}) 123-{sub:04d}",
            "N/A",
            "NONE GIVEN",
        ]
        return r.choice(invalid) if r.random() < 0.06 else r.choice(formats)

    def _person(self, party_id: str) -> Party:
        r = self.rng
        group = r.choices(list(GROUP_WEIGHTS), weights=list(GROUP_WEIGHTS.values()))[0]
        langs = LANGUAGE_BY_GROUP[group]
        language = r.choices([lang for lang, _ in langs], weights=[w for _, w in langs])[0]
        first = r.choice(FIRST[group])
        last = r.choice(LAST[group])
        phones = [
            (r.choice(["Cell", "Cell", "Home", "Work"]), self._phone())
            for _ in range(r.choices([0, 1, 2, 3], weights=[10, 55, 28, 7])[0])
        ]
        emails = []
        if r.random() < 0.35:
            local = f"{first.split()[0].lower()}.{last.replace(' ', '').lower()}"
            emails.append(
                r.choice(
                    [
                        f"{local}@example.com",
                        f"{local.upper()}@EXAMPLE.ORG",
                        f"{local} at example dot com",
                    ]
                )
            )
        city, zip3 = r.choice(CITIES)
        return Party(
            party_id=party_id,
            first=first,
            middle=r.choice(["", "L", "A", "M", "", "THỊ"]),
            last=last,
            suffix=r.choice(SUFFIXES),
            dob=date(1950, 1, 1) + timedelta(days=r.randint(0, 365 * 55)),
            sex=r.choice("MFMFU"),
            race=r.choice("WBAWIU"),
            ethnicity="H" if group == "hispanic" else r.choice("NNU"),
            language=language,
            interpreter=language not in ("English", ""),
            phones=phones,
            emails=emails,
            address=(
                f"{r.randint(1, 19999)} {r.choice(STREETS)}",
                city,
                "TX",
                f"{zip3}{r.randint(0, 99):02d}",
            ),
            sms_opt_out=r.random() < 0.05,
            modified=self._past_modified(),
        )

    # --- generation ----------------------------------------------------------------------
    def _generate(self, n_parties: int) -> None:
        r = self.rng
        n_attorneys = max(2, n_parties // 50)
        attorneys = []
        for _ in range(n_attorneys):
            party = self._person(self.next_id("party"))
            party.bar_number = self.next_id("bar")
            party.language, party.interpreter = "English", False
            self.parties[party.party_id] = party
            attorneys.append(party)
        open_cases: list[str] = []
        for _ in range(n_parties - n_attorneys):
            if r.random() < 0.04:
                party = Party(
                    self.next_id("party"),
                    business=r.choice(BUSINESSES),
                    phones=[("Work", self._phone())],
                    modified=self._past_modified(),
                    address=("PO Box 1", "Houston", "TX", "77002"),
                )
            else:
                party = self._person(self.next_id("party"))
            self.parties[party.party_id] = party
            if open_cases and r.random() < 0.22:
                case = self.cases[r.choice(open_cases)]
                role = (
                    ("WIT", "Witness")
                    if case.category[0] != "CR"
                    else r.choice([("WIT", "Witness"), ("VIC", "Victim"), ("BND", "Bondsman")])
                )
                if case.category[0] != "CR" and len(case.parties) == 1:
                    role = (
                        ("RESP", "Respondent")
                        if case.category[0] == "FAM"
                        else ("DEF", "Defendant")
                    )
                self._link(case, party, role)
            else:
                case = self._new_case(party, attorneys)
                open_cases.append(case.case_id)
        self._add_dst_dockets()

    def _link(self, case: Case, party: Party, role: tuple[str, str]) -> None:
        case.parties.append((party.party_id, *role))
        party.cases.append((case.case_id, *role))

    def _new_case(self, party: Party, attorneys: list[Party]) -> Case:
        r = self.rng
        file_date = self.anchor - timedelta(days=r.randint(5, 400))
        yy = f"{file_date.year % 100:02d}"
        criminal = not party.business and r.random() < 0.65
        if criminal:
            offense = r.choice(OFFENSES)
            court = next(c for c in COURTS if c[0] == offense[6])
            category, ctype = ("CR", "Criminal"), (offense[4], offense[5])
            number = f"CR-{yy}-{self.next_id('case')[-6:]}"
            style = f"State of Texas vs. {party.last.title()}, {party.first.title()}"
            role = ("DEF", "Defendant")
        else:
            cat, cat_text, tcode, ttext, court_code = r.choice(CIVIL_TYPES)
            court = next(c for c in COURTS if c[0] == court_code)
            category, ctype = (cat, cat_text), (tcode, ttext)
            prefix = "FM" if cat == "FAM" else "CV"
            number = f"{prefix}-{yy}-{self.next_id('case')[-6:]}"
            name = party.business or f"{party.last.title()}, {party.first.title()}"
            style = f"In the Matter of {name}" if cat == "FAM" else f"{name} vs. Unknown"
            role = ("PET", "Petitioner") if cat == "FAM" else ("PLT", "Plaintiff")
        closed = r.random() < 0.15
        status = (("CLSD", "Closed") if closed else ("OPEN", "Open")) + (
            file_date + timedelta(days=r.randint(0, 30)),
        )
        case_id = str(self._ids["case"])
        case = Case(
            case_id,
            number,
            style,
            category,
            ctype,
            status,
            file_date,
            court,
            modified=self._past_modified(),
        )
        self.cases[case_id] = case
        self._link(case, party, role)
        if criminal:
            self._charges(case, offense, file_date, closed)
        if r.random() < 0.7:
            attorney = r.choice(attorneys)
            atype = r.choice(ATTORNEY_TYPES)
            case.attorneys.append(
                {
                    "party_id": attorney.party_id,
                    "name": f"{attorney.first} {attorney.last}",
                    "bar": attorney.bar_number,
                    "represents": party.party_id,
                    "type": atype,
                    "start": file_date + timedelta(days=1),
                    "end": file_date + timedelta(days=200) if closed else None,
                }
            )
            self._link(case, attorney, ("ATTY", "Attorney"))
        for code, text in r.sample(EVENTS[category[0]], k=r.randint(1, len(EVENTS[category[0]]))):
            case.events.append(
                (self.next_id("event"), file_date + timedelta(days=r.randint(0, 20)), code, text)
            )
        due = r.choice([0, 150, 250, 350, 500, 1200])
        paid = r.choice([0, due // 2, due])
        case.financial = (
            f"{due:.2f}",
            f"{paid:.2f}",
            "Paid" if paid == due and due else ("Partial" if paid else "Unpaid"),
            f"{max(due - 50, 0):.2f}",
        )
        if not closed:
            for _ in range(r.choices([0, 1, 2, 3], weights=[15, 45, 30, 10])[0]):
                day = self.anchor + timedelta(days=r.randint(-20, 200))
                while day.weekday() >= 5:
                    day += timedelta(days=1)
                self._add_hearing(case, datetime.combine(day, r.choice(SLOTS)), court)
        return case

    def _charges(self, case: Case, offense: tuple, file_date: date, closed: bool) -> None:
        r = self.rng
        for number in range(1, r.choice([1, 1, 1, 2]) + 1):
            off = offense if number == 1 else r.choice(OFFENSES)
            plea = r.choice(
                [("NG", "Not Guilty"), ("G", "Guilty"), ("NC", "Nolo Contendere"), None]
            )
            dispo = None
            if closed:
                dispo = r.choice(
                    [
                        ("CONV", "Convicted"),
                        ("DISM", "Dismissed"),
                        ("DEFADJ", "Deferred Adjudication"),
                        ("ACQ", "Acquitted"),
                    ]
                )
            offense_date = file_date - timedelta(days=r.randint(1, 5))
            case.charges.append(
                {
                    "id": self.next_id("charge"),
                    "number": str(number),
                    "statute": (off[0], off[1]),
                    "offense_code": off[2],
                    "description": off[3],
                    "degree": (off[4], off[5]),
                    "offense_date": offense_date,
                    "arrest_date": offense_date,
                    "filing_date": file_date,
                    "plea": plea and (*plea, file_date + timedelta(days=10)),
                    "disposition": dispo and (*dispo, file_date + timedelta(days=120)),
                    "sentence": (
                        {
                            "type": "Fine",
                            "date": file_date + timedelta(days=120),
                            "fine": "300.00",
                            "costs": "289.00",
                            "restitution": "",
                            "days": r.choice(["", "3", "30"]),
                        }
                        if dispo and dispo[0] == "CONV"
                        else None
                    ),
                }
            )

    def _add_hearing(self, case: Case, start: datetime, court: tuple) -> Hearing:
        code, _, _, _, judge, courtroom, calendar = court
        slot = (code, start)
        if slot not in self._session_by_slot:
            sid = self.next_id("session")
            location = CIVIL_LOCATION if code in ("JP11", "D245") else LOCATION
            self.sessions[sid] = Session(sid, calendar, start, courtroom, location, judge)
            self._session_by_slot[slot] = sid
        htype = self.rng.choice(HEARING_TYPES[case.category[0]])
        hearing = Hearing(
            self.next_id("hearing"),
            case.case_id,
            self._session_by_slot[slot],
            htype[0],
            htype[1],
            "Scheduled",
            start.date() - timedelta(days=self.rng.randint(3, 40)),
        )
        self.hearings[hearing.hearing_id] = hearing
        case.hearing_ids.append(hearing.hearing_id)
        return hearing

    def _add_dst_dockets(self) -> None:
        """Magistrate dockets at 01:30 on fall-back days and 02:30 on spring-forward days."""
        criminal = [
            c for c in self.cases.values() if c.category[0] == "CR" and c.status[0] == "OPEN"
        ]
        if not criminal:
            return
        for day in dst_change_days(self.zone, self.anchor - timedelta(days=30), 430):
            fall_back = (
                datetime.combine(day, time(12), self.zone).utcoffset()
                < datetime.combine(day - timedelta(days=1), time(12), self.zone).utcoffset()
            )
            wall = time(1, 30) if fall_back else time(2, 30)
            for case in self.rng.sample(criminal, k=min(3, len(criminal))):
                self._add_hearing(case, datetime.combine(day, wall), MAGISTRATE)
                self._add_hearing(
                    case,
                    datetime.combine(day + timedelta(days=1), time(9)),
                    next(c for c in COURTS if c[0] == case.court[0]),
                )

    # --- queries -------------------------------------------------------------------------
    def hearing_start(self, hearing: Hearing) -> datetime:
        return self.sessions[hearing.session_id].start

    def party_hearing_days(self, party: Party) -> list[date]:
        return [
            self.hearing_start(self.hearings[h]).date()
            for case_id, _, _ in party.cases
            for h in self.cases[case_id].hearing_ids
        ]
