// Before first paint (a classic, blocking script in <head>), so a stored theme never flashes the other one.
(function () {
  try {
    var t = localStorage.getItem("stepwise-theme");
    if (t === "light" || t === "dark") document.documentElement.dataset.theme = t;
  } catch (e) { /* storage blocked: the system theme applies */ }
})();
