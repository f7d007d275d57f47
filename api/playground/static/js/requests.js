// What the form asks for, as the API's requests: the synchronous endpoint of each mode, and the same
// request as a job (`request_data` of POST /jobs is the synchronous endpoint's body).

import { dataUri } from "./audio.js";
import { $ } from "./ui.js";

const NUMBERS = ["temperature", "top_p", "repetition_penalty"];
const INTEGERS = ["top_k", "max_new_tokens", "seed"];

export const reference = { file: null }; // the chosen or recorded reference audio

export function mode() {
  return document.querySelector('input[name="mode"]:checked').value;
}

function value(id) {
  return $(id).value.trim();
}

/** The fields every mode sends (empty ones left out: the server's defaults apply). */
function common() {
  const body = { text: $("text").value, language: value("language"), output_format: value("output_format") };
  if (value("model_size")) body.model_size = value("model_size");
  for (const name of NUMBERS) if (value(name) !== "") body[name] = Number(value(name));
  for (const name of INTEGERS) if (value(name) !== "") body[name] = Number.parseInt(value(name), 10);
  return body;
}

function requireReference() {
  if (!reference.file) throw new Error("Choose a reference audio file or record one first");
  if (!value("ref_text")) throw new Error("Type what the reference audio says (its transcript)");
}

/** The multipart body of /tts/clone/upload (every field as text, the reference as a file). */
function cloneForm(body) {
  const form = new FormData();
  for (const [name, field] of Object.entries(body)) form.append(name, String(field));
  form.append("ref_text", value("ref_text"));
  form.append("ref_audio", reference.file, reference.file.name || "reference");
  return form;
}

/** {path, json | form} of the synchronous request of the current mode. */
export function synchronous() {
  const body = common();
  switch (mode()) {
    case "custom":
      if (value("instruction")) body.instruction = value("instruction");
      return { path: "tts/custom", json: { ...body, speaker: value("speaker") } };
    case "design":
      return { path: "tts/design", json: { ...body, voice_description: value("voice_description") } };
    case "clone":
      requireReference();
      return { path: "tts/clone/upload", form: cloneForm(body) };
    default:
      if (!value("voice_id")) throw new Error("There is no saved voice yet: create one in Voice clone");
      return { path: "tts/cloned-voice/generate", json: { ...body, voice_id: value("voice_id") } };
  }
}

/** [job_type, request_data] of the same request as a job. */
export async function asJob() {
  const request = synchronous();
  switch (mode()) {
    case "custom":
      return ["custom_voice", request.json];
    case "design":
      return ["voice_design", request.json];
    case "clone": {
      const data = Object.fromEntries([...request.form.entries()].filter(([name]) => name !== "ref_audio"));
      for (const name of [...NUMBERS, ...INTEGERS]) if (name in data) data[name] = Number(data[name]);
      return ["voice_clone_file", { ...data, ref_audio_base64: await dataUri(reference.file) }];
    }
    default:
      return ["cloned_voice_generate", request.json];
  }
}

/** The multipart body of POST /cloned-voices/upload from the clone fields. */
export function voiceForm() {
  requireReference();
  const name = value("voice_name");
  if (!name) throw new Error("Give the voice a name");
  const form = new FormData();
  form.append("name", name);
  form.append("ref_text", value("ref_text"));
  form.append("language", value("language"));
  if (value("model_size")) form.append("model_size", value("model_size"));
  form.append("ref_audio", reference.file, reference.file.name || "reference");
  return form;
}
