"""The admin catalog: permissions, team visibility, import with detection from tensor headers."""

import json
import struct

import pytest
from django.core.management import call_command

from webapp.studio import access
from webapp.studio.models import ModelEntry, Team


def write_safetensors(path, tensors: dict):
    """A header-only safetensors file: names and shapes are all detection reads."""
    header, offset = {}, 0
    for name, shape in tensors.items():
        size = 2
        for dim in shape:
            size *= dim
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)


SD15 = {"model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, 768]}
SDXL = {"conditioner.embedders.1.model.ln_final.weight": [4], "model.diffusion_model.x.attn2.to_k.weight": [640, 2048]}
FLUX_DEV = {"double_blocks.0.img_attn.norm.key_norm.scale": [4], "single_blocks.0.norm.key_norm.scale": [4],
            "guidance_in.in_layer.weight": [4, 4]}


def test_it_keeps_the_catalog_admin_to_staff(client, alice, builtin_model):
    client.force_login(alice)
    response = client.get("/admin/studio/modelentry/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_reach_the_catalog(client, alice, builtin_model):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    response = client.get("/admin/studio/modelentry/")
    assert response.status_code == 200
    assert b"stepwise:1@1" in response.content


def test_users_see_only_enabled_models_open_to_their_team(alice, charlie, builtin_model):
    studio_b = Team.objects.get(name="Studio B")
    b_only = ModelEntry.objects.create(air="civitai:1@2", name="B only", architecture="sdxl", path="/x")
    b_only.teams.add(studio_b)
    ModelEntry.objects.create(air="civitai:3@4", name="Off", architecture="sd15", path="/y", enabled=False)
    assert set(access.models_for(alice).values_list("air", flat=True)) == {"stepwise:1@1"}
    assert set(access.models_for(charlie).values_list("air", flat=True)) == {"stepwise:1@1", "civitai:1@2"}
    alice.is_staff = True
    assert access.models_for(alice).count() == 3


def test_import_detects_folders_and_checkpoints_and_skips_junk(db, tmp_path, capsys):
    folder = tmp_path / "models" / "dreamy-xl"
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionXLPipeline"}))
    write_safetensors(tmp_path / "models" / "realistic_v5.safetensors", SD15)
    write_safetensors(tmp_path / "models" / "juggernaut-lightning.safetensors", SDXL)
    write_safetensors(tmp_path / "models" / "flux-dev.safetensors", FLUX_DEV)
    write_safetensors(tmp_path / "models" / "some-lora.safetensors", {"lora_unet_down.alpha": [1]})
    (tmp_path / "models" / "notes.safetensors").write_bytes(b"not a model")

    call_command("import_models", str(tmp_path / "models"), verbosity=0)
    by_path = {e.path.rsplit("/", 1)[-1]: e.architecture for e in ModelEntry.objects.all()}
    assert by_path == {
        "dreamy-xl": "sdxl",
        "realistic_v5.safetensors": "sd15",
        "juggernaut-lightning.safetensors": "sdxl_lightning",
        "flux-dev.safetensors": "flux1d",
    }
    out = capsys.readouterr().out
    assert "some-lora.safetensors: a LoRA in kohya format; no base model" in out
    assert "notes.safetensors: not a readable safetensors file" in out

    # Safe to run twice: nothing new, nothing duplicated.
    call_command("import_models", str(tmp_path / "models"), verbosity=0)
    assert ModelEntry.objects.count() == 4
    assert "0 added, 4 already known, 2 skipped" in capsys.readouterr().out
    assert all(air.startswith("local:") for air in ModelEntry.objects.values_list("air", flat=True))


def test_make_default_keeps_exactly_one_default(builtin_model):
    from webapp.studio.catalog import model_make_default

    other = ModelEntry.objects.create(air="civitai:101055@128078", name="Other", architecture="sdxl", path="/z")
    model_make_default(entry=other)
    assert list(ModelEntry.objects.filter(is_default=True).values_list("air", flat=True)) == ["civitai:101055@128078"]


@pytest.mark.parametrize("architecture,expected", [("sd15", (25, 30)), ("sdxl_turbo", (4, 8)), ("flux1s", (4, 8)),
                                                    ("zimage_turbo", (4, 8)), ("flux1d", (25, 30))])
def test_recommended_ranges_default_from_the_architecture(db, architecture, expected):
    entry = ModelEntry(air="a:b@c", name="x", architecture=architecture, path="/p")
    assert entry.recommended_steps == expected
    entry.min_steps, entry.max_steps = 10, 12
    assert entry.recommended_steps == (10, 12)


def test_admin_actions_queue_a_test_load_and_make_a_default(client, alice, builtin_model):
    from django_tasks_db.models import DBTaskResult

    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    other = ModelEntry.objects.create(air="civitai:101055@128078", name="Other", architecture="sdxl", path="/z")
    response = client.post("/admin/studio/modelentry/", {"action": "test_load", "_selected_action": [other.id]},
                           follow=True)
    assert b"Queued a test load of 1 model" in response.content
    task = DBTaskResult.objects.get()
    assert task.queue_name == "generation" and task.args_kwargs["kwargs"] == {"model_id": other.id}

    client.post("/admin/studio/modelentry/", {"action": "make_default", "_selected_action": [other.id]})
    assert ModelEntry.objects.get(is_default=True) == other


def test_a_model_whose_default_steps_lie_outside_its_range_is_refused(builtin_model):
    from django.core.exceptions import ValidationError

    builtin_model.default_steps = 40
    with pytest.raises(ValidationError) as refused:
        builtin_model.full_clean()
    assert "default_steps" in refused.value.message_dict
    builtin_model.default_steps = 20
    builtin_model.full_clean()


@pytest.fixture
def models_dir(settings, tmp_path):
    root = tmp_path / "models"
    (root / "xl").mkdir(parents=True)
    write_safetensors(root / "realistic_v5.safetensors", SD15)
    write_safetensors(root / "xl" / "juggernaut-lightning.safetensors", SDXL)
    (root / "notes.safetensors").write_bytes(b"not a model")
    settings.STEPWISE_MODELS_DIR = root
    return root


@pytest.fixture
def staff_client(client, alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    return client


def test_the_admin_picks_models_from_the_models_folder_with_detection(staff_client, models_dir, builtin_model):
    body = staff_client.get("/admin/studio/modelentry/import/").content.decode()
    assert "realistic_v5.safetensors" in body and "SD 1.5" in body
    assert "xl/juggernaut-lightning.safetensors" in body and "Lightning" in body
    assert "Not a model: not a readable safetensors file" in body
    assert "Add from the models folder" in staff_client.get("/admin/studio/modelentry/").content.decode()
    # The add form offers the same files for its path field.
    add = staff_client.get("/admin/studio/modelentry/add/").content.decode()
    assert '<datalist id="model-path-options">' in add and str(models_dir / "realistic_v5.safetensors") in add

    response = staff_client.post("/admin/studio/modelentry/import/",
                                 {"path": [str(models_dir / "realistic_v5.safetensors")], "enabled": "on"})
    assert response.status_code == 302
    entry = ModelEntry.objects.get(path=str(models_dir / "realistic_v5.safetensors"))
    assert (entry.architecture, entry.enabled, entry.air) == ("sd15", True, "local:realistic_v5@1")
    # Now it is in the catalog: listed as such, and not offered again.
    body = staff_client.get("/admin/studio/modelentry/import/").content.decode()
    assert "In the catalog as realistic v5" in body
    assert f'value="{models_dir / "realistic_v5.safetensors"}"' not in body


def test_the_import_refuses_by_name_what_it_cannot_import_and_imports_nothing(staff_client, models_dir, builtin_model):
    before = ModelEntry.objects.count()
    for bad in (str(models_dir / "notes.safetensors"), "/etc/passwd"):
        response = staff_client.post("/admin/studio/modelentry/import/", {
            "path": [str(models_dir / "xl" / "juggernaut-lightning.safetensors"), bad]}, follow=True)
        assert f"Nothing was imported: {bad} cannot be imported" in response.content.decode()
    assert ModelEntry.objects.count() == before


def test_only_staff_reach_the_import_page(client, bob, models_dir):
    client.force_login(bob)
    response = client.get("/admin/studio/modelentry/import/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_admin_follows_the_studio_theme(staff_client, builtin_model):
    body = staff_client.get("/admin/").content.decode()
    assert "js/admin-theme.js" in body  # a file, as the CSP wants: it reads and keeps stepwise-theme
    assert "Back to the studio" in body
