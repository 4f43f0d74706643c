"""Delete uploads no job refers to after the retention period, and say what that freed.

    python manage.py cleanup [--hours N] [--dry-run]

Workers also run this every STEPWISE_CLEANUP_SECONDS; the command is for cron or a one-off.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from webapp.jobs.cleanup import uploads_cleanup


class Command(BaseCommand):
    help = "Delete unreferenced uploads older than the retention period (STEPWISE_UPLOAD_RETENTION_HOURS)."

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=float, default=None, help="Retention in hours (default: the setting).")
        parser.add_argument("--dry-run", action="store_true", help="Report what would be deleted; delete nothing.")

    def handle(self, *, hours, dry_run, **options):
        if hours is not None and hours < 0:
            raise CommandError("--hours must be 0 or more")
        report = uploads_cleanup(retention=timedelta(hours=hours) if hours is not None else None, dry_run=dry_run)
        self.stdout.write(("Dry run: " if dry_run else "") + str(report))
