// Throughput over the last minute (bytes per second sent and received by every socket of the
// lab), drawn with uPlot (static/vendor, no CDN). Built from event times, so it works in replay.
import { onLanguageChange, t } from "../i18n.js";
import { rateText } from "./counters.js";

const BUCKET = 0.5; // seconds per point
const SPAN = 60; // seconds shown
const box = document.getElementById("chart");
const pane = document.getElementById("pane-numbers");
const sent = new Map(); // bucket -> bytes
const received = new Map();
let clock = () => Date.now() / 1000;
let plot = null;
let built = "";

export function setClock(fn) {
  clock = fn;
}

function addTo(map, ts, size) {
  const key = Math.floor(ts / BUCKET);
  map.set(key, (map.get(key) || 0) + size);
  if (map.size > 4 * SPAN / BUCKET) {
    const oldest = key - 2 * SPAN / BUCKET;
    for (const k of map.keys()) if (k < oldest) map.delete(k);
  }
}

export function add(events) {
  for (const ev of events) {
    const size = Number(ev.size) || 0;
    if (!size || typeof ev.ts !== "number") continue;
    if (ev.kind === "send") addTo(sent, ev.ts, size);
    else if (ev.kind === "recv" || ev.kind === "progress") addTo(received, ev.ts, size);
  }
}

export function reset() {
  sent.clear();
  received.clear();
  update();
}

/** [seconds before now, sent B/s, received B/s] for the last SPAN seconds. */
function series() {
  const now = clock();
  const last = Math.floor(now / BUCKET);
  const xs = [];
  const out = [];
  const inn = [];
  for (let k = last - SPAN / BUCKET + 1; k <= last; k++) {
    xs.push(Math.min(0, (k + 1) * BUCKET - now));
    out.push((sent.get(k) || 0) / BUCKET);
    inn.push((received.get(k) || 0) / BUCKET);
  }
  return [xs, out, inn];
}

function colours() {
  const style = getComputedStyle(document.documentElement);
  const v = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  return { ink: v("--ink", "#0b1220"), grid: v("--line", "#c3cedc"), sent: v("--send-colour", "#c2410c"), recv: v("--recv-colour", "#15803d") };
}

function build() {
  if (!window.uPlot || pane.hidden || !box.clientWidth) return;
  plot?.destroy();
  const c = colours();
  const px = parseFloat(getComputedStyle(box).fontSize) || 16;
  const font = `${Math.round(px)}px system-ui, sans-serif`;
  const axis = { stroke: c.ink, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid }, font, labelFont: font };
  plot = new window.uPlot({
    width: box.clientWidth,
    height: Math.max(160, box.clientHeight - 4 * px),
    scales: { x: { time: false, range: [-SPAN, 0] }, y: { range: (u, min, max) => [0, Math.max(1000, max * 1.1)] } },
    legend: { show: false }, // the legend is in the page, in words and line styles
    cursor: { show: false },
    series: [
      {},
      { label: t("chart.sent"), stroke: c.sent, width: 3, value: (u, v) => (v == null ? "" : rateText(v)) },
      { label: t("chart.received"), stroke: c.recv, width: 3, dash: [10, 5], value: (u, v) => (v == null ? "" : rateText(v)) },
    ],
    axes: [{ ...axis, space: 6 * px, values: (u, values) => values.map((v) => (v === 0 ? t("chart.now") : t("chart.ago", { n: -v }))) },
      { ...axis, size: 8 * px, values: (u, values) => values.map(rateText) }],
  }, series(), box);
  built = `${box.clientWidth}x${box.clientHeight}/${px}`;
}

/** Redraw with the newest minute (every half second while the Numbers pane is open). */
export function update() {
  if (pane.hidden || !box.clientWidth) return;
  const shape = `${box.clientWidth}x${box.clientHeight}/${parseFloat(getComputedStyle(box).fontSize) || 16}`;
  if (!plot || shape !== built) build();
  else plot.setData(series());
}

/** Colours, language or size changed: build the chart again. */
export function rebuild() {
  built = "";
  update();
}

export function initChart() {
  setInterval(update, 500);
  new ResizeObserver(() => rebuild()).observe(box);
  onLanguageChange(rebuild);
}

// the classroom's view interface (classroom.js VIEWS): init, add, reset, redraw
export const init = initChart;
export const redraw = rebuild;
