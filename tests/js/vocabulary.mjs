// The server's vocabulary (generation/vocabulary.py), as the pages embed it: steps.js has no tables
// of its own, so the Node tests ask Python for the same data.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const venvPython = `${root}.venv/bin/python`;
const python = process.env.PYTHON || (existsSync(venvPython) ? venvPython : "python3");

export const vocabulary = JSON.parse(
  execFileSync(python, ["-m", "generation.vocabulary"], { cwd: root, encoding: "utf8" }),
);
