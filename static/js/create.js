// The create form: model defaults, scheduler picker, the live step counter and its advice,
// the source image (upload, drop, gallery), the inpainting mask, the outpainting preview, and the
// offer to reuse the parameters a PNG carries.

import { paintRange } from "./app.js";
import { MaskEditor, loadImage } from "./mask.js";
import { SIDES, drawOutpaint, outpaintProblems, outpaintSize, outpaintSizeText } from "./outpaint.js";
import { describeParameters, pngParameters } from "./pngmeta.js";
import { IMAGE_TASKS, effectiveSteps, phaseCoverage, stepAdvice } from "./steps.js";

const $ = (id) => document.getElementById(id);
const form = $("create-form");
const taskType = form.dataset.taskType;
const imageTask = IMAGE_TASKS.includes(taskType);
const models = JSON.parse($("models-data").textContent);
const catalog = JSON.parse($("schedulers-data").textContent);
const modelsByAir = Object.fromEntries(models.map((m) => [m.air, m]));

const el = {
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
  prompt: $("positivePrompt"), promptCount: $("prompt-count"), presets: $("size-presets"), sizeHelp: $("size-help"),
};

const ICONS = {
  warn: '<path d="M10.3 3.9L1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z"/><path d="M12 9v4M12 17h.01"/>',
  error: '<circle cx="12" cy="12" r="9"/><path d="M12 8v4.5M12 16h.01"/>',
  info: '<circle cx="12" cy="12" r="9"/><path d="M12 11v5M12 8h.01"/>',
  ok: '<circle cx="12" cy="12" r="9"/><path d="M8 12.5l2.5 2.5L16 9.5"/>',
};
function icon(name) {
  return `<svg class="icon" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.75" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${ICONS[name] || ICONS.info}</svg>`;
}
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Scheduler names the validator accepts as aliases of a canonical one (model defaults may use them).
const SCHEDULER_ALIASES = { "euler a": "Euler Ancestral", "dpm++": "DPM++ 2M", "dpm++ karras": "DPM++ 2M Karras", "kdpm2 a": "KDPM2 Ancestral" };
const CLASS_ORDER = ["fast", "detail", "stochastic"];

function currentModel() {
  return modelsByAir[el.model.value] || models[0];
}

function schedulersFor(model) {
  return catalog[model.family] || [];
}

function currentScheduler() {
  return schedulersFor(currentModel()).find((s) => s.name === el.scheduler.value) || null;
}

function canonicalScheduler(model, name) {
  if (!name) return null;
  const list = schedulersFor(model);
  const exact = list.find((s) => s.name.toLowerCase() === name.toLowerCase());
  if (exact) return exact.name;
  const alias = SCHEDULER_ALIASES[name.toLowerCase()];
  return alias && list.some((s) => s.name === alias) ? alias : null;
}

function populateSchedulers(model, preferred) {
  const list = schedulersFor(model);
  const chosen = canonicalScheduler(model, preferred) || canonicalScheduler(model, model.defaults.scheduler) || (list[0] && list[0].name);
  el.scheduler.replaceChildren();
  for (const key of CLASS_ORDER) {
    const members = list.filter((s) => s.convergence === key);
    if (!members.length) continue;
    const group = document.createElement("optgroup");
    group.label = members[0].convergenceLabel;
    for (const s of members) {
      const option = new Option(s.order === 2 ? `${s.name}  (2 evaluations per step)` : s.name, s.name, false, s.name === chosen);
      group.append(option);
    }
    el.scheduler.append(group);
  }
  el.scheduler.value = chosen;
}

function setValue(input, range, value) {
  if (!input || value === undefined || value === null) return;
  input.value = value;
  if (range) {
    range.value = value;
    paintRange(range);
  }
}

function applyModelDefaults(model) {
  const d = model.defaults;
  setValue(el.steps, el.stepsRange, d.steps);
  setValue(el.cfg, null, d.CFGScale);
  populateSchedulers(model, d.scheduler);
  if (!imageTask && el.width) {
    el.width.value = d.width;
    el.height.value = d.height;
  }
  if (imageTask && el.strength) {
    const strength = taskType === "outpainting" ? Math.max(0.9, d.strength) : d.strength;
    setValue(el.strength, el.strengthRange, strength.toFixed(2));
  }
}

