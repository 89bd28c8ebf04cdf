// The "New socket" form: shows only the fields that apply to the chosen kind and mode, and
// turns them into an endpoint spec for POST /api/endpoints (framing, rules, impairment included).
import { withAgent } from "./agents-view.js";
import { post } from "../net/api.js";
import { unescapeDelimiter } from "../models/conn-stats.js";
import { el, setOptions } from "../dom.js";
import { onLanguageChange, t } from "../i18n.js";
import { modesOf, speaksOwnProtocol } from "../models/kinds.js";
import { noticeIn } from "./notice.js";

const form = document.getElementById("create-form");
const fields = form.elements;
const ruleRows = document.getElementById("rule-rows");
const notice = noticeIn(form, "create-error", document.getElementById("create-hint"));
const MAX_RULES = 20;
let onCreated = () => {};
let servers = []; // the endpoints list, to offer a new client the newest server's port
let portFilledFor = null; // the kind whose default port we filled in, so we never overwrite typing

const isServer = (kind) => kind.endsWith("-server");

/** Which optional rows apply: {server, reply, file, files, framing, delimiter, broadcast, rules, impair}. */
function applicable() {
  const kind = fields.kind.value;
  const mode = fields.mode.value;
  const tcp = kind.startsWith("tcp");
  const framing = tcp && !(kind === "tcp-server" && speaksOwnProtocol(mode));
  return {
    server: isServer(kind),
    reply: isServer(kind) && mode === "reply",
    file: kind === "tcp-server" && mode === "file",
    files: kind === "tcp-server" && mode === "files",
    framing,
    delimiter: framing && fields.framing.value === "line",
    broadcast: kind === "udp-client",
    rules: isServer(kind) && !speaksOwnProtocol(mode),
    impair: !tcp,
  };
}

/** The mode menu from the server's mode registry (GET /api/session "modes"); each option shown for the kinds that have it. */
export function showModes() {
  const tcp = modesOf("tcp-server") || [];
  const udp = modesOf("udp-server") || [];
  const chosen = fields.mode.value;
  fields.mode.replaceChildren(...[...new Set([...tcp, ...udp])].map((mode) => {
    const option = el("option", { value: mode, i18n: `mode.${mode}` });
    if (!udp.includes(mode)) option.dataset.show = "tcp-server";
    else if (!tcp.includes(mode)) option.dataset.show = "udp-server";
    return option;
  }));
  if ([...fields.mode.options].some((o) => o.value === chosen)) fields.mode.value = chosen;
  update();
}

function update() {
  const kind = fields.kind.value;
  for (const option of fields.mode.querySelectorAll("[data-show]")) {
    option.hidden = option.disabled = kind !== option.dataset.show;
  }
  if (fields.mode.selectedOptions[0]?.disabled) fields.mode.value = [...fields.mode.options].find((o) => !o.disabled)?.value ?? "";
  const show = applicable();
  for (const row of form.querySelectorAll("[data-show]:not(option)")) {
    row.hidden = !show[row.dataset.show];
  }
  const side = isServer(kind) ? "server" : "client";
  document.getElementById("address-label").textContent = t(`create.address.${side}`);
  document.getElementById("port-label").textContent = t(`create.port.${side}`);
  document.getElementById("create-hint").textContent = t(`create.hint.${kind}`);
  document.getElementById("create-submit").textContent = t(`create.submit.${kind}`);
}

/** A client is most often made for the server just started: offer that server's port. */
function suggestPort() {
  const kind = fields.kind.value;
  if (isServer(kind)) {
    if (portFilledFor) fields.port.value = "0";
    portFilledFor = null;
    return;
  }
  if (fields.port.value !== "0" && portFilledFor === null) return;
  const proto = kind.split("-")[0];
  const server = [...servers].reverse().find((ep) => ep.kind === `${proto}-server` && ep.local);
  if (server) {
    fields.port.value = String(server.local[1]);
    portFilledFor = kind;
  }
}

// -- auto-reply rules: rows of (regex, reply) ------------------------------------------------

