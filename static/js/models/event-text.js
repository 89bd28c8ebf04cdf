// The sentence the page shows for an event, built from its fields (call, args, result, closed_by,
// code, params, errno, message, framing, state) through the i18n tables: `ev.<kind>.<variant>`
// for what happened, `err.<code>` (static/i18n/errors-*.js) for a problem the lab names by code,
// `ev.why.<code>` for why the lab closed something. `detail` (the lab's English) is never read:
// the same event reads as English or Chinese alike. Pure (no DOM): tr is {t, has} from i18n.js.
import { current, currentLanguage } from "../i18n.js";

/** "127.0.0.1:5000" (IPv6 in brackets), "" for anything that is not an address. */
const where = (a) => (Array.isArray(a) && a.length >= 2 ? (String(a[0]).includes(":") ? `[${a[0]}]:${a[1]}` : `${a[0]}:${a[1]}`) : "");
// Numbers inside a call (recv(65536), listen(128)) stay as the program wrote them: no grouping.
const plain = (v) => (v === null || v === undefined ? "" : String(v));
const count = (v) => (Number.isFinite(Number(v)) ? Number(v) : 0);
const args = (ev) => (ev.args && typeof ev.args === "object" ? ev.args : {});
const bytesOf = (ev) => count(typeof ev.result === "number" ? ev.result : ev.size);

/**
 * `err.<code>` with the event's params (the connection and peer filled in from the event itself),
 * when the tables know the code; null when they do not, or a value the sentence needs is missing
 * (then the caller words it from the call and errno: a "{placeholder}" never reaches the page).
 */
function problem(ev, tr) {
  if (!ev.code || !tr.has(`err.${ev.code}`)) return null;
  const params = { conn: plain(ev.conn), address: where(ev.peer), ...(ev.params && typeof ev.params === "object" ? ev.params : {}) };
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) params[k] = where(v) || v.join(", ");
    else if (/port$/i.test(k) && typeof v === "number") params[k] = String(v); // a port is a name: 5000, never 5,000
  }
  const text = tr.t(`err.${ev.code}`, params);
  return /\{\w+\}/.test(text) ? null : text;
}

const framingName = (framing, tr) => (tr.has(`ev.framing.${framing}`) ? tr.t(`ev.framing.${framing}`) : plain(framing));

function send(ev, tr) {
  const a = args(ev);
  const n = count(a.bytes ?? bytesOf(ev));
  const call = ev.call || "send";
  if (call === "sendfile") return tr.t("ev.send.file", { n, size: count(a.size ?? n), file: plain(a.file) });
  if (a.header) return tr.t("ev.send.header", { n });
  if (a.request) return tr.t("ev.send.request", { n, file: plain(a.file ?? a.request) });
  if (ev.framing && ev.message) return tr.t("ev.send.framed", { call, n, message: ev.message, framing: framingName(ev.framing, tr) });
  if (call === "sendto") return tr.t("ev.send.to", { n, address: where(a.address ?? ev.peer) });
  return tr.t("ev.send.text", { call, n });
}

function recv(ev, tr) {
  const a = args(ev);
  const n = bytesOf(ev);
  const call = ev.call || "recv";
  if (call === "recvfrom") return tr.t("ev.recv.from", { bufsize: plain(a.bufsize), n, address: where(ev.peer) });
  return tr.t("ev.recv.text", { call, bufsize: plain(a.bufsize), n });
}

function close(ev, tr) {
  const a = args(ev);
  const params = ev.params && typeof ev.params === "object" ? ev.params : {};
  if (a.socket === "listening") return tr.t("ev.close.listening", { n: count(params.established) });
  if (ev.closed_by === "peer") return tr.t("ev.close.peer");
  if (ev.closed_by === "reset") return ev.errno ? tr.t("ev.close.resetErrno", { errno: ev.errno }) : tr.t("ev.close.reset");
  if (ev.code) {
    const why = tr.has(`ev.why.${ev.code}`) ? tr.t(`ev.why.${ev.code}`, params) : problem(ev, tr) ?? ev.code;
    return tr.t("ev.close.why", { why });
  }
  return tr.t("ev.close.local");
}

function failure(ev, tr) {
  const worded = problem(ev, tr);
  if (worded) return worded;
  if (ev.call && ev.errno) return tr.t("ev.error.callErrno", { call: ev.call, errno: ev.errno });
  if (ev.errno) return tr.t("ev.error.errno", { errno: ev.errno });
  if (ev.call) return tr.t("ev.error.call", { call: ev.call });
  return tr.t("ev.error.text");
}

function done(ev, tr) {
  const a = args(ev);
  const text = tr.t("ev.done.text", { n: count(a.bytes ?? ev.size), file: plain(a.file) });
  if (a.verified === true) return `${text}${tr.t("ev.done.verified")}`;
  if (a.verified === false) return `${text}${tr.t("ev.done.mismatch")}`;
  return text;
}

