// "TCP vs UDP under loss": one click makes a TCP echo pair (line framing) and a UDP echo pair
// whose client goes through a seeded bad network, sends N numbered messages on both, and counts,
// from the messages each client gets back, what was received, lost, duplicated and reordered.
// Same seed, same outcome: the lab decides each datagram's fate from the seed alone.
import { del, post } from "./api.js";
import { el } from "./dom.js";
import { formatNumber, onLanguageChange, t } from "./i18n.js";
import { noticeIn } from "./notice.js";

const DEFAULTS = { loss: 20, duplicate: 5, reorder: 10, seed: 1, count: 30, interval: 50 };
const SETTLE_MS = 1500; // after the last send: the reorder hold (300 ms) and the echo are long done
const NUMBERED = /^#(\d+) /;
let ui = null;
let run = null; // the current run: endpoint ids, tallies, timer
let afterChange = () => {};

/** What one client got back, by message number. */
class Tally {
  constructor(count) {
    this.count = count;
    this.sent = new Set();
    this.got = new Map(); // number -> copies received
    this.late = new Set(); // arrived after a higher number
    this.max = 0;
  }

  send(n) {
    if (n >= 1 && n <= this.count) this.sent.add(n);
  }

  receive(n) {
    if (n < 1 || n > this.count) return;
    this.got.set(n, (this.got.get(n) || 0) + 1);
    if (this.got.get(n) === 1 && n < this.max) this.late.add(n);
    this.max = Math.max(this.max, n);
  }

  /** Lost: sent and never back. Before the run settles, only the gaps below the highest number back. */
  lost(settled) {
    const limit = settled ? this.count : this.max;
    const lost = [];
    for (let n = 1; n <= limit; n++) if (this.sent.has(n) && !this.got.has(n)) lost.push(n);
    return lost;
  }

  counters(settled) {
    let duplicated = 0;
    for (const copies of this.got.values()) duplicated += copies - 1;
    const lost = this.lost(settled);
    return { sent: this.sent.size, received: this.got.size, lost: lost.length, duplicated, late: this.late.size, lostList: lost };
  }

  fate(n, lost) {
    if (lost.has(n)) return "lost";
    const copies = this.got.get(n) || 0;
    if (copies > 1) return "dup";
    if (this.late.has(n)) return "late";
    if (copies) return "ok";
    return this.sent.has(n) ? "flight" : "waiting";
  }
}

function numberField(name, label, unit = "") {
  const input = el("input", { name, value: String(DEFAULTS[name]), inputmode: "numeric", class: "cmp-input",
    testid: `compare-${name}` });
  return el("label", { class: "cmp-field" }, el("span", { i18n: label }), input, unit ? el("span", { text: unit }) : null);
}

const ROWS = ["sent", "received", "lost", "duplicated", "late"];

function side(proto) {
  const numbers = {};
  const table = el("div", { class: "cmp-counters" });
  for (const key of ROWS) {
    numbers[key] = el("b", { class: "cmp-num", testid: `compare-${proto}-${key}`, text: "0" });
    table.append(el("div", { class: "cmp-row", data: { row: key } }, el("span", { i18n: `compare.${key}` }), numbers[key]));
  }
  const lostList = el("p", { class: "cmp-lost", testid: `compare-${proto}-lost-list` });
  const strip = el("div", { class: "cmp-strip", testid: `compare-${proto}-strip` });
  const root = el("section", { class: "cmp-side", testid: `compare-${proto}`, data: { proto } },
    el("h3", { i18n: `compare.${proto}.title` }), el("p", { class: "cmp-setup", i18n: `compare.${proto}.setup` }),
    table, lostList, strip, el("p", { class: "cmp-why", i18n: `compare.${proto}.why` }));
  return { root, numbers, lostList, strip };
}

function build() {
  const form = el("form", { class: "cmp-form", novalidate: true, "data-control": true },
    numberField("loss", "impair.loss"), numberField("duplicate", "impair.duplicate"),
    numberField("reorder", "impair.reorder"), numberField("seed", "impair.seed"),
    numberField("count", "compare.count"), numberField("interval", "compare.interval", "ms"),
    el("button", { type: "submit", class: "btn primary", testid: "compare-run", i18n: "compare.run" }));
  const close = el("button", { type: "button", class: "btn", testid: "compare-close", i18n: "code.close" });
  const status = el("p", { class: "cmp-status", testid: "compare-status", "aria-live": "polite" });
  const tcp = side("tcp");
  const udp = side("udp");
  const dialog = el("dialog", { class: "cmp-dialog", testid: "compare-panel", data: { state: "idle" } },
    el("div", { class: "cmp-head" }, el("h2", { i18n: "compare.title" }), el("span", { class: "spacer" }), close),
    form, status, el("div", { class: "cmp-sides" }, tcp.root, udp.root),
    el("p", { class: "cmp-note", i18n: "compare.note" }));
  const notice = noticeIn(dialog, "compare-error", status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    start();
  });
  close.addEventListener("click", () => dialog.close());
  document.body.append(dialog);
  ui = { dialog, form, status, tcp, udp, notice };
  onLanguageChange(draw);
}

/** The form's numbers, or a sentence saying which one is wrong. */
function settings() {
  const f = ui.form.elements;
  const read = (name, low, high) => {
    const value = Number(f[name].value.trim().replace(",", "."));
    if (!Number.isFinite(value) || value < low || value > high) throw new Error(t("compare.error", { field: t(`compare.field.${name}`), low, high }));
    return value;
  };
  return {
    loss: read("loss", 0, 100), duplicate: read("duplicate", 0, 100), reorder: read("reorder", 0, 100),
    seed: Math.trunc(read("seed", -(2 ** 31), 2 ** 31)), count: Math.trunc(read("count", 1, 1000)),
    interval: Math.trunc(read("interval", 0, 2000)),
  };
}

