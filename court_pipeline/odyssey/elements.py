"""Every Odyssey wire name in one place: endpoint, SOAP names, message types, element names.

Tyler gives the API Toolkit XSDs to licensees only, so a site whose XSD spells an element
differently (or whose code tables differ) is adapted here and nowhere else. The parser, the
request builders and the simulator all read their names from this module.
"""

from __future__ import annotations

from enum import StrEnum

# --- transport ---------------------------------------------------------------------------
SERVICE_PATH = "/WebServices/APIWebService.asmx"
SOAP_ACTION = '"http://tylertech.com/OdysseyMsgExecution"'
CONTENT_TYPE = "text/xml; charset=utf-8"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
TYLER_NS = "http://tylertech.com/"
ENVELOPE = "Envelope"
BODY = "Body"
OPERATION = "OdysseyMsgExecution"
OPERATION_MESSAGE = "message"
OPERATION_SITE_KEY = "siteKey"
OPERATION_RESULT = "OdysseyMsgExecutionResult"
FAULT = "Fault"
FAULT_CODE = "faultcode"
FAULT_STRING = "faultstring"


class MessageType(StrEnum):
    """The only message types the pipeline may send: all three are read-only queries."""

    FIND_PARTIES = "FindParties"
    GET_SCHEDULED_HEARINGS = "GetScheduledHearingsByPartyID"
    FIND_CASE = "FindCase"


READ_ONLY_MESSAGE_TYPES: frozenset[str] = frozenset(m.value for m in MessageType)

RESULT_ROOT = {
    MessageType.FIND_PARTIES: "FindPartiesResult",
    MessageType.GET_SCHEDULED_HEARINGS: "GetScheduledHearingsByPartyIDResult",
    MessageType.FIND_CASE: "FindCaseResult",
}

# --- request message --------------------------------------------------------------------
MESSAGE = "Message"
ATTR_MESSAGE_TYPE = "MessageType"
ATTR_NODE_ID = "NodeID"
ATTR_USER_ID = "UserID"
ATTR_REFERENCE = "ReferenceNumber"
ATTR_SOURCE = "Source"
DEFAULT_NODE_ID = "1"
DEFAULT_USER_ID = "court_pipeline"
DEFAULT_SOURCE = "court_pipeline"

REQ_HEARING_DATE_FROM = "HearingDateFrom"
REQ_HEARING_DATE_TO = "HearingDateTo"
REQ_MODIFIED_SINCE = "ModifiedSince"
REQ_PAGE_SIZE = "PageSize"
REQ_PAGE_NUMBER = "PageNumber"
REQ_PARTY_ID = "PartyID"
REQ_START_DATE = "StartDate"
REQ_END_DATE = "EndDate"
REQ_CASE_ID = "CaseID"
REQ_CASE_NUMBER = "CaseNumber"

# Formats: replies use US dates and 12-hour times, requests ISO dates.
REPLY_DATE_FORMAT = "%m/%d/%Y"
REPLY_DATETIME_FORMAT = "%m/%d/%Y %I:%M %p"
REQUEST_DATE_FORMAT = "%Y-%m-%d"
REQUEST_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
PAGE_SIZE_MIN, PAGE_SIZE_MAX = 1, 500

# --- replies: common --------------------------------------------------------------------
REFERENCE = "ReferenceNumber"
TOTAL_RESULTS = "TotalResults"
PAGE_NUMBER = "PageNumber"
PAGE_SIZE = "PageSize"
ATTR_CODE = "Code"
ATTR_DATE = "Date"
ATTR_TYPE = "Type"
MODIFIED_DATE = "ModifiedDate"
NODE_ID = "NodeID"

ERROR = "Error"
ERROR_CODE = "Code"
ERROR_MESSAGE = "Message"


class ErrorCode(StrEnum):
    """Application error codes of a 200 ``<Error>`` reply."""

    CASE_NOT_FOUND = "CASE_NOT_FOUND"
    PARTY_NOT_FOUND = "PARTY_NOT_FOUND"
    INVALID_MESSAGE = "INVALID_MESSAGE"
    SITE_BUSY = "SITE_BUSY"


RETRYABLE_ERROR_CODES = frozenset({ErrorCode.SITE_BUSY.value})
NOT_FOUND_ERROR_CODES = frozenset({ErrorCode.CASE_NOT_FOUND.value, ErrorCode.PARTY_NOT_FOUND.value})

