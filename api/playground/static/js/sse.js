// Server-Sent Events read with fetch, not EventSource: EventSource cannot send the API key header.

import { send } from "./api.js";

/** Calls onEvent({event, id, data}) for each event of `response`'s body (data parsed as JSON when it
 * is JSON), until the server ends the stream or `signal` aborts it. */
export async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = parseBlock(block);
      if (event) onEvent(event);
    }
  }
}

function parseBlock(block) {
  const event = { event: "message", id: null, data: "" };
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (name === "event") event.event = value;
    else if (name === "id") event.id = value;
    else if (name === "data") data.push(value);
  }
  if (!data.length) return null;
  event.data = data.join("\n");
  try {
    event.data = JSON.parse(event.data);
  } catch {
    // not JSON: kept as text
  }
  return event;
}

/** Follow a job's progress stream; resolves with its final event (completed, error, cancelled).
 * A stream that ends early (a server restart) is reopened with Last-Event-ID. */
export async function followJob(jobId, onEvent, signal) {
  let lastId = null;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    let final = null;
    const response = await send(`jobs/${encodeURIComponent(jobId)}/stream`, {
      signal,
      ...(lastId ? { headers: { "Last-Event-ID": lastId } } : {}),
    });
    await readEvents(response, (event) => {
      if (event.id) lastId = event.id;
      if (["completed", "error", "cancelled"].includes(event.event)) final = event;
      onEvent(event);
    });
    if (final) return final;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error("The progress stream kept closing before the job finished");
}
