"""Several continuations of the built-in model's 256-px UNet phase, side by side on one GPU.

    END=$(( $(date +%s) + 430 )) OUT=out VARIANTS="b64:unet_256_batch=64;b128:unet_256_batch=128" \
        python bench/gpu_train.py

For a short GPU lease, where the question is which plan to ship: it encodes one latent pool
(`train.build_pool`, as the trainer would), then runs each variant in its own process through
`generation.builtin.train.Trainer`, resumed from the model folder (MODEL, default the shipped one).
Each times its first steps, sizes its phase so that it ends by END with the cosine annealed
(`unet_256_steps` = where it starts + the steps that fit), exports its folder and writes
`<OUT>/<name>.tar`: the UNet, `training.json` and the loss log. Only the UNet changes; the decoder
stays as shipped. `manage.py train_builtin --device cuda --plan ...` with the same fields trains the same phase in
one process (and then re-runs the decoder phase). How the shipped UNet came from this:
docs/builtin-model.md.

Env: END (unix time by which training must stop), VARIANTS ("name:field=value,...;..."), OUT,
DEVICE (cuda), POOL (scenes, 16000), THREADS (per variant, 3), MODEL, WORK.
"""
import json
import multiprocessing as mp
import os
import sys
import tarfile
import time
import traceback
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

DEVICE = os.environ.get("DEVICE", "cuda")
POOL = int(os.environ.get("POOL", "16000"))
END = float(os.environ["END"])
OUT = Path(os.environ.get("OUT", "/tmp/out"))
WORK = Path(os.environ.get("WORK", "/tmp/variants"))
THREADS = int(os.environ.get("THREADS", "3"))
MODEL = Path(os.environ.get("MODEL", ROOT / "generation/builtin/model"))  # the folder to continue from


def say(*args):
    print(f"[{time.strftime('%H:%M:%S')} {END - time.time():5.0f}s left]", *args, flush=True)


def build_pool(path):
    """The trainer's 256-px pool, encoded once by the shipped VAE and shared by every variant."""
    from diffusers import AutoencoderKL

    from generation.builtin import train
    from generation.builtin.tokenizers import shapes_tokenizer

    vae = AutoencoderKL.from_pretrained(MODEL, subfolder="vae", torch_dtype=torch.float32).to(DEVICE)
    train.build_pool(path, vae=vae, tokenizer=shapes_tokenizer(), size=256, count=POOL,
                     seed=train.Plan().seed + 256, device=DEVICE)
    say(f"encoded the pool: {path}")


def variant(name, overrides, pool_path):
    from transformers import CLIPTextModel

    from generation.builtin import train

    torch.set_num_threads(THREADS)
    torch.set_float32_matmul_precision("high")
    work = WORK / name
    work.mkdir(parents=True, exist_ok=True)
    os.symlink(pool_path, work / "pool_256.pt")
    done = json.loads((MODEL / "training.json").read_text())["unet_256_steps_done"]
    plan = train.plan_with([f"pool_256={POOL}", f"unet_256_steps={done + 3000}"] + overrides)
    trainer = train.Trainer(work, plan, device=DEVICE)
    shipped = CLIPTextModel.from_pretrained(MODEL, subfolder="text_encoder", torch_dtype=torch.float32)
    # The frozen text encoder is rebuilt from a seed; another transformers version could init it
    # otherwise, so the folder's own is used (and the difference, if any, reported).
    made, kept = trainer.text_encoder.state_dict(), shipped.state_dict()
    say(name, "text encoder made here equals the folder's:", all(torch.equal(made[k], kept[k]) for k in kept))
    trainer.text_encoder = shipped.eval().requires_grad_(False)
    assert trainer.load(model=MODEL) and trainer.phase == "unet_256", trainer.phase
    start = trainer.step
    trainer.run(max_steps=20)  # warm-up: pool load, first kernels
    t = time.time()
    trainer.run(max_steps=60)
    rate = 60 / (time.time() - t)
    steps = max(100, int(rate * (END - time.time()) * 0.92))
    trainer.plan = replace(trainer.plan, unet_256_steps=trainer.step + steps)
    say(name, f"{rate:.1f} steps/s; {steps} more steps to {trainer.plan.unet_256_steps} (from {start})")
    trainer.run(max_steps=steps, until_minutes=max(0.1, (END + 10 - time.time()) / 60))
    trainer.export(work / "export")  # the folder as it would ship; only its UNet travels back
    with tarfile.open(OUT / f"{name}.tar", "w") as tar:
        for part in ("unet", "training.json"):
            tar.add(work / "export" / part, arcname=part)
        tar.add(work / "train.log", arcname="train.log")
    say(name, f"done at step {trainer.step} ({trainer.step - start} steps)")


def run_variant(*args):
    try:
        variant(*args)
    except BaseException:
        say(args[0], "FAILED\n" + traceback.format_exc())


def main():
    say(f"torch {torch.__version__}, device {DEVICE}",
        torch.cuda.get_device_name() if DEVICE.startswith("cuda") else "")
    WORK.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    pool_path = WORK / "pool_256.pt"
    build_pool(pool_path)
    specs = []
    for item in os.environ["VARIANTS"].split(";"):
        name, _, fields = item.partition(":")
        specs.append((name, [f for f in fields.split(",") if f]))
    spawn = mp.get_context("spawn")
    procs = [spawn.Process(target=run_variant, args=(name, overrides, pool_path)) for name, overrides in specs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=max(1, END + 60 - time.time()))
    say("all joined:", [p.exitcode for p in procs])


if __name__ == "__main__":
    main()
