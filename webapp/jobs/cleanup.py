"""Deleting uploads that nothing refers to any more, so that uploads have an end.

An upload (a form's source image or the API's imageUpload) is kept while any job names it as its
seedImage or maskImage. Once none does and it is older than STEPWISE_UPLOAD_RETENTION_HOURS, its row
and file go. Files under uploads/ that have no row at all (a transaction that rolled back after the
file was written) go after the same retention. `manage.py cleanup` runs it; so does every worker's
heartbeat thread every STEPWISE_CLEANUP_SECONDS.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from webapp.studio.models import Job, Upload

logger = logging.getLogger("stepwise.cleanup")
UPLOAD_DIR = "uploads"


@dataclass
class CleanupReport:
    uploads: int = 0  # rows deleted with their files
    orphan_files: int = 0  # files without a row
    bytes_freed: int = 0

    def __str__(self):
        return (f"Deleted {self.uploads} unreferenced upload(s) and {self.orphan_files} orphan file(s), "
                f"freeing {self.bytes_freed / (1024 * 1024):.1f} MB.")


def _referenced_ids() -> set[str]:
    referenced: set[str] = set()
    for seed, mask in Job.objects.values_list("params__seedImage", "params__maskImage").iterator():
        referenced.update(str(v) for v in (seed, mask) if v)
    return referenced


def uploads_cleanup(*, retention: timedelta | None = None, dry_run: bool = False) -> CleanupReport:
    """Delete unreferenced uploads older than `retention` (default: the setting); return what was freed.

    1. Rows: uploads older than the retention that no job refers to, with their files.
    2. Files: anything under uploads/ older than the retention whose name is no upload's file.
    """
    if retention is None:
        retention = timedelta(hours=settings.STEPWISE_UPLOAD_RETENTION_HOURS)
    cutoff = timezone.now() - retention
    report = CleanupReport()
    # 1. Rows. The references are read before the candidates: an upload a job starts using after
    # this point is newer than the cutoff only if it was just made, and old uploads reused by a new
    # job between the two reads are the one race left (the job then fails with a clear error).
    referenced = _referenced_ids()
    for upload in Upload.objects.filter(created_at__lt=cutoff).iterator():
        if str(upload.id) in referenced:
            continue
        size = upload.size
        name = str(upload.file.name)
        if not dry_run:
            upload.delete()
            try:
                default_storage.delete(name)
            except OSError:
                logger.warning("Could not delete %s", name, exc_info=True)
        report.uploads += 1
        report.bytes_freed += size
    # 2. Orphan files (only where the storage can list and date them)
    try:
        _dirs, files = default_storage.listdir(UPLOAD_DIR)
    except (FileNotFoundError, NotImplementedError):
        files = []
    known = {name.rsplit("/", 1)[-1] for name in Upload.objects.values_list("file", flat=True)}
    for filename in files:
        if filename in known:
            continue
        path = f"{UPLOAD_DIR}/{filename}"
        try:
            if default_storage.get_modified_time(path) >= cutoff:
                continue
            size = default_storage.size(path)
            if not dry_run:
                default_storage.delete(path)
        except (OSError, NotImplementedError):
            continue
        report.orphan_files += 1
        report.bytes_freed += size
    return report
