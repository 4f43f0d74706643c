// How many denoising steps really run: a line-by-line mirror of generation/steps.py.
//
// Keep the float operations identical to Python's: `int(x)` is `Math.trunc(x)` on the same IEEE
// double product, so the float trap int(50 * 0.58) == 28 gives 28 here too.
// tests/vectors/effective_steps.json is checked against both implementations.

export const IMAGE_TASKS = ["imageToImage", "inpainting", "outpainting"];

// architecture key -> pipeline family (generation/architectures.py). The page also embeds each
// model's family, so unknown keys can pass `family` directly.
export const FAMILIES = {
  sd15: "sd15",
  sd15_lcm: "sd15",
  sdxl: "sdxl",
  sdxl_lcm: "sdxl",
  sdxl_lightning: "sdxl",
  sdxl_turbo: "sdxl",
  flux1d: "flux",
  flux1s: "flux",
  zimage: "zimage",
  zimage_turbo: "zimage",
};

// The product document's phases of refinement, by step number (1-based) in the full schedule.
export const PHASES = [
  { from: 1, to: 5, name: "Composition", description: "Establishing basic composition, rough shapes and color distribution." },
  { from: 6, to: 15, name: "Forms", description: "Forming recognizable objects, spatial relationships and textures." },
  { from: 16, to: 30, name: "Details", description: "Refining details, coherence and subtle lighting." },
  { from: 31, to: null, name: "Polish", description: "Polishing fine details and smoothing transitions; changes are increasingly subtle." },
];

/**
 * effectiveSteps({architecture | family, taskType, steps, strength, schedulerOrder})
 *   -> {requested, steps, evaluations, firstStep}
 */
export function effectiveSteps({ architecture, family, taskType, steps, strength = 1.0, schedulerOrder = 1 }) {
  family = family || FAMILIES[architecture];
  if (!family) throw new Error(`Unknown architecture ${architecture}`);
  steps = Number(steps);
  strength = Number(strength);
  let run;
  if (!IMAGE_TASKS.includes(taskType)) {
    run = steps;
  } else if (family === "flux" || family === "zimage") {
    const initTimestep = Math.min(steps * strength, steps);
    const tStart = Math.trunc(Math.max(steps - initTimestep, 0));
    run = steps - tStart;
  } else {
    const initTimestep = Math.min(Math.trunc(steps * strength), steps);
    run = initTimestep;
  }
  const evaluations = schedulerOrder === 2 && run > 0 ? 2 * run - 1 : run;
  return { requested: steps, steps: run, evaluations, firstStep: steps - run + 1 };
}

export function phaseForStep(step) {
  for (const phase of PHASES) {
    if (step >= phase.from && (phase.to === null || step <= phase.to)) return phase;
  }
  return PHASES[0];
}

/** Which phases a run over steps firstStep..requested of the schedule touches, with step counts. */
export function phaseCoverage(requested, firstStep) {
  return PHASES.map((phase) => {
    const to = phase.to === null ? Infinity : phase.to;
    const inSchedule = Math.max(0, Math.min(to, requested) - phase.from + 1);
    const runFrom = Math.max(phase.from, firstStep);
    const run = Math.max(0, Math.min(to, requested) - runFrom + 1);
    return { ...phase, inSchedule, run };
  });
}

/** The smallest step count (up to 100) whose run reaches `target` steps; null if none does. */
export function stepsToReach(target, { architecture, family, taskType, strength }) {
  for (let s = 1; s <= 100; s++) {
    if (effectiveSteps({ architecture, family, taskType, steps: s, strength }).steps >= target) return s;
  }
  return null;
}

function fmtStrength(value) {
  // Python's `{:g}` for the strengths a form can send (two decimals at most).
  return String(Number(Number(value).toFixed(4)));
}

/**
 * The product document's advice that applies to a request, as {level, key, text}. Mirrors (and
 * extends) webapp/studio/schema.py::step_advice; the job page shows the server's version.
 *
 * model: {name, distilled, recommendedSteps: [low, high], architecture, family}
 * scheduler: {name, order, convergence, convergenceLabel, convergesAt}
 */
