// The live event stream. On every (re)connect the page first catches up from GET /api/events
// after the last seq it saw, then applies Socket.IO batches; seqs already seen are ignored, and a
// gap between seqs is counted as dropped events. A dashboard that restarted (another `boot`) is
// resumed per agent, or, embedded, shown as a new lab (event-cursor.js says which and keeps count).
import { get, onTokenChange, requestToken, token } from "./api.js";
import { Emitter } from "../emitter.js";
import { EventCursor } from "../models/event-cursor.js";
import { onLanguageChange, t } from "../i18n.js";

const PAGE = 1000;
const RETRY_MS = 1000;
const MAX_BUFFERED = 5000;
const signals = new Emitter();
let liveState = null;
let liveText = null;
let droppedPill = null;
let socket = null;
const cursor = new EventCursor();
let catchingUp = false;
let buffered = []; // socket batches that arrived while catching up
let inFlight = false;
let retryTimer = 0;

/** fn(events, {live}) for every batch of new events, oldest first; live: just sent by the server (not history). */
export const onEvents = (fn) => signals.on("events", fn);

/** fn(sentence) when catching up from GET /api/events failed. */
export const onCatchUpError = (fn) => signals.on("error", fn);

/** fn({agents}) when the dashboard restarted: agents true (resumed from the agents' streams) or
 * false (embedded: a new lab, the views start afresh), before the catch-up delivers anything. */
export const onRestarted = (fn) => signals.on("restarted", fn);

/** fn() on every (re)connection of the event stream (the stage is read again: events may have been missed). */
export const onConnected = (fn) => signals.on("connected", fn);

const failed = (sentence) => signals.emit("error", sentence);

function showState(state) {
  liveState.dataset.state = state;
  liveText.textContent = t({ connected: "header.live", disconnected: "header.offline" }[state] || "header.connecting");
}

function showDropped() {
  // (every batch asks: the header is written only when the count changed, or a flood relays out the header)
  const text = t("header.dropped", { n: cursor.dropped });
  if (droppedPill.dataset.count === String(cursor.dropped) && droppedPill.textContent === text) return;
  droppedPill.dataset.count = String(cursor.dropped);
  droppedPill.textContent = text;
}

function deliver(events, live = false) {
  if (events.length) signals.emit("events", events, { live });
}

/** Keep the events not shown yet; a seq that skips ahead means the ones between were dropped. */
function accept(events) {
  const fresh = cursor.take(events);
  showDropped();
  deliver(fresh, true);
}

/** One page of history after `after` (with `resume` once the dashboard restarted over agents). */
function historyPage(after, resume) {
  const query = resume ? `&resume=${encodeURIComponent(resume)}` : "";
  return get(`/events?after=${after}&limit=${PAGE}${query}`);
}

async function catchUp() {
  clearTimeout(retryTimer);
  if (inFlight) return;
  inFlight = true;
  catchingUp = true;
  try {
    let resume = "";
    for (;;) {
      const after = cursor.lastSeq;
      const page = await historyPage(after, resume);
      const restart = cursor.seeBoot(page?.boot);
      if (restart !== "same") {
        // its seqs are another run's: this page is dropped and asked again from the new run's start
        resume = cursor.resumeArg();
        signals.emit("restarted", { agents: restart === "agents" });
        continue;
      }
      const events = Array.isArray(page?.events) ? page.events : [];
      cursor.dropped += Number(page?.dropped || 0);
      const fresh = cursor.take(events, { history: true });
      if (!events.length) cursor.reached(page?.last);
      showDropped();
      deliver(fresh);
      // `resume` filters a page on the server, so a short page is not the end; `last` is the newest
      // seq the server looked at (sent or not): fewer than PAGE past `after` and it had no more
      if (resume) {
        if (!(typeof page?.last === "number" && page.last - after >= PAGE)) break;
        cursor.reached(page.last);
      } else if (events.length < PAGE && !page?.more) break; // (`more`: cut short by its bytes)
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

/** Over lab agents (the session's "agents" is a list), a restarted dashboard is resumed, never a new lab. */
export function setOverAgents(over) {
  cursor.overAgents = Boolean(over);
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