function renderModelInfo(model) {
  const [low, high] = model.recommendedSteps;
  el.modelArch.textContent = model.distilled ? `${model.architectureLabel} · distilled` : model.architectureLabel;
  // The select cuts long names short: the built-in model's plain label is repeated here in full.
  el.modelNotes.replaceChildren();
  if (model.builtin) {
    const strong = document.createElement("strong");
    strong.textContent = `${model.label}. `;
    el.modelNotes.append(strong);
  }
  el.modelNotes.append(model.notes || model.stepsAdvice);
  el.stepsHint.textContent = `recommended ${low}-${high}`;
  for (const input of [el.width, el.height]) {
    if (!input) continue;
    input.step = model.sizeMultiple;
    input.max = model.maxSize;
  }
  renderPresets(model);
}

function renderPresets(model) {
  if (!el.presets || imageTask) return;
  const big = model.defaults.width >= 1024 || model.family !== "sd15";
  const sizes = big
    ? [[1024, 1024], [1152, 896], [896, 1152], [1216, 832], [832, 1216], [1344, 768]]
    : [[512, 512], [768, 512], [512, 768], [640, 512], [768, 768]];
  el.presets.replaceChildren(...sizes.filter(([w, h]) => w <= model.maxSize && h <= model.maxSize).map(([w, h]) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "chip";
    button.textContent = `${w} × ${h}`;
    button.setAttribute("aria-pressed", String(Number(el.width.value) === w && Number(el.height.value) === h));
    button.addEventListener("click", () => {
      el.width.value = w;
      el.height.value = h;
      renderPresets(model);
      update();
    });
    return button;
  }));
}

function renderSchedulerInfo(scheduler) {
  if (!scheduler) {
    el.schedulerInfo.replaceChildren();
    return;
  }
  const badge = { fast: "badge-ok", detail: "badge-info", stochastic: "badge-warn" }[scheduler.convergence] || "";
  const order = scheduler.order === 2 ? " Order 2: each step evaluates the model twice (N steps → 2N-1 evaluations)." : "";
  el.schedulerInfo.innerHTML = `<span class="badge ${badge}">${escapeHtml(scheduler.convergenceLabel)}</span><span>${escapeHtml(scheduler.advice)}${order}</span>`;
}

// The step counter -----------------------------------------------------------------------------

function readInt(input, fallback) {
  const value = parseInt(input?.value, 10);
  return Number.isFinite(value) ? value : fallback;
}

function strengthValue() {
  if (!imageTask) return 1.0;
  // The same string the server parses with float(): identical double, identical product.
  const value = parseFloat(el.strength.value);
  return Number.isFinite(value) ? value : 0.8;
}

let liveTimer = null;
let blockReason = "";
let sourceReason = "";

