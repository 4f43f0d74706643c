"""Profile your use case: how close each step count gets to a high-step reference, and what a step
costs on this worker. The product document's tip 5, measured instead of guessed.

A reference is rendered at `reference_steps` for each prompt; the sweep renders the same prompts and
seeds at each lower count. Similarity is SSIM (scikit-image) against the reference, 1.0 = identical;
cost is this worker's wall time per step (the slope of seconds against steps, so the fixed cost of
encoding the prompt and decoding the image is not counted as steps).

No Django here: `manage.py steps_profile` and the "Profile steps" admin action call it with a worker's
engine, and store the result per model, scheduler and size.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from generation.inputs import GenerationInput
from generation.schedulers import STOCHASTIC, SchedulerSpec

DEFAULT_TOLERANCE = 0.95
STANDARD_SWEEP = (4, 8, 12, 16, 20, 25, 30, 40)
STANDARD_REFERENCE = 50
DISTILLED_SWEEP = (1, 2, 3, 4, 6, 8)
DISTILLED_REFERENCE = 16


@dataclass
class Point:
    steps: int
    similarity: float  # mean SSIM against the reference over the prompts
    seconds: float  # mean wall time of one image at this count


@dataclass
class Profile:
    model: str
    scheduler: str
    size: str  # "WxH"
    reference_steps: int
    prompts: int
    points: list[Point]
    seconds_per_step: float
    tolerance: float
    ceiling: float  # the best similarity any swept count reaches
    recommended_steps: int | None  # None: the scheduler does not converge
    stochastic: bool
    converges: bool
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Profile":
        return cls(**{**data, "points": [Point(**p) for p in data["points"]]})

    def point(self, steps: int) -> Point | None:
        return next((p for p in self.points if p.steps == steps), None)

    def measured_sentence(self) -> str:
        """"measured on this server: 22 steps reach 97% of the 50-step result"."""
        if self.recommended_steps is None:
            return (f"measured on this server: {self.scheduler} does not converge (stochastic), so more steps give "
                    "different, not better, results")
        point = self.point(self.recommended_steps)
        assert point is not None
        return (f"measured on this server: {self.recommended_steps} steps reach {point.similarity:.0%} of the "
                f"{self.reference_steps}-step result")

    def saving_sentence(self, compared_to: int) -> str:
        """"22 instead of 30 steps: 27% less GPU time" (denoising time grows with the steps)."""
        if self.recommended_steps is None or compared_to <= 0:
            return ""
        if self.recommended_steps >= compared_to:
            return f"{self.recommended_steps} steps: no saving against {compared_to}."
        saving = round((1 - self.recommended_steps / compared_to) * 100)
        return f"{self.recommended_steps} instead of {compared_to} steps: {saving}% less GPU time."


def ssim(a, b) -> float:
    from skimage.metrics import structural_similarity

    a = np.asarray(a.convert("RGB"), dtype=np.uint8)
    b = np.asarray(b.convert("RGB"), dtype=np.uint8)
    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


def recommend(points: list[Point], *, tolerance: float) -> tuple[int, float]:
    """(the smallest count within `tolerance` of the sweep's ceiling, the ceiling)."""
    ceiling = max(p.similarity for p in points)
    within = [p.steps for p in points if p.similarity >= tolerance * ceiling]
    return min(within), ceiling


def seconds_per_step(points: list[Point]) -> float:
    """The slope of seconds against steps (least squares); the mean per step with a single count."""
    if len({p.steps for p in points}) < 2:
        return points[0].seconds / points[0].steps
    slope = float(np.polyfit([p.steps for p in points], [p.seconds for p in points], 1)[0])
    return max(slope, 0.0)


def profile_steps(engine, source, *, model: str, scheduler: SchedulerSpec, width: int, height: int,
                  prompts: list[str], steps: list[int], reference_steps: int, cfg_scale: float,
                  tolerance: float = DEFAULT_TOLERANCE, seed: int = 1,
                  on_progress: Callable[[str], None] | None = None) -> Profile:
    """Render the reference and the sweep, and measure them.

    1. Check the sweep: counts below the reference, at least one prompt.
    2. For each prompt (its own seed): the reference, then each count, timed.
    3. Similarity per count (mean SSIM), cost per step (slope), the recommendation.
    """
    # 1. Inputs
    steps = sorted(set(steps))
    if not prompts:
        raise ValueError("prompts: profile at least one prompt.")
    if not steps or steps[0] < 1 or steps[-1] >= reference_steps:
        raise ValueError(f"steps must be 1 or more and below the reference ({reference_steps}), not {steps}.")

    def render(prompt, count, index):
        inputs = GenerationInput(task_type="textToImage", prompt=prompt, negative_prompt=None, width=width,
                                 height=height, steps=count, cfg_scale=cfg_scale, scheduler=scheduler.name,
                                 seed=seed + index)
        started = time.perf_counter()
        image = engine.generate(source, inputs, on_step=lambda *_: None, should_cancel=lambda: False)
        return image, time.perf_counter() - started

    # 2. Render
    similarity: dict[int, list[float]] = {count: [] for count in steps}
    seconds: dict[int, list[float]] = {count: [] for count in steps}
    engine.load(source)
    render(prompts[0], steps[0], 0)  # warm-up: the first run pays for caches, not for steps
    for index, prompt in enumerate(prompts):
        reference, _ = render(prompt, reference_steps, index)
        for count in steps:
            image, took = render(prompt, count, index)
            similarity[count].append(ssim(image, reference))
            seconds[count].append(took)
            if on_progress:
                on_progress(f"prompt {index + 1}/{len(prompts)}: {count} steps, SSIM {similarity[count][-1]:.3f}, "
                            f"{took:.2f} s")
    # 3. Measure
    points = [Point(steps=count, similarity=round(float(np.mean(similarity[count])), 4),
                    seconds=round(float(np.mean(seconds[count])), 4)) for count in steps]
    stochastic = scheduler.convergence == STOCHASTIC
    rising = points[-1].similarity > points[0].similarity
    recommended, ceiling = recommend(points, tolerance=tolerance)
    notes = []
    if stochastic:
        notes.append(f"{scheduler.name} is stochastic: it does not converge (each step adds fresh noise), so more "
                     "steps give different, not better, results; similarity here is to one sample of the reference "
                     "count, and no step count is recommended.")
    elif not rising:
        notes.append("Similarity does not rise with steps here: the sweep did not converge on the reference.")
    converges = rising and not stochastic
    return Profile(model=model, scheduler=scheduler.name, size=f"{width}x{height}", reference_steps=reference_steps,
                   prompts=len(prompts), points=points, seconds_per_step=round(seconds_per_step(points), 5),
                   tolerance=tolerance, ceiling=round(ceiling, 4),
                   recommended_steps=recommended if converges else None, stochastic=stochastic,
                   converges=converges, notes=notes)


def chart_svg(profile: Profile, *, width: int = 560, height: int = 260) -> str:
    """Quality against steps against cost, as an SVG (no script): a similarity line (left axis, 0-1)
    over bars of seconds per image (right axis), the tolerance line and the recommended count."""
    left, right, top, bottom = 48, 56, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    top_steps = max(p.steps for p in profile.points)
    top_seconds = max(max(p.seconds for p in profile.points), 1e-9)
    low_sim = min(0.0, min(p.similarity for p in profile.points))

    def x(steps):
        return left + plot_w * steps / top_steps

    def y_sim(value):
        return top + plot_h * (1 - (value - low_sim) / (1 - low_sim))

    def y_sec(value):
        return top + plot_h * (1 - value / top_seconds)

    bar = max(4.0, plot_w / (len(profile.points) * 3))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'class="profile-chart" aria-labelledby="chart-title">',
             f'<title id="chart-title">Similarity to the {profile.reference_steps}-step reference and seconds per '
             f'image, by step count ({profile.scheduler}, {profile.size})</title>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" class="axis"/>']
    for p in profile.points:
        parts.append(f'<rect class="cost" x="{x(p.steps) - bar / 2:.1f}" y="{y_sec(p.seconds):.1f}" '
                     f'width="{bar:.1f}" height="{top + plot_h - y_sec(p.seconds):.1f}">'
                     f'<title>{p.steps} steps: {p.seconds:.2f} s</title></rect>')
        parts.append(f'<text class="tick" x="{x(p.steps):.1f}" y="{top + plot_h + 14}" text-anchor="middle">'
                     f'{p.steps}</text>')
    target = profile.tolerance * profile.ceiling
    parts.append(f'<line class="target" x1="{left}" x2="{left + plot_w}" y1="{y_sim(target):.1f}" '
                 f'y2="{y_sim(target):.1f}"><title>{profile.tolerance:.0%} of the ceiling ({target:.3f})</title>'
                 '</line>')
    line = " ".join(f"{x(p.steps):.1f},{y_sim(p.similarity):.1f}" for p in profile.points)
    parts.append(f'<polyline class="quality" fill="none" points="{line}"/>')
    for p in profile.points:
        parts.append(f'<circle class="quality-dot" cx="{x(p.steps):.1f}" cy="{y_sim(p.similarity):.1f}" r="3.5">'
                     f'<title>{p.steps} steps: SSIM {p.similarity:.3f}</title></circle>')
    if profile.recommended_steps is not None:
        rx = x(profile.recommended_steps)
        parts.append(f'<line class="recommended" x1="{rx:.1f}" x2="{rx:.1f}" y1="{top}" y2="{top + plot_h}"/>')
        parts.append(f'<text class="label" x="{rx + 4:.1f}" y="{top + 12}">{profile.recommended_steps} steps</text>')
    for value in (low_sim, (low_sim + 1) / 2, 1.0):
        parts.append(f'<text class="tick" x="{left - 6}" y="{y_sim(value) + 4:.1f}" text-anchor="end">'
                     f'{value:.2f}</text>')
    parts.append(f'<text class="tick" x="{left + plot_w + 6}" y="{top + 4}">{top_seconds:.2f} s</text>')
    parts.append(f'<text class="tick" x="{left + plot_w + 6}" y="{top + plot_h + 4}">0 s</text>')
    parts.append(f'<text class="axis-label" x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">steps'
                 '</text>')
    parts.append(f'<text class="axis-label" x="12" y="{top + plot_h / 2:.1f}" transform="rotate(-90 12 '
                 f'{top + plot_h / 2:.1f})" text-anchor="middle">SSIM</text>')
    parts.append("</svg>")
    return "\n".join(parts)
