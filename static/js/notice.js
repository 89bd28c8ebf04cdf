// Error sentences shown next to the form that caused them: readable, dismissable, never raw JSON.
import { el } from "./dom.js";

/**
 * A notice box inside `container` (created on first use). show(sentence) replaces its text;
 * the × button or a successful action (clear()) hides it.
 */
export function noticeIn(container, testid) {
  const text = el("span", { class: "notice-text" });
  const close = el("button", {
    type: "button",
    class: "notice-close",
    "data-i18n-aria-label": "error.dismiss",
    "data-i18n-title": "error.dismiss",
    text: "×",
  });
  const box = el("div", { class: "notice", role: "alert", testid, hidden: true },
    el("span", { class: "notice-icon", "aria-hidden": "true", text: "!" }), text, close);
  close.addEventListener("click", () => {
    box.hidden = true;
  });
  container.append(box);
  return {
    show(sentence, tone = "error") {
      text.textContent = sentence;
      box.dataset.tone = tone;
      box.hidden = false;
    },
    clear() {
      box.hidden = true;
    },
  };
}
