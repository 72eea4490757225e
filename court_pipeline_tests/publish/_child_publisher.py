"""Run the real publisher in a child process (killed by the crash test).

Usage: python -m court_pipeline_tests.publish._child_publisher <token_url> <messages_url>
       <warehouse> <lock_dir> <dataset.parquet>
Credentials come from OCA_HARRIS_CLIENT_ID / OCA_HARRIS_CLIENT_SECRET.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from court_pipeline.publish.client import Credential
from court_pipeline.publish.publisher import PublishSettings, publish_county
from court_pipeline.publish.state import StateStore
from court_pipeline.warehouse import connect_warehouse


def main() -> None:
    token_url, messages_url, warehouse, lock_dir, dataset = sys.argv[1:6]
    frame = pd.read_parquet(dataset)
    store = StateStore(lambda: connect_warehouse(warehouse), environment="staging",
                       agency_id="harris", county="Harris", lock_dir=Path(lock_dir))
    credential = Credential.from_env("OCA_HARRIS_CLIENT_ID", "OCA_HARRIS_CLIENT_SECRET", "Harris")
    settings = PublishSettings("staging", token_url, messages_url, concurrency=2,
                               max_events=1, max_entities=10)
    publish_county(store, {"di-texas-oca-court-case-status": frame}, credential, settings,
                   publisher="Tyler Tech-Odyssey")


if __name__ == "__main__":
    main()
