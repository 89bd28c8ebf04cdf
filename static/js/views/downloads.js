// Downloads: the form (which file server, which file, which protocol), the list of downloads
// with progress and checksum, and polling while any is still running.
import { withAgent } from "./agents-view.js";
import { ApiError, authHeaders, get, post, token } from "../net/api.js";
import { bytes, chipToggle, part } from "./chips.js";
import { showCode } from "./code-panel.js";
import { debounce, el, hostPort, parseHostPort, replaceKeepingFocus, setOptions } from "../dom.js";
import { Emitter } from "../emitter.js";
import { formatNumber, onLanguageChange, t, tOr } from "../i18n.js";
import { noticeIn } from "./notice.js";
import { current, onStage } from "../models/stage.js";

const POLL_MS = 500;
const form = document.getElementById("download-form");
const fields = form.elements;
const notice = noticeIn(form, "download-error", form.querySelector(".hint"));
const list = document.getElementById("downloads");
const title = document.getElementById("downloads-title");
const cards = new Map();
let servers = [];
let files = [];
let knownServers = new Set();
let pollTimer = 0;
const signals = new Emitter();

/** fn(sentence) when loading or saving a download failed. */
export const onDownloadsError = (fn) => signals.on("error", fn);

const failed = (sentence) => signals.emit("error", sentence);

/**
 * Keep the cards current from events: a download's `state` snapshot (a snapshot without an
 * endpoint `kind`) replaces its card, a `progress` event moves its byte count. No request.
 */
export function applyEvents(events) {
  for (const ev of events) {
    const snapshot = ev.state;
    if (snapshot && typeof snapshot === "object" && typeof snapshot.kind !== "string" && snapshot.id) {
      const card = cards.get(snapshot.id);
      if (snapshot.removed) card?.root.remove();
      if (snapshot.removed) cards.delete(snapshot.id);
      else {
        const known = [...cards.values()].map((c) => c.download);
        render(cards.has(snapshot.id) ? known.map((d) => (d.id === snapshot.id ? snapshot : d)) : [...known, snapshot]);
      }
    } else if (ev.kind === "progress" && cards.has(ev.endpoint) && Number.isFinite(ev.args?.bytes)) {
      const card = cards.get(ev.endpoint);
      card.download = { ...card.download, bytes: ev.args.bytes, size: ev.args.size ?? card.download.size };
      fill(card);
    }
  }
}

// -- the form ---------------------------------------------------------------------------------

function fillServers() {
  const options = servers.map((ep) => {
    const mode = [tOr(`modeShort.${ep.mode}`, ep.mode || ""), ep.mode === "files" ? ep.protocol : null]
      .filter(Boolean).join(" · ");
    return [ep.id, `${ep.id} · ${hostPort(ep.local)} · ${mode}`];
  });
  options.push(["other", t(servers.length ? "dl.server.other" : "dl.server.none")]);
  setOptions(fields.server, options);
  setOptions(fields.file, [["", t("dl.file.none")], ...files.map((f) => [f.name, f.name])]);
  showAddress();
}

function showAddress() {
  form.querySelector("[data-show=address]").hidden = fields.server.value !== "other";
}

/** Match the form to a file server: "file" mode needs no name, "files" mode has a protocol. */
function presetFor(id) {
  const ep = servers.find((s) => s.id === id);
  if (!ep) return;
  if (ep.mode === "file") fields.file.value = "";
  if (ep.mode === "files" && ep.protocol) fields.protocol.value = ep.protocol;
  if (ep.mode === "files" && !fields.file.value && files.length) {
    const sample = files.find((f) => f.size > 100000) || files[0];
    fields.file.value = sample.name;
  }
}

export function setServers(endpoints) {
  servers = endpoints.filter((ep) => ep.kind === "tcp-server" && ep.state === "listening" && ep.local);
  const chosen = fields.server.value;
  fillServers();
  // a file server that just appeared is almost surely the one to download from
  const fresh = servers.filter((ep) => !knownServers.has(ep.id) && (ep.mode === "file" || ep.mode === "files"));
  knownServers = new Set(endpoints.map((ep) => ep.id));
  if (fresh.length) {
    fields.server.value = fresh[fresh.length - 1].id;
    presetFor(fields.server.value);
  } else if (chosen !== fields.server.value && servers.length) {
    presetFor(fields.server.value);
  }
  showAddress();
}

