// Playback while the audio is generated, through the OpenAI-compatible route
// (POST /v1/audio/speech with stream_format "sse": `speech.audio.delta` events carrying base64
// 16-bit PCM at 24 kHz, then `speech.audio.done`). The page offers it only when the server's OpenAPI
// document has that route with a `stream_format` field; otherwise nothing here runs.

import { getJSON, send } from "./api.js";
import { PcmPlayer } from "./audio.js";
import { readEvents } from "./sse.js";

const ROUTE = "/v1/audio/speech";
let schema = null;

/** Whether this server streams speech; remembers the route's request schema. */
export async function detectStreaming() {
  try {
    const spec = await getJSON("/openapi.json");
    const body = spec.paths?.[ROUTE]?.post?.requestBody?.content?.["application/json"]?.schema;
    const ref = body?.$ref;
    schema = ref ? spec.components?.schemas?.[ref.split("/").pop()] : body;
  } catch {
    schema = null;
  }
  return Boolean(schema?.properties?.stream_format);
}

function modelName() {
  const model = schema.properties.model || {};
  return model.default || (model.enum && model.enum[0]) || "tts-1";
}

/** Speak `request` (a /tts/custom body) as it is generated; resolves to the whole audio as WAV. */
export async function streamSpeech(request, onChunk = () => {}) {
  const body = {
    model: modelName(),
    input: request.text,
    voice: request.speaker,
    response_format: "pcm",
    stream_format: "sse",
  };
  if (request.instruction) body.instructions = request.instruction;
  if (request.language && schema.properties.language) body.language = request.language;
  const response = await send(ROUTE, { method: "POST", json: body });
  const player = new PcmPlayer(24000);
  await readEvents(response, (event) => {
    const data = event.data || {};
    const type = data.type || event.event;
    if (type === "speech.audio.delta" && data.audio) {
      player.push(data.audio);
      onChunk(player.parts.length);
    } else if (type === "error" || data.error) {
      throw new Error(`Streaming failed: ${data.error?.message || data.error || "unknown error"}`);
    }
  });
  return player.wav();
}
