"""The modelSearch task: the catalog this user may use, filtered the way Runware's modelSearch does."""

from django.db.models import Q

from webapp.api.protocol.authentication import Client
from webapp.api.protocol.errors import ApiError, task_uuid_of
from webapp.api.protocol.field_table import refuse_unknown_fields
from webapp.studio import access
from webapp.studio.fields import bad_character
from webapp.studio.models import ModelEntry

# Runware's modelSearch `category` of each catalog kind.
CATEGORIES = {
    ModelEntry.Kind.CHECKPOINT: "checkpoint",
    ModelEntry.Kind.LORA: "lora",
    ModelEntry.Kind.LYCORIS: "lycoris",
    ModelEntry.Kind.EMBEDDING: "embeddings",
    ModelEntry.Kind.VAE: "vae",
    ModelEntry.Kind.SAFETY_CHECKER: "safetyChecker",
}


def _model_type(entry) -> str:
    return "base" if entry.kind == ModelEntry.Kind.CHECKPOINT else ""


def _model_tags(entry) -> list[str]:
    arch = entry.arch
    tags = {arch.runware, arch.key}
    if arch.distilled:
        tags.add("distilled")
    if entry.builtin:
        tags.add("builtin")
    return sorted(tags)


def _is_private(entry) -> bool:
    # Open to some teams only; uses the prefetched teams.
    return len(entry.teams.all()) > 0


def model_result(entry, *, base_url: str) -> dict:
    version = entry.air.rsplit("@", 1)[1] if "@" in entry.air else ""
    result = {
        "air": entry.air,
        "name": entry.name,
        "version": version,
        "category": CATEGORIES[entry.kind],
        "architecture": entry.arch.runware,
        "type": _model_type(entry),
        "tags": _model_tags(entry),
        "heroImage": "",
        "private": _is_private(entry),
        "comment": entry.notes,
        "positiveTriggerWords": entry.trigger_words,
    }
    if entry.kind in (ModelEntry.Kind.LORA, ModelEntry.Kind.LYCORIS):
        return {**result, "defaultWeight": entry.default_weight}
    if entry.kind != ModelEntry.Kind.CHECKPOINT:
        return result
    defaults = entry.defaults()
    return {
        **result,
        "defaultWidth": defaults["width"],
        "defaultHeight": defaults["height"],
        "defaultSteps": defaults["steps"],
        "defaultScheduler": defaults["scheduler"],
        "defaultCFG": defaults["CFGScale"],
        "defaultStrength": defaults["strength"],
        "defaultClipSkip": defaults["clipSkip"],
    }


def _int_param(task, name, *, low, high, default):
    value = task.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(f"invalid{name[:1].upper()}{name[1:]}", f"{name} must be a whole number from {low} to {high}.",
                       parameter=name)
    return value


def _str_param(task, name):
    value = task.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ApiError(f"invalid{name[:1].upper()}{name[1:]}", f"{name} must be text.", parameter=name)
    problem = bad_character(value)
    if problem:
        raise ApiError(f"invalid{name[:1].upper()}{name[1:]}", f"{name} contains a {problem}; remove it.",
                       parameter=name)
    return value.strip()


def model_search(task, client: Client) -> dict:
    """Search the catalog the way Runware's modelSearch does, over the models this user may use."""
    task_uuid = task_uuid_of(task)
    refuse_unknown_fields(task, "modelSearch")
    search = _str_param(task, "search")
    category = _str_param(task, "category")
    model_type = _str_param(task, "type")
    architecture = _str_param(task, "architecture")
    conditioning = _str_param(task, "conditioning")
    visibility = _str_param(task, "visibility") or "all"
    if visibility not in ("public", "private", "all"):
        raise ApiError("invalidVisibility", "visibility must be public, private or all.", parameter="visibility")
    tags = task.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and not bad_character(t) for t in tags):
        raise ApiError("invalidTags", "tags must be a list of strings.", parameter="tags")
    limit = _int_param(task, "limit", low=1, high=100, default=20)
    offset = _int_param(task, "offset", low=0, high=1_000_000, default=0)

    entries = access.models_for(client.user).filter(enabled=True).prefetch_related("teams")
    if search:
        entries = entries.filter(Q(name__icontains=search) | Q(air__icontains=search) | Q(notes__icontains=search))
    matches = []
    for entry in entries.order_by("-is_default", "name"):
        if category and category.lower() != CATEGORIES[entry.kind].lower():
            continue
        if model_type and model_type.lower() != _model_type(entry):
            continue
        if architecture and architecture.lower() not in (entry.arch.runware.lower(), entry.arch.key.lower()):
            continue
        private = _is_private(entry)
        if (visibility == "public" and private) or (visibility == "private" and not private):
            continue
        entry_tags = {t.lower() for t in _model_tags(entry)}
        if tags and not any(t.lower() in entry_tags for t in tags):  # any tag matches, as on Runware
            continue
        if conditioning:  # only ControlNet models have a conditioning, and the catalog holds none
            continue
        matches.append(entry)
    return {
        "taskType": "modelSearch",
        "taskUUID": task_uuid,
        "results": [model_result(e, base_url=client.base_url) for e in matches[offset:offset + limit]],
        "totalResults": len(matches),
    }