async function stopPrevious() {
  if (!run) return;
  clearTimeout(run.timer);
  const ids = Object.values(run.ids);
  run = null;
  await Promise.all(ids.map((id) => del(`/endpoints/${id}`).catch(() => null)));
}

async function start() {
  let s;
  try {
    s = settings();
  } catch (error) {
    ui.notice.show(error.message);
    return;
  }
  ui.notice.clear();
  ui.dialog.dataset.state = "starting";
  ui.form.querySelector("[type=submit]").disabled = true;
  try {
    await stopPrevious();
    const tcpServer = await post("/endpoints", { kind: "tcp-server", port: 0, mode: "echo", framing: "line" });
    const tcpClient = await post("/endpoints", { kind: "tcp-client", port: tcpServer.local[1], framing: "line" });
    const udpServer = await post("/endpoints", { kind: "udp-server", port: 0, mode: "echo" });
    const impair = { loss: s.loss / 100, duplicate: s.duplicate / 100, reorder: s.reorder / 100, seed: s.seed };
    const udpClient = await post("/endpoints", { kind: "udp-client", port: udpServer.local[1], impair });
    run = { settings: s, settled: false, timer: 0,
      ids: { tcpServer: tcpServer.id, tcpClient: tcpClient.id, udpServer: udpServer.id, udpClient: udpClient.id },
      tcp: new Tally(s.count), udp: new Tally(s.count) };
    ui.dialog.dataset.run = String(Number(ui.dialog.dataset.run || 0) + 1);
    afterChange();
    const burst = { data: "ping", repeat: s.count, interval_ms: s.interval, numbered: true };
    await Promise.all([post(`/endpoints/${tcpClient.id}/send`, burst), post(`/endpoints/${udpClient.id}/send`, burst)]);
    ui.dialog.dataset.state = "running";
    const mine = run;
    run.timer = setTimeout(() => settle(mine), (s.count - 1) * s.interval + SETTLE_MS);
  } catch (error) {
    ui.notice.show(error.message);
    ui.dialog.dataset.state = "failed";
  } finally {
    ui.form.querySelector("[type=submit]").disabled = false;
  }
  draw();
}

function settle(which) {
  if (run !== which) return;
  run.settled = true;
  ui.dialog.dataset.state = "done";
  draw();
  afterChange();
}

function drawSide(part, tally, settled) {
  const c = tally.counters(settled);
  for (const key of ROWS) part.numbers[key].textContent = formatNumber(c[key]);
  Object.assign(part.root.dataset, { sent: c.sent, received: c.received, lost: c.lost, duplicated: c.duplicated,
    late: c.late, lostList: c.lostList.join(",") });
  part.root.querySelector('[data-row="lost"]').dataset.bad = String(c.lost > 0);
  part.lostList.textContent = c.lostList.length ? t("compare.lostList", { list: c.lostList.map((n) => `#${n}`).join(" ") }) : "";
  const lost = new Set(c.lostList);
  const cells = [];
  if (tally.count <= 200) {
    for (let n = 1; n <= tally.count; n++) {
      const fate = tally.fate(n, lost);
      cells.push(el("span", { class: "cmp-cell", data: { fate }, title: t(`compare.fate.${fate}`, { n }), text: String(n) }));
    }
  }
  part.strip.replaceChildren(...cells);
}

let frame = 0;
function draw() {
  frame = 0;
  if (!ui || !run) return;
  drawSide(ui.tcp, run.tcp, run.settled);
  drawSide(ui.udp, run.udp, run.settled);
  const s = run.settings;
  ui.status.textContent = t(run.settled ? "compare.done" : "compare.running", { n: s.count, ms: s.interval, seed: s.seed });
}

/** Events from the page's stream: the clients' sends, the lab's "lost" notes, and the echoes back. */
export function seeEvents(events) {
  if (!run) return;
  const { tcpClient, udpClient } = run.ids;
  let changed = false;
  for (const ev of events) {
    const tally = ev.endpoint === tcpClient ? run.tcp : ev.endpoint === udpClient ? run.udp : null;
    if (!tally) continue;
    const match = NUMBERED.exec(ev.data || "");
    if (!match) continue;
    const n = Number(match[1]);
    if (ev.kind === "send" || ev.kind === "lost") tally.send(n);
    else if ((tally === run.tcp && ev.kind === "message") || (tally === run.udp && ev.kind === "recv")) tally.receive(n);
    else continue;
    changed = true;
  }
  if (changed && !frame) frame = requestAnimationFrame(draw);
}

/** Open the panel (lesson 8); `changed` is told when a run makes or settles endpoints. */
export function openCompare(changed = afterChange) {
  if (!ui) build();
  afterChange = changed;
  if (!ui.dialog.open) ui.dialog.showModal();
  ui.form.querySelector("[type=submit]").focus();
}

/** Stop the last run's sockets (a new lesson starts) and show an empty panel. */
export async function resetCompare() {
  await stopPrevious();
  if (!ui) return;
  ui.dialog.dataset.state = "idle";
  ui.status.textContent = "";
  for (const part of [ui.tcp, ui.udp]) drawSide(part, new Tally(0), false);
}

export function initCompare(changed) {
  afterChange = changed;
}
