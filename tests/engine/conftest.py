"""Fixtures for the engine tests: real diffusers pipelines, tiny, on the CPU, built offline.

- builtin_dir: the built-in shapes model (SD 1.5 architecture, trained, shipped), installed once per session.
- tiny_dirs: tiny SDXL, FLUX and Z-Image models in diffusers format, built once per session.
- engine: one CPU Engine for the session, big enough to keep every test model cached.
- source(family): a ModelSource for one of them.

Helpers (inputs at 64 px, a step recorder, an evaluation counter) are in tests/engine/helpers.py.

No Django and no database here; nothing is downloaded.
"""

import os

# Before anything imports huggingface_hub: any attempt to reach the hub fails instead of downloading.
os.environ["HF_HUB_OFFLINE"] = "1"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from generation.builtin import BUILTIN_DIRNAME, install_builtin_model  # noqa: E402
from generation.builtin.tiny import build_tiny_model  # noqa: E402
from generation.engine import Engine, ModelSource  # noqa: E402
from tests.engine.helpers import ARCHITECTURE  # noqa: E402

ENGINE_TESTS = Path(__file__).parent


@pytest.fixture(scope="session", autouse=True)
def _one_cpu_thread():
    # The tiny models gain nothing from a second thread, and on a busy 2-core machine a thread pool
    # waiting for its descheduled twin makes every step several times slower.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def builtin_dir(tmp_path_factory):
    return install_builtin_model(tmp_path_factory.mktemp("models") / BUILTIN_DIRNAME)


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory, builtin_dir):
    root = tmp_path_factory.mktemp("tiny")
    dirs = {family: build_tiny_model(family, root / family) for family in ("sdxl", "flux", "zimage")}
    return {"sd15": builtin_dir, **dirs}


@pytest.fixture(scope="session")
def source(tiny_dirs):
    def make(family: str, air: str | None = None) -> ModelSource:
        return ModelSource(air=air or f"test:{family}@1", architecture=ARCHITECTURE[family],
                           path=str(tiny_dirs[family]))

    return make


@pytest.fixture(scope="session")
def engine():
    return Engine(device="cpu", cache_size=8)


def pytest_collection_modifyitems(config, items):
    # diffusers' schedulers trip NumPy 2 deprecations thousands of times per run: noise, not news.
    for item in items:
        if item.path.is_relative_to(ENGINE_TESTS):
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning"))
