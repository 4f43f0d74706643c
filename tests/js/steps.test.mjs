// node --test tests/js/
// static/js/steps.js must agree with generation/steps.py on every shared vector.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  effectiveSteps, ordinal, phaseCoverage, phaseForStep, stepAdvice, stepsToReach,
} from "../../static/js/steps.js";

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

test("phases by step number", () => {
  assert.equal(phaseForStep(1).name, "Composition");
  assert.equal(phaseForStep(5).name, "Composition");
  assert.equal(phaseForStep(6).name, "Forms");
  assert.equal(phaseForStep(30).name, "Details");
  assert.equal(phaseForStep(31).name, "Polish");
});

test("phase coverage of an img2img run covers only the end of the schedule", () => {
  const coverage = phaseCoverage(40, 21);
  assert.deepEqual(coverage.map((p) => [p.name, p.inSchedule, p.run]), [
    ["Composition", 5, 0], ["Forms", 10, 0], ["Details", 15, 10], ["Polish", 10, 10],
  ]);
});

const sd15 = { name: "SD model", architecture: "sd15", family: "sd15", distilled: false, recommendedSteps: [25, 30] };
const lcm = { name: "LCM model", architecture: "sd15_lcm", family: "sd15", distilled: true, recommendedSteps: [4, 8] };
const euler = { name: "Euler", order: 1, convergence: "fast", convergesAt: 15 };
const dpm = { name: "DPM++ 2M Karras", order: 1, convergence: "detail", convergesAt: 40 };
const ancestral = { name: "Euler Ancestral", order: 1, convergence: "stochastic", convergesAt: 20 };
const keys = (advice) => advice.map((a) => a.key);

test("advice: low strength names the document's numbers", () => {
  const advice = stepAdvice({ model: sd15, scheduler: euler, taskType: "imageToImage", steps: 20, strength: 0.3 });
  const low = advice.find((a) => a.key === "low-strength");
  assert.equal(low.text, "At strength 0.3, 20 steps run only 6 — 50 would run 15: raise steps at low strength.");
  assert.equal(stepsToReach(15, { architecture: "sd15", taskType: "imageToImage", strength: 0.3 }), 50);
});

test("advice: distilled model over its range wastes compute", () => {
  const advice = stepAdvice({ model: lcm, scheduler: euler, taskType: "textToImage", steps: 30, strength: 1 });
  assert.equal(advice[0].text, "This distilled model is meant for 4-8 steps; 30 wastes compute.");
  assert.ok(!keys(advice).includes("converge"));
});

test("advice: sweet spot, convergence and stochastic schedulers", () => {
  assert.deepEqual(keys(stepAdvice({ model: sd15, scheduler: euler, taskType: "textToImage", steps: 28, strength: 1 })), ["sweet-spot", "fast-extra"]);
  assert.ok(keys(stepAdvice({ model: sd15, scheduler: dpm, taskType: "textToImage", steps: 28, strength: 1 })).includes("converge"));
  assert.ok(keys(stepAdvice({ model: sd15, scheduler: euler, taskType: "textToImage", steps: 10, strength: 1 })).includes("converge"));
  assert.ok(keys(stepAdvice({ model: sd15, scheduler: ancestral, taskType: "textToImage", steps: 28, strength: 1 })).includes("stochastic"));
});

test("advice: zero effective steps is an error and nothing else", () => {
  const advice = stepAdvice({ model: sd15, scheduler: euler, taskType: "inpainting", steps: 10, strength: 0.05 });
  assert.deepEqual(keys(advice), ["no-steps"]);
  assert.equal(advice[0].level, "error");
});

test("ordinals for the queue position", () => {
  assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 102, 111].map(ordinal),
    ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "102nd", "111th"]);
});