function update() {
  const model = currentModel();
  const scheduler = currentScheduler();
  const steps = Math.max(0, readInt(el.steps, 0));
  const strength = strengthValue();
  const n = Math.max(1, readInt(el.n, 1));
  const validSteps = steps >= 1 && steps <= 100;
  const plan = effectiveSteps({
    architecture: model.architecture, family: model.family, taskType, steps, strength,
    schedulerOrder: scheduler ? scheduler.order : 1,
  });

  // 1. The count
  if (!validSteps) {
    el.count.textContent = "Steps must be 1-100";
  } else if (imageTask) {
    el.count.textContent = `${plan.steps} of ${plan.requested} steps will run`;
  } else {
    el.count.textContent = `${plan.steps} steps will run`;
  }
  el.evals.textContent = scheduler && scheduler.order === 2 && plan.steps > 0 ? `· ${plan.evaluations} model evaluations` : "";

  // 2. Phases of the full schedule, with the part this run covers
  const coverage = phaseCoverage(Math.max(plan.requested, 1), plan.firstStep).filter((p) => p.inSchedule > 0);
  el.strip.replaceChildren(...coverage.map((phase) => {
    const seg = document.createElement("div");
    seg.className = "phase-seg" + (phase.run > 0 ? " covered" : "") + (phase.run > 0 && phase.run < phase.inSchedule ? " partial" : "");
    seg.style.setProperty("--w", phase.inSchedule);
    seg.style.setProperty("--run", `${(phase.run / phase.inSchedule) * 100}%`);
    const last = Math.min(phase.to ?? plan.requested, plan.requested);
    seg.title = `${phase.name}, steps ${phase.from}-${last}: ${phase.description} ${phase.run} of ${phase.inSchedule} run.`;
    seg.innerHTML = `<span class="phase-run"></span><span class="phase-name">${phase.name}</span>`;
    return seg;
  }));
  el.scaleEnd.textContent = validSteps ? `step ${plan.requested}` : "";
  const covered = coverage.filter((p) => p.run > 0).map((p) => p.name);
  if (!validSteps) {
    el.caption.textContent = "";
  } else if (plan.steps < 1) {
    el.caption.textContent = "No step of the schedule runs at this strength.";
  } else if (!imageTask || plan.firstStep === 1) {
    el.caption.textContent = `Runs the whole ${plan.requested}-step schedule: ${covered.join(" → ")}.`;
  } else {
    el.caption.textContent = `Runs only the last ${plan.steps} steps (${plan.firstStep}-${plan.requested}) of the ${plan.requested}-step schedule: ${covered.join(" → ")}. Your source image stands in for the earlier steps.`;
  }

  // 3. Relative compute against the top of the recommended range
  const reference = model.recommendedSteps[1];
  const refEvals = effectiveSteps({ architecture: model.architecture, family: model.family, taskType: "textToImage", steps: reference, schedulerOrder: scheduler ? scheduler.order : 1 }).evaluations;
  const ratio = refEvals ? plan.evaluations / refEvals : 0;
  el.costFill.style.width = `${Math.min(ratio / 2, 1) * 100}%`;
  el.costRef.style.left = "50%";
  el.costText.textContent = `${ratio.toFixed(2)}× a ${reference}-step run`;
  let costCaption = "";
  if (validSteps && plan.steps > 0) {
    const pct = Math.round(Math.abs(1 - ratio) * 100);
    if (ratio < 0.995) costCaption = `${pct}% less compute than ${reference} steps`;
    else if (ratio > 1.005) costCaption = `${pct}% more compute than ${reference} steps`;
    else costCaption = `The same compute as ${reference} steps`;
    costCaption += n > 1 ? `; ${plan.evaluations * n} model evaluations for ${n} images.` : ".";
    if (!model.distilled && reference === 30) costCaption += " Cutting 30 → 20 steps saves a third.";
  }
  el.costCaption.textContent = costCaption;

  // 4. Advice from the product document
  const advice = validSteps && scheduler ? stepAdvice({ model, scheduler, taskType, steps, strength }) : [];
  el.advice.replaceChildren(...advice.map((item) => {
    const li = document.createElement("li");
    li.className = item.level;
    li.dataset.advice = item.key;
    li.innerHTML = `${icon(item.level)}<span>${escapeHtml(item.text)}</span>`;
    return li;
  }));

  // 5. Submit: blocked when nothing would run
  blockReason = "";
  if (!validSteps) blockReason = "Steps must be a whole number from 1 to 100.";
  else if (imageTask && plan.steps < 1) blockReason = `${plan.requested} steps × strength ${strength} runs no denoising step: raise strength or steps.`;
  renderBlocked();
  el.summary.textContent = validSteps ? `${n} image${n > 1 ? "s" : ""} · ${plan.steps} steps each` : "";

  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => { el.live.textContent = el.count.textContent + (el.evals.textContent ? ` ${el.evals.textContent}` : "") + "."; }, 600);
  if (taskType === "outpainting") updateOutpaint();
  updateSizeHelp();
}

function renderBlocked() {
  // Only "nothing would run" disables the button; a missing source or mask is explained on submit.
  const reason = blockReason || sourceReason;
  el.submit.disabled = Boolean(blockReason);
  if (el.mobileSubmit) el.mobileSubmit.disabled = Boolean(blockReason);
  if (el.mobileSummary) el.mobileSummary.textContent = reason || `${el.count.textContent}${el.evals.textContent ? ` ${el.evals.textContent}` : ""}`;
  el.blocked.hidden = !reason;
  el.blocked.querySelector("span").textContent = reason;
}

