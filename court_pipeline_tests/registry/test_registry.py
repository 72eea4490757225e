"""The agency registry: bundled file loads; errors name the file, the agency and the field."""

from __future__ import annotations

import textwrap

import pytest

from court_pipeline.registry import RegistryError, load_registry
from court_pipeline.settings import BUNDLED_REGISTRY


def _write(tmp_path, body: str):
    path = tmp_path / "agencies.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_bundled_registry_is_valid():
    registry = load_registry(BUNDLED_REGISTRY)
    demo = registry.agency("demo")
    assert demo.county == "Travis"
    assert demo.ecr is not None and demo.ecr.landing.kind == "local"
    assert demo.odyssey is not None and demo.odyssey.password_env == "DEMO_ODYSSEY_PASSWORD"


def test_error_names_file_agency_and_field(tmp_path):
    path = _write(
        tmp_path,
        """
        agencies:
          - id: harris_jp
            name: Harris JP
            county: Harris County
            ecr:
              landing: {kind: sftp, host: sftp.example.org, username: u}
              template: t.yaml
        """,
    )
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    message = str(info.value)
    assert str(path) in message
    assert "agency 'harris_jp', field 'county'" in message
    assert "write 'Harris'" in message
    assert "field 'ecr.landing.sftp'" in message
    assert "password_env or private_key_path_env" in message


def test_typo_in_a_key_is_an_error_not_ignored(tmp_path):
    path = _write(
        tmp_path,
        """
        agencies:
          - {id: a1, name: A, county: Harris, timezone: America/Chicago, sheduls: x}
        """,
    )
    with pytest.raises(RegistryError, match="field 'sheduls'"):
        load_registry(path)


def test_secrets_are_env_names_not_values(tmp_path):
    path = _write(
        tmp_path,
        """
        agencies:
          - id: a1
            name: A
            county: Harris
            odyssey:
              base_url: "https://x"
              site_key_env: "hunter2!"
              username_env: U
              password_env: P
        """,
    )
    with pytest.raises(RegistryError, match="not an environment variable name"):
        load_registry(path)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("agencies: [{id: a1, name: A, county: Harris, timezone: Mars/Base}]", "unknown time zone"),
        ("agencies: [{id: a1, name: A, county: Harris}, {id: a1, name: B, county: Bexar}]",
         "appears twice"),
        ("agencies: [{id: 'Bad Id', name: A, county: Harris}]", "field 'id'"),
        ("- just a list", "expected a mapping"),
        ("agencies: [unclosed", "not valid YAML"),
    ],
)
def test_other_mistakes(tmp_path, body, expected):
    with pytest.raises(RegistryError, match=expected):
        load_registry(_write(tmp_path, body))


def test_missing_file(tmp_path):
    with pytest.raises(RegistryError, match="registry file not found"):
        load_registry(tmp_path / "nope.yaml")
