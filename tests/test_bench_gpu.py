"""bench/gpu.py: its configs have the real SD 1.5 and SDXL shapes, and without CUDA it says so and
exits cleanly (this machine has no GPU: the figures come from a GPU worker)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import gpu  # noqa: E402


def parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_without_cuda_it_measures_nothing_says_why_and_exits_cleanly():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu.py")], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "no CUDA device on this machine" in lines[0] and "nothing measured" in lines[0]
    assert lines[-1] == "gpu_benchmark=skipped"


@pytest.mark.parametrize(("name", "expected"), [
    # The published parameter counts of the real models' components.
    ("sd15", {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480}),
    ("sdxl", {"unet": 2_567_463_684, "vae": 83_653_863, "text_encoder": 123_060_480,
              "text_encoder_2": 694_659_840}),
])
def test_the_configs_build_the_real_shapes(name, expected):
    components = gpu.build_components(name, device="meta")  # shapes only, no memory
    assert {key: parameters(components[key]) for key in expected} == expected
