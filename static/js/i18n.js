// The one translation table of the page. Static text carries data-i18n="id" (and
// data-i18n-placeholder / -title / -aria-label); dynamic text calls t(id, params). Switching the
// language re-applies the static text and tells every renderer to draw again.
// Pure at import time (no DOM until setLanguage), so node --test can use translator().
import { LANGUAGES } from "../i18n/index.js";
import { Emitter } from "./emitter.js";

const STORAGE_KEY = "socketlab.lang";
const reference = LANGUAGES[0];
const changes = new Emitter();
let table = reference;
let numbers = new Intl.NumberFormat(reference._code);
let plurals = new Intl.PluralRules(reference._code);

export function languages() {
  return LANGUAGES.map((lang) => ({ code: lang._code, name: lang._name }));
}

export function currentLanguage() {
  return table._code;
}

/** Fill `message` (a string, or {one, other, ...} chosen by params.n) from `params`. */
function format(message, params, numberFormat, pluralRules) {
  if (typeof message === "object") {
    const n = Number(params.n ?? 0);
    message = message[pluralRules.select(n)] ?? message.other ?? Object.values(message)[0];
  }
  return message.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in params)) return whole;
    const value = params[name];
    return typeof value === "number" ? numberFormat.format(value) : String(value);
  });
}

/** The message `id` in the current language, with {name} replaced from `params`. */
export function t(id, params = {}) {
  const message = table[id] ?? reference[id];
  return message === undefined ? id : format(message, params, numbers, plurals);
}

/**
 * A t() bound to one language, whatever the page shows: {t, has} (node tests, and anything that
 * words text for a reader other than this page's). Unknown ids fall back to English, then to the id.
 */
export function translator(code) {
  const lang = pick(code) || reference;
  const numberFormat = new Intl.NumberFormat(lang._code);
  const pluralRules = new Intl.PluralRules(lang._code);
  return {
    code: lang._code,
    t(id, params = {}) {
      const message = lang[id] ?? reference[id];
      return message === undefined ? id : format(message, params, numberFormat, pluralRules);
    },
    has: (id) => id in lang || id in reference,
  };
}

/** The translator of the language on show (t and has follow setLanguage). */
export const current = { t: (id, params) => t(id, params), has: (id) => id in table || id in reference };

/** A number written the way the current language writes it (1,048,576). */
export function formatNumber(n) {
  return numbers.format(n);
}

/** t(id) when the table knows id, else `fallback` (for kinds and states the server may add). */
export function tOr(id, fallback) {
  return id in table || id in reference ? t(id) : fallback;
}

/** fn(code) after every switch of language; returns a function that unsubscribes. */
export function onLanguageChange(fn) {
  return changes.on("change", fn);
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
  changes.emit("change", table._code);
}
