"""The content checker: diffusers' StableDiffusionSafetyChecker format, a tiny one built here."""

import pytest

from generation.builtin.tiny import build_tiny_content_checker
from generation.safety import ContentChecker, ContentCheckerError, blurred
from tests.engine.helpers import pattern_image


@pytest.mark.parametrize("flags_everything", [True, False])
def test_a_checker_folder_loads_and_answers(tmp_path, flags_everything):
    folder = build_tiny_content_checker(tmp_path / "checker", flags_everything=flags_everything)
    checker = ContentChecker(str(folder))
    assert checker.flagged(pattern_image(96, 64)) is flags_everything
    # One folder holding both parts loads too (the CompVis repository's layout).
    flat = tmp_path / "flat"
    flat.mkdir()
    for part in ("safety_checker", "feature_extractor"):
        for file in (folder / part).iterdir():
            (flat / file.name).write_bytes(file.read_bytes())
    assert ContentChecker(str(flat)).flagged(pattern_image(64, 64)) is flags_everything


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ContentCheckerError, match="could not be loaded"):
        ContentChecker(str(tmp_path / "nothing"))


def test_blurring_hides_the_detail():
    image = pattern_image(128, 128)
    soft = blurred(image)
    assert soft.size == image.size
    # Neighbouring pixels differ far less after the blur.
    def roughness(im):
        import numpy as np

        pixels = np.asarray(im.convert("L"), dtype=float)
        return float(np.abs(np.diff(pixels, axis=1)).mean())
    assert roughness(soft) < roughness(image) / 3
