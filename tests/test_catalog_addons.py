"""Add-ons in the catalog: LoRA, LyCORIS, embeddings and VAEs detected from safetensors headers by
import_models (no weights loaded), and listed by modelSearch with Runware's categories."""

import json
import struct

import pytest
from django.core.management import call_command

from generation.detect import detect
from webapp.studio.models import ModelEntry


def write_safetensors(path, tensors: dict, metadata: dict | None = None):
    """A header-only safetensors file with optional `__metadata__` (kohya's ss_* strings)."""
    header: dict = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, shape in tensors.items():
        size = 2
        for dim in shape:
            size *= dim
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)
    return path


KOHYA_SD15 = {
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": [8, 768],
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight": [320, 8],
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha": [],
    "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": [8, 768],
}
KOHYA_SDXL = {
    "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight": [8, 640],
    "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": [8, 768],
    "lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": [8, 1280],
}
LOCON = {
    "lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight": [8, 320, 3, 3],
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": [8, 768],
}
LOHA = {"lora_unet_down_blocks_0_resnets_0_conv1.hada_w1_a": [320, 8],
        "lora_unet_down_blocks_0_resnets_0_conv1.hada_w1_b": [8, 2880]}
PEFT_SDXL = {
    "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight": [4, 2048],
    "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.weight": [640, 4],
}
PEFT_FLUX = {"transformer.single_transformer_blocks.0.attn.to_k.lora_A.weight": [4, 3072]}
EMB_SD15 = {"emb_params": [2, 768]}
EMB_STRING_TO_PARAM = {"string_to_param.*": [1, 768]}
EMB_SDXL = {"clip_l": [2, 768], "clip_g": [2, 1280]}
EMB_SD2 = {"emb_params": [1, 1024]}
VAE_LDM = {"encoder.conv_in.weight": [128, 3, 3, 3], "encoder.conv_out.weight": [8, 512, 3, 3],
           "decoder.conv_out.weight": [3, 128, 3, 3], "quant_conv.weight": [8, 8, 1, 1]}
VAE_DIFFUSERS_16 = {"encoder.down_blocks.0.resnets.0.conv1.weight": [128, 128, 3, 3],
                    "encoder.conv_out.weight": [32, 512, 3, 3], "decoder.conv_out.weight": [3, 128, 3, 3]}
SS_METADATA = {
    "ss_base_model_version": "sd_v1",
    "ss_tag_frequency": json.dumps({"10_ohwx": {"ohwx": 40, "1girl": 12, "red hair": 30}}),
}


@pytest.mark.parametrize("name,tensors,metadata,kind,architecture,reason", [
    ("pixel-art.safetensors", KOHYA_SD15, None, "lora", "sd15", "LoRA in kohya format; cross-attention 768"),
    ("xl-detail.safetensors", KOHYA_SDXL, None, "lora", "sdxl", "second text encoder"),
    ("locon.safetensors", LOCON, None, "lycoris", "sd15", "LoCon (LyCORIS)"),
    ("loha.safetensors", LOHA, {"ss_base_model_version": "sdxl_base_v1-0"}, "lycoris", "sdxl", "LoHa"),
    ("peft.safetensors", PEFT_SDXL, None, "lora", "sdxl", "diffusers/PEFT format"),
    ("flux-lora.safetensors", PEFT_FLUX, None, "lora", "flux1d", "FLUX transformer blocks"),
    ("easynegative.safetensors", EMB_SD15, None, "embedding", "sd15", "SD 1.5 textual-inversion"),
    ("a1111.safetensors", EMB_STRING_TO_PARAM, None, "embedding", "sd15", "SD 1.5 textual-inversion"),
    ("xl-neg.safetensors", EMB_SDXL, None, "embedding", "sdxl", "clip_l and clip_g"),
    ("vae-ft-mse.safetensors", VAE_LDM, None, "vae", "sd15", "4-channel VAE"),
    ("sdxl_vae.safetensors", VAE_LDM, None, "vae", "sdxl", "4-channel VAE; SDXL by its name"),
    ("ae.safetensors", VAE_DIFFUSERS_16, None, "vae", "flux1d", "16-channel VAE"),
])
def test_it_detects_each_add_on_from_its_header(tmp_path, name, tensors, metadata, kind, architecture, reason):
    detection = detect(write_safetensors(tmp_path / name, tensors, metadata))
    assert (detection.kind, detection.architecture) == (kind, architecture)
    assert reason in detection.reason


