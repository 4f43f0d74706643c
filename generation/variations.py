"""Seed variations, as AUTOMATIC1111's "variation seed": small changes around a seed.

The initial noise of a text-to-image run is `slerp(noise(seed), noise(variation_seed), strength)`:
strength 0 is the seed's own image, 1 the variation seed's, and a small strength keeps the seed's
composition with small changes. Both noises come from the pipeline's own `prepare_latents`, so they
have exactly the shape, dtype and packing (FLUX) of the noise it would draw; the per-step noise of
ancestral and SDE schedulers still comes from the seed's generator, as in AUTOMATIC1111.
"""

import math

import torch


def slerp(t: float, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between two noise tensors (over all their elements), t in 0..1.

    The ends are returned as they are, so strength 0 gives the seed's own noise bit for bit.
    """
    if not 0 <= t <= 1:
        raise ValueError(f"variation strength must be from 0 to 1, not {t}.")
    if t == 0:
        return low
    if t == 1:
        return high
    a, b = low.double().flatten(), high.double().flatten()
    dot = float(torch.dot(a / a.norm(), b / b.norm()).clamp(-1, 1))
    if abs(dot) > 0.9995:  # nearly parallel: the straight line is as good and stays finite
        mixed = (1 - t) * low.double() + t * high.double()
    else:
        omega = math.acos(dot)
        mixed = (math.sin((1 - t) * omega) * low.double() + math.sin(t * omega) * high.double()) / math.sin(omega)
    return mixed.to(low.dtype)


def vary_initial_noise(pipe, generator: torch.Generator, *, variation_seed: int, strength: float) -> None:
    """Make `pipe` (a job's own pipeline object) start from the noise slerped towards `variation_seed`.

    The pipeline draws its noise in `prepare_latents(..., generator, latents)`: the wrapper calls it
    once as the pipeline does (so `generator` advances exactly as without variations), once more with
    a generator of the variation seed in its place, and mixes the two.
    """
    prepare = pipe.prepare_latents

    def prepare_varied(*args, **kwargs):
        base = prepare(*args, **kwargs)
        other_generator = torch.Generator(device="cpu").manual_seed(variation_seed)
        if not any(value is generator for value in (*args, *kwargs.values())):
            raise ValueError("variations need the pipeline to draw its noise with the job's generator.")

        def swap(value):
            return other_generator if value is generator else value

        other = prepare(*map(swap, args), **{name: swap(value) for name, value in kwargs.items()})
        if isinstance(base, tuple):  # FLUX: (packed latents, their position ids)
            return (slerp(strength, base[0], other[0]), *base[1:])
        return slerp(strength, base, other)

    pipe.prepare_latents = prepare_varied
