// Jobs: submit, watch their progress live (SSE read with fetch), play the result, cancel.

import { getJSON, postJSON } from "./api.js";
import { base64ToBlob, showAudio } from "./audio.js";
import { followJob } from "./sse.js";
import { $, button, extension, showError } from "./ui.js";

const rows = new Map(); // job id -> {item, progress, text, audio, actions, following}

function row(job) {
  if (rows.has(job.id)) return rows.get(job.id);
  const item = document.createElement("li");
  item.dataset.jobId = job.id;
  const title = document.createElement("span");
  title.className = "job-title";
  title.textContent = `${job.type} · ${job.id.slice(0, 8)}`;
  const progress = document.createElement("progress");
  progress.max = 100;
  progress.value = 0;
  progress.setAttribute("aria-label", `Progress of job ${job.id.slice(0, 8)}`);
  const text = document.createElement("span");
  text.className = "job-text";
  text.setAttribute("role", "status");
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.hidden = true;
  const link = document.createElement("a");
  link.hidden = true;
  const actions = document.createElement("span");
  item.append(title, progress, text, actions, audio, link);
  $("jobs").prepend(item);
  const entry = { item, progress, text, audio, link, actions, following: false };
  rows.set(job.id, entry);
  return entry;
}

function describe(entry, progress, status) {
  entry.progress.value = progress.percent;
  const where = progress.position ? ` (place ${progress.position} in the queue)` : "";
  entry.text.textContent = `${status} · ${progress.stage} ${Math.round(progress.percent)}% · ${progress.message}${where}`;
  entry.item.dataset.status = status;
  const stages = entry.item.dataset.stages ? entry.item.dataset.stages.split(" ") : [];
  if (stages[stages.length - 1] !== progress.stage) entry.item.dataset.stages = [...stages, progress.stage].join(" ");
}

function showResult(entry, result) {
  const format = result.output_format || "wav";
  showAudio(entry.audio, base64ToBlob(result.audio_base64, format), entry.link, `job.${extension(format)}`);
  describe(entry, { stage: "completed", percent: 100, message: "Audio generado" }, "completed");
  entry.text.textContent = `completed · ${result.duration_seconds} s of audio (${result.model_used})`;
  entry.actions.replaceChildren();
}

function finished(entry, status, message) {
  entry.item.dataset.status = status;
  entry.text.textContent = `${status} · ${message}`;
  entry.actions.replaceChildren();
}

async function cancel(jobId) {
  await postJSON(`jobs/${encodeURIComponent(jobId)}/cancel`, {});
}

async function loadResult(jobId) {
  const body = await getJSON(`jobs/${encodeURIComponent(jobId)}/result`);
  if (body.success) showResult(rows.get(jobId), body.result);
  else finished(rows.get(jobId), body.status, body.error);
}

/** Follow a job's stream until its final event. */
async function follow(job) {
  const entry = row(job);
  if (entry.following) return;
  entry.following = true;
  entry.actions.replaceChildren(button("Cancel", () => cancel(job.id), `Cancel job ${job.id.slice(0, 8)}`));
  try {
    const final = await followJob(job.id, (event) => {
      if (event.event === "progress") describe(entry, event.data, event.data.status);
    });
    if (final.event === "completed") showResult(entry, final.data.result);
    else if (final.event === "cancelled") finished(entry, "cancelled", final.data.message || "cancelled");
    else finished(entry, final.data.status || "failed", final.data.error || "failed");
  } catch (error) {
    showError(error);
    entry.text.textContent = `stream interrupted: ${error.message}`;
  } finally {
    entry.following = false;
  }
  refreshJobs().catch(showError); // the count, and any job another tab submitted
}

export async function submitJob(jobType, requestData) {
  const created = await postJSON("jobs", { job_type: jobType, request_data: requestData });
  describe(row(created.job), created.job.progress, created.job.status);
  follow(created.job);
  return created.job_id;
}

/** The caller's recent jobs: running ones are followed, finished ones offer their result. */
export async function refreshJobs() {
  const page = await getJSON("jobs?limit=20");
  for (const job of [...page.jobs].reverse()) {
    const entry = row(job);
    if (job.status === "pending" || job.status === "processing") {
      describe(entry, job.progress, job.status);
      follow(job);
    } else if (!entry.audio.src) {
      describe(entry, job.progress, job.status);
      entry.actions.replaceChildren();
      if (job.status === "completed") entry.actions.append(button("Play result", () => loadResult(job.id)));
      else entry.text.textContent = `${job.status} · ${job.error || job.progress.message}`;
    }
  }
  const more = page.has_more ? `, the ${page.jobs.length} newest shown` : "";
  $("jobs-status").textContent = `${page.total} job${page.total === 1 ? "" : "s"}${more}`;
}
