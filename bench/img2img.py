"""Image-to-image cost follows the steps that really run: N steps x strength s costs about s of N
steps of text-to-image.

    .venv/bin/python bench/img2img.py [--size 256] [--steps 40] [--strengths 0.25 0.5 0.75 1.0] [--runs 3]

Through the worker's engine on the built-in model (Euler, the model's default guidance), it runs
text-to-image at `--steps`, then image-to-image of that image at each strength, alternating, and
compares medians. The denoising time is the time spent in the UNet (forward hooks), so the fixed
costs (prompt encoding, the VAE's encode and decode) don't blur the ratio; the end-to-end ratio is
printed too. Each is measured as process CPU time (what the machine spends; steady even when other
processes share the cores) and as wall time. Expected ratio: generation.steps.effective_steps(...).steps / steps, i.e.
int(steps x strength) / steps for SD 1.5. The last line is `ratio_at_0.5=<measured>/<expected>`.
Figures: docs/benchmarks.md.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from generation.builtin import BUILTIN_DIRNAME, install_builtin_model  # noqa: E402
from generation.engine import Engine, GenerationInput, ModelSource  # noqa: E402
from generation.steps import effective_steps  # noqa: E402

PROMPT = "a yellow star on a purple background"
IMG2IMG_PROMPT = "a red circle on a blue background"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cfg", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    path = install_builtin_model(Path(tempfile.mkdtemp(prefix="stepwise-bench-img2img-")) / BUILTIN_DIRNAME)
    source = ModelSource(air="stepwise:1@1", architecture="sd15", path=str(path))
    engine = Engine(device="cpu")
    engine.load(source)
    unet = engine._cache[source.air]["text"].unet
    unet_seconds = []  # (cpu, wall) per UNet call, appended by the hooks below
    started_at: list[tuple[float, float]] = []

    def now():
        return time.process_time(), time.perf_counter()

    def unet_done(module, args, output):
        (cpu, wall), (cpu0, wall0) = now(), started_at.pop()
        unet_seconds.append((cpu - cpu0, wall - wall0))

    unet.register_forward_pre_hook(lambda module, args: started_at.append(now()))
    unet.register_forward_hook(unet_done)

    def run(task_type, strength=None, seed_image=None):
        inputs = GenerationInput(task_type=task_type, prompt=PROMPT if seed_image is None else IMG2IMG_PROMPT,
                                 negative_prompt=None, width=args.size, height=args.size, steps=args.steps,
                                 cfg_scale=args.cfg, scheduler="Euler", seed=7, strength=strength,
                                 seed_image=seed_image)
        steps = []
        unet_seconds.clear()
        cpu0, wall0 = now()
        image = engine.generate(source, inputs, on_step=lambda step, total, preview: steps.append(step),
                                should_cancel=lambda: False, want_preview=lambda: False)
        cpu, wall = now()
        total = {"cpu": cpu - cpu0, "wall": wall - wall0}
        denoising = {"cpu": sum(c for c, _ in unet_seconds), "wall": sum(w for _, w in unet_seconds)}
        return image, total, denoising, len(steps)

    source_image, *_ = run("textToImage")  # warm-up, and the image-to-image source
    run("imageToImage", 0.5, source_image)
    txt: dict = {"total": [], "unet": []}
    img: dict = {s: {"total": [], "unet": [], "steps": 0} for s in args.strengths}
    txt_steps = 0
    for _ in range(args.runs):
        _, total, denoising, txt_steps = run("textToImage")
        txt["total"].append(total)
        txt["unet"].append(denoising)
        for strength in args.strengths:
            _, total, denoising, steps = run("imageToImage", strength, source_image)
            img[strength]["total"].append(total)
            img[strength]["unet"].append(denoising)
            img[strength]["steps"] = steps

    def median(runs, kind):
        return statistics.median(run[kind] for run in runs)

    print(f"device: cpu, {torch.get_num_threads()} torch threads; built-in model {args.size}x{args.size}, "
          f"Euler, CFG {args.cfg:g}; medians of {args.runs} alternating runs; seconds as CPU / wall")
    print(f"text-to-image {args.steps} steps: {txt_steps} steps run, denoising {median(txt['unet'], 'cpu'):.3f} / "
          f"{median(txt['unet'], 'wall'):.3f}s, end to end {median(txt['total'], 'cpu'):.3f} / "
          f"{median(txt['total'], 'wall'):.3f}s")
    ratio_at_half = None
    for strength in args.strengths:
        plan = effective_steps(architecture="sd15", task_type="imageToImage", steps=args.steps, strength=strength,
                               scheduler_order=1)
        expected = plan.steps / args.steps
        ratios = {kind: median(img[strength]["unet"], kind) / median(txt["unet"], kind) for kind in ("cpu", "wall")}
        totals = {kind: median(img[strength]["total"], kind) / median(txt["total"], kind) for kind in ("cpu", "wall")}
        ran = img[strength]["steps"]
        print(f"image-to-image {args.steps} x {strength:g}: {ran} steps run (expected {plan.steps}); "
              f"denoising {ratios['cpu']:.3f} / {ratios['wall']:.3f} of text-to-image's (expected {expected:.3f}); "
              f"end to end {totals['cpu']:.3f} / {totals['wall']:.3f}")
        if strength == 0.5:
            ratio_at_half = (ratios["cpu"], expected)
    if ratio_at_half:
        print(f"ratio_at_0.5={ratio_at_half[0]:.3f}/{ratio_at_half[1]:.3f}")


if __name__ == "__main__":
    main()
