// The image page: actual-size zoom and, for image-to-image, inpainting and outpainting results, a
// before/after comparison with the source. Previous/next (← →), Z and C are data-shortcut keys (app.js).

import "./replay.js";

const $ = (id) => document.getElementById(id);

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

// Favourite: the form posts without leaving the page.
const favouriteForm = $("favourite-form");
favouriteForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = $("favourite-toggle");
  const input = favouriteForm.elements.favourite;
  try {
    const response = await fetch(favouriteForm.action, {
      method: "POST", body: new FormData(favouriteForm), headers: { Accept: "application/json" }, credentials: "same-origin",
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const { favourite } = await response.json();
    button.setAttribute("aria-pressed", String(favourite));
    button.querySelector(".fav-star").textContent = favourite ? "★" : "☆";
    input.value = favourite ? "0" : "1";
  } catch {
    favouriteForm.submit(); // the plain form still works
  }
});