export function stepAdvice({ model, scheduler, taskType, steps, strength }) {
  const advice = [];
  const imageTask = IMAGE_TASKS.includes(taskType);
  const plan = effectiveSteps({
    architecture: model.architecture, family: model.family, taskType, steps,
    strength: imageTask ? strength : 1.0, schedulerOrder: scheduler ? scheduler.order : 1,
  });
  const [low, high] = model.recommendedSteps;
  if (imageTask && plan.steps < 1) {
    advice.push({
      level: "error", key: "no-steps",
      text: `${steps} steps × strength ${fmtStrength(strength)} runs no denoising step at all: raise strength or steps.`,
    });
    return advice;
  }
  if (model.distilled && plan.requested > high) {
    advice.push({
      level: "warn", key: "distilled",
      text: `This distilled model is meant for ${low}-${high} steps; ${plan.requested} wastes compute.`,
    });
  } else if (model.distilled) {
    advice.push({
      level: "info", key: "distilled-ok",
      text: `Distilled models (LCM, Lightning, Turbo, Schnell) are built for ${low}-${high} steps.`,
    });
  } else if (plan.requested < low) {
    advice.push({ level: "warn", key: "below-range", text: `${model.name} is recommended at ${low}-${high} steps; ${low}-${high} is the sweet spot for standard models.` });
  } else if (plan.requested >= low && plan.requested <= high) {
    advice.push({ level: "ok", key: "sweet-spot", text: `${low}-${high} steps is the sweet spot for standard models.` });
  } else {
    advice.push({ level: "info", key: "above-range", text: `${low}-${high} is the sweet spot for standard models: go higher only if you see a visible improvement.` });
  }
  if (imageTask && strength < 0.5) {
    const target = scheduler ? scheduler.convergesAt : 15;
    const better = stepsToReach(Math.min(target, 100), { architecture: model.architecture, family: model.family, taskType, strength });
    let text = `At strength ${fmtStrength(strength)}, ${plan.requested} steps run only ${plan.steps}`;
    if (better && better > plan.requested) {
      const betterRun = effectiveSteps({ architecture: model.architecture, family: model.family, taskType, steps: better, strength }).steps;
      text += ` — ${better} would run ${betterRun}`;
    }
    advice.push({ level: "warn", key: "low-strength", text: `${text}: raise steps at low strength.` });
  }
  if (scheduler && scheduler.convergence === "stochastic") {
    advice.push({
      level: "info", key: "stochastic",
      text: `${scheduler.name} is stochastic: it does not converge, so more steps give different, not better, results.`,
    });
  } else if (scheduler && !model.distilled && plan.steps < scheduler.convergesAt) {
    const what = scheduler.convergence === "detail" ? "keeps refining up to 40-50 steps" : "reaches good quality at 15-25 steps";
    advice.push({
      level: "warn", key: "converge",
      text: `${scheduler.name} ${what}; only ${plan.steps} will run. Fine for prototyping, raise steps for final renders.`,
    });
  } else if (scheduler && scheduler.convergence === "fast" && !model.distilled && plan.steps > 25) {
    advice.push({
      level: "info", key: "fast-extra",
      text: `${scheduler.name} is fast-converging: past 25 steps extra steps add little.`,
    });
  }
  if (taskType === "outpainting" && strength < 0.7) {
    advice.push({ level: "warn", key: "outpaint-strength", text: "Outpainting works best at strength 0.85-0.95; below 0.7 the new area stays flat." });
  }
  return advice;
}

/** Relative compute of this run against a reference step count (same scheduler, per image). */
export function relativeCost(evaluations, referenceEvaluations) {
  if (!referenceEvaluations) return null;
  return evaluations / referenceEvaluations;
}

export function ordinal(n) {
  const rem100 = n % 100;
  if (rem100 >= 11 && rem100 <= 13) return `${n}th`;
  return `${n}${{ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th"}`;
}
