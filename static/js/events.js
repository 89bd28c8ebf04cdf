// The live event stream. On every (re)connect the page first catches up from GET /api/events
// after the last seq it saw, then applies Socket.IO batches; seqs already seen are ignored, and a
// gap between seqs is counted as dropped events.
import { get, onTokenChange, requestToken, token } from "./api.js";
import { Emitter } from "./emitter.js";
import { onLanguageChange, t } from "./i18n.js";

const PAGE = 1000;
const RETRY_MS = 1000;
const MAX_BUFFERED = 5000;
const signals = new Emitter();
let liveState = null;
let liveText = null;
let droppedPill = null;
let socket = null;
let lastSeq = 0;
let dropped = 0;
let catchingUp = false;
let buffered = []; // socket batches that arrived while catching up
let inFlight = false;
let retryTimer = 0;

/** fn(events, {live}) for every batch of new events, oldest first; live: just sent by the server (not history). */
export const onEvents = (fn) => signals.on("events", fn);

/** fn(sentence) when catching up from GET /api/events failed. */
export const onCatchUpError = (fn) => signals.on("error", fn);

/** fn() on every (re)connection of the event stream (the stage is read again: events may have been missed). */
export const onConnected = (fn) => signals.on("connected", fn);

const failed = (sentence) => signals.emit("error", sentence);

function showState(state) {
  liveState.dataset.state = state;
  liveText.textContent = t({ connected: "header.live", disconnected: "header.offline" }[state] || "header.connecting");
}

function showDropped() {
  droppedPill.dataset.count = String(dropped);
  droppedPill.textContent = t("header.dropped", { n: dropped });
}

function deliver(events, live = false) {
  if (events.length) signals.emit("events", events, { live });
}

/** Keep the events newer than lastSeq; a seq that skips ahead means the ones between were dropped. */
function accept(events) {
  const fresh = [];
  for (const ev of events) {
    if (typeof ev.seq !== "number" || ev.seq <= lastSeq) continue;
    if (ev.seq > lastSeq + 1) dropped += ev.seq - lastSeq - 1;
    lastSeq = ev.seq;
    fresh.push(ev);
  }
  showDropped();
  deliver(fresh, true);
}

async function catchUp() {
  clearTimeout(retryTimer);
  if (inFlight) return;
  inFlight = true;
  catchingUp = true;
  try {
    for (;;) {
      const page = await get(`/events?after=${lastSeq}&limit=${PAGE}`);
      const events = Array.isArray(page?.events) ? page.events : [];
      dropped += Number(page?.dropped || 0);
      // the history is contiguous past what the buffer dropped (counted just above)
      const fresh = events.filter((ev) => ev.seq > lastSeq);
      if (fresh.length) lastSeq = fresh[fresh.length - 1].seq;
      if (typeof page?.last === "number" && page.last > lastSeq && !events.length) lastSeq = page.last;
      showDropped();
      deliver(fresh);
      if (events.length < PAGE) break;
    }
  } catch (error) {
    failed(t("error.catchup", { reason: error.message }));
    if (socket?.connected) {
      inFlight = false;
      retryTimer = setTimeout(catchUp, RETRY_MS);
      return;
    }
  }
  inFlight = false;
  catchingUp = false;
  const waiting = buffered;
  buffered = [];
  accept(waiting.flat());
}

function onBatch(batch) {
  const events = Array.isArray(batch) ? batch : [batch];
  if (catchingUp) {
    buffered.push(events);
    if (buffered.length > MAX_BUFFERED) buffered.shift();
  } else {
    accept(events);
  }
}

export function connectEvents() {
  // auth as a function: every (re)connection sends the token current at that moment
  socket = window.io({
    auth: (send) => send({ token: token() }),
    transports: ["websocket", "polling"],
  });
  socket.on("connect", () => {
    showState("connected");
    catchUp();
    signals.emit("connected");
  });
  socket.on("disconnect", () => showState("disconnected"));
  socket.on("connect_error", async () => {
    showState("disconnected");
    // the server refused us (not a network failure, which retries by itself): a token is needed
    if (!socket.active) {
      await requestToken(Boolean(token()));
      if (!socket.connected) socket.connect();
    }
  });
  socket.on("events", onBatch);
  onTokenChange(() => {
    if (!socket.connected) socket.connect();
  });
}

/** The header pills, filled as soon as the language is set, before the socket exists. */
export function initLiveState() {
  liveState = document.getElementById("live-state");
  liveText = document.getElementById("live-text");
  droppedPill = document.getElementById("dropped");
  onLanguageChange(() => {
    showState(liveState.dataset.state);
    showDropped();
  });
}
