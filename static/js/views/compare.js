// "TCP vs UDP under loss" (lesson 8): the server makes a TCP echo pair (line framing) and a UDP
// echo pair whose client goes through a seeded bad network, and sends N numbered messages on both
// (POST /api/stage/actions/run). Every page, viewers too, opens this panel, takes the run from the
// stage (stage.lesson.run) and counts, from the messages each client gets back, what was received,
// lost, duplicated and reordered. Same seed, same outcome: the lab decides each datagram's fate from
// the seed alone.
import { post } from "../net/api.js";
import { el } from "../dom.js";
import { formatNumber, onLanguageChange, t } from "../i18n.js";
import { noticeIn } from "./notice.js";
import { adopt, current, onStage, serverNow } from "../models/stage.js";

const CLOSED_KEY = "socketlab.compareClosed"; // the stage during which this tab closed the panel
const DEFAULTS = { loss: 20, duplicate: 5, reorder: 10, seed: 1, count: 30, interval: 50 };
const SETTLE_MS = 1500; // seeded runs, after the last send: the reorder hold (300 ms) and the echo are long done
// Link runs (lesson 14) never settle on a clock: under real loss TCP may retransmit for seconds after the
// last send. They settle on the lab's `settled` event (lab/lessons/loss_watch.py), judged from the data.
const CLOCK_SLACK_S = 0.001; // `started` and event times are floats of the same server clock
const MAX_HELD = 20000;
const NUMBERED = /^#(\d+) /;
let ui = null;
let run = null; // the run on show: endpoint ids, settings, tallies, settle timer
let held = []; // this stage's numbered events: a run adopted late (a reload, a late viewer) counts them
let impairment = "seeded"; // the lesson's loss (lab/lessons/registry.py): "seeded" (lesson 8, this form) or "link" (lesson 14, the kernel's)

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
  const cost = el("p", { class: "cmp-cost cmp-link-only", testid: `compare-${proto}-cost` });
  const strip = el("div", { class: "cmp-strip", testid: `compare-${proto}-strip` });
  const root = el("section", { class: "cmp-side", testid: `compare-${proto}`, data: { proto } },
    el("h3", { i18n: `compare.${proto}.title` }), el("p", { class: "cmp-setup cmp-seeded-only", i18n: `compare.${proto}.setup` }),
    el("p", { class: "cmp-setup cmp-link-only", i18n: `compare.${proto}.setupLink` }),
    table, cost, lostList, strip, el("p", { class: "cmp-why", i18n: `compare.${proto}.why` }));
  return { root, numbers, lostList, cost, strip };
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
    el("p", { class: "cmp-note cmp-seeded-only", i18n: "compare.note" }),
    el("p", { class: "cmp-note cmp-link-only", testid: "compare-note-link", i18n: "compare.noteLink" }));
  dialog.dataset.impairment = impairment;
  const notice = noticeIn(dialog, "compare-error", status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    start();
  });
  close.addEventListener("click", () => dialog.close());
  // closed (its button, Escape): this tab does not open it again by itself for this stage
  dialog.addEventListener("close", () => sessionStorage.setItem(CLOSED_KEY, String(current()?.stage ?? "")));
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

/** Lesson 8's run: the server makes both pairs and sends; every page tallies from the events. */
async function start() {
  let body;
  try {
    body = settings();
  } catch (error) {
    ui.notice.show(error.message);
    return;
  }
  ui.notice.clear();
  ui.dialog.dataset.state = "starting";
  const button = ui.form.querySelector("[type=submit]");
  button.disabled = true;
  try {
    const answer = await post("/stage/actions/run", body);
    adopt(answer?.stage);
  } catch (error) {
    ui.notice.show(error.message);
    ui.dialog.dataset.state = "failed";
  } finally {
    button.disabled = false;
  }
}

/** Events of this run: its clients' sends and echoes, from the moment it started (a run may reuse sockets). */
function tallyEvents(events) {
  const { tcpClient, udpClient } = run.ids;
  let changed = false;
  for (const ev of events) {
    if (ev.kind === "settled" && ev.endpoint === tcpClient && ev.args && typeof ev.args === "object") {
      run.summary = ev.args; // after every echo this page holds: events arrive in the lab's order
      changed = true;
      continue;
    }
    const tally = ev.endpoint === tcpClient ? run.tcp : ev.endpoint === udpClient ? run.udp : null;
    if (!tally || !(ev.ts >= run.started - CLOCK_SLACK_S)) continue;
    const match = NUMBERED.exec(ev.data || "");
    if (!match) continue;
    const n = Number(match[1]);
    if (ev.kind === "send" || ev.kind === "lost") tally.send(n);
    else if ((tally === run.tcp && ev.kind === "message") || (tally === run.udp && ev.kind === "recv")) tally.receive(n);
    else continue;
    changed = true;
  }
  return changed;
}

/**
 * The run the stage names (stage.lesson.run), on every page: a new one starts empty tallies,
 * counted from the events this page already holds of the current stage, then from the live ones.
 */
