// The one way the page talks to the REST API: JSON in and out, the access token on every request,
// and every failure turned into an ApiError carrying a sentence a student can read.
import { Emitter } from "../emitter.js";
import { current, t } from "../i18n.js";

const has = (id) => current.has(id);

const TOKEN_KEY = "socketlab.token";
const tokenChanges = new Emitter();
let askForToken = null; // () => Promise<string>, set by the session module
let pendingAsk = null; // one prompt at a time, however many requests answered 401

export class ApiError extends Error {
  constructor(status, sentence) {
    super(sentence);
    this.status = status;
  }
}

/** Move ?token=... from the address bar into sessionStorage, so it is not left on screen. */
export function takeTokenFromUrl() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token === null) return;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  url.searchParams.delete("token");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function onTokenChange(fn) {
  return tokenChanges.on("token", fn);
}

export function setTokenPrompt(fn) {
  askForToken = fn;
}

function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
  tokenChanges.emit("token", value);
}

/** Ask the user for a token (once, whoever asks); resolves when a new one was given. */
export function requestToken(rejected) {
  if (!pendingAsk) {
    pendingAsk = askForToken(rejected).then((value) => {
      pendingAsk = null;
      setToken(value);
      return value;
    });
  }
  return pendingAsk;
}

export function authHeaders() {
  const value = token();
  return value ? { Authorization: `Bearer ${value}` } : {};
}

/** An error's params for its sentence: a port is a name, not a quantity (5000, never 5,000). */
export function errorParams(params) {
  const out = {};
  for (const [k, v] of Object.entries(params && typeof params === "object" ? params : {})) {
    out[k] = /port$/i.test(k) && typeof v === "number" ? String(v) : Array.isArray(v) ? v.join(":") : v;
  }
  return out;
}

/**
 * The sentence for an error answer, in the reader's language: from its stable `code` and `params`
 * through the err.<code> tables; the English `error` only when the page has no translation of the code.
 */
async function sentenceOf(response) {
  try {
    const sentence = errorSentence(await response.json());
    if (sentence) return sentence;
  } catch {
    // not JSON: fall through to the generic sentence, never the raw body
  }
  return t("error.status", { status: response.status });
}

/** The sentence of an error body {error, code, params} (an answer, or one a stage carries); null when it has none. */
export function errorSentence(body) {
  if (body && typeof body.code === "string" && has(`err.${body.code}`)) {
    const text = t(`err.${body.code}`, errorParams(body.params));
    if (!/\{\w+\}/.test(text)) return text; // every value the sentence needs was given
  }
  if (body && typeof body.error === "string" && body.error.trim()) return body.error;
  return null;
}

/**
 * fetch(/api + path) with the token; returns the parsed JSON (null for an empty answer).
 * A 401 asks for a token and tries again with it.
 */
export async function api(method, path, body) {
  for (;;) {
    const sentToken = token();
    const headers = { Accept: "application/json", ...authHeaders() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(`/api${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, t("error.network"));
    }
    if (response.status === 401 && askForToken) {
      // a token typed while this request was in flight is worth one more try before asking
      if (token() === sentToken) await requestToken(Boolean(sentToken));
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, await sentenceOf(response));
    const type = response.headers.get("Content-Type") || "";
    if (response.status === 204 || !type.includes("json")) return null;
    return response.json();
  }
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const del = (path) => api("DELETE", path);
export const put = (path, body = {}) => api("PUT", path, body);

/** Store a token the page was given (the Join page trades the short code for the view token). */
export function keepToken(value) {
  if (value) setToken(value);
}
