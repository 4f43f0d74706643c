// The jobs list: status badges follow the user's jobs live through /ws/gallery/.

import { JobSocket } from "./socket.js";
import { ordinal } from "./steps.js";

const rows = new Map([...document.querySelectorAll("[data-job-id]")].map((row) => [row.dataset.jobId, row]));

if (rows.size) {
  const socket = new JobSocket("/ws/gallery/", {
    onMessage(message) {
      if (message.type !== "status" || !message.job) return;
      const row = rows.get(message.job.id);
      if (!row) return;
      const badge = row.querySelector("[data-status]");
      badge.textContent = message.job.status;
      badge.className = `badge status status-${message.job.status}`;
      const queue = row.querySelector("[data-queue]");
      if (message.job.status === "queued" && message.job.queuePosition) queue.textContent = `${ordinal(message.job.queuePosition)} in queue`;
      else if (message.job.status === "running") queue.textContent = `step ${message.job.step} of ${message.job.totalSteps}`;
      else if (["succeeded", "failed", "cancelled"].includes(message.job.status)) queue.textContent = "just now";
      const thumb = row.querySelector(".job-thumb");
      const first = message.job.images && message.job.images[0];
      if (first && !thumb.querySelector("img")) {
        const img = document.createElement("img");
        img.src = first.thumbUrl;
        img.alt = "";
        thumb.replaceChildren(img);
      }
    },
  });
  socket.connect();
}
