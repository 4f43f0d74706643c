// The gallery: filters apply on change, older pages load as you scroll, and new images from
// teammates (and your own finished jobs) are prepended live from the first page's fragment.

import { refreshTimes } from "./app.js";
import { JobSocket } from "./socket.js";

const grid = document.getElementById("gallery-grid");
const filters = document.getElementById("gallery-filters");
const loadMoreWrap = document.getElementById("load-more-wrap");
const loadMore = document.getElementById("load-more");
const liveNote = document.getElementById("live-note");
const liveText = document.getElementById("live-text");
const count = document.getElementById("gallery-count");

const toggle = filters.querySelector(".filters-toggle");
toggle.setAttribute("aria-expanded", String(filters.classList.contains("open")));
toggle.addEventListener("click", () => {
  toggle.setAttribute("aria-expanded", String(filters.classList.toggle("open")));
});
for (const input of filters.querySelectorAll("[data-autosubmit]")) {
  input.addEventListener("change", () => filters.requestSubmit());
}

function fragmentUrl(page) {
  const params = new URLSearchParams(grid.dataset.query || "");
  params.set("fragment", "1");
  params.set("page", String(page));
  return `${location.pathname}?${params}`;
}

async function fetchFragment(page) {
  const response = await fetch(fragmentUrl(page), { headers: { Accept: "text/html" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const template = document.createElement("template");
  template.innerHTML = await response.text();
  const total = Number.parseInt(response.headers.get("X-Total-Count") || "", 10);
  return {
    tiles: [...template.content.querySelectorAll("[data-image-id]")],
    next: response.headers.get("X-Next-Page") || "",
    total: Number.isFinite(total) ? total : null,
  };
}

function knownIds() {
  return new Set([...grid.querySelectorAll("[data-image-id]")].map((tile) => tile.dataset.imageId));
}

/** "7 images" (or "7 images match"), as the server writes it on the first page. */
function countText(total, filtered) {
  const plural = total === 1 ? "" : "s";
  return `${total} image${plural}${filtered ? (total === 1 ? " matches" : " match") : ""}`;
}

function showCount(total) {
  if (total === null || !count) return;
  count.dataset.count = String(total);
  count.textContent = countText(total, Boolean(count.dataset.filtered));
  count.hidden = total === 0;
}

// Older pages: a button that works without JS, upgraded to infinite scroll.
let loading = false;
async function loadNext() {
  const next = grid.dataset.nextPage;
  if (!next || loading) return;
  loading = true;
  loadMore.textContent = "Loading…";
  try {
    const { tiles, next: after } = await fetchFragment(next);
    const known = knownIds();
    grid.append(...tiles.filter((tile) => !known.has(tile.dataset.imageId)));
    grid.dataset.nextPage = after;
    refreshTimes(grid);
    if (!after) loadMoreWrap.remove();
  } catch {
    loadMore.textContent = "Could not load: try again";
  } finally {
    loading = false;
    if (grid.dataset.nextPage && loadMore.isConnected) loadMore.textContent = "Load older images";
  }
}
if (loadMore) {
  loadMore.addEventListener("click", (event) => { event.preventDefault(); loadNext(); });
  new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) loadNext();
  }, { rootMargin: "600px" }).observe(loadMoreWrap);
}

// Live: prepend what is new on the first page, with the same filters.
let refreshTimer = null;
async function prependNew() {
  if (grid.dataset.page !== "1") return;
  try {
    const { tiles, total } = await fetchFragment(1);
    showCount(total);
    const known = knownIds();
    const fresh = tiles.filter((tile) => !known.has(tile.dataset.imageId));
    for (const tile of fresh) tile.classList.add("is-new");
    grid.prepend(...fresh);
    if (fresh.length) document.getElementById("gallery-empty")?.remove();
    refreshTimes(grid);
  } catch { /* the next message or a reload will catch up */ }
}
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(prependNew, 250);
}

let connectedBefore = false;
const socket = new JobSocket("/ws/gallery/", {
  onMessage(message) {
    if (message.type === "gallery") scheduleRefresh();
    else if (message.type === "status" && message.job && message.job.status === "succeeded") scheduleRefresh();
    else if (message.type === "hello") {
      if (connectedBefore) scheduleRefresh(); // catch up on anything missed while disconnected
      connectedBefore = true;
    }
  },
  onState(state) {
    liveNote.classList.toggle("connected", state === "open");
    liveText.textContent = state === "open" ? "Live" : state === "retrying" ? "Reconnecting…" : "Connecting…";
  },
});
socket.connect();

// Select several: checkboxes on the tiles, and a bar with what to do with them (gallery_bulk).
const selectToggle = document.getElementById("select-toggle");
const bulkForm = document.getElementById("bulk-form");
const bulkCount = document.getElementById("bulk-count");

function selectedBoxes() {
  return [...grid.querySelectorAll('input[name="image"]:checked')];
}

function renderSelection() {
  const chosen = selectedBoxes();
  bulkCount.textContent = `${chosen.length} selected`;
  const mineOnly = chosen.every((box) => box.dataset.owned === "1");
  for (const control of bulkForm.querySelectorAll("[data-bulk]")) {
    const off = chosen.length === 0 || (control.hasAttribute("data-bulk-owned") && !mineOnly);
    if (control.tagName === "SUMMARY") control.setAttribute("aria-disabled", String(off));
    else control.disabled = off;
  }
  for (const tile of grid.querySelectorAll(".tile-wrap")) {
    tile.classList.toggle("selected", tile.querySelector('input[name="image"]').checked);
  }
}

function setSelecting(on) {
  document.body.classList.toggle("selecting", on);
  selectToggle.setAttribute("aria-pressed", String(on));
  bulkForm.hidden = !on;
  if (!on) for (const box of selectedBoxes()) box.checked = false;
  renderSelection();
}

selectToggle.addEventListener("click", () => setSelecting(selectToggle.getAttribute("aria-pressed") !== "true"));
grid.addEventListener("change", (event) => { if (event.target.matches('input[name="image"]')) renderSelection(); });
// While selecting, a click on a tile selects it rather than opening it.
grid.addEventListener("click", (event) => {
  if (!document.body.classList.contains("selecting")) return;
  const tile = event.target.closest(".tile");
  if (!tile) return;
  event.preventDefault();
  const box = tile.closest(".tile-wrap").querySelector('input[name="image"]');
  box.checked = !box.checked;
  renderSelection();
});
document.getElementById("bulk-all").addEventListener("click", () => {
  for (const box of grid.querySelectorAll('input[name="image"]')) box.checked = true;
  renderSelection();
});
bulkForm.querySelector(".bulk-delete > summary").addEventListener("click", (event) => {
  if (event.currentTarget.getAttribute("aria-disabled") === "true") event.preventDefault();
});
bulkForm.addEventListener("submit", () => {
  // A zip download stays on this page: leave selection mode once it starts.
  setTimeout(() => { if (bulkForm.isConnected) renderSelection(); }, 0);
});
renderSelection();