function adoptRun(given) {
  if (!given || !given.ids || !given.settings) return;
  if (run && run.started === given.started) return;
  clearTimeout(run?.timer);
  const s = given.settings;
  run = { ids: given.ids, settings: s, started: Number(given.started), settled: false, timer: 0,
    tcp: new Tally(s.count), udp: new Tally(s.count), summary: null };
  if (!ui) build();
  for (const name of Object.keys(DEFAULTS)) {
    if (name in s) ui.form.elements[name].value = String(s[name]);
  }
  ui.dialog.dataset.run = String(Number(ui.dialog.dataset.run || 0) + 1);
  ui.dialog.dataset.state = "running";
  ui.notice.clear();
  tallyEvents(held);
  if (run.summary) run.settled = true;
  if (!s.link) {
    // settled: the last send is (count - 1) intervals after the start, and its echo well within SETTLE_MS
    const settledAt = run.started + ((s.count - 1) * s.interval + SETTLE_MS) / 1000;
    const mine = run;
    run.timer = setTimeout(() => settle(mine), Math.max(0, (settledAt - serverNow()) * 1000));
  }
  ui.dialog.dataset.state = run.settled ? "done" : "running";
  draw();
}

function settle(which) {
  if (run !== which) return;
  run.settled = true;
  ui.dialog.dataset.state = "done";
  draw();
}

/** The link run's cost, from the lab's `settled` event: retransmissions and the time to the last echo. */
function drawCost(part, proto, summary) {
  const side = summary?.[proto] ?? {};
  const seconds = typeof side.seconds === "number" ? side.seconds : null;
  const retransmitted = proto === "tcp" ? Number(side.retransmits) || 0 : 0; // UDP never sends a datagram twice
  Object.assign(part.root.dataset, { retransmitted: summary ? String(retransmitted) : "", took: seconds ?? "" });
  const tenths = (x) => formatNumber(Math.round(x * 10) / 10);
  const udp = summary?.udp?.seconds;
  if (seconds === null) part.cost.textContent = "";
  else if (proto === "udp") part.cost.textContent = t("compare.link.udpCost", { s: tenths(seconds) });
  else part.cost.textContent = t("compare.link.tcpCost", { n: formatNumber(retransmitted), s: tenths(seconds),
    extra: tenths(Math.max(0, seconds - (typeof udp === "number" ? udp : seconds))) });
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
  if (run.summary && !run.settled) {
    run.settled = true; // the lab says the run is over: every echo it will ever get is counted
    ui.dialog.dataset.state = "done";
  }
  drawSide(ui.tcp, run.tcp, run.settled);
  drawSide(ui.udp, run.udp, run.settled);
  drawCost(ui.tcp, "tcp", run.summary);
  drawCost(ui.udp, "udp", run.summary);
  const s = run.settings;
  const key = `compare.${s.link ? "link." : ""}${run.settled ? "done" : "running"}`;
  ui.status.textContent = t(key, { n: s.count, ms: s.interval, seed: s.seed, loss: s.loss });
}

/** Every batch of the page's events: kept for the current stage (a run adopted later counts them), and tallied. */
export function seeEvents(events) {
  let changed = false;
  for (const ev of events) {
    if (ev.kind === "stage") {
      held = [];
      continue;
    }
    if (ev.kind !== "settled" && !NUMBERED.test(ev.data || "")) continue;
    held.push(ev);
    if (held.length > MAX_HELD) held = held.slice(-MAX_HELD / 2);
  }
  if (run) changed = tallyEvents(events);
  if (changed && !frame) frame = requestAnimationFrame(draw);
}

/** Open the panel (lessons 8 and 14, on every page); `onLoad`: the page is opening during the lesson,
 * so the panel opens unless this tab closed it during this stage (a reload must not put it back). */
export function openCompare({ onLoad = false } = {}) {
  if (onLoad && sessionStorage.getItem(CLOSED_KEY) === String(current()?.stage ?? "")) return;
  if (!ui) build();
  if (!ui.dialog.open) ui.dialog.showModal();
  ui.form.querySelector("[type=submit]").focus();
}

/** The stage changed: a new stage empties the panel and puts it away; lesson 8's run is adopted. */
function followStage(stage, previous) {
  if (previous && stage.stage !== previous.stage) resetCompare();
  const lesson = stage.lesson;
  if (lesson?.view === "compare") {
    impairment = lesson.impairment === "link" ? "link" : "seeded";
    if (ui) ui.dialog.dataset.impairment = impairment;
  }
  if (lesson?.view === "compare" && lesson.run) adoptRun(lesson.run);
}

/** Forget the run and show an empty panel, closed. */
export function resetCompare() {
  clearTimeout(run?.timer);
  run = null;
  if (!ui) return;
  ui.dialog.dataset.state = "idle";
  ui.status.textContent = "";
  ui.notice.clear();
  for (const part of [ui.tcp, ui.udp]) {
    drawSide(part, new Tally(0), false);
    drawCost(part, part.root.dataset.proto, null);
  }
  if (ui.dialog.open) ui.dialog.close();
}

export function initCompare() {
  onStage(followStage);
  const stage = current();
  if (stage) followStage(stage, null);
}
