// The image page: previous/next within the gallery's filter (arrow keys too), actual-size zoom, and,
// for image-to-image, inpainting and outpainting results, a before/after comparison with the source.

const $ = (id) => document.getElementById(id);

function typing(event) {
  const target = event.target;
  return target.closest?.("input, textarea, select, [contenteditable=''], [contenteditable='true']")
    && !target.matches?.("input[type=range], input[type=radio], input[type=checkbox]");
}

// Previous / next: ← and → follow the links the server drew (same filters as the gallery).
document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || typing(event)) return;
  if (event.target.matches?.("input[type=range]")) return; // the comparison slider uses the arrows
  const link = { ArrowLeft: $("image-prev"), ArrowRight: $("image-next") }[event.key];
  if (link) {
    event.preventDefault();
    link.click();
  }
});

// Zoom: fit the page, or the image's actual pixels (the frame scrolls).
const frame = $("image-frame");
const zoom = $("zoom-toggle");
function setZoom(on) {
  frame.classList.toggle("zoomed", on);
  zoom.setAttribute("aria-pressed", String(on));
  $("zoom-label").textContent = on ? "Fit" : "Actual size";
}
zoom.addEventListener("click", () => setZoom(zoom.getAttribute("aria-pressed") !== "true"));
$("full-image").addEventListener("click", () => setZoom(!frame.classList.contains("zoomed")));

// Before / after: the source left of the line, the result right of it.
const compareToggle = $("compare-toggle");
if (compareToggle) {
  const compare = $("compare");
  const range = $("compare-range");
  const parts = [$("compare-before"), $("compare-line"), range, $("compare-after-tag")];
  const setPosition = () => compare.style.setProperty("--pos", `${range.value}%`);
  range.addEventListener("input", setPosition);
  compareToggle.addEventListener("click", () => {
    const on = compareToggle.getAttribute("aria-pressed") !== "true";
    compareToggle.setAttribute("aria-pressed", String(on));
    compare.classList.toggle("comparing", on);
    for (const part of parts) part.hidden = !on;
    if (on) {
      setZoom(false);
      setPosition();
      range.focus();
    }
  });
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || typing(event)) return;
  if (event.key === "z" || event.key === "Z") zoom.click();
  else if ((event.key === "c" || event.key === "C") && compareToggle) compareToggle.click();
});
