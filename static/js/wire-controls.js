// The wire layer's controls above the diagram: one toggle that shows or hides the packets
// (remembered by the browser), "Download pcap" (GET /api/capture.pcap, for Wireshark or tshark),
// and, when this lab cannot capture, the one sentence that says why (GET /api/session "capture":
// false with its code in "why_not", worded in the reader's language and shown once, in one place).
import { authHeaders, errorSentence } from "./api.js";
import { Emitter } from "./emitter.js";
import { onLanguageChange, t } from "./i18n.js";

const WIRE_KEY = "socketlab.wire";
const signals = new Emitter();
let shown = localStorage.getItem(WIRE_KEY) !== "0"; // on unless the reader turned it off
let why = null; // the code of why nothing is captured, or null
let problem = null; // a failed pcap download's sentence, until the next try
let toggle = null;
let pcap = null;
let line = null;

/** Are the packets drawn? */
export const wireShown = () => shown;

/** fn(shown) when the toggle changed. */
export const onWireChange = (fn) => signals.on("change", fn);

function render() {
  if (!toggle) return;
  toggle.setAttribute("aria-pressed", String(shown));
  toggle.textContent = t(shown ? "wire.hide" : "wire.show");
  const none = Boolean(why) && why !== "capture-stopped"; // (stopped: what was captured stays, drawn and in the pcap)
  toggle.hidden = none;
  pcap.hidden = none;
  const sentence = problem ?? (why ? t(`err.${why}`) : "");
  line.textContent = sentence;
  line.hidden = !sentence;
  line.dataset.code = why ?? "";
}

export function setWireShown(on) {
  shown = on;
  localStorage.setItem(WIRE_KEY, on ? "1" : "0");
  render();
  signals.emit("change", on);
}

/** From GET /api/session: {capture, why_not: {capture: code}} (a server without the wire: no controls, no sentence). */
export function setWireSession(wire) {
  const known = wire && typeof wire === "object" && "capture" in wire;
  why = known && !wire.capture ? String(wire.why_not?.capture || "capture-off") : null;
  if (!known) why = null;
  toggle.dataset.available = String(Boolean(known && wire.capture));
  render();
}

/** Live: the lab's capture stopped (its process ended) while this page was open. */
export function applyWireEvents(events) {
  for (const ev of events) {
    if (ev?.kind === "error" && ev.code === "capture-stopped" && toggle?.dataset.available === "true") {
      setWireSession({ capture: false, why_not: { capture: "capture-stopped" } });
    }
  }
}

/** Save the captured packets (of `endpoint`, or all) as a file the browser downloads. */
async function downloadPcap(endpoint) {
  problem = null;
  const query = endpoint ? `?endpoint=${encodeURIComponent(endpoint)}` : "";
  try {
    const response = await fetch(`/api/capture.pcap${query}`, { headers: authHeaders() });
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch {
        // not JSON: the generic sentence below
      }
      problem = errorSentence(body) ?? t("error.status", { status: response.status });
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const link = Object.assign(document.createElement("a"), { href: url, download: `socketlab-${endpoint || "all"}.pcap` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch {
    problem = t("error.network");
  } finally {
    render();
  }
}

/** `endpointInView()`: the endpoint the diagram is focused on, or null (then every packet). */
export function initWireControls(endpointInView) {
  toggle = document.getElementById("wire-toggle");
  pcap = document.getElementById("wire-pcap");
  line = document.getElementById("wire-why");
  toggle.addEventListener("click", () => setWireShown(!shown));
  pcap.addEventListener("click", () => downloadPcap(endpointInView()));
  onLanguageChange(render);
  render();
}