function http(ev, tr) {
  const a = args(ev);
  if (a.direction === "response") return tr.t("ev.http.response", { version: plain(a.version), status: plain(a.status), reason: plain(a.reason) });
  return tr.t("ev.http.request", { method: plain(a.method), target: plain(a.target), version: plain(a.version) });
}

function tcpInfo(ev, tr) {
  const a = args(ev);
  return tr.t("ev.tcp_info.text", { state: plain(a.state), rtt: plain(a.rtt_us), cwnd: plain(a.snd_cwnd) });
}

/** A new stage: "Stage 5 · Lesson 5: File download: raw vs framed" (the lesson's title in the
 * reader's language, from the stage object the event carries), or "Stage 6 · New stage". */
function stage(ev, tr) {
  const params = ev.params && typeof ev.params === "object" ? ev.params : {};
  const n = Number.isInteger(params.stage) ? params.stage : null;
  const lesson = params.lesson && typeof params.lesson === "object" ? params.lesson : null;
  const texts = lesson?.text && typeof lesson.text === "object" ? lesson.text : {};
  const words = texts[tr.code ?? currentLanguage()] ?? texts.en;
  const title = typeof words?.title === "string" ? words.title : "";
  if (lesson && title) {
    return n === null ? tr.t("ev.stage.lessonOnly", { lesson: plain(lesson.n), title })
      : tr.t("ev.stage.lesson", { n, lesson: plain(lesson.n), title });
  }
  const exercise = params.exercise && typeof params.exercise === "object" ? params.exercise : null;
  const named = exercise?.title && typeof exercise.title === "object" ? exercise.title[tr.code ?? currentLanguage()] ?? exercise.title.en : "";
  if (exercise && typeof named === "string" && named) {
    return n === null ? tr.t("ev.stage.exerciseOnly", { exercise: plain(exercise.n), title: named })
      : tr.t("ev.stage.exercise", { n, exercise: plain(exercise.n), title: named });
  }
  return n === null ? tr.t("ev.stage.newOnly") : tr.t("ev.stage.new", { n });
}

/** A traced program (python -m agent.trace) began, ended, or went silent. */
function program(a, name, tr) {
  if (a.event === "up") return a.host ? tr.t("ev.agent.programUpHost", { name, host: plain(a.host) }) : tr.t("ev.agent.programUp", { name });
  if (a.why === "ended") return tr.t("ev.agent.programEnded", { name });
  if (a.why === "silent") return tr.t("ev.agent.programSilent", { name });
  return tr.t("ev.agent.programGone", { name });
}

/** A lab agent came, went, or lost events while Redis was away: named by `agent`. */
function agent(ev, tr) {
  const a = args(ev);
  const name = plain(ev.agent) || "?";
  if (a.trace === true && (a.event === "up" || a.event === "down")) return program(a, name, tr);
  if (a.event === "up") return a.host ? tr.t("ev.agent.upHost", { name, host: plain(a.host) }) : tr.t("ev.agent.up", { name });
  if (a.event === "down") return tr.t("ev.agent.down", { name });
  if (a.event === "dropped") return tr.t("ev.agent.dropped", { name, n: count(a.count) });
  return tr.t("ev.agent.other", { name, event: plain(a.event) });
}

/** A traced program setting up a socket, a call with no kind of its own (agent/trace/): socket(), bind(), ... */
function setup(ev, tr) {
  const a = args(ev);
  if (ev.call === "socket") return tr.t("ev.setup.socket", { family: plain(a.family), type: plain(a.type) });
  if (ev.call === "bind") return tr.t("ev.setup.bind", { address: where(a.address) || plain(a.address) });
  if (ev.call === "settimeout") return a.timeout === null || a.timeout === undefined
    ? tr.t("ev.setup.blocking") : tr.t("ev.setup.settimeout", { timeout: plain(a.timeout) });
  if (ev.call === "setsockopt") return tr.t("ev.setup.setsockopt", { level: plain(a.level), option: plain(a.option), value: plain(a.value) });
  return tr.t("ev.setup.other", { call: plain(ev.call) });
}

/** A packet on the wire (lab/wire/): its header as Wireshark's Info column gives it, and what its analysis marked. */
function packet(ev, tr) {
  const a = args(ev);
  const len = count(a.len ?? ev.size);
  const ends = { src: where(a.src), dst: where(a.dst) };
  const text = ev.proto === "udp" ? tr.t("ev.packet.udp", { ...ends, len })
    : tr.t("ev.packet.tcp", { ...ends, flags: plain(a.flags), seq: plain(a.seq), ack: plain(a.ack), win: plain(a.win), len });
  if (typeof a.analysis !== "string" || !a.analysis) return text;
  const analysis = tr.has(`wire.analysis.${a.analysis}`) ? tr.t(`wire.analysis.${a.analysis}`) : a.analysis;
  return tr.t("ev.packet.marked", { text, analysis });
}

