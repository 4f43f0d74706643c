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
