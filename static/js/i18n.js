// The one translation table of the page. Static text carries data-i18n="id" (and
// data-i18n-placeholder / -title / -aria-label); dynamic text calls t(id, params). Switching the
// language re-applies the static text and tells every renderer to draw again.
import { LANGUAGES } from "../i18n/index.js";

const STORAGE_KEY = "socketlab.lang";
const reference = LANGUAGES[0];
const listeners = [];
let table = reference;
let numbers = new Intl.NumberFormat(reference._code);
let plurals = new Intl.PluralRules(reference._code);

export function languages() {
  return LANGUAGES.map((lang) => ({ code: lang._code, name: lang._name }));
}

export function currentLanguage() {
  return table._code;
}

/** The message `id` in the current language, with {name} replaced from `params`. */
export function t(id, params = {}) {
  let message = table[id] ?? reference[id];
  if (message === undefined) return id;
  if (typeof message === "object") {
    const n = Number(params.n ?? 0);
    message = message[plurals.select(n)] ?? message.other ?? Object.values(message)[0];
  }
  return message.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in params)) return whole;
    const value = params[name];
    return typeof value === "number" ? numbers.format(value) : String(value);
  });
}

/** A number written the way the current language writes it (1,048,576). */
export function formatNumber(n) {
  return numbers.format(n);
}

/** t(id) when the table knows id, else `fallback` (for kinds and states the server may add). */
export function tOr(id, fallback) {
  return id in table || id in reference ? t(id) : fallback;
}

export function onLanguageChange(fn) {
  listeners.push(fn);
}

const ATTRIBUTES = [
  ["i18nPlaceholder", "placeholder"],
  ["i18nTitle", "title"],
  ["i18nAriaLabel", "aria-label"],
];

/** Fill every element under `root` that names a message id. */
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const [key, attribute] of ATTRIBUTES) {
    const selector = `[data-${key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())}]`;
    for (const el of root.querySelectorAll(selector)) {
      el.setAttribute(attribute, t(el.dataset[key]));
    }
  }
}

function pick(code) {
  return LANGUAGES.find((lang) => lang._code === code);
}

/** The stored choice, else the first of the browser's languages we have, else English. */
export function preferredLanguage() {
  const stored = localStorage.getItem(STORAGE_KEY);
  if (stored && pick(stored)) return stored;
  for (const tag of navigator.languages || [navigator.language || ""]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (pick(base)) return base;
  }
  return reference._code;
}

export function setLanguage(code, { remember = true } = {}) {
  table = pick(code) || reference;
  numbers = new Intl.NumberFormat(table._code);
  plurals = new Intl.PluralRules(table._code);
  if (remember) localStorage.setItem(STORAGE_KEY, table._code);
  document.documentElement.lang = table._lang || table._code;
  applyStatic();
  for (const fn of listeners) fn(table._code);
}
