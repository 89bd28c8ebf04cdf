// The wire layer's controls above the diagram: one toggle that shows or hides the packets
// (remembered by the browser), "Download pcap" (GET /api/capture.pcap, for Wireshark or tshark),
// and, when this lab cannot capture, the one sentence that says why (GET /api/session "capture":
// false with its code in "why_not", worded in the reader's language and shown once, in one place).
// A lesson decides whether its packets are drawn (the registry's "packets": only the wire lessons'),
// and the toggle says when they are off because of the lesson; a click overrides it for that stage.
// Outside the wire lessons the why-not sentence folds into a short mark that says it on hover.
import { authHeaders, errorSentence } from "../net/api.js";
import { Emitter } from "../emitter.js";
import { onLanguageChange, t } from "../i18n.js";
import { packetsIn } from "../models/lesson-view.js";
import { current, onStage } from "../models/stage.js";

const WIRE_KEY = "socketlab.wire";
const STAGE_KEY = "socketlab.wire.stage"; // "<stage>:<1|0>": the reader's click in that stage's lesson (a reload keeps it)
const signals = new Emitter();
let chosen = localStorage.getItem(WIRE_KEY) !== "0"; // outside a lesson: on unless the reader turned it off
let byLesson = null; // the stage's lesson: true (a wire lesson), false (its packets hidden), null (no lesson)
let override = null; // {stage, shown}: the reader's click during this stage
let stageNo = null;
let shown = chosen;
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
  const lessonHides = !shown && byLesson === false && override?.stage !== stageNo;
  toggle.textContent = t(shown ? "wire.hide" : lessonHides ? "wire.showLesson" : "wire.show");
  toggle.dataset.by = lessonHides ? "lesson" : "reader";
  const none = Boolean(why) && why !== "capture-stopped"; // (stopped: what was captured stays, drawn and in the pcap)
  toggle.hidden = none;
  pcap.hidden = none;
  const sentence = problem ?? (why ? t(`err.${why}`) : "");
  // the sentence in full where the packets are the point (a wire lesson) or a download failed; elsewhere a
  // short mark, the sentence on hover: a page that does without packets gives it no line of its screen
  const short = !problem && byLesson !== true;
  line.textContent = short && sentence ? t("wire.offShort") : sentence;
  line.title = short ? sentence : "";
  line.classList.toggle("short", short);
  line.hidden = !sentence;
  line.dataset.code = why ?? "";
}

function settle() {
  const was = shown;
  shown = override?.stage === stageNo ? override.shown : byLesson ?? chosen;
  render();
  if (shown !== was) signals.emit("change", shown);
}

export function setWireShown(on) {
  if (byLesson === null) {
    chosen = on;
    localStorage.setItem(WIRE_KEY, on ? "1" : "0");
    override = null;
  } else {
    override = { stage: stageNo, shown: on }; // this lesson only: the next one decides again
    localStorage.setItem(STAGE_KEY, `${stageNo}:${on ? 1 : 0}`);
  }
  settle();
}

/** A stage (from stage.js): its lesson says whether packets are drawn. */
function stageChanged(stage) {
  stageNo = stage?.stage ?? null;
  byLesson = packetsIn(stage?.lesson);
  const [kept, on] = String(localStorage.getItem(STAGE_KEY) || "").split(":");
  if (!override && byLesson !== null && kept === String(stageNo)) override = { stage: stageNo, shown: on === "1" };
  settle();
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
  onStage(stageChanged);
  if (current()) stageChanged(current());
  else render();
}
