"""The layout's contract: dependencies point one way.

Pages and the API use the jobs app (webapp/jobs), which uses the generation service (generation/),
which uses only torch and diffusers: it imports no Django and no web app, and can be imported and
tested without settings. The web process never loads torch: only a generation worker does.
"""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATION = ROOT / "generation"
FORBIDDEN = ("django", "webapp")


def generation_modules() -> list[str]:
    names = []
    for path in sorted(GENERATION.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def imported_names(path: Path) -> list[tuple[int, str]]:
    """Every module an import statement in `path` names, at any depth (function-level included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_generation_imports_no_django_and_no_web_app():
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted(GENERATION.rglob("*.py"))
        for line, name in imported_names(path)
        if name.split(".")[0] in FORBIDDEN
    ]
    assert offences == []


def _run_python(code: str, env: dict) -> dict:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_generation_module_imports_without_django_settings():
    modules = generation_modules()
    assert "generation.engine" in modules and "generation.publisher" in modules
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'webapp'})))\n"
    )
    assert _run_python(code, env) == []


def test_the_web_process_never_loads_torch():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    code = (
        "import json, sys\n"
        "import webapp.asgi, webapp.urls\n"  # get_asgi_application() sets Django up (apps, admin)
        "import webapp.jobs.queue, webapp.jobs.recovery, webapp.jobs.runner, webapp.jobs.services\n"
        "import webapp.jobs.management.commands.generation_worker\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'diffusers', 'transformers'})))\n"
    )
    assert _run_python(code, env) == []
