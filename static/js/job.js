// The job page: one websocket, a snapshot on every (re)connect, then per-step progress. No polling.

import { ordinal, phaseForStep, useVocabulary } from "./steps.js";
import { JobSocket } from "./socket.js";
import { loadReplay } from "./replay.js";

useVocabulary(JSON.parse(document.getElementById("vocabulary-data").textContent));

const $ = (id) => document.getElementById(id);
const job = JSON.parse($("job-data").textContent);
const config = JSON.parse($("job-config").textContent);
const FINISHED = ["succeeded", "failed", "cancelled"];

const el = {
  status: $("job-status"), queueBlock: $("queue-block"), queuePosition: $("queue-position"),
  counter: $("step-counter"), imageCounter: $("image-counter"), progress: $("progress"), bar: $("progress-bar"),
  phaseName: $("phase-name"), phaseDescription: $("phase-description"), phaseDot: $("phase-dot"), strip: $("job-phase-strip"),
  elapsed: $("elapsed"), eta: $("eta"), etaWrap: $("eta-wrap"), rate: $("rate"), rateWrap: $("rate-wrap"),
  previewWrap: $("preview-wrap"), preview: $("preview"), placeholder: $("preview-placeholder"), frame: $("preview-frame"),
  errorBlock: $("error-block"), errorText: $("error-text"), cancelledBlock: $("cancelled-block"), cancelledText: $("cancelled-text"),
  results: $("results"), resultsSection: $("results-section"), resultsCount: $("results-count"),
  cancelForm: $("cancel-form"), cancelButton: $("cancel-button"), cancelLabel: $("cancel-label"),
  liveNote: $("live-note"), liveText: $("live-text"), timings: $("job-timings"), stage: $("stage-note"),
};

const state = {
  ...job,
  imageIndex: Math.min(job.imagesDone, Math.max(job.numberResults - 1, 0)),
};
// Local timing of progress messages, for the per-step rate and the ETA.
const timing = { first: null, last: null };