// Sliders and inputs ---------------------------------------------------------------------------

function pair(range, input) {
  if (!range || !input) return;
  range.addEventListener("input", () => {
    input.value = range.step === "0.01" ? Number(range.value).toFixed(2) : range.value;
    update();
  });
  input.addEventListener("input", () => {
    const value = parseFloat(input.value);
    if (Number.isFinite(value) && value >= Number(range.min) && value <= Number(range.max)) {
      range.value = input.value;
      paintRange(range);
    }
    update();
  });
}
pair(el.stepsRange, el.steps);
pair(el.strengthRange, el.strength);
for (const input of [el.n, el.cfg, el.width, el.height]) input?.addEventListener("input", update);
el.scheduler.addEventListener("change", () => { renderSchedulerInfo(currentScheduler()); update(); });
function modelChanged() {
  const model = currentModel();
  applyModelDefaults(model);
  renderModelInfo(model);
  renderSchedulerInfo(currentScheduler());
  update();
}
el.model.addEventListener("change", modelChanged);
$("seed-random")?.addEventListener("click", () => { el.seed.value = ""; el.seed.focus(); });
if (el.prompt && el.promptCount) {
  const count = () => { el.promptCount.textContent = `${el.prompt.value.length} / 3000`; };
  el.prompt.addEventListener("input", count);
  count();
}

// Source image ---------------------------------------------------------------------------------

const source = { image: null, width: 0, height: 0 };
const sourceImg = $("source-img");
const fileInput = $("seedImage");
const dataInput = $("seedImageData");
const sourceEmpty = $("source-empty");
const sourceChosen = $("source-chosen");
const sourceSize = $("source-size");
let objectUrl = null;

function pickerRadios() {
  return [...document.querySelectorAll('input[name="seedImageId"]')];
}

async function showSource(url) {
  try {
    const image = await loadImage(url);
    source.image = image;
    source.width = image.naturalWidth;
    source.height = image.naturalHeight;
    sourceImg.src = url;
    sourceImg.alt = "Source image";
    sourceEmpty.hidden = true;
    sourceChosen.hidden = false;
    $("source-change").hidden = false;
    sourceSize.textContent = `Source ${source.width} × ${source.height}`;
    if (mask) mask.reset(source.width, source.height);
  } catch {
    source.image = null;
    sourceSize.textContent = "This image could not be loaded.";
  }
  sourceReason = "";
  renderBlocked();
  update();
}

if (imageTask) {
  fileInput.addEventListener("change", () => {
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    for (const radio of pickerRadios()) radio.checked = false;
    dataInput.value = "";
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = URL.createObjectURL(file);
    showSource(objectUrl);
    offerParameters(file);
  });
  document.addEventListener("change", (event) => {
    const radio = event.target;
    if (radio.name !== "seedImageId" || !radio.checked) return;
    fileInput.value = "";
    dataInput.value = "";
    showSource(radio.dataset.url);
    offerParameters(null); // the offer was about the file that is no longer the source
  });
  const dropzone = $("dropzone");
  for (const type of ["dragenter", "dragover"]) dropzone.addEventListener(type, () => dropzone.classList.add("dragover"));
  for (const type of ["dragleave", "drop"]) dropzone.addEventListener(type, () => dropzone.classList.remove("dragover"));
  $("source-change").addEventListener("click", () => {
    sourceEmpty.hidden = false;
    $("picker").open = true;
    fileInput.focus();
  });
  // Also accept a pasted image (e.g. a screenshot).
  document.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
    if (!file) return;
    const transfer = new DataTransfer();
    transfer.items.add(file);
    fileInput.files = transfer.files;
    fileInput.dispatchEvent(new Event("change"));
  });
}

// Inpainting mask ------------------------------------------------------------------------------

let mask = null;
const maskStatus = $("mask-status");
const maskDataInput = $("maskImageData");
const maskIdInput = $("maskImageId");
const maskFile = $("maskImage");

