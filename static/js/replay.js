// The replay of one image's refinement: a slider over its kept per-step previews, with the phase of
// each step (computed by the server, generation/architectures.py) under it.

export function initReplay(section) {
  if (!section || section.dataset.ready) return;
  section.dataset.ready = "1";
  const frames = JSON.parse(section.querySelector("script[type='application/json']").textContent);
  const range = section.querySelector("[data-replay-range]");
  const image = section.querySelector("[data-replay-image]");
  const stepText = section.querySelector("[data-replay-step]");
  const phaseText = section.querySelector("[data-replay-phase]");
  const description = section.querySelector("[data-replay-description]");
  const ticks = [...section.querySelectorAll(".replay-tick")];

  function show(index) {
    const frame = frames[index];
    if (!frame) return;
    image.src = frame.url;
    image.alt = `The preview at step ${frame.step} of ${frame.total}`;
    stepText.textContent = `Step ${frame.step} of ${frame.total}`;
    phaseText.textContent = frame.phase;
    description.textContent = frame.description;
    range.setAttribute("aria-valuetext", `Step ${frame.step} of ${frame.total}, ${frame.phase}`);
    ticks.forEach((tick, i) => tick.classList.toggle("current", i === index));
  }

  range.addEventListener("input", () => show(Number(range.value)));
  ticks.forEach((tick, i) => tick.addEventListener("click", () => { range.value = String(i); show(i); }));
  // Fetch the frames ahead, so that scrubbing does not wait for each one.
  for (const frame of frames) new Image().src = frame.url;
  show(Number(range.value));
}

// A job page that watched its job finish asks the server for the replay it now has: the page's
// own HTML, rendered again, carries it (one source of truth for the frames, no second endpoint).
export async function loadReplay(slot) {
  if (!slot || slot.querySelector("[data-replay]")) return;
  const response = await fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
  if (!response.ok) return;
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = page.getElementById(slot.id);
  const section = fresh && fresh.querySelector("[data-replay]");
  if (!section) return;
  slot.replaceChildren(document.importNode(section, true));
  initReplay(slot.querySelector("[data-replay]"));
}

initReplay(document.querySelector("[data-replay]"));