function formatSeconds(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds % 60);
  if (minutes < 60) return `${minutes} min ${String(rest).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

function phaseColor(name) {
  const index = ["Composition", "Forms", "Details", "Polish"].indexOf(name);
  return `var(--phase-${index + 1})`;
}

function stepShown() {
  // A job that succeeded ran every step of every image.
  return state.status === "succeeded" ? state.totalSteps : Math.min(state.step, state.totalSteps);
}

function render() {
  const { status, totalSteps, numberResults } = state;
  const finished = FINISHED.includes(status);

  el.status.textContent = status;
  el.status.className = `badge status status-${status}`;

  // Queue
  el.queueBlock.hidden = status !== "queued";
  if (status === "queued") {
    el.queuePosition.textContent = state.queuePosition ? `${ordinal(state.queuePosition)} in queue` : "Waiting";
  }

  // Steps
  const step = stepShown();
  el.counter.textContent = `Step ${step} of ${totalSteps}`;
  el.progress.setAttribute("aria-valuenow", String(step));
  el.bar.style.width = `${totalSteps ? (step / totalSteps) * 100 : 0}%`;
  el.progress.classList.toggle("progress-ok", status === "succeeded");
  el.progress.classList.toggle("progress-failed", status === "failed");
  el.progress.classList.toggle("progress-cancelled", status === "cancelled");
  if (numberResults > 1) {
    const current = status === "succeeded" ? numberResults : Math.min(state.imageIndex + 1, numberResults);
    el.imageCounter.hidden = false;
    el.imageCounter.textContent = `Image ${current} of ${numberResults}`;
  }

  // After an image's last step the worker decodes the latents (the VAE) and saves the PNG: no step
  // message comes then, so say what is happening rather than sit at "Step N of N".
  const finishing = isFinishing();
  el.progress.classList.toggle("progress-finishing", finishing);
  el.stage.hidden = !finishing;

  // Phase: by the step's place in the full schedule (img2img runs only its end)
  const phase = state.phase && state.phase.name && status !== "queued"
    ? state.phase
    : phaseForStep(config.firstStep + Math.max(step, 1) - 1, config.requestedSteps);
  if (finishing) {
    el.phaseName.textContent = "Decoding and saving";
    el.phaseDescription.textContent = numberResults > 1
      ? `Every step of image ${state.imageIndex + 1} is done: turning it into pixels and saving it.`
      : "Every step is done: turning the result into pixels and saving it.";
  } else {
    // A job of two passes says which one runs (the server names it: webapp/studio/events.py::phase).
    const passName = { hires: "hires fix", refiner: "refiner" }[phase.pass];
    el.phaseName.textContent = status === "queued" ? `Starts with: ${phase.name}` : passName ? `${phase.name} · ${passName}` : phase.name;
    el.phaseDescription.textContent = phase.description;
  }
  el.phaseDot.style.setProperty("--phase-color", finishing ? "var(--accent)" : phaseColor(phase.name));
  if (el.strip) {
    for (const seg of el.strip.children) seg.classList.toggle("current", !finished && status === "running" && seg.dataset.phase === phase.name);
  }

  // Preview
  el.previewWrap.hidden = status === "queued" || finished;
  if (state.previewDataURI) {
    el.preview.src = state.previewDataURI;
    el.preview.hidden = false;
    el.placeholder.hidden = true;
  } else if (status === "running" && el.preview.hidden) {
    el.placeholder.textContent = "Waiting for the first preview…";
  }

  // Outcome
  el.errorBlock.hidden = status !== "failed";
  if (status === "failed") el.errorText.textContent = state.error || "No error message was recorded.";
  el.cancelledBlock.hidden = status !== "cancelled";
  if (status === "cancelled") {
    el.cancelledText.textContent = state.startedAt
      ? `It stopped at step ${step} of ${totalSteps}${state.images.length ? `, after ${state.images.length} of ${numberResults} images` : ""}.`
      : "It left the queue before it started.";
  }
  renderResults();
  if (finished) renderTimings();

  // Cancel
  if (el.cancelForm) {
    el.cancelForm.hidden = finished;
    if (state.cancelRequested && !finished) {
      el.cancelButton.disabled = true;
      el.cancelLabel.textContent = "Cancelling…";
    }
  }
  renderTimes();
}

function isFinishing() {
  // The runner sets the step back to 0 once an image is stored, so a last step with an image still
  // to store is the one moment nothing else is reported.
  return state.status === "running" && state.totalSteps > 0 && state.step >= state.totalSteps
    && state.imagesDone < state.numberResults;
}

function renderTimings() {
  const timings = state.timings || [];
  el.timings.hidden = timings.length === 0;
  el.timings.replaceChildren(...timings.flatMap(({ label, seconds }) => {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.className = "tabular";
    dd.textContent = `${seconds.toFixed(2)} s`;
    return [dt, dd];
  }));
}

function renderResults() {
  const images = state.images || [];
  el.resultsSection.hidden = images.length === 0;
  el.resultsCount.textContent = `${images.length} of ${state.numberResults}`;
  const known = new Set([...el.results.querySelectorAll("[data-image-id]")].map((a) => a.dataset.imageId));
  for (const image of images) {
    if (known.has(image.id)) continue;
    el.results.append(resultFigure(image));
  }
}

/** A live result, from the same markup the server draws (templates/studio/_result.html). */
function resultFigure(image) {
  const figure = $("result-template").content.firstElementChild.cloneNode(true);
  figure.dataset.imageId = image.id;
  const img = figure.querySelector("img");
  img.src = image.url;
  img.width = image.width;
  img.height = image.height;
  img.alt = `Result ${image.index + 1}, seed ${image.seed}`;
  figure.querySelector(".result-meta").textContent = `Seed ${image.seed}`;
  figure.querySelector(".result-open-img").href = image.pageUrl;
  figure.querySelector(".result-actions").setAttribute("aria-label", `Result ${image.index + 1}`);
  const hrefs = {
    download: image.downloadUrl,
    source: `${config.sourceUrl}?source=${image.id}`,
    reuse: `${config.reuseUrl}?reuse=${image.id}`,
    open: image.pageUrl,
  };
  for (const link of figure.querySelectorAll("[data-result-action]")) link.href = hrefs[link.dataset.resultAction];
  return figure;
}

function renderTimes() {
  const started = state.startedAt ? Date.parse(state.startedAt) : null;
  const ended = state.finishedAt ? Date.parse(state.finishedAt) : Date.now();
  el.elapsed.textContent = started ? formatSeconds(Math.max(0, (ended - started) / 1000)) : "–";
  const finished = FINISHED.includes(state.status);
  let eta = "–";
  let rate = null;
  if (timing.first && timing.last && timing.last.global > timing.first.global) {
    rate = (timing.last.t - timing.first.t) / 1000 / (timing.last.global - timing.first.global);
  }
  if (isFinishing()) {
    eta = "finishing…";
  } else if (state.status === "running" && rate) {
    const remaining = state.numberResults * state.totalSteps - timing.last.global;
    const sinceLast = (performance.now() - timing.last.t) / 1000;
    eta = formatSeconds(Math.max(0, remaining * rate - sinceLast));
  } else if (state.status === "running") {
    eta = "estimating…";
  } else if (finished) {
    eta = "done";
  }
  el.eta.textContent = eta;
  el.etaWrap.hidden = state.status === "queued" || (finished && state.status !== "succeeded");
  el.rateWrap.hidden = !rate;
  if (rate) el.rate.textContent = formatSeconds(rate);
}

function onStatus(snapshot) {
  // Succeeded while this page watched: its replay exists now, so fetch it (no reload needed).
  if (snapshot.status === "succeeded" && state.status !== "succeeded") loadReplay(document.getElementById("replay-slot")).catch(() => {});
  Object.assign(state, snapshot);
  state.imageIndex = Math.min(snapshot.imagesDone, Math.max(snapshot.numberResults - 1, 0));
  if (FINISHED.includes(snapshot.status)) socket.finish();
  render();
}

function onProgress(message) {
  state.status = "running";
  state.step = message.step;
  state.totalSteps = message.totalSteps;
  state.imageIndex = message.imageIndex;
  state.imagesDone = message.imagesDone;
  state.queuePosition = null;
  if (message.phase) state.phase = message.phase;
  if (message.previewDataURI) state.previewDataURI = message.previewDataURI;
  if (!state.startedAt) state.startedAt = new Date().toISOString();
  const now = { t: performance.now(), global: message.imageIndex * message.totalSteps + message.step };
  if (!timing.first) timing.first = now;
  timing.last = now;
  render();
}

const socket = new JobSocket(`/ws/jobs/${job.id}/`, {
  onMessage(message) {
    if (message.type === "status" && message.job) onStatus(message.job);
    else if (message.type === "progress") onProgress(message);
  },
  onState(connection) {
    el.liveNote.classList.toggle("connected", connection === "open");
    el.liveText.textContent = {
      open: "Live", connecting: "Connecting…", retrying: "Reconnecting…", closed: "Finished", denied: "Not available",
    }[connection] || connection;
  },
});
if (!FINISHED.includes(job.status)) socket.connect();
else socket.finish();

// Ticking clock while the job runs.
setInterval(() => { if (state.status === "running") renderTimes(); }, 1000);

// Preview scaling.
for (const button of document.querySelectorAll("[data-scale]")) {
  button.addEventListener("click", () => {
    el.frame.classList.toggle("smooth", button.dataset.scale === "smooth");
    for (const b of document.querySelectorAll("[data-scale]")) b.setAttribute("aria-pressed", String(b === button));
  });
}

render();
