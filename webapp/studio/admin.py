from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from generation.architectures import ARCHITECTURES
from webapp.jobs import queue
from webapp.studio.catalog import measured_profile, model_candidates, model_import, model_make_default
from webapp.studio.models import (
    ContentChecker,
    Delivery,
    Image,
    Job,
    Membership,
    ModelEntry,
    Profile,
    Team,
    Upload,
    WorkerStatus,
)


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


class PathPicker(forms.TextInput):
    """A path input that offers the models the server sees in its models folder (a datalist)."""

    def __init__(self, options, attrs=None):
        super().__init__(attrs={"list": "model-path-options", "size": 80, **(attrs or {})})
        self.options = options

    def render(self, name, value, attrs=None, renderer=None):
        field = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}">{}</option>',
                                   ((str(c.path), label) for c, label in self.options))
        return format_html('{}<datalist id="model-path-options">{}</datalist>', field, options)


def _detected_label(candidate):
    return f"{ARCHITECTURES[candidate.detection.architecture].label} ({candidate.detection.reason})"


@admin.register(ModelEntry)
class ModelEntryAdmin(admin.ModelAdmin):
    change_list_template = "admin/studio/modelentry/change_list.html"
    list_display = ["name", "air", "kind", "architecture", "enabled", "is_default", "recommended", "load_status"]
    list_filter = ["kind", "architecture", "enabled", "teams"]
    search_fields = ["name", "air", "path", "notes"]
    filter_horizontal = ["teams"]
    readonly_fields = ["is_default", "builtin", "load_error", "last_load_seconds", "created_at"]
    actions = ["test_load", "profile_steps", "make_default"]
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

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="studio_modelentry_import"),
            *super().get_urls(),
        ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "path":
            options = [(c, _detected_label(c)) for c in model_candidates(settings.STEPWISE_MODELS_DIR) if c.importable]
            kwargs["widget"] = PathPicker(options)
            kwargs["help_text"] = (f"Pick one of the models found in {settings.STEPWISE_MODELS_DIR}, or type a "
                                   "path the server can read. The import page detects and adds several at once.")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def import_view(self, request):
        """Add models from the models folder: every candidate with the import command's detection.

        1. List what is there: detected (importable), already in the catalog, or skipped and why.
        2. POST: import the chosen ones, all or none; a choice that is not an importable candidate
           (gone, already added, not detected) is refused by name.
        """
        if not self.has_add_permission(request):
            raise PermissionDenied("You may not add models.")
        root = Path(settings.STEPWISE_MODELS_DIR)
        found = model_candidates(root)
        if request.method == "POST":
            chosen = request.POST.getlist("path")
            by_path = {str(c.path): c for c in found}
            refused = [p for p in chosen if p not in by_path or not by_path[p].importable]
            if not chosen:
                self.message_user(request, "Choose at least one model to import.", messages.ERROR)
            elif refused:
                self.message_user(request, f"Nothing was imported: {', '.join(refused)} cannot be imported "
                                           "(not in the models folder, not recognised, or already in the catalog).",
                                  messages.ERROR)
            else:
                enabled = request.POST.get("enabled") == "on"
                with transaction.atomic():
                    added = [model_import(path=by_path[p].path, detection=by_path[p].detection, enabled=enabled)
                             for p in chosen]
                names = ", ".join(entry.name for entry in added)
                self.message_user(request, f"Imported {len(added)} model(s): {names}.", messages.SUCCESS)
                return redirect(reverse("admin:studio_modelentry_changelist"))
        rows = [{
            "path": str(c.path),
            "relative": str(c.path.relative_to(root)) if c.path.is_relative_to(root) else str(c.path),
            "kind": "folder" if c.path.is_dir() else "file",
            "size_mb": c.path.stat().st_size / 1e6 if c.path.is_file() else None,
            "detected": _detected_label(c) if c.detection.architecture else "",
            "reason": c.detection.reason,
            "entry": c.entry,
            "importable": c.importable,
        } for c in found]
        return TemplateResponse(request, "admin/studio/modelentry/import.html", {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Add models from the models folder",
            "root": root,
            "root_exists": root.exists(),
            "rows": rows,
            "importable": sum(1 for r in rows if r["importable"]),
        })

    @admin.display(description="recommended steps")
    def recommended(self, entry):
        low, high = entry.recommended_steps
        measured = measured_profile(entry)
        if measured is None or measured.profile.recommended_steps is None:
            return f"{low}-{high}"
        return format_html('{}-{} · <a href="{}" title="{}">measured {}</a>', low, high,
                           reverse("model_steps", args=[entry.id]), measured.profile.measured_sentence(),
                           measured.profile.recommended_steps)

    @admin.action(description="Profile steps in a worker (quality and seconds per step)")
    def profile_steps(self, request, queryset):
        for entry in queryset:
            queue.model_profile_steps(entry=entry)
        links = format_html_join(", ", '<a href="{}">{}</a>',
                                 [(reverse("model_steps", args=[e.id]), e.name) for e in queryset])
        self.message_user(request, format_html("Queued a steps profile of {} model(s), with their default scheduler "
                                               "and size; the results appear on {}.", queryset.count(), links),
                          messages.INFO)

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
    list_display = ["user", "active_team", "default_visibility", "max_queued_jobs", "upload_quota_mb"]
    search_fields = ["user__username"]
    list_editable = ["max_queued_jobs", "upload_quota_mb"]


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "width", "height", "size", "created_at"]
    search_fields = ["id", "owner__username"]


@admin.register(ContentChecker)
class ContentCheckerAdmin(admin.ModelAdmin):
    list_display = ("name", "path", "enabled", "created_at")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("job", "kind", "what", "delivered", "created_at")
    list_filter = ("kind", "delivered")
    readonly_fields = ("job", "kind", "url", "what", "attempts", "delivered")
admin.site.site_header = "Stepwise administration"
admin.site.site_title = "Stepwise admin"
