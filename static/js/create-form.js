// The "New socket" form: shows only the fields that apply to the chosen kind and mode, and
// turns them into an endpoint spec for POST /api/endpoints.
import { post } from "./api.js";
import { setOptions } from "./dom.js";
import { onLanguageChange, t } from "./i18n.js";
import { noticeIn } from "./notice.js";

const form = document.getElementById("create-form");
const fields = form.elements;
const notice = noticeIn(form, "create-error", document.getElementById("create-hint"));
let onCreated = () => {};
let servers = []; // the endpoints list, to offer a new client the newest server's port
let portFilledFor = null; // the kind whose default port we filled in, so we never overwrite typing

const isServer = (kind) => kind.endsWith("-server");

/** Which optional rows apply: {server, reply, file, files}. */
function applicable() {
  const kind = fields.kind.value;
  const mode = fields.mode.value;
  return {
    server: isServer(kind),
    reply: isServer(kind) && mode === "reply",
    file: kind === "tcp-server" && mode === "file",
    files: kind === "tcp-server" && mode === "files",
  };
}

function update() {
  const kind = fields.kind.value;
  for (const option of fields.mode.querySelectorAll("[data-show]")) {
    option.hidden = option.disabled = kind !== option.dataset.show;
  }
  if (fields.mode.selectedOptions[0]?.disabled) fields.mode.value = "echo";
  const show = applicable();
  for (const row of form.querySelectorAll(".field[data-show]")) {
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

function spec() {
  const kind = fields.kind.value;
  const text = fields.port.value.trim();
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) return null;
  const result = { kind, host: fields.host.value.trim(), port: Number(text) };
  const show = applicable();
  if (show.server) result.mode = fields.mode.value;
  if (show.reply) result.reply = fields.reply.value;
  if (show.file) result.file = fields.file.value;
  if (show.files) result.protocol = fields.protocol.value;
  return result;
}

async function submit(event) {
  event.preventDefault();
  const body = spec();
  if (!body) {
    notice.show(t("error.port"));
    fields.port.focus();
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
  form.addEventListener("submit", submit);
  onLanguageChange(update);
  update();
}
