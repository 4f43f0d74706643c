"""Train the built-in model: a tiny Stable Diffusion 1.5-architecture model of the shapes world.

Run once, offline, by the project (`python manage.py train_builtin`, or `python -m
generation.builtin.train`); the result ships in `generation/builtin/model/`. Nothing trains at
install or at start. The recipe and its reasons are in docs/builtin-model.md; in short:

1. Text side: a frozen `CLIPTextModel` at a fixed random init whose token and position embeddings are
   spread far apart, behind a CLIP BPE tokenizer that keeps only the model's words.
2. VAE: a standard 8x `AutoencoderKL` with 4 latent channels, trained on drawn scenes (L1 + L2 + tiny KL).
3. Latent pools: scenes drawn from the seed and encoded once, at 128 px and at 256 px.
4. UNet: v-prediction on a zero-terminal-SNR schedule, 128 px first, then 256 px, with an EMA copy.
5. Decoder: the VAE's decoder, given attention in its middle block, fine-tuned on warped and noisy
   latents, so the UNet's small errors decode to clean shapes (the encoder, and so the latents the UNet
   learnt, stay as they were).
6. Export: a diffusers folder (fp16 safetensors) plus the preview projection fitted to this VAE.

Deterministic from its seed, resumable: a checkpoint is written every few minutes and at each phase's
end, and a run started again picks up from the last one. Progress bar on stderr; the loss log goes to
`<workdir>/train.log`.
"""

import argparse
import json
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from generation.builtin import SHIPPED_MODEL_DIR, shapes
from generation.builtin.tokenizers import MAX_TOKENS, shapes_tokenizer

log = logging.getLogger("stepwise.train")

PHASES = ("vae", "unet_128", "unet_256", "decoder", "done")
PEAK_LR = {"vae": 1e-3, "unet_128": 1e-3, "unet_256": 1e-3, "decoder": 2e-4}  # the decoder is fine-tuned



@dataclass(frozen=True)
class Plan:
    """How long each phase runs, in optimiser steps. Part of the checkpoint: a resumed run keeps it."""

    seed: int = 1234
    vae_steps: int = 2000
    vae_batch: int = 8
    vae_crops: tuple = (96, 128)  # crop size for the first 75% of VAE steps, then for the rest
    pool_128: int = 6000
    pool_256: int = 8000
    unet_128_steps: int = 3000
    unet_128_batch: int = 32
    unet_256_steps: int = 6500
    unet_256_batch: int = 16
    timestep_power: float = 0.75  # UNet timesteps drawn as 1000 u^power: below 1, more of the noisy ones
    decoder_steps: int = 1000
    decoder_batch: int = 4  # whole 256-px scenes: the decoder's attention sees each shape entire
    decoder_noise: float = 0.6  # the largest latent noise (in latent std) the decoder learns to see through
    decoder_warp: float = 2.0  # the scale, in latent pixels, of the smooth random displacement it mends
    probe_images: int = 64  # drawn scenes that measure the latent scale and fit the preview projection
    unet_channels: tuple = (32, 64, 128, 128)  # per level, 32x32 (at 256 px) first


def plan_with(overrides: list[str]) -> Plan:
    """`["unet_256_steps=20000", "unet_256_batch=64"]` -> a Plan with those fields changed.

    How a GPU run gets a longer phase or a larger batch without editing the code. An unknown field
    or a value of the wrong type is refused by name.
    """
    plan = Plan()
    types = {field.name: type(getattr(plan, field.name)) for field in fields(plan)}
    changes: dict[str, Any] = {}
    for override in overrides:
        name, sep, value = override.partition("=")
        name = name.strip()
        if not sep or name not in types:
            raise ValueError(f"--plan {override!r}: expected NAME=VALUE with NAME one of {', '.join(types)}")
        try:
            if types[name] is tuple:
                changes[name] = tuple(int(part) for part in value.split(","))
            else:
                changes[name] = types[name](value)
        except ValueError:
            raise ValueError(f"--plan {name}: {value!r} is not a valid {types[name].__name__}") from None
    return replace(plan, **changes)


# ---------------------------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------------------------


