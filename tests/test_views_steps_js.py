"""static/js/steps.js counts exactly like generation/steps.py for every value the sliders can send.

The shared vectors (tests/js/steps.test.mjs) pin the known cases; this sweeps the whole slider range:
steps 1-100 x strength 0.00-1.00 (as the form's strings) on both pipeline families and scheduler orders.
"""

import json
import shutil
import subprocess
from pathlib import Path

from generation.steps import effective_steps
from generation.vocabulary import for_browser
from tests.conftest import require

ROOT = Path(__file__).resolve().parent.parent



def test_steps_js_matches_python_over_the_whole_slider_range(tmp_path):
    node = shutil.which("node")
    require(node is not None, "Node.js is not installed")
    assert node is not None  # require() has skipped (or failed) the test otherwise
    cases = [
        (architecture, task, steps, f"{hundredths / 100:.2f}", order)
        for architecture in ("sd15", "flux1d")
        for task in ("textToImage", "imageToImage")
        for steps in range(1, 101)
        for hundredths in range(0, 101)
        for order in (1, 2)
        if task == "imageToImage" or hundredths == 100
    ]
    expected = [
        [plan.steps, plan.evaluations, plan.first_step]
        for plan in (
            effective_steps(architecture=a, task_type=t, steps=s, strength=float(strength), scheduler_order=o)
            for a, t, s, strength, o in cases
        )
    ]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (tmp_path / "vocabulary.json").write_text(json.dumps(for_browser()))  # what the pages embed
    (tmp_path / "run.mjs").write_text(
        f'import {{ readFileSync }} from "node:fs";\n'
        f'import {{ effectiveSteps, useVocabulary }} from "{(ROOT / "static/js/steps.js").as_uri()}";\n'
        'useVocabulary(JSON.parse(readFileSync(process.argv[3], "utf8")));\n'
        'const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));\n'
        "const out = cases.map(([architecture, taskType, steps, strength, schedulerOrder]) => {\n"
        "  const plan = effectiveSteps({\n"
        "    architecture, taskType, steps, strength: parseFloat(strength), schedulerOrder,\n"
        "  });\n"
        "  return [plan.steps, plan.evaluations, plan.firstStep];\n"
        "});\n"
        "process.stdout.write(JSON.stringify(out));\n"
    )
    result = subprocess.run([node, str(tmp_path / "run.mjs"), str(tmp_path / "cases.json"),
                             str(tmp_path / "vocabulary.json")],
                            capture_output=True, text=True, timeout=60, check=True)
    actual = json.loads(result.stdout)
    assert len(actual) == len(cases)
    mismatches = [(case, want, got) for case, want, got in zip(cases, expected, actual, strict=True) if want != got]
    assert not mismatches, mismatches[:10]


def test_phases_in_js_match_python_for_every_step_of_every_run(tmp_path):
    from generation.architectures import phase_for_step

    node = shutil.which("node")
    require(node is not None, "Node.js is not installed")
    assert node is not None
    cases = [(step, requested) for requested in range(1, 101) for step in range(1, requested + 1)]
    expected = [phase_for_step(step, requested)[0] for step, requested in cases]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (tmp_path / "vocabulary.json").write_text(json.dumps(for_browser()))
    (tmp_path / "run.mjs").write_text(
        f'import {{ readFileSync }} from "node:fs";\n'
        f'import {{ phaseForStep, useVocabulary }} from "{(ROOT / "static/js/steps.js").as_uri()}";\n'
        'useVocabulary(JSON.parse(readFileSync(process.argv[3], "utf8")));\n'
        'const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));\n'
        "process.stdout.write(JSON.stringify(cases.map(([s, n]) => phaseForStep(s, n).name)));\n"
    )
    result = subprocess.run([node, str(tmp_path / "run.mjs"), str(tmp_path / "cases.json"),
                             str(tmp_path / "vocabulary.json")],
                            capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout) == expected
