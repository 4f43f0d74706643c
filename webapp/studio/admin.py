from django.contrib import admin, messages
from django.utils.html import format_html

from webapp.jobs import queue
from webapp.studio.catalog import model_make_default
from webapp.studio.models import Image, Job, Membership, ModelEntry, Profile, Team, Upload, WorkerStatus


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]

    @admin.display(description="members")
    def member_count(self, team):
        return team.memberships.count()


@admin.register(ModelEntry)
class ModelEntryAdmin(admin.ModelAdmin):
    list_display = ["name", "air", "kind", "architecture", "enabled", "is_default", "recommended", "load_status"]
    list_filter = ["kind", "architecture", "enabled", "teams"]
    search_fields = ["name", "air", "path", "notes"]
    filter_horizontal = ["teams"]
    readonly_fields = ["is_default", "builtin", "load_error", "last_load_seconds", "created_at"]
    actions = ["test_load", "make_default"]
    fieldsets = [
        (None, {"fields": ["air", "name", "kind", "architecture", "enabled", "is_default", "builtin", "notes",
                           "example_prompts", "preview"]}),
        ("Add-on", {"fields": ["trigger_words", "default_weight"],
                    "description": "LoRA and LyCORIS: trigger words and the weight forms preselect. Embedding: its "
                                   "prompt token. An add-on fits every checkpoint of its architecture's family."}),
        ("Source", {"fields": ["path", "config_path"],
                    "description": "A diffusers folder, or a single .safetensors file (with a local config folder "
                                   "when the hub cannot be reached)."}),
        ("Defaults", {"fields": [("default_steps", "default_cfg", "default_scheduler"), "default_strength",
                                 ("default_width", "default_height"), ("min_steps", "max_steps"),
                                 "default_clip_skip"],
                      "description": "Blank values come from the architecture: standard models 25-30 steps, "
                                     "distilled models (LCM, Lightning, Turbo, Schnell) 4-8."}),
        ("Access", {"fields": ["teams"]}),
        ("Last test load", {"fields": ["last_load_seconds", "load_error"]}),
    ]

    @admin.display(description="recommended steps")
    def recommended(self, entry):
        low, high = entry.recommended_steps
        return f"{low}-{high}"

    @admin.display(description="load")
    def load_status(self, entry):
        if entry.load_error:
            return format_html('<span style="color:#c0392b" title="{}">failed</span>', entry.load_error)
        if entry.last_load_seconds is not None:
            return f"{entry.last_load_seconds:.1f}s"
        return "-"

    @admin.action(description="Test load in a worker (reports time or error)")
    def test_load(self, request, queryset):
        # Add-ons load onto a checkpoint with a job; alone there is nothing a worker could load.
        addons = queryset.exclude(kind=ModelEntry.Kind.CHECKPOINT)
        if addons.exists():
            self.message_user(request, f"Skipped {addons.count()} add-on(s): only checkpoints can be test-loaded.",
                              messages.WARNING)
        checkpoints = queryset.filter(kind=ModelEntry.Kind.CHECKPOINT)
        for entry in checkpoints:
            queue.model_test_load(entry=entry)
        self.message_user(request, f"Queued a test load of {checkpoints.count()} model(s); reload this page for the "
                                   "result in the load column.", messages.INFO)

    @admin.action(description="Make default")
    def make_default(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one model to make the default.", messages.ERROR)
            return
        entry = queryset.get()
        if entry.kind != ModelEntry.Kind.CHECKPOINT:
            self.message_user(request, f"{entry.name} is a {entry.get_kind_display()}: only a checkpoint can be the "
                                       "default model.", messages.ERROR)
            return
        entry = model_make_default(entry=entry)
        self.message_user(request, f"{entry.name} is now the default model.", messages.SUCCESS)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "task_type", "model", "status", "step", "total_steps", "queued_at", "worker_id"]
    list_filter = ["status", "task_type", "origin"]
    search_fields = ["id", "owner__username"]
    readonly_fields = [f.name for f in Job._meta.fields if f.name != "preview"]
    exclude = ["preview"]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "team", "visibility", "seed", "width", "height", "created_at"]
    list_filter = ["visibility", "team"]
    raw_id_fields = ["job"]


@admin.register(WorkerStatus)
class WorkerStatusAdmin(admin.ModelAdmin):
    list_display = ["worker_id", "hostname", "device", "last_heartbeat", "current_job", "jobs_done"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "active_team", "default_visibility", "max_queued_jobs"]
    search_fields = ["user__username"]
    list_editable = ["max_queued_jobs"]
admin.site.register(Upload)
admin.site.site_header = "Stepwise administration"
admin.site.site_title = "Stepwise admin"
