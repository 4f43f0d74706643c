"""The record of state. Every job, image, model and worker lives here; websockets only notify."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from generation.architectures import ARCHITECTURES, Architecture
from generation.task_types import TASK_TYPES


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    team = models.ForeignKey(Team, models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")]

    def __str__(self):
        return f"{self.user} in {self.team} ({self.role})"


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    TEAM = "team", "Team"


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="profile")
    active_team = models.ForeignKey(Team, models.SET_NULL, null=True, blank=True)
    default_visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.TEAM)
    max_queued_jobs = models.PositiveIntegerField(
        null=True, blank=True, help_text="Waiting jobs this user may have; blank uses STEPWISE_MAX_QUEUED_PER_USER."
    )

    def __str__(self):
        return f"Profile of {self.user}"

    upload_quota_mb = models.PositiveIntegerField(
        "upload quota (MB)", null=True, blank=True,
        help_text="Storage this user's uploaded source images may take; blank uses STEPWISE_UPLOAD_QUOTA_MB.",
    )

    @property
    def upload_quota_bytes(self) -> int:
        megabytes = self.upload_quota_mb if self.upload_quota_mb is not None else settings.STEPWISE_UPLOAD_QUOTA_MB
        return megabytes * 1024 * 1024

    @property
    def queue_limit(self) -> int:
        return self.max_queued_jobs if self.max_queued_jobs is not None else settings.STEPWISE_MAX_QUEUED_PER_USER


class ModelEntry(models.Model):
    """An admin-managed catalog entry, named by its AIR id (`<source>:<id>@<version>`).

    A checkpoint is what a job runs; the other kinds are add-ons a job puts on a checkpoint of the
    same family (a LoRA, an embedding or a VAE made for SD 1.5 fits SD 1.5 and SD 1.5 LCM).
    """

    class Kind(models.TextChoices):
        CHECKPOINT = "checkpoint", "Checkpoint"
        LORA = "lora", "LoRA"
        LYCORIS = "lycoris", "LyCORIS / LoCon"
        EMBEDDING = "embedding", "Embedding (textual inversion)"
        VAE = "vae", "VAE"
        SAFETY_CHECKER = "safety_checker", "Safety checker"

    air = models.CharField("AIR id", max_length=200, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CHECKPOINT, db_index=True)
    architecture = models.CharField(
        "base architecture", max_length=20, choices=[(a.key, a.label) for a in ARCHITECTURES.values()],
        default="sd15",
        help_text="For add-ons: the architecture it was made for; it fits every architecture of the same family.",
    )
    path = models.CharField(
        max_length=500,
        help_text="A local diffusers folder or a single .safetensors file (checkpoint, LoRA, embedding or VAE).",
    )
    trigger_words = models.CharField(
        max_length=500, blank=True,
        help_text="LoRA: comma-separated words that call it up in a prompt. Embedding: its prompt token "
                  "(blank: the AIR id's name).",
    )
    default_weight = models.FloatField(default=1.0, help_text="LoRA: the weight a form preselects (-4 to 4).")
    default_clip_skip = models.PositiveSmallIntegerField(
        "default clip skip", null=True, blank=True, help_text="Checkpoint: 0-2 extra CLIP layers to skip; blank is 0."
    )
    config_path = models.CharField(
        max_length=500,
        blank=True,
        help_text="For single-file checkpoints on machines without hub access: a local diffusers config folder.",
    )
    default_steps = models.PositiveSmallIntegerField(null=True, blank=True)
    default_cfg = models.FloatField("default CFG scale", null=True, blank=True)
    default_scheduler = models.CharField(max_length=60, blank=True)
    default_strength = models.FloatField(null=True, blank=True)
    default_width = models.PositiveIntegerField(null=True, blank=True)
    default_height = models.PositiveIntegerField(null=True, blank=True)
    min_steps = models.PositiveSmallIntegerField("recommended steps from", null=True, blank=True)
    max_steps = models.PositiveSmallIntegerField("recommended steps to", null=True, blank=True)
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    builtin = models.BooleanField(default=False, editable=False)
    teams = models.ManyToManyField(Team, blank=True, help_text="Leave empty to let every team use it.")
    notes = models.TextField(blank=True)
    example_prompts = models.TextField(
        blank=True, help_text="One prompt per line, offered on the create page when this model is picked."
    )
    preview = models.ImageField(upload_to="catalog/", blank=True)
    load_error = models.TextField(blank=True, editable=False)
    last_load_seconds = models.FloatField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "model"
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_model"),
            models.CheckConstraint(condition=Q(is_default=False) | Q(kind="checkpoint"), name="default_is_checkpoint"),
            models.CheckConstraint(condition=Q(default_weight__gte=-4, default_weight__lte=4),
                                   name="default_weight_range"),
            models.CheckConstraint(condition=Q(default_clip_skip__isnull=True) | Q(default_clip_skip__lte=2),
                                   name="default_clip_skip_range"),
        ]

    def __str__(self):
        return f"{self.name} ({self.air})"

    @property
    def family(self) -> str:
        return self.arch.family

    def fits(self, checkpoint: "ModelEntry") -> bool:
        """Whether this add-on can be used with `checkpoint` (same pipeline family)."""
        return self.family == checkpoint.family

    @property
    def trigger_word_list(self) -> list[str]:
        return [w.strip() for w in self.trigger_words.split(",") if w.strip()]

    @property
    def token(self) -> str:
        """An embedding's prompt token: its first trigger word, else the name part of its AIR id."""
        words = self.trigger_word_list
        if words:
            return words[0]
        return self.air.split(":", 1)[-1].split("@", 1)[0]

    @property
    def arch(self) -> Architecture:
        return ARCHITECTURES[self.architecture]

    @property
    def recommended_steps(self) -> tuple[int, int]:
        low, high = self.arch.recommended_steps
        return (self.min_steps or low, self.max_steps or high)

    def clean(self):
        """The defaults a model brings sit inside its own recommended range: otherwise every fresh form
        would open with a warning about the model's own default."""
        super().clean()
        if self.architecture not in ARCHITECTURES:
            return
        low, high = self.recommended_steps
        if low > high:
            raise ValidationError({"max_steps": f"The recommended range {low}-{high} is empty."})
        steps = self.defaults()["steps"]
        if not low <= steps <= high:
            raise ValidationError({"default_steps": f"Default steps {steps} lie outside the recommended range "
                                                    f"{low}-{high}: change one of them."})

    def defaults(self) -> dict:
        """The request values a form preselects for this model."""
        arch = self.arch
        return {
            "steps": self.default_steps or arch.default_steps,
            "CFGScale": self.default_cfg if self.default_cfg is not None else arch.default_cfg,
            "scheduler": self.default_scheduler or arch.default_scheduler,
            "strength": self.default_strength if self.default_strength is not None else 0.8,
            "width": self.default_width or arch.default_size,
            "height": self.default_height or arch.default_size,
            "clipSkip": self.default_clip_skip or 0,
        }


