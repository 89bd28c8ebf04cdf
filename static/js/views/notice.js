// Error sentences shown next to the form that caused them: readable, dismissable, never raw JSON.
import { el } from "../dom.js";

/**
 * A notice box inside `container` (before `before`, when given). show(sentence) replaces its
 * text and brings it into view; the × button or a successful action (clear()) hides it.
 */
export function noticeIn(container, testid, before = null) {
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
  container.insertBefore(box, before);
  return {
    show(sentence, tone = "error") {
      text.textContent = sentence;
      box.dataset.tone = tone;
      box.hidden = false;
      box.scrollIntoView({ block: "nearest" });
    },
    clear() {
      box.hidden = true;
    },
  };
}
