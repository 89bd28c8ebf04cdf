// Keyboard shortcuts for a teacher at the front of the room, listed in an overlay on "?".
// Ignored while typing in a field (except Esc), and never with Ctrl, Alt or Cmd held.
import { el } from "../dom.js";
import { onLanguageChange, t } from "../i18n.js";
import * as detail from "./log-detail.js";
import { toggleJoin } from "./join-panel.js";

const dialog = document.getElementById("shortcuts-dialog");
const helpButton = document.getElementById("shortcuts-open");
const KEYS = [
  ["?", "keys.help"],
  ["p", "keys.projector"],
  ["j", "keys.join"],
  ["t", "keys.theme"],
  ["c", "keys.contrast"],
  ["Space", "keys.pause"],
  ["n", "keys.step"],
  ["f", "keys.focus"],
  ["/", "keys.search"],
  ["l", "keys.language"],
  ["1 2 3 4", "keys.views"],
  ["Esc", "keys.escape"],
];

function typing(target) {
  return target instanceof HTMLElement
    && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function render() {
  const close = el("button", { type: "button", class: "btn primary", testid: "shortcuts-close", i18n: "keys.close" });
  close.addEventListener("click", () => dialog.close());
  dialog.replaceChildren(
    el("h2", { i18n: "keys.title" }),
    el("table", { class: "keys" }, el("tbody", {}, ...KEYS.map(([key, id]) =>
      el("tr", { testid: "shortcut" }, el("th", {}, ...key.split(" ").map((k) => el("kbd", { text: k === "Space" ? t("keys.space") : k }))),
        el("td", { i18n: id }))))),
    el("p", { class: "hint", i18n: "keys.note" }),
    close);
}

export function toggleHelp() {
  if (dialog.open) {
    dialog.close();
  } else {
    render();
    dialog.showModal();
  }
}

function nextLanguage() {
  const select = document.getElementById("lang-select");
  if (!select || select.options.length < 2) return;
  select.selectedIndex = (select.selectedIndex + 1) % select.options.length;
  select.dispatchEvent(new Event("change"));
}

/** `parts`: {showView, focus, ladder, projector, log} from the classroom. */
export function initShortcuts({ showView, focus, ladder, projector, log }) {
  const actions = {
    "?": toggleHelp,
    p: projector.toggleProjector,
    j: toggleJoin,
    t: projector.toggleTheme,
    c: projector.toggleContrast,
    " ": ladder.togglePause,
    n: () => {
      if (!ladder.isPaused()) ladder.setPaused(true);
      else ladder.step();
    },
    f: focus.next,
    "/": log.focusSearch,
    l: nextLanguage,
    1: () => showView("log"),
    2: () => showView("ladder"),
    3: () => showView("split"),
    4: () => showView("numbers"),
  };
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || dialog.open && event.key !== "?") return;
    if (event.key === "Escape") {
      if (typing(event.target)) event.target.blur();
      else if (!detail.hide()) focus.clear();
      return;
    }
    if (typing(event.target) || event.isComposing) return;
    // Space on a button presses it, as everywhere; on a view tab (already chosen) it pauses the diagram
    if (event.key === " " && event.target instanceof HTMLElement && event.target.closest("button:not([role=tab]), a, summary")) return;
    const action = actions[event.key] || actions[event.key.toLowerCase?.()];
    if (!action) return;
    event.preventDefault();
    action();
  });
  helpButton.addEventListener("click", toggleHelp);
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close(); // a click on the backdrop
  });
  onLanguageChange(() => {
    if (dialog.open) render();
  });
}