def test_it_reads_base_model_and_trigger_words_from_kohya_metadata(tmp_path):
    # The header alone says nothing about the base: the metadata does.
    tensors = {"lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight": [8, 320, 1, 1]}
    detection = detect(write_safetensors(tmp_path / "ohwx.safetensors", tensors, SS_METADATA))
    assert (detection.kind, detection.architecture) == ("lora", "sd15")
    assert detection.trigger_words == ("ohwx", "red hair", "1girl")
    phrase = detect(write_safetensors(tmp_path / "p.safetensors", tensors, {
        "modelspec.architecture": "stable-diffusion-xl-v1-base/lora", "modelspec.trigger_phrase": "zxc style, neon"}))
    assert phrase.architecture == "sdxl" and phrase.trigger_words == ("zxc style", "neon")


def test_an_sd2_embedding_is_recognised_but_not_supported(tmp_path):
    detection = detect(write_safetensors(tmp_path / "sd2.safetensors", EMB_SD2))
    assert detection.kind == "embedding" and detection.architecture is None and "1024 wide" in detection.reason


def test_import_registers_add_ons_with_kind_and_trigger_words(db, tmp_path, capsys):
    root = tmp_path / "models"
    root.mkdir()
    write_safetensors(root / "ohwx-person.safetensors", KOHYA_SD15, SS_METADATA)
    write_safetensors(root / "easynegative.safetensors", EMB_SD15)
    write_safetensors(root / "sdxl_vae.safetensors", VAE_LDM)
    write_safetensors(root / "locon.safetensors", LOCON)
    write_safetensors(root / "mystery-lora.safetensors", {"lora_unet_x.alpha": []})

    call_command("import_models", str(root), "--config", "/cfg", verbosity=0)
    entries = {e.path.rsplit("/", 1)[-1]: e for e in ModelEntry.objects.all()}
    assert {name: (e.kind, e.architecture) for name, e in entries.items()} == {
        "ohwx-person.safetensors": ("lora", "sd15"),
        "easynegative.safetensors": ("embedding", "sd15"),
        "sdxl_vae.safetensors": ("vae", "sdxl"),
        "locon.safetensors": ("lycoris", "sd15"),
    }
    lora = entries["ohwx-person.safetensors"]
    assert lora.trigger_words == "ohwx, red hair, 1girl" and lora.default_weight == 1.0
    assert lora.config_path == "" and lora.air == "local:ohwx-person@1"
    assert entries["easynegative.safetensors"].token == "easynegative"
    out = capsys.readouterr().out
    assert "SD 1.5 LoRA" in out
    assert "mystery-lora.safetensors: a LoRA in kohya format; no base model" in out


def test_an_add_on_can_never_be_the_default_model(db):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ModelEntry.objects.create(air="local:l@1", name="L", kind="lora", path="/l", is_default=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelEntry.objects.create(air="local:l@2", name="L", kind="lora", path="/l", default_weight=5)


def test_pages_offer_only_checkpoints_as_the_model(client, alice, builtin_model):
    ModelEntry.objects.create(air="local:ohwx@1", name="Ohwx person", kind="lora", path="/l")
    client.force_login(alice)
    response = client.get("/create/text-to-image/")
    assert [m["air"] for m in response.context["models"]] == ["stepwise:1@1"]
