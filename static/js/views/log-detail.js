// The detail panel of one event: the socket call behind it, addresses, the full preview in the
// chosen encoding and as a hex dump; and copying (that event, or the whole filtered log) as text.
import { el, hostPort } from "../dom.js";
import { appendText, decodeText, hexDump, isCut } from "../models/decode.js";
import { eventText as sentenceOf } from "../models/event-text.js";
import { Emitter } from "../emitter.js";
import { formatNumber, onLanguageChange, t, tOr } from "../i18n.js";

const panel = document.getElementById("log-detail");
const status = document.getElementById("log-copy-status");
let current = null;
let encodingOf = () => "utf-8";
const signals = new Emitter();
const closed = () => signals.emit("close");

/** fn() when the panel closes. */
export const onDetailClose = (fn) => signals.on("close", fn);

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** "21:49:01.123" in the viewer's time zone. */
export function clockText(ts) {
  const d = new Date(ts * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

const ENCODING_NAMES = { "utf-8": "UTF-8", gbk: "GBK", latin1: "Latin-1", hex: "hex" };

/** One event as plain text, for the clipboard. */
export function eventText(ev, encoding) {
  const lines = [
    `#${ev.seq} ${clockText(ev.ts)} ${ev.endpoint}${ev.conn ? "/" + ev.conn : ""} ${ev.proto} ${ev.kind} ${t("detail.size", { n: Number(ev.size) || 0 })}`,
  ];
  if (ev.local || ev.peer) lines.push(`${t("detail.local")}: ${hostPort(ev.local) || "—"}  ${t("detail.peer")}: ${hostPort(ev.peer) || "—"}`);
  lines.push(`${t("detail.call")}: ${sentenceOf(ev)}`);
  if (ev.hex) {
    if (encoding !== "hex") lines.push(`${t("detail.text")} (${ENCODING_NAMES[encoding] || encoding}): ${decodeText(ev, encoding)}`);
    lines.push(`${t("detail.hex")}: ${ev.hex}`);
  }
  return lines.join("\n");
}

/** One log line per event, tab-separated, for pasting into a report or a spreadsheet. */
export function logText(events, encoding) {
  const head = ["log.col.time", "log.col.endpoint", "log.col.conn", "log.col.kind", "log.col.peer", "log.col.size", "log.col.text", "log.col.detail"].map((id) => t(id));
  const flat = (s) => String(s ?? "").replace(/[\t\r\n]/g, " ");
  const rows = events.map((ev) => [clockText(ev.ts), ev.endpoint, ev.conn || "", ev.kind, hostPort(ev.peer), ev.size || "",
    flat(decodeText(ev, encoding)), flat(sentenceOf(ev))].join("\t"));
  return [head.join("\t"), ...rows].join("\n");
}

/** Copy to the clipboard (with the old execCommand way when the async API is refused). */
export async function copy(text, what) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    const area = el("textarea", { class: "sr-only", readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
  }
  status.dataset.state = ok ? "ok" : "failed";
  status.textContent = ok ? t("copy.done", { what }) : t("copy.failed");
  clearTimeout(copy.timer);
  copy.timer = setTimeout(() => {
    status.textContent = "";
  }, 4000);
  return ok;
}

function field(labelId, value, testid) {
  return el("div", { class: "detail-field" }, el("dt", { i18n: labelId }), el("dd", { text: value, testid }));
}

function render() {
  if (!current) return;
  const ev = current;
  const encoding = encodingOf();
  const kind = String(ev.kind || "");
  const close = el("button", { type: "button", class: "btn small ghost detail-close", testid: "detail-close",
    "data-i18n-aria-label": "detail.close", text: "×" });
  close.addEventListener("click", hide);
  const copyButton = el("button", { type: "button", class: "btn small", testid: "detail-copy", i18n: "detail.copy" });
  copyButton.addEventListener("click", () => copy(eventText(ev, encoding), t("copy.event")));
  const text = el("pre", { class: "detail-text", testid: "detail-text", data: { encoding } });
  if (ev.hex || ev.data) appendText(text, decodeText(ev, encoding));
  else text.append(el("span", { class: "muted", i18n: "detail.noData" }));
  const cut = isCut(ev) ? el("p", { class: "detail-cut", text: t("detail.cut", { n: ev.hex.split(" ").length, size: formatNumber(ev.size) }) }) : null;
  panel.replaceChildren(...[
    el("div", { class: "detail-head" },
      el("span", { class: "kind-badge", data: { kind }, text: tOr(`ev.${kind}`, kind) }),
      el("h3", { class: "detail-title", text: t("detail.title", { seq: ev.seq }) }), el("span", { class: "spacer" }), copyButton, close),
    el("p", { class: "detail-call", testid: "detail-call" }, el("span", { class: "detail-call-label", i18n: "detail.call" }), " ",
      el("code", { text: sentenceOf(ev) || "—" })),
    el("dl", { class: "detail-fields" },
      field("detail.when", clockText(ev.ts)),
      field("detail.socket", `${ev.endpoint}${ev.conn ? " / " + ev.conn : ""} (${String(ev.proto || "").toUpperCase()})`),
      field("detail.local", hostPort(ev.local) || "—"),
      field("detail.peer", hostPort(ev.peer) || "—"),
      field("detail.bytes", formatNumber(Number(ev.size) || 0), "detail-size")),
    el("h4", { text: t("detail.textIn", { encoding: ENCODING_NAMES[encoding] || encoding }) }), text, cut,
    el("h4", { i18n: "detail.hex" }),
    // (it scrolls sideways: focusable, so a keyboard can scroll it)
    el("pre", { class: "detail-hex", testid: "detail-hex", tabindex: "0", role: "region", "data-i18n-aria-label": "a11y.detailHex",
      text: hexDump(ev.hex) || "—" })].filter(Boolean));
  panel.hidden = false;
}

export function show(ev) {
  current = ev;
  render();
}

export function hide() {
  if (panel.hidden) return false;
  current = null;
  panel.hidden = true;
  closed();
  return true;
}

export const shownSeq = () => (current ? current.seq : null);

/** encoding() -> the chosen encoding; onClose() when the panel closes. */
export function initDetail(encoding, onClose) {
  encodingOf = encoding;
  if (onClose) onDetailClose(onClose);
  onLanguageChange(render);
}

/** The encoding changed: show the same event again. */
export const refresh = render;
