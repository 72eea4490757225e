"""Hostile templates end with a clear error naming the flow, the template and its file, in
bounded time and memory: at flows load (every template is rendered with sample data) and at
render time."""

from __future__ import annotations

from pathlib import Path

import pytest

from court_pipeline.reminders.flows import FlowsError, load_flows

HOSTILE = {
    "repeat": ("{{ 'x'*3000000000 }}", "a repeated text would be 3,000,000,000 long"),
    "power": ("{{ 10**10000000 }}", "10**10000000 is too large a number"),
    "big_range": ("{% for i in range(10**9) %}{% endfor %}",
                  "call of range: argument 1000000000 is too large"),
    "nested_ranges": (
        "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
        "range loops exceed 10,000 items in one render"),
    "recursion": ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
                  "recursion too deep (a macro calling itself?)"),
    "slow_loops": (
        "{% set s = 'x' * 9000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
        "render took longer than 1 s"),
    "center": ("{{ name|center(1000000000) }}", "filter center: argument 1000000000 is too large"),
    "percent": ("{{ '%1000000000d' % 1 }}", "a % format: a field width of 1000000000"),
    "format": ("{{ '{:>1000000000}'.format(1) }}", "a field width of 1000000000"),
    "replace": ("{% set s = 'a' * 1000 %}{{ s|replace('a', s) }}",
                "replace could grow the text to 1,002,000"),
    "doubling": ("{% set ns = namespace(x='yy') %}{% for i in range(40) %}"
                 "{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x }}",
                 "a joined (~) text would be 32,768 long"),
    "output": ("{% for i in range(5000) %}xxxxxxxxxx{% endfor %}",
               "output longer than 20,000 characters"),
}


def _flows(tmp_path: Path, name: str, body: str) -> Path:
    (tmp_path / "tpl" / "en").mkdir(parents=True, exist_ok=True)
    (tmp_path / "tpl" / "en" / f"{name}.j2").write_text(body + " {{ when }}")
    path = tmp_path / "flows.yaml"
    path.write_text(f"templates_dir: tpl\nflows:\n  - name: evil\n    offsets: [{{days: 1}}]\n"
                    f"    template: {name}\n    languages: [en]\n")
    return path


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_template_fails_the_flows_load_with_a_clear_error(tmp_path, name):
    body, reason = HOSTILE[name]
    path = _flows(tmp_path, name, body)
    with pytest.raises(FlowsError) as err:
        load_flows(path)
    text = str(err.value)
    assert text.startswith(f"{path}: flow 'evil', template en/{name}.j2 ("), text
    assert str(tmp_path / "tpl" / "en" / f"{name}.j2") in text
    assert reason in text


def test_the_code_location_does_not_load_with_a_hostile_template(tmp_path):
    from court_pipeline.partitions import agency_day_partitions
    from court_pipeline.registry import Agency, Registry
    from court_pipeline.reminders import build_reminder_assets
    from court_pipeline.reminders.assets import check_all_flows
    from court_pipeline.reminders.flows import BUNDLED_FLOWS

    good = Agency(id="good", name="Good County", county="Harris", reminders=str(BUNDLED_FLOWS))
    assert check_all_flows(Registry(agencies=[good]), tmp_path / "agencies.yaml") == 1
    path = _flows(tmp_path, "nested", HOSTILE["nested_ranges"][0])
    bad = Agency(id="bad", name="Bad County", county="Harris", reminders=str(path))
    registry = Registry(agencies=[good, bad])
    with pytest.raises(FlowsError) as err:
        build_reminder_assets(registry, agency_day_partitions(registry),
                              registry_file=tmp_path / "agencies.yaml")
    assert str(err.value).startswith(f"agency 'bad': {path}: flow 'evil', template en/nested.j2")
    assert "range loops exceed 10,000 items in one render" in str(err.value)


def test_every_hostile_template_ends_within_a_memory_cap(tmp_path):
    """All of them in one child process limited to 2 GB of address space: each ends with its
    own reason (a template that allocated its way to the cap would end in MemoryError)."""
    import json
    import os
    import subprocess
    import sys

    paths = {}
    for name, (body, _) in HOSTILE.items():
        folder = tmp_path / name
        folder.mkdir()
        paths[name] = str(_flows(folder, name, body))
    child = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from court_pipeline.reminders.flows import FlowsError, load_flows
out = {}
for name, path in json.loads(sys.argv[1]).items():
    try:
        load_flows(path)
        out[name] = "loaded"
    except FlowsError as exc:
        out[name] = str(exc)
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", child, json.dumps(paths)], env=os.environ,
                          capture_output=True, text=True, timeout=300, check=True)
    errors = json.loads(done.stdout.strip().splitlines()[-1])
    for name, (_, reason) in HOSTILE.items():
        assert reason in errors[name], (name, errors[name])
