"""Shared fixtures: three people and the built-in model.

- alice: admin of team "Studio A" (owner of most test objects)
- bob: member of "Studio A" (sees alice's team-visible work, cannot delete it)
- charlie: admin of "Studio B" (must see nothing of Studio A)
- builtin_model: the catalog entry `stepwise:1@1` (sd15, is_default=True)

Extend this file rather than replacing it: other test modules rely on these names.
"""

import io

import pytest
from django.core.files.base import ContentFile
from PIL import Image as PILImage

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    # Uploads and generated images of one test never land in the real data dir or another test.
    settings.MEDIA_ROOT = tmp_path / "media"


def _user(username, team_name, *, admin):
    from django.contrib.auth.models import User

    from webapp.studio.services import team_add_member

    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD)
    team_add_member(team_name=team_name, user=user, admin=admin)
    return user


@pytest.fixture
def alice(db):
    return _user("alice", "Studio A", admin=True)


@pytest.fixture
def bob(db, alice):
    return _user("bob", "Studio A", admin=False)


@pytest.fixture
def charlie(db):
    return _user("charlie", "Studio B", admin=True)


@pytest.fixture
def builtin_model(db):
    from generation.builtin import CATALOG_DEFAULTS, DESCRIPTION, EXAMPLE_PROMPTS
    from webapp.studio.models import ModelEntry

    # The built-in model's real catalog entry, but 512 px by default and no files behind it: most
    # tests only need a model to validate against.
    entry, _ = ModelEntry.objects.update_or_create(
        air="stepwise:1@1",
        defaults={
            "name": "Stepwise Shapes (built-in)",
            "architecture": "sd15",
            "path": "builtin",
            "is_default": True,
            "builtin": True,
            "default_steps": 20,
            "min_steps": CATALOG_DEFAULTS["min_steps"],
            "max_steps": CATALOG_DEFAULTS["max_steps"],
            "default_scheduler": "Euler",
            "default_width": 512,
            "default_height": 512,
            "notes": DESCRIPTION,
            "example_prompts": "\n".join(EXAMPLE_PROMPTS),
        },
    )
    return entry


def png_bytes(width=64, height=64, color=(200, 80, 40)):
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def make_image(builtin_model):
    """A finished job with one stored image: make_image(owner, visibility="team", prompt="...")."""
    from django.utils import timezone

    from webapp.studio.access import active_team
    from webapp.studio.models import Image, Job

    def make(owner, *, visibility="team", prompt="a lighthouse at dusk", task_type="textToImage",
             width=64, height=64, seed=1234):
        params = {
            "taskType": "imageInference", "model": builtin_model.air, "positivePrompt": prompt,
            "steps": 20, "CFGScale": 7.0, "scheduler": "Euler", "seed": seed, "numberResults": 1,
            "width": width, "height": height, "outputType": "URL", "outputFormat": "PNG",
        }
        if task_type != "textToImage":
            params["strength"] = 0.5
        now = timezone.now()
        job = Job.objects.create(
            owner=owner, team=active_team(owner), visibility=visibility, task_type=task_type,
            model=builtin_model, params=params, status=Job.Status.SUCCEEDED, step=20 if task_type ==
            "textToImage" else 10, total_steps=20 if task_type == "textToImage" else 10, images_done=1,
            started_at=now, finished_at=now,
        )
        image = Image(job=job, owner=owner, team=job.team, visibility=visibility, seed=seed,
                      width=width, height=height, seconds=1.5)
        image.file.save(f"{image.id}.png", ContentFile(png_bytes(width, height)), save=False)
        image.save()
        return image

    return make


# Optional infrastructure ----------------------------------------------------------------------
# A developer machine may lack Chromium, PostgreSQL or Redis: those tests then skip with a reason.
# CI sets STEPWISE_REQUIRE_ALL=1 (in .ci/run), which turns every such skip into a failure.


def require(condition: bool, reason: str):
    import os

    if condition:
        return
    if os.environ.get("STEPWISE_REQUIRE_ALL") == "1":
        pytest.fail(f"Required test infrastructure is missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def live_server_process(tmp_path_factory):
    """`manage.py serve --workers 1` on a fresh data dir; users alice, bob (Studio A), charlie (Studio B)."""
    from tests.live import LiveStepwise

    server = LiveStepwise(tmp_path_factory.mktemp("live"), workers=1)
    try:
        server.start()
        server.create_user("alice", "Studio A", admin=True, staff=True)
        server.create_user("bob", "Studio A")
        server.create_user("charlie", "Studio B", admin=True)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright, shared by every browser test."""
    from tests.browser import ARGS, CHROMIUM

    require(CHROMIUM.exists(), f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield browser
        browser.close()
