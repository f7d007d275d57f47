// The playground page: the server's catalog into the form, then synthesis, voices and jobs.

import { apiKey, getJSON, send, setApiKey } from "./api.js";
import { base64ToBlob, Recorder, showAudio } from "./audio.js";
import { refreshJobs, submitJob } from "./jobs.js";
import { asJob, mode, reference, synchronous } from "./requests.js";
import { detectStreaming, streamSpeech } from "./streaming.js";
import { $, busy, clearError, extension, setStatus, showError } from "./ui.js";
import { refreshVoices, saveVoice } from "./voices.js";

function fill(select, values, chosen) {
  select.replaceChildren(...values.map((value) => new Option(value, value)));
  if (chosen && values.includes(chosen)) select.value = chosen;
}

async function loadHealth() {
  try {
    const health = await getJSON("health");
    const gpu = health.gpu_name ? ` on ${health.gpu_name}` : " on the CPU";
    const loaded = health.models_loaded.join(", ") || "none yet";
    let text = `Server ready${gpu}. Models loaded: ${loaded}.`;
    if (health.random_weights) text += ` ${health.warning}`;
    setStatus("server-status", text);
  } catch (error) {
    setStatus("server-status", `Server not ready: ${error.message}`);
  }
}

async function loadCatalog() {
  const [speakers, languages, models] = await Promise.all([
    getJSON("speakers"),
    getJSON("languages"),
    getJSON("models"),
  ]);
  fill($("speaker"), speakers.speakers, "Ryan");
  for (const option of $("speaker").options) {
    const details = speakers.details[option.value];
    if (details) option.textContent = `${option.value} (${details.language}, ${details.gender})`;
  }
  fill($("language"), languages.languages, "Auto");
  $("language").title = languages.notes;
  const sizes = Object.keys(models.available_models);
  $("model_size").replaceChildren(new Option("Server default", ""), ...sizes.map((size) => new Option(size, size)));
}

async function loadAll() {
  clearError();
  try {
    await loadCatalog();
    await Promise.all([refreshVoices(), refreshJobs()]);
  } catch (error) {
    showError(error);
  }
}

function showMode() {
  const current = mode();
  for (const part of document.querySelectorAll("[data-mode]")) part.hidden = part.dataset.mode !== current;
  $("stream").disabled = current !== "custom";
}

function showResponse(body) {
  const format = body.output_format || $("output_format").value;
  const name = `speech.${extension(format)}`;
  showAudio($("player"), base64ToBlob(body.audio_base64, format), $("download"), name);
  setStatus(
    "result-status",
    `${body.duration_seconds} s of audio by ${body.model_used} in ${body.processing_time_seconds} s.`,
  );
}

async function generate() {
  const request = synchronous();
  if ($("stream").checked && mode() === "custom") {
    setStatus("result-status", "Streaming…");
    const wav = await streamSpeech(request.json, (chunks) => setStatus("result-status", `Streaming: ${chunks} chunks`));
    showAudio($("player"), wav, $("download"), "speech.wav");
    setStatus("result-status", "Streamed (the download is the whole audio as WAV).");
    return;
  }
  setStatus("result-status", "Generating…");
  const response = await send(request.path, { method: "POST", json: request.json, form: request.form });
  showResponse(await response.json());
}

async function submitAsJob() {
  const [jobType, data] = await asJob();
  const jobId = await submitJob(jobType, data);
  setStatus("result-status", `Job ${jobId.slice(0, 8)} submitted: its progress is under Jobs.`);
}

const recorder = new Recorder();

async function startRecording() {
  await recorder.start();
  $("record").disabled = true;
  $("stop-record").disabled = false;
  setStatus("record-status", "Recording… speak for 3 to 10 seconds, then Stop.");
}

async function stopRecording() {
  reference.file = await recorder.stop();
  $("record").disabled = false;
  $("stop-record").disabled = true;
  $("ref_audio").value = "";
  showAudio($("ref-preview"), reference.file);
  setStatus("record-status", `Recorded ${Math.round(reference.file.size / 1024)} KB: it is the reference now.`);
}

function wire() {
  for (const radio of document.querySelectorAll('input[name="mode"]')) radio.addEventListener("change", showMode);
  $("synth-form").addEventListener("submit", (event) => {
    event.preventDefault();
    busy($("generate"), generate);
  });
  $("submit-job").addEventListener("click", () => busy($("submit-job"), submitAsJob));
  $("save-voice").addEventListener("click", () => busy($("save-voice"), saveVoice));
  $("refresh-voices").addEventListener("click", () => busy($("refresh-voices"), refreshVoices));
  $("refresh-jobs").addEventListener("click", () => busy($("refresh-jobs"), refreshJobs));
  $("record").addEventListener("click", () => startRecording().catch(showError));
  $("stop-record").addEventListener("click", () => stopRecording().catch(showError));
  $("ref_audio").addEventListener("change", () => {
    reference.file = $("ref_audio").files[0] || null;
    if (reference.file) showAudio($("ref-preview"), reference.file);
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setApiKey($("api-key").value.trim());
    $("api-key").value = "";
    loadAll();
  });
  $("forget-key").addEventListener("click", () => {
    setApiKey("");
    loadAll();
  });
}

async function main() {
  wire();
  showMode();
  if (apiKey()) $("key-form").hidden = false;
  await Promise.all([loadHealth(), loadAll()]);
  $("stream-option").hidden = !(await detectStreaming());
}

main();
