// The model and scheduler pickers: a model's defaults, notes and size presets; the schedulers its
// family offers (the server's catalog, names and aliases), grouped by convergence class.

import { escapeHtml, setValue } from "./dom.js";

const BADGES = { fast: "badge-ok", detail: "badge-info", stochastic: "badge-warn" };

export function setupPickers(page) {
  const { el, models, modelsByAir, catalog, vocabulary, taskType, imageTask } = page;

  function currentModel() {
    return modelsByAir[el.model.value] || models[0];
  }

  function schedulersFor(model) {
    return catalog[model.family] || [];
  }

  function currentScheduler() {
    return schedulersFor(currentModel()).find((s) => s.name === el.scheduler.value) || null;
  }

  /** The canonical name for a scheduler name or alias on this model's family; null if it has none. */
  function canonicalScheduler(model, name) {
    if (!name) return null;
    const wanted = name.toLowerCase();
    const list = schedulersFor(model);
    const match = list.find((s) => s.name.toLowerCase() === wanted)
      || list.find((s) => s.aliases.some((alias) => alias.toLowerCase() === wanted));
    return match ? match.name : null;
  }

  function populateSchedulers(model, preferred) {
    const list = schedulersFor(model);
    const chosen = canonicalScheduler(model, preferred) || canonicalScheduler(model, model.defaults.scheduler) || (list[0] && list[0].name);
    el.scheduler.replaceChildren();
    for (const key of vocabulary.convergenceOrder) {
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
    if (model.measured) {
      // The steps profile measured on this server (manage.py steps_profile): the form's hint.
      const link = document.createElement("a");
      link.href = model.stepsUrl;
      link.textContent = model.measured;
      link.dataset.testid = "measured-note";
      el.modelNotes.append(" ", link);
    }
    el.stepsHint.textContent = `recommended ${low}-${high}`;
    renderExamples(model);
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
    const tiny = model.defaults.width <= 256;  // the built-in model: 256 native, 512 works
    const sizes = big
      ? [[1024, 1024], [1152, 896], [896, 1152], [1216, 832], [832, 1216], [1344, 768]]
      : tiny ? [[256, 256], [384, 256], [256, 384], [512, 512]]
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
        page.update();
      });
      return button;
    }));
  }

  /** A model that knows a small world (the built-in one) says what it understands: its example
   *  prompts as the placeholder and as chips that fill the prompt. */
  function renderExamples(model) {
    const examples = model.examplePrompts || [];
    el.prompt.placeholder = examples[0] || el.prompt.dataset.defaultPlaceholder;
    if (!el.examples) return;
    el.examples.hidden = examples.length === 0;
    el.examples.querySelector(".chips").replaceChildren(...examples.map((text) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "chip";
      button.textContent = text;
      button.addEventListener("click", () => {
        el.prompt.value = text;
        el.prompt.dispatchEvent(new Event("input", { bubbles: true }));
        el.prompt.focus();
      });
      return button;
    }));
  }

  function renderSchedulerInfo(scheduler) {
    if (!scheduler) {
      el.schedulerInfo.replaceChildren();
      return;
    }
    const badge = BADGES[scheduler.convergence] || "";
    const order = scheduler.order === 2 ? " Order 2: each step evaluates the model twice (N steps → 2N-1 evaluations)." : "";
    el.schedulerInfo.innerHTML = `<span class="badge ${badge}">${escapeHtml(scheduler.convergenceLabel)}</span><span>${escapeHtml(scheduler.advice)}${order}</span>`;
  }

  function modelChanged() {
    const model = currentModel();
    applyModelDefaults(model);
    renderModelInfo(model);
    renderSchedulerInfo(currentScheduler());
    page.update();
  }

  /** The first render: the scheduler the page was given (or the model's default), and the model's notes. */
  function start() {
    const model = currentModel();
    populateSchedulers(model, el.scheduler.dataset.initial);
    renderModelInfo(model);
    renderSchedulerInfo(currentScheduler());
  }

  el.scheduler.addEventListener("change", () => { renderSchedulerInfo(currentScheduler()); page.update(); });
  el.model.addEventListener("change", modelChanged);

  return { currentModel, currentScheduler, canonicalScheduler, modelChanged, renderPresets, renderSchedulerInfo, start };
}
