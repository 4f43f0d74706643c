// The steps and strength panel: the sliders, and the live plan beside them. How many steps run
// (steps.js, the mirror of generation/steps.py), which phases of the schedule they cover, the compute
// against the recommended range, the advice, and whether the submit button can run anything.

import { paintRange } from "../app.js";
import { effectiveSteps, jobPlan, phaseCoverage, planLabel } from "../steps.js";
import { readInt } from "./dom.js";

const LIVE_DELAY_MS = 600;

export function setupPlan(page, { pickers, bar, advice, secondPass }) {
  const { el, taskType, imageTask } = page;
  let liveTimer = null;

  function strengthValue() {
    if (!imageTask) return 1.0;
    // The same string the server parses with float(): identical double, identical product.
    const value = parseFloat(el.strength.value);
    return Number.isFinite(value) ? value : 0.8;
  }

  function update() {
    const model = pickers.currentModel();
    const scheduler = pickers.currentScheduler();
    const steps = Math.max(0, readInt(el.steps, 0));
    const strength = strengthValue();
    const n = Math.max(1, readInt(el.n, 1));
    const validSteps = steps >= 1 && steps <= 100;
    const schedulerOrder = scheduler ? scheduler.order : 1;
    // Every pass of the job (the hires fix or the refiner adds a second): one step counter across them.
    secondPass.update(model, steps);
    const passes = jobPlan({
      architecture: model.architecture, family: model.family, taskType, steps, strength, schedulerOrder,
      ...secondPass.planArgs(model, steps),
    });
    const plan = passes.passes[0];

    // 1. The count
    if (!validSteps) {
      el.count.textContent = "Steps must be 1-100";
    } else {
      el.count.textContent = planLabel(passes);
    }
    el.evals.textContent = scheduler && scheduler.order === 2 && passes.steps > 0 ? `· ${passes.evaluations} model evaluations` : "";

    // 2. Phases of the full schedule, with the part this run covers
    const coverage = phaseCoverage(Math.max(plan.requested, 1), plan.firstStep).filter((p) => p.inSchedule > 0);
    el.strip.replaceChildren(...coverage.map((phase) => {
      const seg = document.createElement("div");
      seg.className = "phase-seg" + (phase.run > 0 ? " covered" : "") + (phase.run > 0 && phase.run < phase.inSchedule ? " partial" : "");
      seg.style.setProperty("--w", phase.inSchedule);
      seg.style.setProperty("--run", `${(phase.run / phase.inSchedule) * 100}%`);
      seg.title = `${phase.name}, steps ${phase.from}-${phase.to}: ${phase.description} ${phase.run} of ${phase.inSchedule} run.`;
      seg.innerHTML = `<span class="phase-run"></span><span class="phase-name">${phase.name}</span>`;
      return seg;
    }));
    el.scaleEnd.textContent = validSteps ? `step ${plan.requested}` : "";
    const covered = coverage.filter((p) => p.run > 0).map((p) => p.name);
    if (!validSteps) {
      el.caption.textContent = "";
    } else if (plan.steps < 1) {
      el.caption.textContent = "No step of the schedule runs at this strength.";
    } else if (passes.passes[1]?.name === "refiner") {
      el.caption.textContent = `The base runs steps 1-${plan.steps} of the ${steps}-step schedule. ${secondPass.caption(passes, model)}`;
    } else if (!imageTask || plan.firstStep === 1) {
      el.caption.textContent = `Runs the whole ${plan.requested}-step schedule: ${covered.join(" → ")}. ${secondPass.caption(passes, model)}`.trim();
    } else {
      el.caption.textContent = `Runs only the last ${plan.steps} steps (${plan.firstStep}-${plan.requested}) of the ${plan.requested}-step schedule: ${covered.join(" → ")}. Your source image stands in for the earlier steps.`;
    }

    // 3. Relative compute against the top of the recommended range
    const reference = model.recommendedSteps[1];
    const refEvals = effectiveSteps({ architecture: model.architecture, family: model.family, taskType: "textToImage", steps: reference, schedulerOrder: scheduler ? scheduler.order : 1 }).evaluations;
    const ratio = refEvals ? passes.evaluations / refEvals : 0;
    el.costFill.style.width = `${Math.min(ratio / 2, 1) * 100}%`;
    el.costRef.style.left = "50%";
    el.costText.textContent = `${ratio.toFixed(2)}× a ${reference}-step run`;
    // The sentence under the bar is the server's (generation/advice.py::cost_sentence), with the advice.

    // 4. Advice from the product document, by the server's rules
    if (validSteps && scheduler) {
      const params = { model: model.air, scheduler: scheduler.name, steps: String(steps), numberResults: String(n) };
      if (imageTask) params.strength = String(strength);
      if (el.width && el.height && el.width.value && el.height.value) Object.assign(params, { width: el.width.value, height: el.height.value });
      // The second pass, so that the time estimate covers both passes (the server plans them itself).
      for (const [key, value] of Object.entries(secondPass.planArgs(model, steps))) params[key] = String(value);
      if (passes.passes[1]?.name === "hires") params.hiresUpscale = secondPass.hiresUpscale();
      advice.request(params);
    } else {
      advice.clear();
    }

    // 5. Submit: blocked when nothing would run
    let blockReason = "";
    if (!validSteps) blockReason = "Steps must be a whole number from 1 to 100.";
    else if (imageTask && plan.steps < 1) blockReason = `${plan.requested} steps × strength ${strength} runs no denoising step: raise strength or steps.`;
    else if (passes.passes[1]?.name === "hires" && passes.passes[1].steps < 1) blockReason = "The hires fix runs no step at this strength: raise the hires strength or steps.";
    else if (passes.passes[1]?.name === "refiner" && (passes.passes[0].steps < 1 || passes.passes[1].steps < 1)) blockReason = `The refiner must take over after a step from 1 to ${steps - 1}.`;
    bar.block(blockReason);
    // The line above Generate: what will run, always in view (the settings scroll above it).
    el.summary.textContent = validSteps ? `${el.count.textContent} · ${n} image${n > 1 ? "s" : ""}` : "";

    clearTimeout(liveTimer);
    liveTimer = setTimeout(() => { el.live.textContent = el.count.textContent + (el.evals.textContent ? ` ${el.evals.textContent}` : "") + "."; }, LIVE_DELAY_MS);
  }

  // A slider and its number input move together.
  function pair(range, input) {
    if (!range || !input) return;
    range.addEventListener("input", () => {
      input.value = range.step === "0.01" ? Number(range.value).toFixed(2) : range.value;
      page.update();
    });
    input.addEventListener("input", () => {
      const value = parseFloat(input.value);
      if (Number.isFinite(value) && value >= Number(range.min) && value <= Number(range.max)) {
        range.value = input.value;
        paintRange(range);
      }
      page.update();
    });
  }
  pair(el.stepsRange, el.steps);
  pair(el.strengthRange, el.strength);
  for (const input of [el.n, el.cfg, el.width, el.height]) input?.addEventListener("input", () => page.update());
  for (const range of [el.stepsRange, el.strengthRange]) if (range) paintRange(range);

  return { update };
}