function renderMaskStatus() {
  if (!mask || !maskStatus) return;
  if (sourceReason) { sourceReason = ""; renderBlocked(); }
  const share = mask.coverage();
  maskStatus.textContent = share > 0 ? `Repainting ${Math.max(1, Math.round(share * 100))}% of the image` : "Nothing painted yet";
}

if (taskType === "inpainting") {
  mask = new MaskEditor({ canvas: $("mask-canvas"), cursor: $("brush-cursor"), onChange: renderMaskStatus });
  const size = $("brush-size");
  const sizeOut = $("brush-size-out");
  size.addEventListener("input", () => { mask.setSize(size.value); sizeOut.textContent = size.value; });
  mask.setSize(size.value);
  const toolButtons = [...document.querySelectorAll("[data-tool]")];
  const setTool = (tool) => {
    mask.setTool(tool);
    for (const b of toolButtons) b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
  };
  for (const b of toolButtons) b.addEventListener("click", () => setTool(b.dataset.tool));
  for (const b of document.querySelectorAll("[data-mask-action]")) {
    b.addEventListener("click", () => mask[b.dataset.maskAction]());
  }
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") { event.preventDefault(); mask.undo(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "b") setTool("brush");
    else if (event.key === "e") setTool("eraser");
    else if (event.key === "[" || event.key === "]") {
      size.value = Math.max(4, Math.min(200, Number(size.value) + (event.key === "]" ? 8 : -8)));
      size.dispatchEvent(new Event("input"));
      paintRange(size);
    }
  });
  // An uploaded mask file is loaded into the editor, so it can be seen and touched up.
  maskFile.addEventListener("change", async () => {
    const file = maskFile.files && maskFile.files[0];
    if (!file || !source.image) return;
    const url = URL.createObjectURL(file);
    try {
      const probe = await loadImage(url);
      if (probe.naturalWidth !== source.width || probe.naturalHeight !== source.height) {
        sourceSize.textContent = `The mask is ${probe.naturalWidth} × ${probe.naturalHeight}, the source ${source.width} × ${source.height}: they must match.`;
        return;
      }
      await mask.load(url);
      maskFile.value = "";
    } finally {
      URL.revokeObjectURL(url);
    }
  });
}

// Outpainting ----------------------------------------------------------------------------------

function outpaintExtents() {
  const ext = {};
  for (const side of SIDES) {
    const input = $(`outpaint${side[0].toUpperCase()}${side.slice(1)}`);
    const value = Number(input.value || 0);
    ext[side] = value;
  }
  return ext;
}

function updateOutpaint() {
  const sizeText = $("outpaint-size");
  const blur = $("outpaintBlur");
  $("outpaintBlur-out").textContent = `${blur.value} px`;
  const model = currentModel();
  const ext = outpaintExtents();
  if (!source.image) {
    sizeText.textContent = "Choose a source image to see the new canvas.";
    return;
  }
  const size = outpaintSize({ sourceWidth: source.width, sourceHeight: source.height, ...ext, multiple: model.sizeMultiple });
  const problems = outpaintProblems(ext, size, model.maxSize);
  sizeText.textContent = outpaintSizeText(size);
  sizeText.dataset.testid = "outpaint-size";
  if (problems.length) {
    blockReason = blockReason || problems[0];
    renderBlocked();
  }
  drawOutpaint($("outpaint-canvas"), source.image, ext, size, { blur: Number(blur.value) });
}

if (taskType === "outpainting") {
  for (const side of SIDES) $(`outpaint${side[0].toUpperCase()}${side.slice(1)}`).addEventListener("input", update);
  $("outpaintBlur").addEventListener("input", update);
  window.addEventListener("resize", () => update());
}

function updateSizeHelp() {
  if (!el.sizeHelp || !imageTask) return;
  if (!source.image) { el.sizeHelp.textContent = "Leave empty to keep the source size."; return; }
  const multiple = currentModel().sizeMultiple;
  const w = Math.max(multiple, source.width - (source.width % multiple));
  const h = Math.max(multiple, source.height - (source.height % multiple));
  el.sizeHelp.textContent = el.width.value || el.height.value
    ? `The source is ${source.width} × ${source.height}.`
    : `Leave empty to keep the source size: ${w} × ${h}.`;
}

