"""Odyssey API Toolkit path: client, parsing, sync, simulator, Dagster assets."""
