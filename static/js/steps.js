// How many denoising steps really run: a line-by-line mirror of generation/steps.py.
//
// Keep the float operations identical to Python's: `int(x)` is `Math.trunc(x)` on the same IEEE
// double product, so the float trap int(50 * 0.58) == 28 gives 28 here too.
// tests/vectors/effective_steps.json is checked against both implementations.

// The tables (task types, architectures and their families, phases) are the server's: pages embed
// generation/vocabulary.py's data with json_script and pass it to useVocabulary() before counting.
let vocabulary = null;

export function useVocabulary(data) {
  vocabulary = data;
}

function tables() {
  if (!vocabulary) throw new Error("steps.js has no vocabulary yet: call useVocabulary() first");
  return vocabulary;
}

export function isImageTask(taskType) {
  return tables().imageTasks.includes(taskType);
}

/**
 * effectiveSteps({architecture | family, taskType, steps, strength, schedulerOrder})
 *   -> {requested, steps, evaluations, firstStep}
 */
export function effectiveSteps({ architecture, family, taskType, steps, strength = 1.0, schedulerOrder = 1 }) {
  const { architectures, flowMatchingFamilies } = tables();
  family = family || architectures[architecture]?.family;
  if (!family) throw new Error(`Unknown architecture ${architecture}`);
  steps = Number(steps);
  strength = Number(strength);
  let run;
  if (!isImageTask(taskType)) {
    run = steps;
  } else if (flowMatchingFamilies.includes(family)) {
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

function evaluationsFor(run, schedulerOrder) {
  return schedulerOrder === 2 && run > 0 ? 2 * run - 1 : run;
}

/**
 * Steps the base runs before the SDXL refiner takes over: Runware's startStep, or
 * startStepPercentage of steps rounded down (generation/steps.py::refiner_start).
 */
export function refinerStart({ steps, startStep = null, startPercentage = null }) {
  if (startStep !== null && startStep !== undefined && startStep !== "") return Number(startStep);
  return Math.trunc((Number(steps) * Number(startPercentage)) / 100);
}

/**
 * Every pass of a job (generation/steps.py::job_plan): [{name, steps, requested, firstStep,
 * evaluations, offset}], with the job's total. The refiner takes over the same schedule where the
 * base stops; the hires fix runs image-to-image (hiresSteps x hiresStrength) after the whole schedule.
 */
export function jobPlan({ architecture, family, taskType, steps, strength = 1.0, schedulerOrder = 1,
  refinerStartStep = null, hiresSteps = null, hiresStrength = null }) {
  const first = effectiveSteps({ architecture, family, taskType, steps, strength, schedulerOrder });
  let passes;
  if (refinerStartStep !== null) {
    const total = Number(steps);
    const baseRun = Math.min(Math.max(Number(refinerStartStep), 0), total);
    const rest = total - baseRun;
    passes = [
      { name: "base", requested: total, steps: baseRun, evaluations: evaluationsFor(baseRun, schedulerOrder), firstStep: 1, offset: 0 },
      { name: "refiner", requested: total, steps: rest, evaluations: evaluationsFor(rest, schedulerOrder), firstStep: baseRun + 1, offset: baseRun },
    ];
  } else if (hiresSteps !== null && hiresStrength !== null) {
    const hires = effectiveSteps({ architecture, family, taskType: "imageToImage", steps: hiresSteps, strength: hiresStrength, schedulerOrder });
    passes = [{ name: "base", ...first, offset: 0 }, { name: "hires", ...hires, offset: first.steps }];
  } else {
    passes = [{ name: "base", ...first, offset: 0 }];
  }
  return {
    passes,
    imageTask: isImageTask(taskType),
    steps: passes.reduce((sum, p) => sum + p.steps, 0),
    evaluations: passes.reduce((sum, p) => sum + p.evaluations, 0),
  };
}

/** The counter's words for a job plan: the same text as generation/steps.py::JobPlan.label. */
export function planLabel(plan) {
  if (plan.passes.length === 1) {
    const p = plan.passes[0];
    if (!plan.imageTask) return `${p.steps} steps will run`;
    return `${p.steps} of ${p.requested} steps will run`;
  }
  return `${plan.steps} steps: ${plan.passes.map((p) => `${p.steps} ${p.name}`).join(" + ")}`;
}

/** The hires fix's size: each side x upscale, rounded down to the size multiple (steps.py::upscaled_size). */
export function upscaledSize(width, height, { upscale, multiple }) {
  const side = (value) => {
    const scaled = Math.trunc(Number(value) * Number(upscale));
    return Math.max(multiple, scaled - (scaled % multiple));
  };
  return [side(width), side(height)];
}

/**
 * The phase of step `step` (1-based) of a `requested`-step schedule: by its position in the schedule,
 * the same integer arithmetic as generation/architectures.py::phase_index.
 */
export function phaseIndex(step, requested) {
  const { phases } = tables();
  requested = Math.max(requested, 1);
  step = Math.min(Math.max(step, 1), requested);
  if (step === 1) return 0;
  if (step === requested) return phases.length - 1;
  for (let i = 0; i < phases.length; i++) {
    if ((2 * step - 1) * phases[i].den <= 2 * requested * phases[i].num) return i;
  }
  return phases.length - 1;
}

export function phaseForStep(step, requested) {
  return tables().phases[phaseIndex(step, requested)];
}

/** The phases of a `requested`-step schedule: {name, description, from, to} for those with a step. */
export function phaseRanges(requested) {
  const ranges = [];
  for (let step = 1; step <= Math.max(requested, 1); step++) {
    const phase = phaseForStep(step, requested);
    const last = ranges[ranges.length - 1];
    if (last && last.name === phase.name) last.to = step;
    else ranges.push({ ...phase, from: step, to: step });
  }
  return ranges;
}

/** Which phases a run over steps firstStep..requested of the schedule touches, with step counts. */
export function phaseCoverage(requested, firstStep) {
  return phaseRanges(requested).map((phase) => {
    const inSchedule = phase.to - phase.from + 1;
    const run = Math.max(0, phase.to - Math.max(phase.from, firstStep) + 1);
    return { ...phase, inSchedule, run };
  });
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