/** What a traced program printed (agent/trace/tracer.py Output): its text, the first OUTPUT_SHOWN characters. */
const OUTPUT_SHOWN = 160;
function output(ev, tr) {
  const a = args(ev);
  const whole = plain(a.text).replace(/\n$/, "");
  const text = whole.length > OUTPUT_SHOWN ? `${whole.slice(0, OUTPUT_SHOWN)}…` : whole;
  return a.dropped ? tr.t("ev.output.dropped", { text, n: count(a.dropped) }) : tr.t("ev.output.text", { text });
}

/** A lesson run is over (lab/lessons/loss_watch.py): what each side got back, and what TCP's recovery cost. */
function settled(ev, tr) {
  const a = args(ev);
  const tcp = a.tcp && typeof a.tcp === "object" ? a.tcp : {};
  const udp = a.udp && typeof a.udp === "object" ? a.udp : {};
  return tr.t("ev.settled.text", { tcp: count(tcp.received), n: count(a.count), retrans: count(tcp.retransmits),
    tcpSeconds: plain(tcp.seconds ?? "?"), udpSeconds: plain(udp.seconds ?? "?") });
}

// One wording per kind; a kind without one (the server may add kinds) is shown by its name.
const WORDING = {
  listen: (ev, tr) => ev.proto === "udp"
    ? tr.t("ev.listen.udp", { address: where(args(ev).address ?? ev.local) })
    : tr.t("ev.listen.tcp", { address: where(args(ev).address ?? ev.local), backlog: plain(args(ev).backlog) }),
  accept: (ev, tr) => tr.t("ev.accept.text", { conn: plain(ev.conn), local: where(ev.local), peer: where(ev.result ?? ev.peer) }),
  connect: (ev, tr) => tr.t(args(ev).download ? "ev.connect.download" : "ev.connect.text", { address: where(args(ev).address ?? ev.peer) }),
  send,
  recv,
  message: (ev, tr) => tr.t("ev.message.text", { message: plain(ev.message), framing: framingName(ev.framing, tr), n: bytesOf(ev) }),
  shutdown: (ev, tr) => tr.t("ev.shutdown.text", { how: plain(args(ev).how || "SHUT_WR") }),
  close,
  refuse: (ev, tr) => problem(ev, tr) ?? tr.t("ev.refuse.text", { n: count(ev.params?.limit) }),
  error: failure,
  relay: (ev, tr) => tr.t("ev.relay.text", { from: plain(args(ev).from),
    to: Array.isArray(args(ev).to) ? args(ev).to.join(", ") : plain(args(ev).to), n: bytesOf(ev) }),
  http,
  lost: (ev, tr) => problem(ev, tr) ?? tr.t(ev.code && tr.has(`ev.lost.${ev.code}`) ? `ev.lost.${ev.code}` : "ev.lost.text", { n: count(ev.size) }),
  header: (ev, tr) => tr.t("ev.header.text", { size: count(args(ev).size), sha256: plain(args(ev).sha256) }),
  progress: (ev, tr) => (args(ev).size
    ? tr.t("ev.progress.of", { got: count(args(ev).bytes), size: count(args(ev).size) })
    : tr.t("ev.progress.text", { got: count(args(ev).bytes ?? ev.size) })),
  done,
  tcp_info: tcpInfo,
  backpressure: (ev, tr) => problem(ev, tr) ?? tr.t("ev.backpressure.text", { sent: count(ev.params?.sent), total: count(ev.params?.total) }),
  stage,
  agent,
  setup,
  packet,
  settled,
  classroom: (ev, tr) => tr.t("ev.classroom.text"),
  output,
  exercise: (ev, tr) => {
    const checks = Object.values(ev.params?.checks ?? {});
    return tr.t("ev.exercise.text", { name: plain(ev.params?.name ?? ev.params?.address),
      passed: checks.filter((state) => state === "pass").length, total: checks.length });
  },
  state: (ev, tr) => tr.t("ev.state.text", { id: plain(ev.state?.id ?? ev.endpoint),
    state: tr.has(`state.${ev.state?.state}`) ? tr.t(`state.${ev.state?.state}`) : plain(ev.state?.state) }),
};

/** The sentence for `ev` in the language of `tr` (default: the page's). */
export function eventText(ev, tr = current) {
  if (!ev || typeof ev.kind !== "string") return "";
  const wording = Object.hasOwn(WORDING, ev.kind) ? WORDING[ev.kind] : null;
  return wording ? wording(ev, tr) : tr.t("ev.other", { kind: ev.kind });
}

/** The kinds this module words (a test checks every registered kind is among them). */
export const wordedKinds = () => Object.keys(WORDING);
