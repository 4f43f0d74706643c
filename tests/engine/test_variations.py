"""Seed variations: the initial noise is slerp(noise(seed), noise(variation seed), strength)."""

import numpy as np
import pytest
import torch

from generation.variations import slerp
from tests.engine.helpers import Recorder, make_input, never


def pixels(engine, source, **fields):
    image = engine.generate(source, make_input(steps=4, **fields), on_step=Recorder(), should_cancel=never)
    return np.asarray(image).astype(np.int16)


@pytest.mark.parametrize("family", ["sd15", "flux"])
def test_strength_0_is_the_seed_and_1_the_variation_seed(engine, source, family):
    model = source(family)
    base = pixels(engine, model, seed=11)
    other = pixels(engine, model, seed=99)
    assert np.array_equal(pixels(engine, model, seed=11, variation_seed=99, variation_strength=0.0), base)
    assert np.array_equal(pixels(engine, model, seed=11, variation_seed=99, variation_strength=1.0), other)


def test_a_small_strength_stays_close_to_the_seeds_image_and_changes_it(engine, source):
    model = source("sd15")
    base = pixels(engine, model, seed=11)
    other = pixels(engine, model, seed=99)
    near = pixels(engine, model, seed=11, variation_seed=99, variation_strength=0.1)
    far = pixels(engine, model, seed=11, variation_seed=99, variation_strength=0.6)
    assert not np.array_equal(near, base)
    distance = {name: np.abs(image - base).mean() for name, image in (("near", near), ("far", far),
                                                                        ("other", other))}
    assert distance["near"] < distance["far"]
    assert distance["near"] < 0.5 * distance["other"]


def test_variations_apply_to_text_to_image_only(engine, source):
    with pytest.raises(ValueError, match="text to image"):
        engine.generate(source("sd15"), make_input("imageToImage", strength=0.5, steps=4, variation_seed=5,
                                                   variation_strength=0.3), on_step=Recorder(), should_cancel=never)


def test_slerp_keeps_the_noise_on_its_sphere():
    low = torch.randn(4, 8, 8, generator=torch.Generator().manual_seed(1))
    high = torch.randn(4, 8, 8, generator=torch.Generator().manual_seed(2))
    middle = slerp(0.5, low, high)
    assert slerp(0.0, low, high) is low and slerp(1.0, low, high) is high
    # Two independent noises are nearly orthogonal: the halfway point keeps their norm, a straight
    # line's midpoint would lose about 30% of it.
    assert abs(float(middle.norm()) / float(low.norm()) - 1) < 0.05
    with pytest.raises(ValueError):
        slerp(1.5, low, high)