function addRule(match = "", reply = "") {
  if (ruleRows.children.length >= MAX_RULES) return;
  const remove = el("button", { type: "button", class: "btn small ghost rule-remove", testid: "rule-remove",
    "data-i18n-aria-label": "rules.remove", "data-i18n-title": "rules.remove", text: "×" });
  const row = el("div", { class: "rule-row", testid: "rule-row" },
    el("input", { name: "rule-match", class: "mono", value: match, spellcheck: "false", testid: "rule-match",
      "data-i18n-placeholder": "rules.matchPlaceholder", "data-i18n-aria-label": "rules.match" }),
    el("span", { class: "rule-arrow", "aria-hidden": "true", text: "→" }),
    el("input", { name: "rule-reply", value: reply, spellcheck: "false", testid: "rule-reply",
      "data-i18n-placeholder": "rules.replyPlaceholder", "data-i18n-aria-label": "rules.reply" }),
    remove);
  remove.addEventListener("click", () => row.remove());
  ruleRows.append(row);
  row.querySelector("input").focus();
}

function rules() {
  return [...ruleRows.querySelectorAll(".rule-row")]
    .map((row) => ({ match: row.children[0].value, reply: row.children[2].value }))
    .filter((rule) => rule.match !== "");
}

// -- impairment: percentages in the form, fractions in the spec ------------------------------

/** {impair} or null when every field is zero; a translated sentence when one is not a number. */
function impairment() {
  const read = (name, low, high, whole = false) => {
    const text = fields[name].value.trim().replace(",", ".") || "0";
    const value = Number(text);
    if (!Number.isFinite(value) || value < low || value > high || (whole && !Number.isInteger(value))) {
      throw new Error(t(`impair.error.${name}`));
    }
    return value;
  };
  const impair = {
    loss: read("loss", 0, 100) / 100, duplicate: read("duplicate", 0, 100) / 100, reorder: read("reorder", 0, 100) / 100,
    delay_ms: read("delay", 0, 10000), jitter_ms: read("jitter", 0, 10000), seed: read("seed", -(2 ** 53), 2 ** 53, true),
  };
  const any = impair.loss || impair.duplicate || impair.reorder || impair.delay_ms || impair.jitter_ms;
  return any ? impair : null;
}

function spec() {
  const kind = fields.kind.value;
  const text = fields.port.value.trim();
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw Object.assign(new Error(t("error.port")), { field: "port" });
  const result = { kind, host: fields.host.value.trim(), port: Number(text) };
  const show = applicable();
  if (show.server) result.mode = fields.mode.value;
  if (show.reply) result.reply = fields.reply.value;
  if (show.file) result.file = fields.file.value;
  if (show.files) result.protocol = fields.protocol.value;
  if (show.framing && fields.framing.value !== "raw") result.framing = fields.framing.value;
  if (show.delimiter) result.delimiter = unescapeDelimiter(fields.delimiter.value);
  if (show.broadcast && fields.broadcast.checked) result.broadcast = true;
  if (show.rules && rules().length) result.rules = rules();
  if (show.impair) {
    const impair = impairment();
    if (impair) result.impair = impair;
  }
  return withAgent(result, fields.agent); // over lab agents: the one chosen in the picker
}

async function submit(event) {
  event.preventDefault();
  let body;
  try {
    body = spec();
  } catch (error) {
    notice.show(error.message);
    if (error.field) fields[error.field].focus();
    return;
  }
  const button = document.getElementById("create-submit");
  button.disabled = true;
  try {
    const endpoint = await post("/endpoints", body);
    notice.clear();
    portFilledFor = null;
    onCreated(endpoint);
  } catch (error) {
    notice.show(error.message);
  } finally {
    button.disabled = false;
  }
}

export function setFiles(files) {
  setOptions(fields.file, files.map((f) => [f.name, f.name]));
}

export function setServers(endpoints) {
  servers = endpoints.filter((ep) => isServer(ep.kind));
}

export function initCreateForm(created) {
  onCreated = created;
  fields.kind.addEventListener("change", () => {
    update();
    suggestPort();
  });
  fields.port.addEventListener("input", () => {
    portFilledFor = null;
  });
  fields.mode.addEventListener("change", update);
  fields.framing.addEventListener("change", update);
  document.getElementById("rule-add").addEventListener("click", () => addRule());
  form.addEventListener("submit", submit);
  onLanguageChange(update);
  update();
}
