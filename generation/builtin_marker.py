"""Is a built model already on disk? Plain Python, so `serve` can tell without importing torch."""

from pathlib import Path

# Bump when the built-in recipe changes: an existing folder with another version is rebuilt.
BUILTIN_VERSION = "stepwise-tiny-sd15-v2"
BUILTIN_DIRNAME = "stepwise-tiny-sd15"
MARKER = ".stepwise-builtin"


def is_complete(path: Path, version: str = BUILTIN_VERSION) -> bool:
    marker = Path(path) / MARKER
    return marker.is_file() and marker.read_text().strip() == version
