"""GPU benchmark: SD 1.5 and SDXL with their real shapes and random weights, on CUDA in fp16.

    .venv/bin/python bench/gpu.py [--models sd15 sdxl] [--runs 3] [--no-compile]

The pipelines are built from the configs in bench/configs/ (the real UNet, VAE and text-encoder
shapes; random weights, a small local tokenizer): nothing is downloaded, and the speed of a random
network of a given shape is the speed of the trained one. Attention is PyTorch's SDPA
(diffusers' AttnProcessor2_0). For each model it prints one figure a line, `name=value`:

- seconds per denoising step (difference of a long and a short run, so fixed costs cancel);
- end to end: a bare pipeline call, and the same generation as a Stepwise job through the worker
  path (`webapp.jobs.queue.job_process`: claim, step events with previews to a listener in the job's
  channel group, database writes, PNG, thumbnail), alternating, medians; their ratio;
- peak GPU memory of each;
- seconds per step with the UNet in channels-last memory format, with `torch.compile`, and both
  (`--no-compile` skips compiling, which takes minutes for SDXL).

Targets on an H100-class GPU: SD 1.5 512x512 50 steps within 1.0 s end to end with previews on;
SDXL 1024x1024 30 steps within 2.5 s; the worker path within 2 % of the bare call.

Without CUDA it measures nothing: it says so and exits with status 0. Figures: docs/benchmarks.md.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CONFIGS = Path(__file__).resolve().parent / "configs"
PROMPT = "a lighthouse on a cliff at dusk, oil painting"
SEED = 1234
# name -> (config file, architecture in the catalog, size, steps)
MODELS = {
    "sd15": ("sd15.json", "sd15", 512, 50),
    "sdxl": ("sdxl.json", "sdxl", 1024, 30),
}


def load_config(name: str) -> dict:
    return json.loads((CONFIGS / MODELS[name][0]).read_text())


def build_components(name: str, device="cpu") -> dict:
    """The pipeline's components with the real shapes and random weights, created on `device`
    (`meta` builds the shapes without memory, which the tests use to check the configs)."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from generation.builtin.tokenizers import tiny_clip_tokenizer

    config = load_config(name)
    tokenizer = tiny_clip_tokenizer()
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
           "pad_token_id": tokenizer.pad_token_id}
    torch.manual_seed(0)
    with torch.device(device):
        components = {
            "unet": UNet2DConditionModel.from_config(config["unet"]),
            "vae": AutoencoderKL.from_config(config["vae"]),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**config["text_encoder"], **ids)),
        }
        if "text_encoder_2" in config:
            text_config_2 = CLIPTextConfig(**config["text_encoder_2"], **ids)
            components["text_encoder_2"] = CLIPTextModelWithProjection(text_config_2)
            components["tokenizer_2"] = tiny_clip_tokenizer()
    components["tokenizer"] = tokenizer
    components["scheduler"] = EulerDiscreteScheduler(**config["scheduler"])  # its tables stay on the CPU
    return components


def build_pipeline(name: str, device: str, dtype):
    import diffusers
    import torch
    from diffusers.models.attention_processor import AttnProcessor2_0

    components = build_components(name, device)
    pipeline_class = getattr(diffusers, load_config(name)["pipeline"])
    extra = {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False} \
        if name == "sd15" else {}
    pipe = pipeline_class(**components, **extra).to(device, dtype)
    pipe.unet.set_attn_processor(AttnProcessor2_0())  # SDPA, stated rather than assumed
    pipe.vae.set_attn_processor(AttnProcessor2_0())
    pipe.set_progress_bar_config(disable=True)
    assert pipe.unet.dtype == torch.float16
    return pipe


def figure(name: str, value, unit: str = "") -> None:
    text = f"{value:.4f}" if isinstance(value, float) else str(value)
    print(f"{name}={text}{unit and ' ' + unit}", flush=True)