// Parameters carried by a PNG ----------------------------------------------------------------------
// A PNG made by Stepwise (or AUTOMATIC1111) carries the parameters that made it. When one becomes
// the source of an image task, or is dropped on the text-to-image page, offer to fill the form in.

const paramsSlot = $("png-params");
const paramsTemplate = $("png-params-template");
let paramsToken = 0;

/** Fill the form from a PNG's values; returns notes on what could not be used. */
function applyParameters(values) {
  const notes = [];
  // 1. The model first: its family decides which schedulers exist, and choosing it resets defaults.
  if (values.model && values.model !== el.model.value) {
    if (modelsByAir[values.model]) {
      el.model.value = values.model;
      modelChanged();
    } else {
      notes.push(`The model ${values.model} is not available to you, so ${currentModel().name} stays selected.`);
    }
  } else if (!values.model && values.modelName && values.modelName !== currentModel().name) {
    notes.push(`It was made with ${values.modelName}; the model stays ${currentModel().name}.`);
  }
  // 2. Prompts and numbers. Fields the PNG does not carry keep what the form has.
  if (values.positivePrompt !== undefined) {
    el.prompt.value = values.positivePrompt;
    el.prompt.dispatchEvent(new Event("input")); // the character count
  }
  if (values.negativePrompt !== undefined) $("negativePrompt").value = values.negativePrompt;
  if (values.steps >= 1 && values.steps <= 100) setValue(el.steps, el.stepsRange, values.steps);
  if (values.CFGScale !== undefined) el.cfg.value = values.CFGScale;
  if (values.seed !== undefined) el.seed.value = values.seed;
  if (values.scheduler) {
    const name = canonicalScheduler(currentModel(), values.scheduler);
    if (name) el.scheduler.value = name;
    else notes.push(`This model has no ${values.scheduler} scheduler, so ${el.scheduler.value} stays selected.`);
  }
  // 3. Size only on text to image: the image tasks keep the size of their source.
  if (!imageTask && el.width && values.width && values.height) {
    el.width.value = values.width;
    el.height.value = values.height;
  }
  if (imageTask && el.strength && values.strength >= 0 && values.strength <= 1) {
    setValue(el.strength, el.strengthRange, values.strength.toFixed(2));
  }
  renderSchedulerInfo(currentScheduler());
  renderPresets(currentModel());
  update();
  return notes;
}

function showNotice(kind, text, prompt = "") {
  const notice = paramsTemplate.content.firstElementChild.cloneNode(true);
  setNotice(notice, kind, text);
  notice.querySelector(".png-params-prompt").textContent = prompt ? `“${prompt}”` : "";
  notice.querySelector(".png-params-prompt").hidden = !prompt;
  notice.querySelector('[data-png-params="dismiss"]').addEventListener("click", () => dismissNotice(notice));
  notice.addEventListener("keydown", (event) => { if (event.key === "Escape") dismissNotice(notice); });
  paramsSlot.replaceChildren(notice);
  return notice;
}

function setNotice(notice, kind, text) {
  // kind: "offer" (with the Reuse button), "done" (filled in) or "none" (nothing found).
  notice.className = `alert png-params ${kind === "done" ? "alert-ok" : kind === "none" ? "alert-warn" : "alert-info"}`;
  notice.dataset.state = kind;
  notice.querySelector('[data-png-params-icon="offer"]').hidden = kind === "done";
  notice.querySelector('[data-png-params-icon="done"]').hidden = kind !== "done";
  notice.querySelector(".png-params-actions").hidden = kind !== "offer";
  notice.querySelector(".png-params-text").textContent = text;
}

function dismissNotice(notice) {
  const hadFocus = notice.contains(document.activeElement);
  notice.remove();
  // Focus would fall back to the page's start: put it where the file came from instead.
  if (hadFocus) (imageTask ? ($("source-change").hidden ? fileInput : $("source-change")) : el.prompt).focus();
}

