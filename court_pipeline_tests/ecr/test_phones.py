"""normalize_phones / normalize_emails: splitting, E.164, types, labels, rejects."""

from __future__ import annotations

import random

import pandas as pd
import phonenumbers as pn

from court_pipeline.records.phones import normalize_emails, normalize_phones


def test_several_phones_in_one_cell_keep_row_and_order():
    raw = pd.Series(
        ["713-555-0142 / 281.555.0100", "(832) 555-0199; 512 555 0100 or 2105550123"], index=[7, 9]
    )
    out = normalize_phones(raw)
    assert out[["row", "position", "value"]].values.tolist() == [
        [7, 0, "+17135550142"],
        [7, 1, "+12815550100"],
        [9, 0, "+18325550199"],
        [9, 1, "+15125550100"],
        [9, 2, "+12105550123"],
    ]
    assert set(out["status"]) == {"valid"}
    assert out["reject_reason"].isna().all()


def test_rejects_are_kept_with_readable_reasons():
    raw = pd.Series(["12345", "999-555-0100", "call me", "555-0142", "+1 713 555 01429999"])
    out = normalize_phones(raw).set_index("row")
    assert (out["status"] == "rejected").all()
    assert out.loc[0, "reject_reason"] == "too few digits (5; a US number has 10)"
    assert out.loc[1, "reject_reason"] == "not a valid US number"
    assert out.loc[2, "reject_reason"] == "not a phone number (no digits)"
    assert out.loc[3, "reject_reason"] == "too few digits (7; a US number has 10)"
    assert out.loc[4, "reject_reason"].startswith("too many digits")
    assert out["value"].isna().all()
    assert out.loc[1, "raw_value"] == "999-555-0100"


def test_blanks_and_placeholders_make_no_rows():
    out = normalize_phones(pd.Series([None, "", "N/A", "none", "  "]))
    assert out.empty
    assert list(out.columns)[:3] == ["row", "position", "raw_value"]


def test_phone_type_is_honest_and_labels_upgrade_to_mobile():
    raw = pd.Series(
        ["713-555-0142", "Cell: 713-555-0143", "713-555-0144 (H)", "800-555-1234", "713-555-0145"]
    )
    labels = pd.Series([None, None, None, None, "CELL PHONE"])
    out = normalize_phones(raw, labels=labels).set_index("row")
    assert out["phone_type"].tolist() == ["unknown", "mobile", "home", "unknown", "mobile"]
    assert out["label"].tolist() == [None, "Cell", "Home", None, "Cell"]
    assert out.loc[1, "value"] == "+17135550143"
    assert out.loc[2, "value"] == "+17135550144"


def test_phone_types_are_kept_from_source_labels():
    """Odyssey's Type attribute (and ECR label words) survive as phone types: a fax or a pager
    is never 'unknown' (which may get SMS)."""
    raw = pd.Series(["713-555-0140"] * 7 + ["Fax: 713-555-0147", "713-555-0148 (pager)"])
    labels = pd.Series(["Cell", "Home", "Work", "Fax", "Pager", "Other", None, None, None])
    out = normalize_phones(raw, labels=labels).set_index("row")
    assert out["phone_type"].tolist() == [
        "mobile",
        "home",
        "work",
        "fax",
        "pager",
        "unknown",
        "unknown",
        "fax",
        "pager",
    ]
    assert out["label"].tolist() == [
        "Cell",
        "Home",
        "Work",
        "Fax",
        "Pager",
        "Other",
        None,
        "Fax",
        "Pager",
    ]
    assert (out["status"] == "valid").all()


def test_other_nanpa_regions_and_international_numbers_use_the_library():
    raw = pd.Series(
        [
            "416-555-0123",
            "+52 55 1234 5678",
            "+44 20 7946 0958",
            "713/555-0142",
            "713-555-0142 ext. 12",
        ]
    )
    out = normalize_phones(raw)
    assert out["value"].tolist() == [
        "+14165550123",
        "+525512345678",
        "+442079460958",
        "+17135550142",
        "+17135550142",
    ]
    uk = pn.parse("+44 20 7946 0958")
    assert pn.number_type(uk) == pn.PhoneNumberType.FIXED_LINE
    assert out["phone_type"].tolist()[2] == "landline"


def test_duplicate_cells_are_parsed_once_and_joined_back_to_every_row(monkeypatch):
    """A million-row file repeats the same cells: each distinct piece the fast path cannot
    classify goes through phonenumbers.parse once, and its verdict reaches every row."""
    parsed: list[str] = []
    real_parse = pn.parse

    def counting_parse(text, region=None, *args, **kwargs):
        parsed.append(text)
        return real_parse(text, region, *args, **kwargs)

    monkeypatch.setattr(pn, "parse", counting_parse)
    raw = pd.Series(["416-555-0123"] * 400 + ["713-555-0142"] * 400 + ["12345"] * 3)
    out = normalize_phones(raw)
    assert sorted(parsed) == ["12345", "416-555-0123"]  # plain 713 numbers need no parse
    assert len(out) == 803
    assert out["row"].tolist() == list(range(803))
    assert out["value"].tolist() == ["+14165550123"] * 400 + ["+17135550142"] * 400 + [None] * 3
    assert out["status"][800:].tolist() == ["rejected"] * 3


def test_fast_path_agrees_with_phonenumbers_on_thousands_of_numbers():
    """Every verdict of the fast metadata path equals phonenumbers.parse + is_valid_number."""
    rng = random.Random(20261122)
    shapes = ["{a}-{b}-{c}", "({a}) {b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "1{a}{b}{c}"]
    texts = []
    for _ in range(3000):
        digits = f"{rng.randint(0, 9_999_999_999):010d}"
        texts.append(rng.choice(shapes).format(a=digits[:3], b=digits[3:6], c=digits[6:]))
    out = normalize_phones(pd.Series(texts)).set_index("row")
    assert len(out) == len(texts)
    names = {pn.PhoneNumberType.MOBILE: "mobile", pn.PhoneNumberType.FIXED_LINE: "landline"}
    valid_seen = 0
    for i, text in enumerate(texts):
        number = pn.parse(text, "US")
        if pn.is_valid_number(number):
            valid_seen += 1
            assert out.loc[i, "value"] == pn.format_number(number, pn.PhoneNumberFormat.E164)
            assert out.loc[i, "phone_type"] == names.get(pn.number_type(number), "unknown")
        else:
            assert out.loc[i, "status"] == "rejected", text
    assert valid_seen > 300


def test_emails_lowercased_split_and_rejected():
    raw = pd.Series(
        [
            "Maria.Pena@Example.COM; x@y",
            "MAILTO:<Foo@Bar.org>",
            None,
            "n/a",
            "a@@b.com",
            "no-at-sign",
        ]
    )
    out = normalize_emails(raw)
    assert out[["row", "value", "status"]].values.tolist() == [
        [0, "maria.pena@example.com", "valid"],
        [0, None, "rejected"],
        [1, "foo@bar.org", "valid"],
        [4, None, "rejected"],
        [5, None, "rejected"],
    ]
    assert out["reject_reason"].tolist() == [
        None,
        "not a valid email address",
        None,
        "not a valid email address (more than one @)",
        "not an email address (no @)",
    ]
