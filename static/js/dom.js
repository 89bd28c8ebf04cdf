// Small DOM helpers. Everything is built with createElement and textContent: event payloads
// are untrusted bytes from the network and must never be parsed as HTML.
import { t } from "./i18n.js";

/**
 * el("button", {class: "btn", type: "button", testid: "stop", i18n: "card.stop"}, child, ...)
 * `text` sets textContent, `i18n` sets data-i18n and the translated text, "data-i18n-title" (or
 * -placeholder, -aria-label) sets that attribute translated, `testid` sets data-testid, `data` is
 * an object of data-* values; any other key is an attribute.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "i18n") {
      node.dataset.i18n = value;
      node.textContent = t(value);
    } else if (key.startsWith("data-i18n-")) {
      // data-i18n-title="id" also sets title to the translated text (same for placeholder, aria-label)
      node.setAttribute(key, value);
      node.setAttribute(key.slice("data-i18n-".length), t(value));
    } else if (key === "testid") node.dataset.testid = value;
    else if (key === "data") Object.assign(node.dataset, value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

/**
 * parent.replaceChildren(...children), and a control inside that had the keyboard's focus hands it
 * to its new twin (same data-testid and data-*, or the same place among those of its testid):
 * a card or a banner that is drawn again while a student tabs through it keeps their place
 * instead of dropping the focus to the top of the page.
 */
export function replaceKeepingFocus(parent, ...children) {
  const had = document.activeElement;
  if (!had || had === parent || !parent.contains(had) || !had.dataset?.testid) {
    parent.replaceChildren(...children);
    return;
  }
  const selector = `[data-testid="${CSS.escape(had.dataset.testid)}"]`;
  const place = [...parent.querySelectorAll(selector)].indexOf(had);
  const data = JSON.stringify({ ...had.dataset });
  parent.replaceChildren(...children);
  const twins = [...parent.querySelectorAll(selector)];
  const twin = twins.find((node) => JSON.stringify({ ...node.dataset }) === data) || twins[place];
  twin?.focus({ preventScroll: true });
}

/** Replace the options of a <select>, keeping the chosen value when it is still offered. */
export function setOptions(select, options) {
  const chosen = select.value;
  select.replaceChildren(
    ...options.map(([value, label]) => el("option", { value, text: label })),
  );
  if (options.some(([value]) => value === chosen)) select.value = chosen;
}

/** "127.0.0.1:5000" from ["127.0.0.1", 5000]; IPv6 hosts get brackets. */
export function hostPort(addr) {
  if (!addr) return "";
  const [host, port] = addr;
  return String(host).includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** ["host", port] from "host:port" or "[v6]:port"; null when it is not that shape. */
export function parseHostPort(text) {
  const match = /^\s*(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})\s*$/.exec(text || "");
  if (!match) return null;
  const port = Number(match[3]);
  if (port > 65535) return null;
  return [match[1] || match[2], port];
}

/**
 * Run `fn` once, `ms` after the last call; under a steady stream of calls, still at least every
 * `maxWait` ms, so a busy log never starves what it refreshes.
 */
export function debounce(fn, ms, maxWait = 1000) {
  let timer = 0;
  let first = 0;
  return (...args) => {
    const now = performance.now();
    if (!timer) first = now;
    clearTimeout(timer);
    const wait = Math.max(0, Math.min(ms, first + maxWait - now));
    timer = setTimeout(() => {
      timer = 0;
      fn(...args);
    }, wait);
  };
}
