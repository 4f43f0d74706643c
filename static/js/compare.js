// A comparison still running: reload the grid every few seconds until every cell is done.
// (Each cell is an ordinary job; its own page streams the progress.)
const RELOAD_MS = 3000;
const grid = document.querySelector("[data-testid=compare-grid]");
if (grid && grid.hasAttribute("data-pending")) {
  setTimeout(function reload() {
    if (document.hidden) { setTimeout(reload, RELOAD_MS); return; }
    window.location.reload();
  }, RELOAD_MS);
}
