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

export function phaseForStep(step) {
  const { phases } = tables();
  for (const phase of phases) {
    if (step >= phase.from && (phase.to === null || step <= phase.to)) return phase;
  }
  return phases[0];
}

/** Which phases a run over steps firstStep..requested of the schedule touches, with step counts. */
export function phaseCoverage(requested, firstStep) {
  return tables().phases.map((phase) => {
    const to = phase.to === null ? Infinity : phase.to;
    const inSchedule = Math.max(0, Math.min(to, requested) - phase.from + 1);
    const runFrom = Math.max(phase.from, firstStep);
    const run = Math.max(0, Math.min(to, requested) - runFrom + 1);
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
