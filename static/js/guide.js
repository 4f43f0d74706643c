// The guide's steps x strength calculator, using the same function as the create form.

import { paintRange } from "./app.js";
import { effectiveSteps, phaseCoverage, useVocabulary } from "./steps.js";

useVocabulary(JSON.parse(document.getElementById("vocabulary-data").textContent));

const steps = document.getElementById("calc-steps");
const strength = document.getElementById("calc-strength");
const family = document.getElementById("calc-family");
const count = document.getElementById("calc-count");
const strip = document.getElementById("calc-strip");
const caption = document.getElementById("calc-caption");

function update() {
  document.getElementById("calc-steps-out").textContent = steps.value;
  document.getElementById("calc-strength-out").textContent = Number(strength.value).toFixed(2);
  const plan = effectiveSteps({ family: family.value, taskType: "imageToImage", steps: Number(steps.value), strength: parseFloat(strength.value) });
  count.textContent = `${plan.steps} of ${plan.requested} steps will run`;
  const coverage = phaseCoverage(plan.requested, plan.firstStep).filter((p) => p.inSchedule > 0);
  strip.replaceChildren(...coverage.map((phase) => {
    const seg = document.createElement("div");
    seg.className = "phase-seg" + (phase.run ? " covered" : "") + (phase.run && phase.run < phase.inSchedule ? " partial" : "");
    seg.style.setProperty("--w", phase.inSchedule);
    seg.style.setProperty("--run", `${(phase.run / phase.inSchedule) * 100}%`);
    seg.innerHTML = `<span class="phase-run"></span><span class="phase-name">${phase.name}</span>`;
    return seg;
  }));
  caption.textContent = plan.steps
    ? `The run starts at step ${plan.firstStep} of the schedule and covers ${coverage.filter((p) => p.run).map((p) => p.name).join(" → ")}.`
    : "No step runs: raise strength or steps.";
}

for (const input of [steps, strength, family]) input.addEventListener("input", update);
for (const range of [steps, strength]) paintRange(range);
update();
