"""Templates (sandbox, languages, fallback, local dates) and SMS segment counting."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from court_pipeline.reminders.flows import load_flows
from court_pipeline.reminders.sms import smart_encode, sms_length
from court_pipeline.reminders.templates import (
    SAMPLE_CONTEXT,
    TemplateError,
    TemplateSet,
    display_name,
    local_phrases,
)


def test_dates_are_written_the_local_way(flows):
    fmts = flows.language_formats
    nine = datetime(2026, 12, 3, 9, 0)
    assert local_phrases(nine, fmts["en"])["when"] == "Thursday, December 3 at 9:00 AM"
    assert local_phrases(nine, fmts["es"])["when"] == "jueves 3 de diciembre a las 9:00 a. m."
    one = datetime(2026, 12, 3, 13, 30)
    assert local_phrases(one, fmts["es"])["when"] == "jueves 3 de diciembre a la 1:30 p. m."
    assert local_phrases(one, fmts["en"])["when"] == "Thursday, December 3 at 1:30 PM"
    # CLDR's narrow no-break spaces would make the SMS UCS-2: they are plain spaces
    assert "\u202f" not in local_phrases(one, fmts["es"])["when"]


def _render(flows, kind, language, channel="sms", **extra):
    templates = TemplateSet(flows)
    context = {**SAMPLE_CONTEXT, **extra}
    return templates.render(flows.flows[0], kind, language, channel, context,
                            datetime(2026, 12, 3, 9, 0), datetime(2026, 11, 24, 13, 30))


def test_spanish_reminder_and_vietnamese_falls_back_to_english(flows):
    spanish = _render(flows, "reminder", "es")
    assert spanish.language == "es" and spanish.template == "es/reminder.j2"
    assert spanish.body == (
        "Harris County Justice Courts: Maria, le recordamos su cita en la corte el jueves 3 de "
        "diciembre a las 9:00 a. m., Courtroom 5B, Harris County Criminal Justice Center, "
        "1201 Franklin St. Caso CR-26-000123. Saldo pendiente: $350.00. "
        "Responda STOP para no recibir mensajes."
    )
    assert (spanish.encoding, spanish.segments) == ("GSM-7", 2)
    vietnamese = _render(flows, "reminder", "vi")
    assert vietnamese.language == "en" and vietnamese.template == "en/reminder.j2"
    assert vietnamese.body.startswith(
        "Harris County Justice Courts: Maria, reminder of your court date (Arraignment) on "
        "Thursday, December 3 at 9:00 AM, Courtroom 5B"
    )
    assert _render(flows, "reminder", None).language == "en"


def test_payment_line_only_when_something_is_due(flows):
    assert "Balance due: $350.00" in _render(flows, "reminder", "en").body
    assert "Balance" not in _render(flows, "reminder", "en", payment_status="Paid").body
    assert "Balance" not in _render(flows, "reminder", "en", payment_status=None).body


def test_change_and_cancel_notices_and_email_subject(flows):
    changed = _render(flows, "changed", "en")
    assert "has changed. New date: Thursday, December 3 at 9:00 AM" in changed.body
    assert "It is no longer Tuesday, November 24." in changed.body
    cancelled = _render(flows, "cancelled", "es")
    assert "fue cancelada" in cancelled.body
    email = _render(flows, "reminder", "es", channel="email")
    assert email.subject == (
        "Recordatorio de su cita en la corte: jueves 3 de diciembre a las 9:00 a. m."
    )
    assert "STOP" not in email.body and email.segments is None


def test_every_shipped_template_fits_two_segments(flows):
    # longest realistic values: long agency, location, accented name
    for kind in ("reminder", "changed", "cancelled"):
        for lang in ("en", "es"):
            rendered = _render(flows, kind, lang, name="José Ramón")
            assert rendered.encoding == "GSM-7", (kind, lang)
            assert rendered.segments <= 2, (kind, lang, rendered.segments)
    assert TemplateSet(flows).validate() == []


def test_sandbox_blocks_python_internals(tmp_path: Path):
    (tmp_path / "tpl" / "en").mkdir(parents=True)
    (tmp_path / "tpl" / "en" / "evil.j2").write_text(
        "{{ name.__class__.__mro__[1].__subclasses__() }} {{ when }}"
    )
    (tmp_path / "flows.yaml").write_text(
        "templates_dir: tpl\nflows:\n  - name: a\n    offsets: [{days: 1}]\n    template: evil\n"
    )
    config = load_flows(tmp_path / "flows.yaml", check_templates=False)
    with pytest.raises(TemplateError,
                       match="en/evil.j2 .*evil.j2.: access to attribute '__class__'.*unsafe"):
        TemplateSet(config).render(config.flows[0], "reminder", "en", "sms",
                                   dict(SAMPLE_CONTEXT), datetime(2026, 12, 3, 9))


def test_agency_templates_override_bundled_ones(tmp_path: Path):
    (tmp_path / "tpl" / "es").mkdir(parents=True)
    (tmp_path / "tpl" / "es" / "reminder.j2").write_text(
        "Cita: {{ when }}. Caso {{ case_number }}..."
    )
    (tmp_path / "flows.yaml").write_text(
        "templates_dir: tpl\nflows:\n  - name: a\n    offsets: [{days: 1}]\n"
    )
    config = load_flows(tmp_path / "flows.yaml")
    ts = TemplateSet(config)
    es = ts.render(config.flows[0], "reminder", "es", "sms", dict(SAMPLE_CONTEXT),
                   datetime(2026, 12, 3, 9))
    # 'a. m.' + '.' reads as one period; a real ellipsis stays
    assert es.body == "Cita: jueves 3 de diciembre a las 9:00 a. m. Caso CR-26-000123..."
    en = ts.render(config.flows[0], "reminder", "en", "sms", dict(SAMPLE_CONTEXT),
                   datetime(2026, 12, 3, 9))
    assert en.template == "en/reminder.j2" and "reminder of your court date" in en.body


def test_template_error_names_the_file(tmp_path: Path):
    (tmp_path / "tpl" / "en").mkdir(parents=True)
    (tmp_path / "tpl" / "en" / "reminder.j2").write_text("{% if %}")
    (tmp_path / "flows.yaml").write_text(
        "templates_dir: tpl\nflows:\n  - name: a\n    offsets: [{days: 1}]\n"
    )
    config = load_flows(tmp_path / "flows.yaml", check_templates=False)
    with pytest.raises(TemplateError, match="template en/reminder.j2 line 1"):
        TemplateSet(config).pick(config.flows[0], "reminder", "en", "sms")


def test_display_name():
    assert display_name("MARIA") == "Maria"
    assert display_name("mary-ann") == "Mary-Ann"
    assert display_name("DeShawn") == "DeShawn"
    assert display_name(None, "ACME BAIL BONDS") == "Acme Bail Bonds"
    assert display_name("  ") is None


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension table: two septets each
        ("a" * 152 + "€", "GSM-7", 154, 1),
        # 306 septets would be 2 segments, but the escape pair is never split across two
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
        ("Peña señor ¿qué? él", "GSM-7", 19, 1),  # ñ ¿ é are GSM basic
        ("sábado", "UCS-2", 6, 1),  # á is not
        ("á" * 70, "UCS-2", 70, 1),
        ("á" * 71, "UCS-2", 71, 2),
        ("á" * 134, "UCS-2", 134, 2),
        ("á" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),  # surrogate pairs
    ],
)
def test_segments(text, encoding, units, segments):
    length = sms_length(text)
    assert (length.encoding, length.units, length.segments) == (encoding, units, segments)


def test_smart_encoding_keeps_gsm_characters_and_replaces_the_rest():
    assert smart_encode("Ramón Sánchez “sábado” – él, niño") == 'Ramon Sanchez "sabado" - él, niño'
    assert sms_length(smart_encode("sábado " * 30)).encoding == "GSM-7"


def test_messages_share_a_render_only_when_the_template_reads_the_same_values(tmp_path: Path):
    """A party's offsets render once when the template does not read the offset, once each
    when it does, and never share when the template includes another file (whose fields its
    own source does not show)."""
    (tmp_path / "tpl" / "en").mkdir(parents=True)
    (tmp_path / "tpl" / "en" / "plain.j2").write_text("{{ name }} on {{ when }}")
    (tmp_path / "tpl" / "en" / "offset.j2").write_text("{{ name }}: {{ offset }} to go")
    (tmp_path / "tpl" / "en" / "part.j2").write_text("{{ days_before }} days")
    (tmp_path / "tpl" / "en" / "wrapper.j2").write_text("{{ name }}: {% include 'en/part.j2' %}")
    for name in ("plain", "offset", "wrapper"):
        (tmp_path / f"{name}.yaml").write_text(
            f"templates_dir: tpl\nflows:\n  - name: a\n    offsets: [{{days: 1}}]\n"
            f"    template: {name}\n    notify_changes: false\n    notify_cancelled: false\n"
            "    notify_removed: false\n"
        )
    start = datetime(2026, 12, 3, 9, 0)
    bodies = {}
    for name in ("plain", "offset", "wrapper"):
        config = load_flows(tmp_path / f"{name}.yaml")
        templates = TemplateSet(config)
        bodies[name] = [
            templates.render(config.flows[0], "reminder", "en", "sms",
                             {**SAMPLE_CONTEXT, "offset": key, "days_before": days}, start).body
            for key, days in (("7d", 7), ("3d", 3), ("1d", 1))
        ]
        bodies[name + " renders kept"] = len(templates._renders)
    assert bodies["plain"] == ["Maria on Thursday, December 3 at 9:00 AM"] * 3
    assert bodies["plain renders kept"] == 1
    assert bodies["offset"] == ["Maria: 7d to go", "Maria: 3d to go", "Maria: 1d to go"]
    assert bodies["offset renders kept"] == 3
    assert bodies["wrapper"] == ["Maria: 7 days", "Maria: 3 days", "Maria: 1 days"]
    assert bodies["wrapper renders kept"] == 0
