// The create page's entry: reads what the server embedded (models, schedulers, the vocabulary) and
// wires the panels in static/js/create/. templates/studio/create.html calls init() once.
//
//   pickers        model and scheduler pickers, size presets
//   plan, advice   steps and strength: the live step counter, phases, compute, the server's advice
//   source         the source image of the image tasks
//   mask-panel     the inpainting mask
//   outpaint-panel the outpainting sides and preview
//   second-pass    the hires fix and the SDXL refiner (text to image), upscale (image to image)
//   addons-panel   LoRAs with weight sliders and trigger words, embeddings, VAE, clip skip, weighting
//   png-params     the offer to reuse the parameters a PNG carries
//   submit         the submit button: blocked when nothing would run, checks on submit
//   styles-panel   saved styles: apply one to the prompts, save the prompts as one
//   fields, dom    the prompt count, seed button and variations switch; shared DOM helpers

import { isImageTask, useVocabulary } from "./steps.js";
import { setupAddons } from "./create/addons-panel.js";
import { setupAdvice } from "./create/advice.js";
import { $, readJson } from "./create/dom.js";
import { setupFields } from "./create/fields.js";
import { setupMask } from "./create/mask-panel.js";
import { setupOutpaint } from "./create/outpaint-panel.js";
import { setupPickers } from "./create/pickers.js";
import { setupPlan } from "./create/plan.js";
import { setupPngParams } from "./create/png-params.js";
import { setupSecondPass } from "./create/second-pass.js";
import { setupSource } from "./create/source.js";
import { setupStyles } from "./create/styles-panel.js";
import { createSubmitBar, guardSubmit } from "./create/submit.js";

function settingsElements() {
  return {
    model: $("model"), modelNotes: $("model-notes"), modelArch: $("model-arch"),
    scheduler: $("scheduler"), schedulerInfo: $("scheduler-info"),
    steps: $("steps"), stepsRange: $("steps-range"), stepsHint: $("steps-range-hint"),
    strength: $("strength"), strengthRange: $("strength-range"),
    cfg: $("CFGScale"), seed: $("seed"), n: $("numberResults"), width: $("width"), height: $("height"),
    count: $("plan-count"), evals: $("plan-evals"), strip: $("phase-strip"), scaleEnd: $("phase-scale-end"),
    caption: $("plan-caption"), costFill: $("cost-fill"), costRef: $("cost-ref"), costText: $("cost-text"),
    costCaption: $("cost-caption"), advice: $("advice"), live: $("plan-live"),
    submit: $("submit"), submitLabel: $("submit-label"), blocked: $("submit-blocked"), summary: $("submit-summary"),
    mobileSubmit: $("mobile-submit"), mobileSummary: $("mobile-summary"),
    prompt: $("positivePrompt"), promptCount: $("prompt-count"), examples: $("example-prompts"), presets: $("size-presets"), sizeHelp: $("size-help"),
  };
}

/** The settings card fits between its top and the bottom of the window, wherever the page is
 * scrolled, so Generate and the "steps will run" line at its foot are always in view. */
function fitSettings() {
  const card = document.querySelector(".create-side-card");
  if (!card) return;
  let frame = 0;
  const fit = () => {
    frame = 0;
    const top = Math.max(card.getBoundingClientRect().top, 0);
    card.style.setProperty("--side-top", `${Math.round(top)}px`);
  };
  const schedule = () => { if (!frame) frame = requestAnimationFrame(fit); };
  window.addEventListener("scroll", schedule, { passive: true });
  window.addEventListener("resize", schedule);
  fit();
}

export function init() {
  const form = $("create-form");
  const vocabulary = readJson("vocabulary-data");
  useVocabulary(vocabulary);
  const models = readJson("models-data");
  const taskType = form.dataset.taskType;
  const page = {
    form,
    taskType,
    imageTask: isImageTask(taskType),
    vocabulary,
    models,
    modelsByAir: Object.fromEntries(models.map((m) => [m.air, m])),
    catalog: readJson("schedulers-data"),
    el: settingsElements(),
    source: { image: null, width: 0, height: 0 }, // the loaded source image of an image task
    update: () => {}, // recounts everything; set once the panels exist
  };

  // 1. The panels
  const bar = createSubmitBar(page.el);
  const pickers = setupPickers(page);
  const secondPass = setupSecondPass(page);
  const plan = setupPlan(page, { pickers, bar, secondPass, advice: setupAdvice(page.el.advice, page.el.costCaption, document.getElementById("time-estimate")) });
  setupFields(page);
  setupStyles(page);
  const addons = setupAddons(page, { pickers });
  const mask = taskType === "inpainting" ? setupMask(page, { bar }) : null;
  const outpaint = taskType === "outpainting" ? setupOutpaint(page, { pickers, bar }) : null;
  let pngParams = null;
  const source = page.imageTask
    ? setupSource(page, {
      bar,
      onLoaded: ({ width, height }) => mask?.reset(width, height),
      onFile: (file) => pngParams.offer(file),
    })
    : null;
  pngParams = setupPngParams(page, { pickers, source, addons, secondPass });
  guardSubmit(page, { bar, source, mask });
  page.update = () => {
    plan.update();
    outpaint?.update();
    source?.updateSizeHelp(pickers.currentModel());
  };

  // 2. The first render, from the values the server rendered
  fitSettings();
  pickers.start();
  page.update();
  const initialSource = source?.initialUrl();
  if (initialSource) source.show(initialSource).then(() => mask?.loadInitial());
  $("error-summary")?.focus();
}
