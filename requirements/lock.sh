#!/usr/bin/env bash
# Refresh the committed locks from pyproject.toml: every transitive version exact, with hashes.
# uv resolves for every platform at once (--universal) and writes no index URL or host name.
# Run after any change to pyproject's dependencies, then run the suite (docs/how-to/upgrade-dagster.md).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null || python3 -m pip install --quiet "uv>=0.5"
common=(--universal --python-version 3.11 --generate-hashes --quiet
        --custom-compile-command "bash requirements/lock.sh" "$@")
uv pip compile pyproject.toml "${common[@]}" -o requirements/main.lock
uv pip compile pyproject.toml --extra dev "${common[@]}" -o requirements/dev.lock