def no_cuda_message() -> str | None:
    import torch

    if torch.cuda.is_available():
        return None
    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
    return (f"bench/gpu.py: no CUDA device on this machine (torch {torch.__version__}, {build}); nothing measured. "
            "Run it on a GPU worker.")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile figures")
    parser.add_argument("--device", default="cuda:0")
    args = parser.parse_args()

    message = no_cuda_message()
    if message:
        print(message)
        figure("gpu_benchmark", "skipped")
        return 0

    os.environ.setdefault("STEPWISE_DATA_DIR", tempfile.mkdtemp(prefix="stepwise-bench-gpu-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["STEPWISE_DEVICE"] = args.device
    import django

    django.setup()
    import torch
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from generation.previews import latent_format
    from webapp.jobs import queue, worker
    from webapp.jobs.services import job_create
    from webapp.studio import events
    from webapp.studio.models import Job, ModelEntry
    from webapp.studio.schema import validate_inference

    for alias in settings.DATABASES:
        call_command("migrate", database=alias, verbosity=0)
    user, _ = User.objects.get_or_create(username="bench")
    engine = worker.engine()
    device_name = torch.cuda.get_device_name(args.device)
    figure("device", f"{device_name} (torch {torch.__version__}, CUDA {torch.version.cuda})")
    figure("engine_dtype_sd", str(engine.dtype_for("sd15")))

    def timed(function) -> float:
        torch.cuda.synchronize()
        started = time.perf_counter()
        function()
        torch.cuda.synchronize()
        return time.perf_counter() - started

    def bench_model(name):
        _, architecture, size, steps = MODELS[name]
        prefix = f"{name}_{size}"
        started = time.perf_counter()
        pipe = build_pipeline(name, args.device, engine.dtype_for(architecture))
        figure(f"{name}_build_seconds", time.perf_counter() - started)

        def bare(count=steps):
            generator = torch.Generator("cpu").manual_seed(SEED)
            return pipe(PROMPT, num_inference_steps=count, width=size, height=size, guidance_scale=7.0,
                        generator=generator).images[0]

        def seconds_per_step() -> float:
            short = max(2, steps // 5)
            long_runs = [timed(lambda: bare(steps)) for _ in range(args.runs)]
            short_runs = [timed(lambda: bare(short)) for _ in range(args.runs)]
            return (statistics.median(long_runs) - statistics.median(short_runs)) / (steps - short)

        timed(lambda: bare(3))  # warm-up: cuDNN/cuBLAS choices, allocator
        figure(f"{prefix}_s_per_step", seconds_per_step())

        # The worker path, on this very pipeline (put in the worker's cache as if loaded).
        air = f"bench:{name}@1"
        ModelEntry.objects.update_or_create(air=air, defaults={"name": f"random {name}", "architecture": architecture,
                                                               "path": tempfile.gettempdir(), "enabled": True})
        engine._cache[air] = {"text": pipe}
        engine._latent_formats[air] = latent_format(architecture)
        layer = get_channel_layer()
        assert layer is not None

        def through_worker():
            payload = {"positivePrompt": PROMPT, "model": air, "width": size, "height": size, "steps": steps,
                       "scheduler": "Euler", "CFGScale": 7.0, "seed": SEED}
            job = job_create(user=user, valid=validate_inference(payload, user=user))
            async_to_sync(layer.group_add)(events.job_group(job.id), "bench.jobpage")  # previews on
            return job, lambda: queue.job_process(job_id=str(job.id), engine=engine, shutdown=worker.SHUTDOWN)

        job, run = through_worker()
        timed(run)  # warm-up of the worker path
        a_times, b_times = [], []
        for _ in range(args.runs):
            a_times.append(timed(bare))
            job, run = through_worker()
            b_times.append(timed(run))
            job = Job.objects.get(id=job.id)
            if job.status != "succeeded":
                raise SystemExit(f"The {name} job did not succeed: {job.error}")
        a, b = statistics.median(a_times), statistics.median(b_times)
        figure(f"{prefix}_{steps}_steps_bare_seconds", a)
        figure(f"{prefix}_{steps}_steps_worker_seconds", b)
        figure(f"{prefix}_worker_over_bare", b / a)

        torch.cuda.reset_peak_memory_stats()
        timed(bare)
        figure(f"{prefix}_peak_memory_bare_gib", torch.cuda.max_memory_allocated() / 2**30)
        torch.cuda.reset_peak_memory_stats()
        job, run = through_worker()
        timed(run)
        figure(f"{prefix}_peak_memory_worker_gib", torch.cuda.max_memory_allocated() / 2**30)

        # Speed options, on the bare pipeline.
        pipe.unet.to(memory_format=torch.channels_last)
        figure(f"{prefix}_s_per_step_channels_last", seconds_per_step())
        pipe.unet.to(memory_format=torch.contiguous_format)
        if not args.no_compile:
            unet = pipe.unet
            pipe.unet = torch.compile(unet)
            figure(f"{prefix}_compile_and_first_call_seconds", timed(bare))
            figure(f"{prefix}_s_per_step_compiled", seconds_per_step())
            unet.to(memory_format=torch.channels_last)
            pipe.unet = torch.compile(unet)
            timed(bare)
            figure(f"{prefix}_s_per_step_compiled_channels_last", seconds_per_step())
            pipe.unet = unet.to(memory_format=torch.contiguous_format)

        del engine._cache[air]  # the pipeline goes with this function's locals

    for name in args.models:
        bench_model(name)
        torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
