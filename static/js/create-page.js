// The create page's entry point: a file, not an inline script, so the Content Security Policy can
// refuse every inline script.
import { init } from "./create.js";

init();
