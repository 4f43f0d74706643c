"""How well the built-in model draws what its prompts say, judged by plain image analysis.

    .venv/bin/python bench/builtin_quality.py [--model generation/builtin/model] [--prompts 64]
                                              [--picture docs/builtin-model.png]

64 prompts from the grammar ("a {colour} {shape} on a {colour} background") with fixed seeds, at
256x256, 20 steps and the model's default scheduler and guidance, through the worker's engine. Each
image is read back (background colour, shape colour, shape) by `generation.builtin.shapes`, whose
detectors are unit-tested on drawn images. Then image-to-image at strength 0.3 and 0.9, inpainting,
outpainting, the distance to the 40-step image at 2/5/10/20 steps, and the seconds per image.
Targets: all_correct >= 0.80 and every colour >= 0.90. The last line is `all_correct=<fraction>`.
Figures: docs/benchmarks.md.
"""

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from PIL import Image, ImageDraw  # noqa: E402

from generation.builtin import SHIPPED_MODEL_DIR, quality  # noqa: E402
from generation.engine import Engine  # noqa: E402


def picture(engine, source, path: Path) -> None:
    """Two rows for the README: eight prompts, then one seed at 2, 5, 10, 20 and 40 steps."""
    tile, label = 128, 30
    prompts = quality.grammar_prompts(8, seed=5)
    steps = (2, 5, 10, 20, 40)
    sheet = Image.new("RGB", (8 * tile, 2 * (tile + label)), "white")
    pen = ImageDraw.Draw(sheet)
    for i, (scene, seed) in enumerate(prompts):
        image = quality.generate(engine, source, scene.caption, seed=seed).resize((tile, tile))
        sheet.paste(image, (i * tile, 0))
        words = scene.caption.removeprefix("a ").replace(" background", "").split(" on ")
        pen.text((i * tile + 4, tile + 2), words[0], fill="black")
        pen.text((i * tile + 4, tile + 15), "on " + words[1].removeprefix("a ").removeprefix("an "), fill="black")
    star = prompts[0][0].caption
    for i, count in enumerate(steps):
        image = quality.generate(engine, source, star, seed=11, steps=count).resize((tile, tile))
        sheet.paste(image, (i * tile, tile + label))
        pen.text((i * tile + 4, 2 * tile + label + 8), f"{count} steps", fill="black")
    pen.text((5 * tile + 8, tile + label + 8), f"\u201c{star}\u201d,\nseed 11, Euler,\n"
             "the same job at\n2, 5, 10, 20, 40 steps", fill="black")
    sheet.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL_DIR)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--picture", type=Path, default=None, help="also write the README's picture here")
    args = parser.parse_args()

    engine = Engine(device="auto", cache_size=1)
    source = quality.builtin_source(args.model)
    print(f"model: {args.model}  device: {engine.describe_device()}")

    # Warm up: the first generation pays for loading the model.
    quality.generate(engine, source, "a red circle on a blue background", seed=0)

    report = quality.text_to_image(engine, source, args.prompts)
    misses = [(s.caption, r) for s, r in report.readings
              if (r.background, r.colour, r.shape) != (s.background, s.colour, s.shape)]
    for caption, reading in misses:
        print(f"  miss: {caption!r} -> {reading.colour} {reading.shape} on {reading.background} "
              f"(solidity {reading.solidity:.2f}, extent {reading.extent:.2f})")
    print(f"background={report.fraction(lambda s, r: s.background == r.background):.3f} "
          f"shape_colour={report.fraction(lambda s, r: s.colour == r.colour):.3f} "
          f"shape={report.fraction(lambda s, r: s.shape == r.shape):.3f}")
    print("per colour: " + " ".join(f"{c}={v:.2f}" for c, v in report.per_colour().items()))
    print(f"seconds_per_image={report.seconds_per_image:.2f} (256x256, 20 steps, with guidance)")

    for strength in (0.3, 0.9):
        reading, layout = quality.image_to_image(engine, source, strength)
        print(f"image_to_image strength={strength}: read {reading.colour} {reading.shape} on "
              f"{reading.background}, layout IoU with the source {layout:.2f}")
    in_prompt, kept = quality.inpainting(engine, source)
    print(f"inpainting: masked area in the prompted colours {in_prompt:.2f}, mean change outside {kept:.2f}/255")
    print(f"outpainting: new strip in the background colour {quality.outpainting(engine, source):.2f}")
    curve = quality.steps_curve(engine, source)
    print("distance to the 40-step image: " + " ".join(f"{k} steps={v:.1f}" for k, v in curve.items()))

    if args.picture:
        picture(engine, source, args.picture)
        print(f"picture: {args.picture}")
    print(f"all_correct={report.all_correct:.3f}")


if __name__ == "__main__":
    main()
