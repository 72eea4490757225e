"""Landing: where ECR files arrive (local folder, SFTP, S3), the sensors that notice them, and
the immutable archive the ``ecr_landed_files`` asset fetches them into."""

from court_pipeline.landing.archive import (
    ReceivedFile,
    archive_path_for,
    received_files_for_partition,
)
from court_pipeline.landing.assets import EcrLandedFilesConfig, build_landing_assets
from court_pipeline.landing.base import (
    LandedFile,
    LandingError,
    LandingFileMissing,
    LandingStore,
    LandingUnavailable,
    open_landing,
)
from court_pipeline.landing.sensors import build_ecr_nightly_schedules, build_ecr_sensors

__all__ = [
    "EcrLandedFilesConfig",
    "LandedFile",
    "LandingError",
    "LandingFileMissing",
    "LandingStore",
    "LandingUnavailable",
    "ReceivedFile",
    "archive_path_for",
    "build_ecr_nightly_schedules",
    "build_ecr_sensors",
    "build_landing_assets",
    "open_landing",
    "received_files_for_partition",
]