class StepProfile(models.Model):
    """A measured steps profile (generation/profile.py) of one model, scheduler and size on this server:
    `manage.py steps_profile` or the catalog's "Profile steps" action writes it, the forms' hints and the
    catalog read it."""

    model = models.ForeignKey(ModelEntry, models.CASCADE, related_name="step_profiles")
    scheduler = models.CharField(max_length=60)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    result = models.JSONField(help_text="generation.profile.Profile.as_dict()")
    measured_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-measured_at"]
        constraints = [
            models.UniqueConstraint(fields=["model", "scheduler", "width", "height"], name="one_profile_per_setup"),
        ]

    def __str__(self):
        return f"Steps profile of {self.model.name}, {self.scheduler}, {self.width}x{self.height}"

    @property
    def profile(self):
        from generation.profile import Profile

        return Profile.from_dict(self.result)


class Upload(models.Model):
    """A source or mask image sent by a user (form upload or the API's imageUpload)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="uploads")
    team = models.ForeignKey(Team, models.SET_NULL, null=True, blank=True)
    file = models.FileField(upload_to="uploads/")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveBigIntegerField(default=0, help_text="Bytes stored, as received.")
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def content_type(self) -> str:
        # Stored as received, so the extension is the format the validator saw.
        return UPLOAD_CONTENT_TYPES.get(str(self.file.name).rsplit(".", 1)[-1].lower(), "application/octet-stream")


# Upload formats (the validator's ALLOWED_FORMATS): file extension and the type it is served as.
UPLOAD_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "BMP": "bmp", "GIF": "gif"}
UPLOAD_CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "bmp": "image/bmp",
                        "gif": "image/gif"}


class Comparison(models.Model):
    """A "compare steps" group: the same request and seed at several step counts (the columns), and
    optionally several schedulers (the rows). Each cell is an ordinary job on the ordinary queue."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="comparisons")
    team = models.ForeignKey(Team, models.SET_NULL, null=True, blank=True)
    task_type = models.CharField(max_length=20, choices=[(t.key, t.label) for t in TASK_TYPES.values()])
    steps = models.JSONField(help_text="The step counts compared, ascending.")
    schedulers = models.JSONField(help_text="The schedulers compared (one row each).")
    seed = models.BigIntegerField()
    api_task_uuid = models.CharField(max_length=64, blank=True, db_index=True,
                                     help_text="The taskUUID of the API's stepsComparison task, if it came from there.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Comparison {self.id} ({', '.join(map(str, self.steps))} steps)"


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    class Origin(models.TextChoices):
        """Where the job was submitted: the browser's create page or the Runware-compatible API."""

        WEB = "web", "Web"
        API = "api", "API"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="jobs")
    team = models.ForeignKey(Team, models.SET_NULL, null=True, blank=True)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.TEAM)
    task_type = models.CharField(max_length=20, choices=[(t.key, t.label) for t in TASK_TYPES.values()])
    model = models.ForeignKey(ModelEntry, models.PROTECT, related_name="jobs")
    params = models.JSONField(help_text="The validated imageInference parameters (Runware field names).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(help_text="Denoising steps that really run per image.")
    images_done = models.PositiveIntegerField(default=0)
    number_results = models.PositiveIntegerField(default=1)
    priority = models.SmallIntegerField(default=0, help_text="Queue priority; lower for a user's later jobs.")
    preview = models.BinaryField(null=True, blank=True, editable=False)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    task_result_id = models.CharField(max_length=64, blank=True)
    worker_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    gpu_seconds = models.FloatField(default=0)
    device = models.CharField(max_length=40, blank=True, help_text='The torch device that ran it: "cuda:0", "cpu".')
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.WEB)
    api_task_uuid = models.CharField(max_length=64, blank=True, db_index=True)
    comparison = models.ForeignKey(Comparison, models.SET_NULL, null=True, blank=True, related_name="jobs")
    queued_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at"]
        constraints = [
            models.CheckConstraint(condition=Q(step__lte=models.F("total_steps")), name="step_within_total"),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "succeeded", "failed", "cancelled"]),
                name="job_status_valid",
            ),
            models.CheckConstraint(condition=Q(images_done__lte=models.F("number_results")), name="images_within_n"),
        ]
        indexes = [models.Index(fields=["owner", "status"])]

    def __str__(self):
        return f"{self.get_task_type_display()} job {self.id} ({self.status})"

    @property
    def is_finished(self):
        return self.status in self.FINISHED

    @property
    def group_name(self):
        return f"job-{self.id}"


