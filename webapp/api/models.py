"""API keys, websocket sessions, and the API's view of the jobs it created.

The Job and Image rows stay the record of what was generated; these rows only remember who asked
through which key, how they want the results, and what a websocket session has already been sent.
They live in the database because the web process may restart and there may be several of them.
"""

import hashlib
import hmac
import secrets
import uuid

from django.conf import settings
from django.db import models

KEY_PREFIX = "sw_"
PREFIX_LENGTH = len(KEY_PREFIX) + 8  # what lists show: "sw_" and the first 8 random characters


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=20, db_index=True, editable=False)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix}… ({self.name or 'unnamed'}, {self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def generate() -> str:
        # 40 random URL-safe characters: about 240 bits, so a plain SHA-256 is enough to store it.
        return KEY_PREFIX + secrets.token_urlsafe(30)

    def matches(self, raw_key: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_key(raw_key))


class ApiSession(models.Model):
    """A websocket session (`connectionSessionUUID`): resumable while its results are kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    api_key = models.ForeignKey(ApiKey, models.CASCADE, related_name="sessions")
    # The live connection that currently delivers this session's results; empty while away.
    channel_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"API session {self.id}"


class ApiTask(models.Model):
    """One imageInference task received through the API, and what of it was delivered."""

    job = models.OneToOneField("studio.Job", models.CASCADE, related_name="api_task")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_tasks")
    api_key = models.ForeignKey(ApiKey, models.SET_NULL, null=True, blank=True, related_name="tasks")
    # The websocket session to push results to; null for HTTP and for deliveryMethod "async".
    session = models.ForeignKey(ApiSession, models.SET_NULL, null=True, blank=True, related_name="tasks")
    task_uuid = models.CharField(max_length=64, db_index=True)
    output_types = models.JSONField(default=list, help_text="Requested outputType values, in order.")
    delivered = models.PositiveSmallIntegerField(default=0, help_text="Images pushed over the websocket.")
    closed = models.BooleanField(default=False, help_text="Every result (or the error) was pushed, or there is "
                                 "no session to push to.")
    # scheme://host[:port] the request came to: imageURL in webhook bodies is absolute.
    base_url = models.CharField(max_length=300, blank=True)
    webhook_sent = models.PositiveSmallIntegerField(default=0, help_text="Images handed to the webhook.")
    webhook_closed = models.BooleanField(default=False, help_text="Every result (or the error) was handed to the "
                                         "webhook, or there is none.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["session", "closed"])]
        constraints = [
            # Runware's conflictTaskUUID: a taskUUID names one task of one user, for good.
            models.UniqueConstraint(fields=["owner", "task_uuid"], name="one_api_task_per_uuid"),
        ]

    def __str__(self):
        return f"API task {self.task_uuid}"