def make_text_encoder(tokenizer):
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    model = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=MAX_TOKENS, projection_dim=64, hidden_act="gelu",
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    ))
    # Frozen at its random init (a jointly trained encoder collapsed to ignoring the prompt), but with
    # embeddings spread wide, so each word and each slot stay far apart after the final layer norm.
    with torch.no_grad():
        embeddings = model.embeddings  # transformers 5 drops the `text_model` level
        embeddings.token_embedding.weight.normal_(0.0, 1.0)
        embeddings.position_embedding.weight.normal_(0.0, 0.5)
    return _as_shipped(model).requires_grad_(False).eval()


def make_vae(mid_attention: bool = False):
    from diffusers import AutoencoderKL

    torch.manual_seed(1)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, sample_size=256,
        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
        block_out_channels=[32, 64, 64, 64], layers_per_block=1,
        norm_num_groups=1,  # flat-colour crops make per-group statistics degenerate
        mid_block_add_attention=mid_attention,
    )
    with torch.no_grad():
        vae.encoder.conv_out.bias[4:].fill_(-8.0)  # start with a near-deterministic latent
    return vae


def with_mid_attention(vae):
    """The same VAE with self-attention in the middle blocks (as SD 1.5's VAE has), added as identities.

    The decoder phase trains the decoder's: attention over the whole latent lets it draw a shape's
    outline straight where the UNet's latent wobbles. diffusers sets the option for encoder and decoder
    together; the encoder's stays an exact identity (its output projection is zero and never trained),
    so every latent is as it was.
    """
    if vae.config.mid_block_add_attention:
        return vae
    with torch.random.fork_rng():  # make_vae seeds torch; the run's random stream goes on untouched
        upgraded = make_vae(mid_attention=True)
    missing = upgraded.load_state_dict(vae.state_dict(), strict=False).missing_keys
    assert all(".mid_block.attentions." in name for name in missing), missing
    with torch.no_grad():
        for block in (upgraded.encoder.mid_block, upgraded.decoder.mid_block):
            block.attentions[0].to_out[0].weight.zero_()
            block.attentions[0].to_out[0].bias.zero_()
    upgraded.register_to_config(scaling_factor=vae.config.scaling_factor)
    return _as_shipped(upgraded).to(vae.device).eval().requires_grad_(False)


def make_unet(channels=Plan.unet_channels):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(2)
    return UNet2DConditionModel(
        sample_size=32, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=tuple(channels),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=64, attention_head_dim=4, norm_num_groups=8,
    )


def scheduler_config() -> dict:
    # SD's scaled_linear betas rescaled to zero terminal SNR: at the last timestep the sample is pure
    # noise, so the model must take the background colour from the prompt, not from the noise.
    return dict(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        rescale_betas_zero_snr=True, prediction_type="v_prediction", timestep_spacing="trailing",
        steps_offset=1,  # unused with trailing spacing; 1 keeps diffusers' config check quiet
    )


