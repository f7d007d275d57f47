// The API client of the playground: the base URL (relative to this page, so a path prefix added by a
// proxy still works), the API key (sessionStorage, sent as a header: never in a URL) and one error
// message for every error the API returns.

const KEY_STORAGE = "qwen-tts-api-key";
export const API = new URL("../api/v1/", document.baseURI);
export const ROOT = new URL("../", document.baseURI);

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** An error the page shows as it is: `message` says what went wrong and what to do. */
export class ApiError extends Error {
  constructor(message, { status = 0, type = "network", field = null } = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.field = field;
  }
}

const HINTS = {
  400: "The request was refused",
  401: "This server needs an API key: enter it at the top of the page",
  404: "Not found",
  409: "Not possible now",
  413: "Too large",
  422: "Invalid input",
  429: "The server is busy",
  500: "The server failed",
  502: "The inference server failed",
  503: "The service is unavailable",
};

/** The message of a failed response: the taxonomy's {error, error_type, field}, FastAPI's
 * {detail}, or the status alone when the body is not JSON (a proxy's page). */
export async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const hint = HINTS[response.status] || `HTTP ${response.status}`;
  let detail = body && (body.error || body.detail);
  if (Array.isArray(detail)) detail = detail.map((item) => item.msg || JSON.stringify(item)).join("; ");
  else if (detail && typeof detail !== "string") detail = JSON.stringify(detail);
  let message = detail ? `${hint}: ${detail}` : `${hint} (HTTP ${response.status})`;
  const retry = response.headers.get("Retry-After");
  if (retry && (response.status === 429 || response.status === 503)) message += ` Retry in ${retry} s.`;
  return new ApiError(message, {
    status: response.status,
    type: (body && body.error_type) || "http",
    field: (body && body.field) || null,
  });
}

function headers(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

/** fetch with the key; resolves to the Response when ok, else throws ApiError. `path` is relative
 * to /api/v1/ unless it starts with "/" (then relative to the server root). */
export async function send(path, { method = "GET", json, form, signal, headers: extra = {} } = {}) {
  const url = path.startsWith("/") ? new URL(path.slice(1), ROOT) : new URL(path, API);
  if (json !== undefined) extra = { ...extra, "Content-Type": "application/json" };
  const init = { method, signal, headers: headers(extra) };
  if (json !== undefined) init.body = JSON.stringify(json);
  if (form !== undefined) init.body = form;
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("Cannot reach the server: is it running, and is the network up?");
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function getJSON(path, options) {
  return (await send(path, options)).json();
}

export async function postJSON(path, json) {
  return (await send(path, { method: "POST", json })).json();
}
