"""Helpers the tests and benches share that production never runs: a private PostgreSQL
cluster and a simulated statewide deployment."""
