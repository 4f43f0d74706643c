// node --test tests/js/
// static/js/steps.js must agree with generation/steps.py on every shared vector. Its tables come
// from the server (generation/vocabulary.py); the advice is the server's alone (tests/test_advice.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  effectiveSteps, isImageTask, ordinal, phaseCoverage, phaseForStep, useVocabulary,
} from "../../static/js/steps.js";
import { vocabulary } from "./vocabulary.mjs";

useVocabulary(vocabulary);

const vectors = JSON.parse(readFileSync(new URL("../vectors/effective_steps.json", import.meta.url), "utf8"));

test("the shared vector file is not empty", () => {
  assert.ok(vectors.length > 0);
});

test("effectiveSteps matches every shared vector", () => {
  for (const v of vectors) {
    const plan = effectiveSteps({
      architecture: v.architecture, taskType: v.taskType, steps: v.steps, strength: v.strength,
      schedulerOrder: v.schedulerOrder,
    });
    const label = JSON.stringify(v);
    assert.equal(plan.steps, v.expectedSteps, `steps for ${label}`);
    assert.equal(plan.evaluations, v.expectedEvaluations, `evaluations for ${label}`);
    assert.equal(plan.firstStep, v.steps - v.expectedSteps + 1, `firstStep for ${label}`);
  }
});

test("the float trap: 50 x 0.58 runs 28 on SD, 29 on flow-matching models", () => {
  assert.equal(effectiveSteps({ architecture: "sd15", taskType: "imageToImage", steps: 50, strength: 0.58 }).steps, 28);
  assert.equal(effectiveSteps({ family: "flux", taskType: "imageToImage", steps: 50, strength: 0.58 }).steps, 29);
});

test("strings from form inputs give the same result as numbers", () => {
  const plan = effectiveSteps({ architecture: "sdxl", taskType: "inpainting", steps: "50", strength: "0.58" });
  assert.equal(plan.steps, 28);
});

test("text-to-image runs every step; order-2 schedulers evaluate 2N-1 times", () => {
  assert.deepEqual(
    effectiveSteps({ architecture: "sd15", taskType: "textToImage", steps: 20, strength: 0.3, schedulerOrder: 2 }),
    { requested: 20, steps: 20, evaluations: 39, firstStep: 1 },
  );
});

test("the product document's examples", () => {
  // steps 40, strength 0.5 -> the last 20 steps
  assert.deepEqual(
    effectiveSteps({ architecture: "sd15", taskType: "imageToImage", steps: 40, strength: 0.5 }),
    { requested: 40, steps: 20, evaluations: 20, firstStep: 21 },
  );
  // strength 0.3: 50 steps -> 15, 20 steps -> 6
  assert.equal(effectiveSteps({ architecture: "sd15", taskType: "imageToImage", steps: 50, strength: 0.3 }).steps, 15);
  assert.equal(effectiveSteps({ architecture: "sd15", taskType: "imageToImage", steps: 20, strength: 0.3 }).steps, 6);
});

test("phases follow the position in the schedule: every run goes from composition to polish", () => {
  const names = (n) => Array.from({ length: n }, (_, i) => phaseForStep(i + 1, n).name[0]).join("");
  assert.equal(names(4), "CFDP");
  assert.equal(names(8), "CFFFDDDP");
  // 30 steps: the document's ranges (1-5, 6-15, 16-30 with the final steps polishing)
  assert.equal(names(30), "CCCCC" + "F".repeat(10) + "D".repeat(12) + "PPP");
  assert.equal(phaseForStep(50, 50).name, "Polish");
});

test("phase coverage of an img2img run covers only the end of the schedule", () => {
  const coverage = phaseCoverage(40, 21);
  assert.deepEqual(coverage.map((p) => [p.name, p.inSchedule, p.run]), [
    ["Composition", 7, 0], ["Forms", 13, 0], ["Details", 16, 16], ["Polish", 4, 4],
  ]);
});

test("image tasks come from the server's task types", () => {
  assert.deepEqual(["textToImage", "imageToImage", "inpainting", "outpainting"].map(isImageTask), [false, true, true, true]);
});

test("ordinals for the queue position", () => {
  assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 102, 111].map(ordinal),
    ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "102nd", "111th"]);
});

const jobVectors = JSON.parse(readFileSync(new URL("../vectors/job_plans.json", import.meta.url), "utf8"));

test("jobPlan and planLabel match every shared job-plan vector (refiner split, hires pass)", async () => {
  const { jobPlan, planLabel } = await import("../../static/js/steps.js");
  assert.ok(jobVectors.length > 0);
  for (const v of jobVectors) {
    const plan = jobPlan({
      architecture: v.architecture, taskType: v.taskType, steps: v.steps, strength: v.strength,
      schedulerOrder: v.schedulerOrder, refinerStartStep: v.refinerStartStep ?? null,
      hiresSteps: v.hiresSteps ?? null, hiresStrength: v.hiresStrength ?? null,
    });
    const label = JSON.stringify(v);
    assert.equal(plan.steps, v.expected.steps, `steps for ${label}`);
    assert.equal(plan.evaluations, v.expected.evaluations, `evaluations for ${label}`);
    assert.equal(planLabel(plan), v.expected.label, `label for ${label}`);
    assert.deepEqual(plan.passes.map((p) => ({ name: p.name, steps: p.steps, firstStep: p.firstStep, requested: p.requested, offset: p.offset })),
      v.expected.passes, `passes for ${label}`);
  }
});

test("refinerStart and upscaledSize agree with generation/steps.py", async () => {
  const { refinerStart, upscaledSize } = await import("../../static/js/steps.js");
  assert.equal(refinerStart({ steps: 30, startStep: "24" }), 24);
  assert.equal(refinerStart({ steps: 30, startPercentage: 80 }), 24);
  assert.equal(refinerStart({ steps: 25, startPercentage: 50 }), 12);
  assert.equal(refinerStart({ steps: 30, startPercentage: 83.5 }), 25);
  assert.deepEqual(upscaledSize(512, 512, { upscale: 1.5, multiple: 8 }), [768, 768]);
  assert.deepEqual(upscaledSize(520, 344, { upscale: 1.5, multiple: 64 }), [768, 512]);
});
