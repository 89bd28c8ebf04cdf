// "Show the code": the plain-Python socket program that does what an endpoint or a download
// does (GET /api/<endpoints|downloads>/<id>/code), large enough to read from the back of the room.
import { get } from "../net/api.js";
import { el } from "../dom.js";
import { t } from "../i18n.js";

let dialog = null;
let parts = null;

function build() {
  const title = el("h2", { class: "code-title", testid: "code-title" });
  const copy = el("button", { type: "button", class: "btn primary", testid: "code-copy", i18n: "code.copy" });
  const close = el("button", { type: "button", class: "btn", testid: "code-close", i18n: "code.close" });
  const status = el("span", { class: "code-status", testid: "code-status", "aria-live": "polite" });
  const text = el("code", { testid: "code-text" });
  const pre = el("pre", { class: "code-pre", tabindex: "0" }, text);
  const note = el("p", { class: "code-note", testid: "code-note", i18n: "code.note" });
  dialog = el("dialog", { class: "code-dialog", testid: "code-panel", "aria-labelledby": "code-title" },
    el("div", { class: "code-head" }, title, el("span", { class: "spacer" }), status, copy, close), note, pre);
  title.id = "code-title";
  copy.addEventListener("click", () => copyText(text.textContent, pre, status));
  close.addEventListener("click", () => dialog.close());
  document.body.append(dialog);
  parts = { title, text, status, pre };
}

/** Copy with the Clipboard API; on a plain-http classroom address it is missing, so select instead. */
async function copyText(value, pre, status) {
  try {
    await navigator.clipboard.writeText(value);
    status.textContent = t("code.copied");
    return;
  } catch {
    // not a secure context, or permission refused: fall through to a selection
  }
  const range = document.createRange();
  range.selectNodeContents(pre);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  status.textContent = t(copied ? "code.copied" : "code.selectToCopy");
}

/** Open the panel for `what` ("endpoints" or "downloads") `id`, and fetch its program. */
export async function showCode(what, id) {
  if (!dialog) build();
  const { title, text, status, pre } = parts;
  title.textContent = t("code.title", { id });
  status.textContent = "";
  text.textContent = t("code.loading");
  dialog.dataset.state = "loading";
  if (!dialog.open) dialog.showModal();
  try {
    const answer = await get(`/${what}/${encodeURIComponent(id)}/code`);
    text.textContent = String(answer?.python ?? "");
    dialog.dataset.state = "ready";
  } catch (error) {
    text.textContent = error.message;
    dialog.dataset.state = "error";
  }
  pre.scrollTop = 0;
  pre.focus();
}
