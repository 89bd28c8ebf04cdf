// Projector mode (?view=projector, the header button or "p"): large type, strong contrast, the
// forms put away so the diagram and the log get the room. The light/dark theme works in both
// modes and is remembered by the browser, and so is the high-contrast choice beside it (for a projector
// that washes colours out: black on white or white on black, thicker lines; the theme decides which).
import { Emitter } from "../emitter.js";
import { onLanguageChange, t } from "../i18n.js";

const THEME_KEY = "socketlab.theme";
const CONTRAST_KEY = "socketlab.contrast";
const root = document.documentElement;
const projectorButton = document.getElementById("projector-toggle");
const themeButton = document.getElementById("theme-toggle");
const contrastButton = document.getElementById("contrast-toggle");
const signals = new Emitter();
const changed = () => signals.emit("change");

/** fn() after every switch of projector mode or theme (the diagram and the chart measure their type again). */
export const onProjectorChange = (fn) => signals.on("change", fn);

export const isProjector = () => root.classList.contains("projector");

function label() {
  projectorButton.setAttribute("aria-pressed", String(isProjector()));
  projectorButton.textContent = t(isProjector() ? "projector.off" : "projector.on");
  const dark = root.dataset.theme === "dark";
  themeButton.setAttribute("aria-pressed", String(dark));
  themeButton.textContent = t(dark ? "theme.light" : "theme.dark");
  contrastButton?.setAttribute("aria-pressed", String(isHighContrast()));
}

/** Turn projector mode on or off; the address bar keeps ?view=projector so a reload stays in it. */
export function setProjector(on) {
  root.classList.toggle("projector", on);
  const url = new URL(window.location.href);
  if (on) url.searchParams.set("view", "projector");
  else url.searchParams.delete("view");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  label();
  changed();
}

export const toggleProjector = () => setProjector(!isProjector());

export function setTheme(theme) {
  root.dataset.theme = theme === "dark" ? "dark" : "light";
  localStorage.setItem(THEME_KEY, root.dataset.theme);
  label();
  changed();
}

export const toggleTheme = () => setTheme(root.dataset.theme === "dark" ? "light" : "dark");

export const isHighContrast = () => root.dataset.contrast === "high";

export function setHighContrast(on) {
  root.dataset.contrast = on ? "high" : "normal";
  localStorage.setItem(CONTRAST_KEY, root.dataset.contrast);
  label();
  changed();
}

export const toggleContrast = () => setHighContrast(!isHighContrast());

/** `onChange()` after every switch (see onProjectorChange). */
export function initProjector(onChange) {
  if (onChange) onProjectorChange(onChange);
  root.dataset.theme = localStorage.getItem(THEME_KEY) === "dark" ? "dark" : "light";
  root.dataset.contrast = localStorage.getItem(CONTRAST_KEY) === "high" ? "high" : "normal";
  if (new URLSearchParams(window.location.search).get("view") === "projector") root.classList.add("projector");
  projectorButton.addEventListener("click", toggleProjector);
  themeButton.addEventListener("click", toggleTheme);
  contrastButton?.addEventListener("click", toggleContrast);
  onLanguageChange(label);
  label();
}
