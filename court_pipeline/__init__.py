"""court_pipeline: Texas court data from Odyssey to DuckDB, reminders and OCA reporting."""
