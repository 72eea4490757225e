"""Fixtures for the OCA tests: a real DuckDB warehouse in tmp_path filled with clean rows."""
# ruff: noqa: E501

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from court_pipeline.oca.codemaps import BUNDLED_CODEMAP
from court_pipeline.registry.loader import load_registry
from court_pipeline.warehouse import connect_warehouse

CLEAN_SQL = """
INSERT INTO parties (agency_id, party_id, first_name, last_name, date_of_birth, sex, race,
                     ethnicity, zip, bar_number, source) VALUES
 ('harris', '100234', 'MARIA', 'GARCIA', DATE '1990-06-15', 'F', 'W', 'H', '77002-1234', NULL, 'odyssey_api'),
 ('harris', '100300', 'JOHN', 'SMITH', DATE '1985-12-01', 'M', 'B', 'N', '77005', NULL, 'odyssey_api'),
 ('harris', '100400', 'LEE', 'WONG', DATE '2000-02-29', 'X', 'Q', NULL, '77006', NULL, 'odyssey_api'),
 ('harris', '300045', 'JANE', 'ROE', NULL, NULL, NULL, NULL, NULL, '24012345', 'odyssey_api'),
 ('harris', '200001', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'odyssey_api');

INSERT INTO cases (agency_id, case_id, case_number, case_style, case_category,
                   case_category_code, case_type, case_type_code, case_status, case_status_code,
                   case_status_date, file_date, court_code, court_name, court_type, oca_court_id,
                   judge_name, judge_type, source) VALUES
 ('harris', '5550001', 'CR-26-000123', 'State of Texas vs. Garcia, Maria', 'Criminal', 'CR',
  'Misdemeanor B', 'MB', 'Open', 'OPEN', DATE '2026-11-02', DATE '2026-11-02', 'CCL2',
  'County Court at Law No. 2', 'Statutory County Court', '101050002', 'Hon. B. Chen', 'Judge',
  'odyssey_api'),
 ('harris', '5550002', 'CR-26-000124', 'State of Texas vs. Smith, John', 'Criminal', 'CR',
  'Felony 2', 'F2', 'Closed', 'CLSD', DATE '2026-10-01', DATE '2026-03-02', 'D180',
  '180th District Court', 'District Court', '101010180', 'Hon. D. O''Brien', 'Judge',
  'odyssey_api'),
 ('harris', '5550003', 'CV-26-000200', 'Acme vs. Unknown', 'Civil', 'CV', 'Debt/Contract',
  'DC', 'Closed', 'CLSD', DATE '2026-09-15', DATE '2026-05-05', 'JP11',
  'Justice of the Peace Pct. 1 Pl. 1', 'Justice Court', '101060011', 'Hon. T. Nguyen', 'Judge',
  'odyssey_api'),
 ('harris', '5550004', 'FM-26-000300', 'In the Matter of Wong, Lee', 'Family', 'FAM',
  'Divorce - No Children', 'DIV', 'Closed', 'CLSD', DATE '2026-08-20', DATE '2026-01-10',
  'D245', '245th District Court (Family)', 'District Court', '101010245', 'Hon. R. De La Cruz',
  'Judge', 'odyssey_api');

INSERT INTO case_parties (agency_id, case_id, party_id, role, role_code, source) VALUES
 ('harris', '5550001', '100234', 'Defendant', 'DEF', 'odyssey_api'),
 ('harris', '5550001', '300045', 'Attorney', 'ATTY', 'odyssey_api'),
 ('harris', '5550002', '100300', 'Defendant', 'DEF', 'odyssey_api'),
 ('harris', '5550003', '200001', 'Plaintiff', 'PLT', 'odyssey_api'),
 ('harris', '5550004', '100400', 'Petitioner', 'PET', 'odyssey_api');

INSERT INTO charges (agency_id, case_id, charge_id, party_id, charge_number, statute_code,
                     statute, offense_code, description, degree_code, degree, offense_date,
                     arrest_date, filing_date, plea_code, plea, plea_date, disposition_code,
                     disposition, disposition_date, sentence_type, sentence_date, fine_amount,
                     court_costs, restitution, source) VALUES
 ('harris', '5550001', '7001', '100234', '1', 'PC', '49.04', '5499', 'DRIVING WHILE INTOXICATED',
  'MB', 'Misdemeanor B', DATE '2026-10-30', DATE '2026-10-30', DATE '2026-11-02', 'NG',
  'Not Guilty', DATE '2026-11-20', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'odyssey_api'),
 ('harris', '5550002', '7002', '100300', '1', 'PC', '29.02', '1299', 'ROBBERY', 'F2', 'Felony 2',
  DATE '2026-02-27', DATE '2026-02-28', DATE '2026-03-02', 'G', 'Guilty', DATE '2026-06-01',
  'CONV', 'Convicted', DATE '2026-10-01', 'Fine', DATE '2026-10-01', 300.00, 289.00, NULL,
  'odyssey_api'),
 ('harris', '5550002', '7003', '100300', '2', 'PC', '31.03', '2399', 'THEFT', 'MB',
  'Misdemeanor B', DATE '2026-02-27', DATE '2026-02-28', DATE '2026-03-02', 'ZZ', 'Weird plea',
  DATE '2026-06-01', 'DISM', 'Dismissed', DATE '2026-10-01', NULL, NULL, NULL, NULL, NULL,
  'odyssey_api');

INSERT INTO attorneys (agency_id, case_id, attorney_party_id, represents_party_id, name,
                       bar_number, type_code, type, start_date, end_date, source) VALUES
 ('harris', '5550001', '300045', '100234', 'JANE ROE', '24012345', 'APD',
  'Appointed - Public Defender', DATE '2026-11-02', NULL, 'odyssey_api'),
 ('harris', '5550002', '300045', '100300', 'JANE ROE', '24012345', 'XYZ', 'Mystery',
  DATE '2026-03-03', DATE '2026-10-01', 'odyssey_api');

INSERT INTO case_events (agency_id, case_id, event_id, event_date, type_code, type, source) VALUES
 ('harris', '5550001', '61001', DATE '2026-11-02', 'OIND', 'Order Determining Indigency',
  'odyssey_api'),
 ('harris', '5550001', '61002', DATE '2026-11-02', 'BOND', 'Bond Posted', 'odyssey_api'),
 ('harris', '5550002', '61003', DATE '2026-03-05', 'NEWX', 'Some New Event', 'odyssey_api');

INSERT INTO hearings (agency_id, hearing_id, case_id, case_number, hearing_type,
                      hearing_type_code, start_local, status, judge, source) VALUES
 ('harris', '9900017', '5550002', 'CR-26-000124', 'Jury Trial', 'JT',
  TIMESTAMP '2026-09-20 09:00:00', 'Scheduled', 'Hon. D. O''Brien', 'odyssey_api'),
 ('harris', '9900018', '5550001', 'CR-26-000123', 'Arraignment', 'ARR',
  TIMESTAMP '2026-11-21 09:00:00', 'Scheduled', 'Hon. B. Chen', 'odyssey_api'),
 ('harris', '9900019', '5550002', 'CR-26-000124', 'Jury Trial', 'JT',
  TIMESTAMP '2026-12-20 09:00:00', 'Scheduled', 'Hon. D. O''Brien', 'odyssey_api');
"""


def write_registry(tmp_path: Path, code_map: Path | None = BUNDLED_CODEMAP) -> Path:
    """A registry with one agency in Harris county using the given code map."""
    agency = {
        "id": "harris",
        "name": "Harris County Courts (test)",
        "county": "Harris",
        "publisher": "Tyler Tech-Odyssey",
        "oca": {
            "client_id_env": "HARRIS_OCA_ID",
            "client_secret_env": "HARRIS_OCA_SECRET",
            **({"code_map": str(code_map)} if code_map else {}),
        },
    }
    path = tmp_path / "agencies.yaml"
    path.write_text(
        yaml.safe_dump({"partitions_start_date": "2026-11-01", "agencies": [agency]}),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    return write_registry(tmp_path)


@pytest.fixture
def registry(registry_file: Path):
    return load_registry(registry_file)


@pytest.fixture
def warehouse_file(tmp_path: Path) -> Path:
    """A warehouse file holding realistic clean rows for agency 'harris'."""
    path = tmp_path / "warehouse.duckdb"
    with connect_warehouse(path) as con:
        con.execute(CLEAN_SQL)
    return path
