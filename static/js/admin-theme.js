// The admin follows the studio's theme (stepwise-theme in localStorage), and the admin's own theme
// button keeps the studio in step. Loaded before the admin's theme.js, so its first paint is right.
(function () {
  try {
    var studio = localStorage.getItem("stepwise-theme");
    localStorage.setItem("theme", studio === "light" || studio === "dark" ? studio : "auto");
  } catch (e) {}
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest(".theme-toggle")) return;
    try {
      var theme = localStorage.getItem("theme");
      if (theme === "light" || theme === "dark") localStorage.setItem("stepwise-theme", theme);
      else localStorage.removeItem("stepwise-theme");
    } catch (e) {}
  });
})();