class Image(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(Job, models.CASCADE, related_name="images")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="images")
    team = models.ForeignKey(Team, models.SET_NULL, null=True, blank=True)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.TEAM)
    index = models.PositiveSmallIntegerField(default=0)
    seed = models.BigIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    file = models.FileField(upload_to="images/")
    thumbnail = models.FileField(upload_to="thumbs/", blank=True)
    seconds = models.FloatField(default=0, help_text="Wall time of this image's generation.")
    favourited_by = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="favourite_images",
                                           help_text="The people who marked it a favourite: each has their own.")
    # What the content checker said, when the request asked for a check (null: not checked).
    nsfw = models.BooleanField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "visibility", "-created_at"])]

    def __str__(self):
        return f"Image {self.id}"


class Board(models.Model):
    """A named collection of images (issue 16): private to its owner, or shared with the owner's team,
    whose members then add and remove images too. Deleting a board leaves its images alone."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=80)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="boards")
    team = models.ForeignKey(Team, models.SET_NULL, null=True, blank=True, related_name="boards")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.TEAM)
    images = models.ManyToManyField(Image, through="BoardImage", related_name="boards", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "created_at"]

    def __str__(self):
        return self.name


class BoardImage(models.Model):
    board = models.ForeignKey(Board, models.CASCADE, related_name="items")
    image = models.ForeignKey(Image, models.CASCADE, related_name="board_items")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["board", "image"], name="an_image_once_per_board")]


class Style(models.Model):
    """A saved style: prompt fragments applied to the create form's prompts with one click (issue 16).
    A fragment holding `{prompt}` takes the prompt in its place; any other is appended after a comma
    (static/js/create/styles.js). Private to its owner, or shared with the owner's team."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=60)
    positive = models.TextField("prompt fragment", max_length=1000, blank=True)
    negative = models.TextField("negative prompt fragment", max_length=1000, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="styles")
    team = models.ForeignKey(Team, models.SET_NULL, null=True, blank=True, related_name="styles")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.TEAM)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="one_style_name_per_owner"),
            models.CheckConstraint(condition=~Q(positive="", negative=""), name="style_has_a_fragment"),
        ]

    def __str__(self):
        return self.name