# --- FindParties ------------------------------------------------------------------------
PARTIES = "Parties"
PARTY = "Party"
PARTY_ID = "PartyID"
NAME = "Name"
NAME_FIRST = "First"
NAME_MIDDLE = "Middle"
NAME_LAST = "Last"
NAME_SUFFIX = "Suffix"
BUSINESS_NAME = "BusinessName"
DATE_OF_BIRTH = "DateOfBirth"
SEX = "Sex"
RACE = "Race"
ETHNICITY = "Ethnicity"
PREFERRED_LANGUAGE = "PreferredLanguage"
INTERPRETER_NEEDED = "InterpreterNeeded"
PHONES = "Phones"
PHONE = "Phone"
EMAILS = "Emails"
EMAIL = "Email"
ADDRESS = "Address"
ADDRESS_LINE1 = "Line1"
ADDRESS_CITY = "City"
ADDRESS_STATE = "State"
ADDRESS_ZIP = "Zip"
SMS_OPT_OUT = "SmsOptOut"
BAR_NUMBER = "BarNumber"
CASE_PARTIES = "CaseParties"
CASE_PARTY = "CaseParty"
CASE_ID = "CaseID"
CASE_NUMBER = "CaseNumber"
CONNECTION = "Connection"

# --- GetScheduledHearingsByPartyID --------------------------------------------------------
SESSIONS = "Sessions"
SESSION = "Session"
SESSION_ID = "SessionID"
CALENDAR = "Calendar"
START_TIME = "StartTime"
COURTROOM = "Courtroom"
LOCATION = "Location"
JUDICIAL_OFFICER = "JudicialOfficer"
HEARINGS = "Hearings"
HEARING = "Hearing"
HEARING_ID = "HearingID"
HEARING_TYPE = "HearingType"
STATUS = "Status"
HEARING_STATUSES = ("Scheduled", "Continued", "Reset", "Cancelled", "Held")

# --- FindCase ----------------------------------------------------------------------------
CASE = "Case"
CASE_STYLE = "CaseStyle"
CASE_CATEGORY = "CaseCategory"
CASE_TYPE = "CaseType"
CASE_STATUS = "CaseStatus"
FILE_DATE = "FileDate"
COURT = "Court"
ATTR_OCA_COURT_ID = "OcaCourtID"
CHARGES = "Charges"
CHARGE = "Charge"
CHARGE_ID = "ChargeID"
CHARGE_NUMBER = "ChargeNumber"
STATUTE = "Statute"
OFFENSE_CODE = "OffenseCode"
DESCRIPTION = "Description"
DEGREE = "Degree"
OFFENSE_DATE = "OffenseDate"
ARREST_DATE = "ArrestDate"
FILING_DATE = "FilingDate"
PLEA = "Plea"
DISPOSITION = "Disposition"
SENTENCE = "Sentence"
FINE_AMOUNT = "FineAmount"
COURT_COSTS = "CourtCosts"
RESTITUTION = "Restitution"
CONFINEMENT_DAYS = "ConfinementDays"
ATTORNEYS = "Attorneys"
ATTORNEY = "Attorney"
REPRESENTS = "Represents"
ATTR_PARTY_ID = "PartyID"
START_DATE = "StartDate"
END_DATE = "EndDate"
CASE_EVENTS = "CaseEvents"
EVENT = "Event"
EVENT_ID = "EventID"
EVENT_DATE = "Date"
EVENT_TYPE = "Type"
FINANCIAL = "Financial"
AMOUNT_DUE = "AmountDue"
AMOUNT_PAID = "AmountPaid"
PAYMENT_STATUS = "PaymentStatus"
FINES = "Fines"

# --- site code tables --------------------------------------------------------------------
DEFENDANT_CONNECTION_CODES = frozenset({"DEF"})
"""Connection codes that mark the charged party (charges.party_id)."""

TRUE_VALUES = frozenset({"true", "1", "yes", "y"})
FALSE_VALUES = frozenset({"false", "0", "no", "n"})

LANGUAGE_CODES: dict[str, str] = {
    "english": "en",
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "vietnamese": "vi",
    "tiếng việt": "vi",
    "chinese": "zh",
    "mandarin": "zh",
    "cantonese": "zh",
    "chinese - mandarin": "zh",
    "chinese - cantonese": "zh",
    "korean": "ko",
    "arabic": "ar",
    "french": "fr",
    "tagalog": "tl",
    "filipino": "tl",
    "hindi": "hi",
    "urdu": "ur",
    "russian": "ru",
    "portuguese": "pt",
    "german": "de",
    "japanese": "ja",
    "persian": "fa",
    "farsi": "fa",
    "amharic": "am",
    "swahili": "sw",
    "haitian creole": "ht",
    "burmese": "my",
    "nepali": "ne",
    "gujarati": "gu",
    "punjabi": "pa",
    "bengali": "bn",
    "telugu": "te",
    "tamil": "ta",
    "italian": "it",
    "polish": "pl",
    "somali": "so",
    "turkish": "tr",
    "thai": "th",
    "pashto": "ps",
    "dari": "fa",
    "kinyarwanda": "rw",
    "tigrinya": "ti",
    "romanian": "ro",
    "ukrainian": "uk",
    "laotian": "lo",
    "lao": "lo",
    "khmer": "km",
    "cambodian": "km",
    "indonesian": "id",
    "malay": "ms",
    "hebrew": "he",
    "greek": "el",
}
"""Odyssey language descriptions -> ISO 639-1. Unknown languages are kept as NULL and
counted (the raw text stays in the archive), never guessed."""
