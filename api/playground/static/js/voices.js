// The saved cloned voices: list, play the reference, generate with one, delete; save a new one.

import { getJSON, send } from "./api.js";
import { showAudio } from "./audio.js";
import { voiceForm } from "./requests.js";
import { $, button, setStatus } from "./ui.js";

const PAGE = 100;

function cell(row, content) {
  const td = row.insertCell();
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  return td;
}

async function playReference(voice) {
  const response = await send(`cloned-voices/${encodeURIComponent(voice.id)}/audio`);
  showAudio($("ref-player"), await response.blob());
  $("ref-player").setAttribute("aria-label", `Reference of ${voice.name}`);
  await $("ref-player").play().catch(() => {}); // autoplay may be refused: the controls stay
  setStatus("voices-status", `Reference of “${voice.name}”`);
}

function useVoice(voice) {
  document.querySelector('input[name="mode"][value="saved"]').click();
  $("voice_id").value = voice.id;
  $("text").focus();
}

async function deleteVoice(voice) {
  if (!window.confirm(`Delete the voice “${voice.name}” for good?`)) return;
  await send(`cloned-voices/${encodeURIComponent(voice.id)}`, { method: "DELETE" });
  await refreshVoices();
  setStatus("voices-status", `Deleted “${voice.name}”`);
}

function render(voices) {
  const body = $("voices").tBodies[0];
  body.replaceChildren();
  const select = $("voice_id");
  const chosen = select.value;
  select.replaceChildren();
  for (const voice of voices) {
    const row = body.insertRow();
    row.dataset.voiceId = voice.id;
    const name = cell(row, voice.name);
    if (voice.description) name.title = voice.description;
    cell(row, voice.language);
    cell(row, String(voice.use_count));
    const actions = cell(row, "");
    actions.append(
      button("Play reference", () => playReference(voice), `Play the reference audio of ${voice.name}`),
      button("Use", () => useVoice(voice), `Generate with ${voice.name}`),
      button("Delete", () => deleteVoice(voice), `Delete ${voice.name}`),
    );
    select.add(new Option(`${voice.name} (${voice.language})`, voice.id));
  }
  if (voices.some((voice) => voice.id === chosen)) select.value = chosen;
}

export async function refreshVoices() {
  const page = await getJSON(`cloned-voices?limit=${PAGE}`);
  render(page.voices);
  const more = page.has_more ? ` (the first ${page.voices.length}; ask the API with offset=${page.next_offset})` : "";
  setStatus("voices-status", `${page.total} saved voice${page.total === 1 ? "" : "s"}${more}`);
  return page;
}

/** Save the reference of the clone fields as a voice; then it is selected for generation. */
export async function saveVoice() {
  setStatus("result-status", "Saving the voice (its clone prompt is computed now)…");
  const saved = await (await send("cloned-voices/upload", { method: "POST", form: voiceForm() })).json();
  await refreshVoices();
  $("voice_id").value = saved.voice.id;
  setStatus("result-status", saved.message);
  return saved.voice;
}