def _as_shipped(module):
    """Round weights to fp16 and back: train and encode with exactly the values that will ship."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.half().float())
    return module


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def to_tensor(images) -> torch.Tensor:
    array = np.stack([np.asarray(image, dtype=np.float32) for image in images])
    return torch.from_numpy(array).permute(0, 3, 1, 2) / 127.5 - 1.0


def draw_batch(rng: random.Random, n: int, size: int) -> tuple[torch.Tensor, list[str]]:
    scenes = [shapes.random_scene(rng) for _ in range(n)]
    return to_tensor([shapes.draw(s, size) for s in scenes]), [s.caption for s in scenes]


def encode_prompts(tokenizer, text_encoder, prompts: list[str]) -> torch.Tensor:
    ids = tokenizer(prompts, padding="max_length", max_length=MAX_TOKENS, truncation=True,
                    return_tensors="pt").input_ids
    with torch.no_grad():
        return text_encoder(ids)[0]


def build_pool(path: Path, *, vae, tokenizer, size: int, count: int, seed: int, device="cpu") -> dict:
    """Draw `count` scenes from `seed` and encode them once; saved atomically, reused while the plan
    asks for as many (a plan with more scenes redraws it: the same seed gives the same first ones)."""
    if path.exists():
        pool = torch.load(path)
        if len(pool["captions"]) == count:
            return pool
    rng = random.Random(seed)
    latents, captions = [], []
    batch = 32
    for _ in tqdm(range(0, count, batch), desc=f"encoding {count} scenes at {size} px", unit="batch"):
        pixels, texts = draw_batch(rng, batch, size)
        with torch.no_grad():
            latents.append(vae.encode(pixels.to(device)).latent_dist.mean.half().cpu())
        captions += texts
    pool = {"latents": torch.cat(latents)[:count], "captions": captions[:count]}
    tmp = path.with_suffix(".tmp")
    torch.save(pool, tmp)
    os.replace(tmp, path)
    return pool


# ---------------------------------------------------------------------------------------------
# Training state and checkpoints
# ---------------------------------------------------------------------------------------------


class Trainer:
    """Holds the models and the run's state. On a GPU (`device="cuda"`) the VAE and UNets live there;
    the data, the random draws and the text encoder stay on the CPU, so a run draws the same batches
    whatever it runs on."""

    def __init__(self, workdir: Path, plan: Plan, device: str = "cpu"):
        self.workdir = workdir
        self.plan = plan
        self.device = torch.device(device)
        self.tokenizer = shapes_tokenizer()
        self.text_encoder = make_text_encoder(self.tokenizer)
        self.vae = make_vae().to(self.device)
        self.unet = make_unet(plan.unet_channels).to(self.device)
        self.ema = make_unet(plan.unet_channels).to(self.device).requires_grad_(False)
        self.ema.load_state_dict(self.unet.state_dict())
        self.phase = "vae"
        self.step = 0
        self.scaling_factor = 1.0
        self.optimizer: torch.optim.Optimizer | None = None  # the phase's; see _optimizer_for_phase
        self.rng = random.Random(plan.seed)
        self.warmup_from = 0  # the step the learning-rate warm-up counts from
        # Open for the trainer's lifetime (one line per record), so not a `with` block.
        self.log_file = open(workdir / "train.log", "a", buffering=1)  # noqa: SIM115

    # -- checkpoints --------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.workdir / "checkpoint.pt"

    def save(self):
        state = {
            "plan": asdict(self.plan), "phase": self.phase, "step": self.step,
            "scaling_factor": self.scaling_factor, "vae": self.vae.state_dict(),
            "unet": self.unet.state_dict(), "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer else None,
            "rng": self.rng.getstate(), "torch_rng": torch.get_rng_state(),
        }
        tmp = self.checkpoint_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint_path)

    def load(self, model: Path | None = None) -> bool:
        """Resume from the workdir's checkpoint; without one, from a model folder this trainer wrote.

        The shipped model folder is the checkpoint that travels with the repository: fp16 weights and
        `training.json` (phase and step), without optimiser state, latent pools or random state. A run
        resumed from it re-encodes the pools from the seed and warms the learning rate up again, so it
        goes on where the shipped model stopped, though not bit for bit as an uninterrupted run would.
        """
        if not self.checkpoint_path.exists():
            return self._load_model(model) if model else False
        state = torch.load(self.checkpoint_path, weights_only=False, map_location="cpu")
        if state["plan"] != asdict(self.plan):
            # Lengthening a phase is how a run gets more steps; the seeds stay the same.
            log.warning("Plan changed since the checkpoint: %s -> %s", state["plan"], asdict(self.plan))
        self.phase, self.step, self.scaling_factor = state["phase"], state["step"], state["scaling_factor"]
        if any(".mid_block.attentions." in name for name in state["vae"]):
            self.vae = with_mid_attention(self.vae)
        self.vae.load_state_dict(state["vae"])
        if self.phase == "decoder":  # half-way through its fine-tune: rounding now would change it
            self.vae.eval().requires_grad_(False)
        elif self.phase != "vae":
            self._freeze_vae()
        self.unet.load_state_dict(state["unet"])
        self.ema.load_state_dict(state["ema"])
        self._optimizer_for_phase()
        if state["optimizer"] and self.optimizer:
            self.optimizer.load_state_dict(state["optimizer"])
        self.rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        return True

    def _load_model(self, folder: Path) -> bool:
        from diffusers import AutoencoderKL, UNet2DConditionModel

        progress = Path(folder) / "training.json"
        if not progress.is_file():
            return False
        state = json.loads(progress.read_text())
        if state["phase"] == "vae":
            return False  # its UNet is untrained and its VAE half-trained: start afresh
        vae = AutoencoderKL.from_pretrained(folder, subfolder="vae", torch_dtype=torch.float32)
        unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet", torch_dtype=torch.float32)
        if vae.config.mid_block_add_attention:
            self.vae = with_mid_attention(self.vae)
        self.vae.load_state_dict(vae.state_dict())
        self.unet.load_state_dict(unet.state_dict())
        self.ema.load_state_dict(unet.state_dict())
        self.phase, self.step = state["phase"], state["step"]
        if self.phase == "done":  # a longer plan continues the first phase it lengthened
            if state["unet_256_steps_done"] < self.plan.unet_256_steps:
                self.phase, self.step = "unet_256", state["unet_256_steps_done"]
            else:
                self.phase, self.step = "decoder", state.get("decoder_steps_done", 0)
        self.scaling_factor = vae.config.scaling_factor
        self._freeze_vae()
        self._optimizer_for_phase()
        self.warmup_from = self.step
        self.rng = random.Random(self.plan.seed + self.step)
        return True

    @property
    def active_optimizer(self) -> torch.optim.Optimizer:
        """The current phase's optimizer: `run` and `load` create it before any step."""
        assert self.optimizer is not None, "no optimizer before _optimizer_for_phase"
        return self.optimizer

    def _optimizer_for_phase(self):
        if self.phase == "done":
            self.optimizer = None
            return
        if self.phase == "vae":
            params, decay = list(self.vae.parameters()), 0.0
        elif self.phase == "decoder":
            self.vae = with_mid_attention(self.vae)
            params, decay = list(self.vae.decoder.parameters()) + list(self.vae.post_quant_conv.parameters()), 0.0
            for p in params:
                p.requires_grad_(True)
        else:
            params, decay = list(self.unet.parameters()), 0.01
        self.optimizer = torch.optim.AdamW(params, lr=PEAK_LR[self.phase], weight_decay=decay)

    def record(self, **fields):
        fields = {"time": round(time.time(), 1), "phase": self.phase, "step": self.step, **fields}
        self.log_file.write(json.dumps(fields) + "\n")

    # -- phases -------------------------------------------------------------------------------

    def run(self, *, until_minutes: float | None = None, max_steps: int | None = None):
        """Train phase after phase; stop (resumably) after `until_minutes` or `max_steps` steps."""
        deadline = time.monotonic() + until_minutes * 60 if until_minutes else None
        self.steps_left = max_steps
        if self.optimizer is None:
            self._optimizer_for_phase()
        for phase in PHASES[:-1]:
            if self.phase != phase:
                continue
            if not self._train_phase(deadline):
                self.save()
                return False  # stopped at the deadline; run again to resume
            self._next_phase()
        return True

    def _next_phase(self):
        if self.phase in ("vae", "decoder"):
            self._freeze_vae()
        if self.phase == "vae":
            self.scaling_factor = self._measure_scaling_factor()
        self.phase = PHASES[PHASES.index(self.phase) + 1]
        self.step = self.warmup_from = 0
        self._optimizer_for_phase()
        self.save()

    def _freeze_vae(self) -> None:
        # The same state whether the run went on or was resumed: frozen parameters can take other
        # CPU kernels than trainable ones, and even a last-bit difference changes the latent pools.
        _as_shipped(self.vae).eval().requires_grad_(False)

    def _measure_scaling_factor(self) -> float:
        pixels, _ = draw_batch(random.Random(self.plan.seed + 1), self.plan.probe_images, 256)
        with torch.no_grad():
            std = self.vae.encode(pixels.to(self.device)).latent_dist.mean.std().item()
        log.info("latent std %.3f -> scaling_factor %.4f", std, 1 / std)
        return round(1.0 / std, 5)

    def _train_phase(self, deadline) -> bool:
        total = {"vae": self.plan.vae_steps, "unet_128": self.plan.unet_128_steps,
                 "unet_256": self.plan.unet_256_steps, "decoder": self.plan.decoder_steps}[self.phase]
        step_fn = {"vae": self._vae_step, "decoder": self._decoder_step}.get(self.phase, self._unet_step)
        if self.phase in ("unet_128", "unet_256"):
            size = 128 if self.phase == "unet_128" else 256
            count = self.plan.pool_128 if size == 128 else self.plan.pool_256
            self.pool = build_pool(self.workdir / f"pool_{size}.pt", vae=self.vae, tokenizer=self.tokenizer,
                                   size=size, count=count, seed=self.plan.seed + size, device=self.device)
            captions = sorted(set(self.pool["captions"]))
            embeddings = encode_prompts(self.tokenizer, self.text_encoder, captions + [""])
            self.caption_index = torch.tensor([captions.index(c) for c in self.pool["captions"]])
            self.embeddings = embeddings  # the last row is the empty prompt (classifier-free guidance)
            self.noise_scheduler = self._noise_scheduler()
        last_save = time.monotonic()
        losses = []
        bar = tqdm(total=total, initial=self.step, desc=self.phase, unit="step", dynamic_ncols=True)
        while self.step < total:
            self._set_lr(total)
            loss = step_fn()
            losses.append(loss)
            self.step += 1
            bar.update(1)
            if self.step % 50 == 0:
                mean = float(np.mean(losses))
                losses.clear()
                bar.set_postfix(loss=f"{mean:.4f}")
                self.record(loss=mean, lr=self.active_optimizer.param_groups[0]["lr"])
            if self.phase == "vae" and self.step % 500 == 0:
                self.record(psnr=self.vae_psnr())
            if time.monotonic() - last_save > 300:
                self.save()
                last_save = time.monotonic()
            if self.steps_left is not None:
                self.steps_left -= 1
            if (deadline and time.monotonic() > deadline) or self.steps_left == 0:
                bar.close()
                return False
        bar.close()
        if self.phase in ("vae", "decoder"):
            self.record(psnr=self.vae_psnr())
        return True

    def _set_lr(self, total: int):
        warmup = 200
        if self.phase == "unet_128":
            factor = 1.0  # constant: the 256-px phase does the annealing
        else:
            progress = max(0.0, (self.step - warmup) / max(1, total - warmup))
            factor = 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))
        # A run warms up from its start, and a resumed one to where the schedule is, not to the peak:
        # a lengthened phase goes on at the rate its cosine has reached.
        factor *= min(1.0, (self.step - self.warmup_from + 1) / warmup)
        for group in self.active_optimizer.param_groups:
            group["lr"] = PEAK_LR[self.phase] * factor

    def _optimise(self, loss: torch.Tensor) -> float:
        """One optimiser step of the phase's parameters, their gradient norm clipped to 1."""
        self.active_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.active_optimizer.param_groups[0]["params"], 1.0)
        self.active_optimizer.step()
        return loss.item()

    def _vae_step(self) -> float:
        crop = self.plan.vae_crops[0] if self.step < self.plan.vae_steps * 0.75 else self.plan.vae_crops[1]
        # Crops of full-size scenes: the shapes keep the scale they have in real 256-px images.
        pixels, _ = draw_batch(self.rng, self.plan.vae_batch, 256)
        y, x = self.rng.randrange(0, 256 - crop + 1, 8), self.rng.randrange(0, 256 - crop + 1, 8)
        pixels = pixels[:, :, y:y + crop, x:x + crop].to(self.device)
        posterior = self.vae.encode(pixels).latent_dist
        decoded = self.vae.decode(posterior.sample()).sample
        return self._optimise(F.l1_loss(decoded, pixels) + F.mse_loss(decoded, pixels) + 1e-6 * posterior.kl().mean())

    def _decoder_step(self) -> float:
        # The UNet's latents are never exactly an encoded drawing: a whole outline wobbles by a latent
        # pixel or two, a corner rounds. Decoding encoded scenes, smoothly warped and with noise added,
        # teaches the decoder to draw clean flat shapes from such latents. Half of the noise is at the
        # scale of two latent pixels, like those errors; a quarter of each batch stays clean, so encoded
        # drawings still decode as sharply.
        batch = self.plan.decoder_batch
        pixels, _ = draw_batch(self.rng, batch, 256)
        pixels = pixels.to(self.device)
        with torch.no_grad():
            latents = self.vae.encode(pixels).latent_dist.mean * self.scaling_factor
            size = latents.shape[-1]
            # A smooth displacement field: 4x4 random shifts, interpolated, in grid_sample's units.
            field = F.interpolate(torch.randn(batch, 2, 4, 4), size=(size, size), mode="bicubic")
            shift = torch.rand(batch, 1, 1, 1) * self.plan.decoder_warp * 2 / size
            grid = F.affine_grid(torch.eye(2, 3).expand(batch, 2, 3), list(latents.shape), align_corners=False)
            grid = (grid + (shift * field).permute(0, 2, 3, 1)).to(self.device)
            warped = F.grid_sample(latents, grid, padding_mode="border", align_corners=False)
            fine = torch.randn(latents.shape)
            coarse = F.interpolate(torch.randn(batch, 4, size // 2, size // 2), scale_factor=2, mode="bilinear")
            noise = (fine + 1.5 * coarse) / math.sqrt(1 + 1.5 ** 2)
            sigma = torch.rand(batch, 1, 1, 1) * self.plan.decoder_noise
            clean = batch // 4
            latents = torch.cat([latents[:clean], warped[clean:] + (sigma[clean:] * noise[clean:]).to(self.device)])
        decoded = self.vae.decode(latents / self.scaling_factor).sample
        return self._optimise(F.l1_loss(decoded, pixels) + F.mse_loss(decoded, pixels))

    @torch.no_grad()
    def vae_psnr(self) -> float:
        pixels, _ = draw_batch(random.Random(self.plan.seed + 2), min(16, self.plan.probe_images), 256)
        pixels = pixels.to(self.device)
        decoded = self.vae.decode(self.vae.encode(pixels).latent_dist.mean).sample.clamp(-1, 1)
        mse = F.mse_loss((decoded + 1) / 2, (pixels + 1) / 2).item()
        return round(10 * math.log10(1 / max(mse, 1e-10)), 2)

    def _noise_scheduler(self):
        from diffusers import DDPMScheduler

        return DDPMScheduler(**scheduler_config())

    def _unet_step(self) -> float:
        batch = self.plan.unet_128_batch if self.phase == "unet_128" else self.plan.unet_256_batch
        index = torch.tensor([self.rng.randrange(len(self.caption_index)) for _ in range(batch)])
        latents = self.pool["latents"][index].float() * self.scaling_factor
        flip = torch.rand(batch) < 0.5  # every shape is mirror-symmetric
        latents = torch.where(flip[:, None, None, None], latents.flip(-1), latents)
        text = self.embeddings[self.caption_index[index]]
        drop = torch.rand(batch) < 0.1  # caption dropout: the unconditional half of guidance
        text = torch.where(drop[:, None, None], self.embeddings[-1:].expand_as(text), text)

        # More of the noisy timesteps: that is where the composition (and the shape) is decided.
        timesteps = (1000 * torch.rand(batch) ** self.plan.timestep_power).long().clamp(max=999)
        noise = torch.randn_like(latents)
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        target = self.noise_scheduler.get_velocity(latents, noise, timesteps)
        alphas = self.noise_scheduler.alphas_cumprod[timesteps]
        snr = alphas / (1 - alphas).clamp(min=1e-8)
        weight = (5.0 / (snr + 1)).clamp(max=1.0)

        noisy, timesteps, text, target, weight = (t.to(self.device) for t in (noisy, timesteps, text, target, weight))
        prediction = self.unet(noisy, timesteps, encoder_hidden_states=text).sample
        loss = self._optimise((weight * F.mse_loss(prediction, target, reduction="none").mean(dim=(1, 2, 3))).mean())
        decay = min(0.999, (1 + self.step) / (10 + self.step))
        with torch.no_grad():  # one fused call, not a small kernel launch per parameter (hundreds) on a GPU
            torch._foreach_lerp_(list(self.ema.parameters()), list(self.unet.parameters()), 1 - decay)
        return loss

    # -- export -------------------------------------------------------------------------------

    def export(self, path: Path) -> Path:
        """Write the model folder (fp16 safetensors, EMA weights) with its preview projection."""
        from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline
        from transformers import PreTrainedTokenizerFast

        self.vae.to("cpu")
        self.ema.to("cpu")
        self.vae.register_to_config(scaling_factor=self.scaling_factor)
        pipe = StableDiffusionPipeline(
            vae=self.vae, text_encoder=self.text_encoder, tokenizer=self.tokenizer, unet=self.ema,
            scheduler=EulerDiscreteScheduler(**scheduler_config()), safety_checker=None,
            feature_extractor=None, image_encoder=None, requires_safety_checker=False,
        )
        path = Path(path)
        staging = path.with_name(path.name + ".staging")
        if staging.exists():
            import shutil
            shutil.rmtree(staging)
        # fp16 halves the download; the text encoder (1 MB) stays fp32, because transformers loads
        # a model in its saved dtype unless told otherwise, and a plain `from_pretrained` of the
        # folder must give one dtype throughout.
        pipe.to(torch.float16)
        self.text_encoder.to(torch.float32)
        pipe.save_pretrained(staging, safe_serialization=True)
        pipe.to(torch.float32)
        # The tokenizer's normalizer (which words it keeps) survives only under the generic class.
        fast = PreTrainedTokenizerFast(tokenizer_object=self.tokenizer.backend_tokenizer,
                                       bos_token="<|startoftext|>", eos_token="<|endoftext|>",
                                       unk_token="<|endoftext|>", pad_token="<|endoftext|>",
                                       model_max_length=MAX_TOKENS)
        fast.save_pretrained(staging / "tokenizer")
        index = json.loads((staging / "model_index.json").read_text())
        index["tokenizer"] = ["transformers", "PreTrainedTokenizerFast"]
        (staging / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
        (staging / "latent_preview.json").write_text(json.dumps(self.fit_preview(), indent=2) + "\n")
        (staging / "training.json").write_text(json.dumps(
            {"plan": asdict(self.plan), "phase": self.phase, "step": self.step,
             "unet_256_steps_done": {"done": self.plan.unet_256_steps, "decoder": self.plan.unet_256_steps,
                                     "unet_256": self.step}.get(self.phase, 0),
             "decoder_steps_done": {"done": self.plan.decoder_steps, "decoder": self.step}.get(self.phase, 0)},
            indent=2) + "\n")
        if path.exists():
            import shutil
            shutil.rmtree(path)
        os.replace(staging, path)
        return path

    @torch.no_grad()
    def fit_preview(self) -> dict:
        """Least-squares latent -> RGB projection for this VAE, in the form previews.py uses.

        Fitted on drawn scenes: each latent pixel (scaled as the UNet sees it, plus a constant) against
        the mean colour of the 8x8 pixels it stands for, in [-1, 1].
        """
        pixels, _ = draw_batch(random.Random(self.plan.seed + 3), self.plan.probe_images, 256)
        latents = self.vae.encode(pixels).latent_dist.mean * self.scaling_factor
        colours = F.avg_pool2d(pixels, 8)
        x = latents.permute(0, 2, 3, 1).reshape(-1, 4)
        x = torch.cat([x, torch.ones(len(x), 1)], dim=1)
        y = colours.permute(0, 2, 3, 1).reshape(-1, 3)
        solution = torch.linalg.lstsq(x.double(), y.double()).solution.float()
        residual = (x @ solution - y).pow(2).mean().sqrt().item()
        return {"factors": solution[:4].tolist(), "bias": solution[4].tolist(), "rms_error": round(residual, 4)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("var/train-builtin"),
                        help="checkpoints, latent pools and the loss log (resumes from here)")
    parser.add_argument("--out", type=Path, default=SHIPPED_MODEL_DIR, help="where the model folder is written")
    parser.add_argument("--minutes", type=float, default=None, help="stop (resumably) after this long")
    parser.add_argument("--export-only", action="store_true", help="write the model from the last checkpoint")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda when present)")
    parser.add_argument("--plan", action="append", default=[], metavar="NAME=VALUE",
                        help="change one field of the Plan, e.g. unet_256_steps=20000 (repeatable)")
    args = parser.parse_args(argv)
    try:
        plan = plan_with(args.plan)
    except ValueError as error:
        parser.error(str(error))
    return train(workdir=args.workdir, out=args.out, minutes=args.minutes, export_only=args.export_only,
                 threads=args.threads, device=args.device, plan=plan)


def train(*, workdir: Path, out: Path, minutes: float | None = None, max_steps: int | None = None,
          export_only: bool = False, threads: int | None = None, plan: Plan | None = None,
          device: str = "auto") -> bool:
    """Train (or resume) and export. Returns True when every phase is done."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if threads:
        torch.set_num_threads(threads)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    trainer = Trainer(workdir, plan or Plan(), device=device)
    resumed = trainer.load(model=out)
    log.info("%s at phase %s, step %d", "Resumed" if resumed else "Starting", trainer.phase, trainer.step)
    finished = trainer.phase == "done"
    if not export_only and not finished:
        finished = trainer.run(until_minutes=minutes, max_steps=max_steps)
    if trainer.phase not in ("vae",):
        trainer.export(out)
        log.info("Model written to %s", out)
    return finished


if __name__ == "__main__":
    main()