class StepPreview(models.Model):
    """One step's preview of one image of a job (a small WebP), kept for the replay scrubber.

    At most generation.publisher.REPLAY_LIMIT per job; stored with the image they lead to and deleted
    with it (webapp/studio/services.py::image_delete), and after STEPWISE_STEP_PREVIEW_DAYS.
    """

    job = models.ForeignKey(Job, models.CASCADE, related_name="step_previews")
    image_index = models.PositiveSmallIntegerField()
    step = models.PositiveSmallIntegerField(help_text="The step of this run (1 = its first step).")
    webp = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["job", "image_index", "step"]
        constraints = [
            models.UniqueConstraint(fields=["job", "image_index", "step"], name="one_preview_per_step"),
        ]

    def __str__(self):
        return f"Step {self.step} of image {self.image_index} of job {self.job_id}"


class ContentChecker(models.Model):
    """A content checker an admin installed: a folder in diffusers' StableDiffusionSafetyChecker
    format. While one is enabled, API requests may ask for `safety.checkContent` / `checkNSFW`;
    without one they are refused by name."""

    name = models.CharField(max_length=200)
    path = models.CharField(max_length=500, help_text="A local folder: a pipeline folder with safety_checker/ and "
                            "feature_extractor/, or one folder holding both (CompVis/stable-diffusion-safety-checker).")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-enabled", "-created_at"]

    def __str__(self):
        return self.name

    @classmethod
    def installed(cls) -> "ContentChecker | None":
        return cls.objects.filter(enabled=True).order_by("-created_at").first()


class Delivery(models.Model):
    """One thing sent to a URL the request named: a webhook POST or an uploadEndpoint PUT, with
    every attempt. Append-only, one row per item, so the worker and the webhook sender never write
    the same row; the job's owner sees them on the job page."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "webhook POST"
        UPLOAD = "upload", "uploadEndpoint PUT"

    job = models.ForeignKey(Job, models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    url = models.CharField(max_length=2048)
    what = models.CharField(max_length=100, help_text="The image UUID, or 'error'.")
    attempts = models.JSONField(default=list, help_text="[{at, status, error}], in order.")
    delivered = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "deliveries"

    def __str__(self):
        return f"{self.get_kind_display()} of {self.what} for job {self.job_id}"

    @property
    def last_error(self) -> str:
        return self.attempts[-1]["error"] if self.attempts else ""


class WorkerStatus(models.Model):
    """One row per generation worker process, refreshed by its heartbeat."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    device = models.CharField(max_length=100)
    started_at = models.DateTimeField(auto_now_add=True)
    last_heartbeat = models.DateTimeField()
    current_job = models.ForeignKey(Job, models.SET_NULL, null=True, blank=True, related_name="+")
    loaded_models = models.JSONField(default=list)
    jobs_done = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "worker statuses"

    def __str__(self):
        return f"{self.worker_id} on {self.hostname} ({self.device})"