/** Choose a server, file and protocol in the form (a lesson preset); unknown values are left as they are. */
export function preselect(serverId, { file, protocol } = {}) {
  if (servers.some((ep) => ep.id === serverId)) fields.server.value = serverId;
  if (file !== undefined && [...fields.file.options].some((o) => o.value === file)) fields.file.value = file;
  if (protocol) fields.protocol.value = protocol;
  showAddress();
}

export function setFiles(list) {
  files = list;
  fillServers();
}

function target() {
  if (fields.server.value === "other") return parseHostPort(fields.address.value);
  const ep = servers.find((s) => s.id === fields.server.value);
  if (!ep) return null;
  const host = ep.local[0] === "0.0.0.0" ? "127.0.0.1" : ep.local[0] === "::" ? "::1" : ep.local[0];
  return [host, ep.local[1]];
}

async function submit(event) {
  event.preventDefault();
  const where = target();
  if (!where) {
    notice.show(t("error.address"));
    return;
  }
  const body = { host: where[0], port: where[1], protocol: fields.protocol.value };
  if (fields.file.value) body.file = fields.file.value;
  try {
    const download = await post("/downloads", withAgent(body, fields.agent)); // (the agent it runs on)
    notice.clear();
    if (download && download.id) {
      render([...[...cards.values()].map((c) => c.download).filter((d) => d.id !== download.id), download]);
      cards.get(download.id)?.root.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
    refresh();
  } catch (error) {
    notice.show(error.message);
  }
}

// -- the list ---------------------------------------------------------------------------------

/** Save: a plain link works without a token; with one, fetch with the header and hand over a blob. */
async function save(event, download) {
  if (!token()) return;
  event.preventDefault();
  try {
    const response = await fetch(`/api/downloads/${encodeURIComponent(download.id)}/file`, { headers: authHeaders() });
    if (!response.ok) throw new ApiError(response.status, t("error.status", { status: response.status }));
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: download.file || `${download.id}.bin` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (error) {
    failed(error.message);
  }
}

function shortHash(hash) {
  return hash.length > 28 ? `${hash.slice(0, 16)}…${hash.slice(-8)}` : hash;
}

/** A download that finished before the current stage began belongs to an earlier lesson: its card stays
 * in the list, but a folded page (projector, a student's) shows no chip of it. */
function markStage(card) {
  const began = current()?.started;
  const finished = card.download?.finished;
  const earlier = typeof began === "number" && typeof finished === "number" && finished < began;
  card.root.dataset.stage = earlier ? "earlier" : "current";
}

function fill(card) {
  const d = card.download;
  const state = String(d.state || "");
  card.root.dataset.state = state;
  markStage(card);
  const head = el("div", { class: "card-head" },
    el("span", { class: "ep-id", text: d.id }),
    el("span", { class: "dl-file", testid: "download-file", text: d.file || t("dl.untitled") }),
    d.host && d.port ? el("span", { class: "ep-mode", text: t("dl.from", { addr: hostPort([d.host, d.port]) }) }) : null,
    el("span", { class: "spacer" }),
    el("span", { class: "state-badge", testid: "download-state", data: { state }, text: tOr(`state.${state}`, state) }));
  const got = Number(d.bytes || 0);
  const parts = [fillChip(card, d, state, got), head];
  if (typeof d.size === "number" && d.size > 0) {
    parts.push(el("progress", { class: "dl-progress", max: String(d.size), value: String(Math.min(got, d.size)),
      testid: "download-progress" }));
    parts.push(el("p", { class: "dl-bytes", testid: "download-bytes", text: t("dl.progress", { got, size: d.size }) }));
  } else {
    parts.push(el("p", { class: "dl-bytes", testid: "download-bytes", text: t("dl.bytes", { n: got }) }));
  }
  if (d.sha256) {
    parts.push(el("p", { class: "dl-sha", title: d.sha256 },
      el("span", { class: "addr-label", text: t("dl.sha") }), el("code", { testid: "download-sha", text: shortHash(d.sha256) })));
  }
  if (d.verified === true) {
    parts.push(el("p", { class: "verified ok", testid: "download-verified", text: `✓ ${t("dl.verified")}` }));
  } else if (d.verified === false) {
    parts.push(el("p", { class: "verified bad", testid: "download-mismatch", text: `✗ ${t("dl.mismatch")}` }));
  }
  if (d.error) parts.push(el("p", { class: "dl-error", role: "alert", testid: "download-error", text: d.error }));
  const actions = el("div", { class: "card-actions" });
  if (state === "done") {
    const link = el("a", { class: "btn primary save", href: `/api/downloads/${encodeURIComponent(d.id)}/file`,
      download: d.file || "", testid: "download-save", text: `⤓ ${t("dl.save")}` });
    link.addEventListener("click", (event) => save(event, d));
    actions.append(link);
  }
  const code = el("button", { type: "button", class: "btn code-btn", testid: "show-code", i18n: "code.button",
    "data-i18n-title": "code.buttonTitle" });
  code.addEventListener("click", () => showCode("downloads", d.id));
  actions.append(code);
  parts.push(actions);
  replaceKeepingFocus(card.root, ...parts);
}

function chipPort(d) {
  const port = part("chip-port", `:${d.port}`, "chip-port");
  port.title = hostPort([d.host, d.port]);
  return port;
}

/** The projector's one line for a download: id, file, server port, state, bytes so far. */
function fillChip(card, d, state, got) {
  const size = typeof d.size === "number" && d.size > 0 ? ` / ${bytes(d.size)}` : "";
  card.chip.replaceChildren(part("chip-id ep-id", d.id), part("chip-kind", t("chip.download")),
    part("chip-file", d.file || t("dl.untitled")),
    d.host && d.port ? chipPort(d) : null, // (the port, as an endpoint's chip: the whole address on hover)
    el("span", { class: "state-badge", data: { state }, text: tOr(`state.${state}`, state) }),
    part("chip-io in", `↓ ${bytes(got)}${size}`, "chip-in"));
  return card.chip;
}

/** Draw these downloads (the whole list); while one runs, ask again (until the lab sends download snapshots). */
function render(downloads) {
  const seen = new Set();
  for (const d of downloads) {
    seen.add(d.id);
    let card = cards.get(d.id);
    if (!card) {
      const root = el("article", { class: "card download", testid: "download", id: `download-${d.id}`,
        data: { downloadId: d.id } });
      card = { root, chip: chipToggle(root, "download-chip") };
      cards.set(d.id, card);
    }
    card.download = d;
    fill(card);
    list.append(card.root); // re-appending in order keeps the server's order, oldest first
  }
  for (const [id, card] of cards) {
    if (!seen.has(id)) {
      card.root.remove();
      cards.delete(id);
    }
  }
  title.hidden = cards.size === 0;
  clearTimeout(pollTimer);
  if (downloads.some((d) => d.state === "running")) pollTimer = setTimeout(refresh, POLL_MS);
}

export async function refresh() {
  try {
    const downloads = await get("/downloads");
    if (Array.isArray(downloads)) render(downloads);
  } catch (error) {
    failed(error.message);
  }
}

export const refreshSoon = debounce(refresh, 150);

/** Bring download `id` into view (a lesson preset started it). */
export function reveal(id) {
  cards.get(id)?.root.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

export function initDownloads() {
  fields.server.addEventListener("change", () => {
    showAddress();
    presetFor(fields.server.value);
  });
  form.addEventListener("submit", submit);
  onLanguageChange(() => {
    fillServers();
    for (const card of cards.values()) fill(card);
  });
  onStage(() => {
    for (const card of cards.values()) markStage(card);
  });
}
