"""The outpainting canvas and mask (pure PIL/numpy)."""

import numpy as np
import pytest
from PIL import Image

from generation import outpaint
from tests.engine.helpers import pattern_image


def test_the_canvas_places_the_source_and_prefills_the_new_area():
    source = pattern_image(64, 48)
    canvas = outpaint.prepare(source, top=64, right=0, bottom=0, left=128, blur=0, seed=1)

    pixels = np.asarray(canvas.image)
    assert canvas.image.size == (64 + 128, 48 + 64)
    assert canvas.box == (128, 64, 192, 112)
    assert np.array_equal(pixels[64:, 128:], np.asarray(source))
    # Pre-filled from the nearest edge (plus noise), not black.
    left_edge = np.asarray(source)[:, 0].astype(int).mean(axis=0)
    assert np.abs(pixels[64:, :128].reshape(-1, 3).mean(axis=0) - left_edge).max() < 10


def test_the_mask_is_white_over_the_new_area_and_black_over_the_source_without_blur():
    canvas = outpaint.prepare(pattern_image(64, 64), top=0, right=64, bottom=0, left=0, blur=0, seed=1)
    mask = np.asarray(canvas.mask)
    assert canvas.mask.mode == "L"
    assert (mask[:, 64:] == 255).all() and (mask[:, :64] == 0).all()


@pytest.mark.parametrize("blur", [4, 8, 32])
def test_blur_feathers_only_blur_pixels_into_the_source_across_extended_sides(blur):
    canvas = outpaint.prepare(pattern_image(128, 128), top=64, right=64, bottom=0, left=0, blur=blur, seed=1)
    mask = np.asarray(canvas.mask).astype(int)
    source = mask[64:, :128]  # the source region: seams on its top and right

    assert (mask[:64, :] == 255).all() and (mask[:, 128:] == 255).all()  # new area: all painted
    assert (source[blur:, : 128 - blur] == 0).all()  # beyond the band: untouched
    assert source[0, 0] > 128 and source[blur // 2, 10] > 0  # a soft ramp inside the band
    assert (np.diff(source[:blur, 10]) <= 0).all()  # fading away from the seam
    assert (source[-1, :64] == 0).all()  # the bottom was not extended: no seam there


def test_composite_pastes_the_source_back_beyond_the_band():
    source = pattern_image(64, 64)
    canvas = outpaint.prepare(source, top=0, right=0, bottom=64, left=0, blur=8, seed=1)
    generated = Image.new("RGB", canvas.image.size, (0, 255, 0))

    result = np.asarray(outpaint.composite(generated, canvas)).astype(int)

    assert (result[:56] == np.asarray(source)[:56]).all()
    assert (result[64:] == [0, 255, 0]).all()
    assert np.abs(result[60] - np.asarray(source)[60]).sum() > 0  # blended inside the band


def test_bad_extensions_are_refused():
    with pytest.raises(ValueError, match="at least one side"):
        outpaint.prepare(pattern_image(), top=0, right=0, bottom=0, left=0, blur=0, seed=1)
    with pytest.raises(ValueError, match="left"):
        outpaint.prepare(pattern_image(), top=0, right=0, bottom=0, left=-64, blur=0, seed=1)


def test_the_prefill_noise_follows_the_seed():
    a = outpaint.prepare(pattern_image(), top=64, right=0, bottom=0, left=0, blur=8, seed=1).image
    b = outpaint.prepare(pattern_image(), top=64, right=0, bottom=0, left=0, blur=8, seed=1).image
    c = outpaint.prepare(pattern_image(), top=64, right=0, bottom=0, left=0, blur=8, seed=2).image
    assert np.array_equal(np.asarray(a), np.asarray(b)) and not np.array_equal(np.asarray(a), np.asarray(c))