/** Read a PNG's parameters and offer them; `sayWhenNone` also says when there are none. */
async function offerParameters(file, { sayWhenNone = false } = {}) {
  const token = ++paramsToken;
  paramsSlot.replaceChildren();
  if (!file) return;
  let found = null;
  try {
    found = await pngParameters(file);
  } catch { /* an unreadable file: the server says what is wrong with it on submit */ }
  if (token !== paramsToken) return; // another file was chosen meanwhile
  if (!found) {
    if (sayWhenNone) showNotice("none", `${file.name || "This image"} carries no generation parameters (it is not a PNG from Stepwise or AUTOMATIC1111).`);
    return;
  }
  const summary = describeParameters(found.values);
  const notice = showNotice("offer", `This image carries its generation parameters (${summary}). Reuse them?`,
    found.values.positivePrompt);
  notice.querySelector('[data-png-params="apply"]').addEventListener("click", () => {
    const notes = applyParameters(found.values);
    setNotice(notice, "done", [`Filled in from this image: ${summary}.`, ...notes].join(" "));
    notice.querySelector(".png-params-text").focus(); // the button is gone; read out what happened
  });
}

if (!imageTask) {
  const paramsFile = $("params-file");
  paramsFile.addEventListener("change", () => {
    offerParameters(paramsFile.files[0], { sayWhenNone: true });
    paramsFile.value = ""; // picking the same file again offers again
  });
  // Dropping a file anywhere on the page reads it instead of letting the browser open it.
  const overlay = $("drop-overlay");
  const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  document.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    overlay.hidden = false;
  });
  document.addEventListener("dragleave", (event) => { if (!event.relatedTarget) overlay.hidden = true; });
  document.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    overlay.hidden = true;
    offerParameters(event.dataTransfer.files[0], { sayWhenNone: true });
  });
}

// Submit ---------------------------------------------------------------------------------------

function fail(message, focusTarget) {
  sourceReason = message;
  renderBlocked();
  focusTarget?.scrollIntoView({ block: "center", behavior: "smooth" });
  focusTarget?.focus?.({ preventScroll: true });
}

form.addEventListener("submit", (event) => {
  if (blockReason) { event.preventDefault(); return; }
  if (imageTask && !source.image && !fileInput.files.length && !dataInput.value && !pickerRadios().some((r) => r.checked)) {
    event.preventDefault();
    fail("Choose a source image first: upload one or pick one from the gallery.", $("dropzone"));
    return;
  }
  if (mask) {
    if (mask.dirty) {
      maskDataInput.value = mask.toDataURL();
      maskIdInput.value = "";
    } else if (!maskIdInput.value && !maskDataInput.value && !(maskFile.files && maskFile.files.length)) {
      event.preventDefault();
      fail("Paint the area to repaint on the image (white = repaint), or upload a mask.", $("mask-canvas"));
      return;
    }
    if (mask.dirty && mask.coverage() === 0) {
      event.preventDefault();
      fail("The mask is empty: paint the area to repaint, or upload a mask.", $("mask-canvas"));
      return;
    }
  }
  el.submit.disabled = true;
  if (el.mobileSubmit) el.mobileSubmit.disabled = true;
  el.submitLabel.textContent = "Queuing…";
});
window.addEventListener("pageshow", () => { el.submitLabel.textContent = "Generate"; renderBlocked(); });

// Start ----------------------------------------------------------------------------------------

(function init() {
  const model = currentModel();
  populateSchedulers(model, el.scheduler.dataset.initial);
  renderModelInfo(model);
  renderSchedulerInfo(currentScheduler());
  for (const range of [el.stepsRange, el.strengthRange]) if (range) paintRange(range);
  update();
  if (imageTask) {
    const checked = pickerRadios().find((r) => r.checked);
    const initial = dataInput.value || (checked && checked.dataset.url);
    if (initial) {
      showSource(initial).then(async () => {
        if (!mask) return;
        const maskUrl = maskDataInput.value || (maskIdInput.value && maskIdInput.dataset.url);
        if (maskUrl) {
          await mask.load(maskUrl).catch(() => {});
          mask.dirty = Boolean(maskDataInput.value);
          renderMaskStatus();
        }
      });
    }
  }
  const summary = $("error-summary");
  if (summary) summary.focus();
})();
