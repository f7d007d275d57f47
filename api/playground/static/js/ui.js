// Small helpers shared by the page's modules: elements, the error banner, status lines.

export const $ = (id) => document.getElementById(id);

/** Show an error for the user; 401 also reveals the API key field. */
export function showError(error) {
  const box = $("error");
  box.textContent = error && error.message ? error.message : String(error);
  box.hidden = false;
  if (error && error.status === 401) {
    $("key-form").hidden = false;
    $("api-key").focus();
  }
}

export function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

export function setStatus(id, text) {
  $(id).textContent = text;
}

/** Run `action` with `button` disabled, showing any error it throws. */
export async function busy(button, action) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  clearError();
  try {
    return await action();
  } catch (error) {
    showError(error);
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

/** A <button type="button"> with `label` calling `onClick`. */
export function button(label, onClick, title = label) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.title = title;
  element.addEventListener("click", () => busy(element, onClick));
  return element;
}

/** The extension a format's file takes. */
export function extension(format) {
  return format === "opus" ? "opus" : format;
}
