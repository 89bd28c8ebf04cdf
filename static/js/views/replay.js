// Record and replay. Export what the page shows as JSON Lines (one event object per line, exactly
// as the API gives them) or CSV; import a JSONL file and play it back through the same views at
// 0.5x to 5x or at once, with no socket running. Quiet gaps longer than MAX_GAP are shortened.
import { formatNumber, onLanguageChange, t } from "../i18n.js";
import { parseRecording, toCsv, toJsonl } from "../models/recording.js";

const MAX_GAP = 2; // seconds
const MAX_FILE = 64 << 20; // bytes of JSONL we are willing to read
const bar = document.getElementById("replay-bar");
const nameText = document.getElementById("replay-name");
const progress = document.getElementById("replay-progress");
const liveNote = document.getElementById("replay-live-note");
const speedSelect = document.getElementById("replay-speed");
const playButton = document.getElementById("replay-play");
const fileInput = document.getElementById("replay-file");
const problem = document.getElementById("replay-problem");
let hooks = null;
let loaded = []; // the recording, oldest first
let at = []; // replay time of each event (gaps shortened)
let next = 0; // index of the next event to play
let position = 0; // replay time played so far, seconds
let playing = false;
let frame = 0;
let lastNow = 0;
let liveCount = 0;
let name = "";

function stamp() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function download(text, filename, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function showProgress() {
  progress.textContent = t(next >= loaded.length ? "replay.finished" : "replay.progress",
    { at: formatNumber(next), n: loaded.length });
  progress.dataset.played = String(next);
  playButton.textContent = t(playing ? "replay.pause" : next >= loaded.length ? "replay.again" : "replay.play");
  liveNote.hidden = !liveCount;
  liveNote.textContent = t("replay.liveWaiting", { n: liveCount });
  nameText.textContent = name;
}

/** The event time the replay has reached (for rates): the last played event plus the time since. */
function clock() {
  if (!next) return loaded.length ? loaded[0].ts : 0;
  return loaded[next - 1].ts + Math.min(Math.max(0, position - at[next - 1]), MAX_GAP);
}

function tick(now) {
  frame = 0;
  if (!playing) return;
  const speed = speedSelect.value;
  position = speed === "instant" ? Infinity : position + ((now - lastNow) / 1000) * Number(speed);
  lastNow = now;
  let end = next;
  while (end < loaded.length && at[end] <= position) end++;
  if (end > next) {
    const batch = loaded.slice(next, end);
    next = end;
    hooks.feed(batch);
  }
  if (next >= loaded.length) {
    playing = false;
    position = at.length ? at[at.length - 1] : 0;
  } else {
    frame = requestAnimationFrame(tick);
  }
  showProgress();
}

function play() {
  if (next >= loaded.length) restart();
  playing = true;
  lastNow = performance.now();
  if (!frame) frame = requestAnimationFrame(tick);
  showProgress();
}

function pause() {
  playing = false;
  showProgress();
}

function restart() {
  hooks.begin();
  next = 0;
  position = 0;
}

/** Replay `events` (a parsed recording) from the start. */
export function start(events, title) {
  loaded = events;
  name = title;
  at = [];
  for (let i = 0; i < events.length; i++) {
    at.push(i ? at[i - 1] + Math.min(MAX_GAP, Math.max(0, events[i].ts - events[i - 1].ts)) : 0);
  }
  bar.hidden = false;
  hooks.clock(clock);
  restart();
  play();
}

export function backToLive() {
  playing = false;
  loaded = [];
  liveCount = 0;
  bar.hidden = true;
  hooks.end();
}

export const events = () => loaded.slice(0, next);

/** Live events keep arriving during a replay: counted here, shown again on "back to live". */
export function liveWaiting(n) {
  liveCount += n;
  showProgress();
}

async function importFile(file) {
  problem.hidden = true;
  if (file.size > MAX_FILE) {
    problem.textContent = t("replay.tooBig", { mb: MAX_FILE >> 20 });
    problem.hidden = false;
    return;
  }
  const { events: found, skipped } = parseRecording(await file.text());
  if (!found.length) {
    problem.textContent = t("replay.nothing");
    problem.hidden = false;
    return;
  }
  if (skipped) {
    problem.textContent = t("replay.skipped", { n: skipped });
    problem.hidden = false;
  }
  start(found, file.name);
}

export function initReplay(given) {
  hooks = given;
  const exported = (kind) => {
    const events = hooks.source();
    if (kind === "csv") download(toCsv(events), `socketlab-events-${stamp()}.csv`, "text/csv;charset=utf-8");
    else download(toJsonl(events), `socketlab-events-${stamp()}.jsonl`, "application/x-ndjson");
    document.getElementById("record-menu").open = false;
  };
  document.getElementById("export-jsonl").addEventListener("click", () => exported("jsonl"));
  document.getElementById("export-csv").addEventListener("click", () => exported("csv"));
  fileInput.addEventListener("change", () => {
    const [file] = fileInput.files;
    fileInput.value = "";
    document.getElementById("record-menu").open = false;
    if (file) importFile(file);
  });
  playButton.addEventListener("click", () => (playing ? pause() : play()));
  document.getElementById("replay-restart").addEventListener("click", () => {
    restart();
    play();
  });
  speedSelect.addEventListener("change", () => {
    if (playing) play();
  });
  document.getElementById("replay-live").addEventListener("click", backToLive);
  onLanguageChange(() => {
    if (!bar.hidden) showProgress();
  });
}
