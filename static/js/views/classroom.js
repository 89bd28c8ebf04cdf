// The classroom view: one feed of events into four views (log, sequence diagram, counters,
// throughput chart), either live (from events.js) or from a replayed recording. Live events that
// arrive during a replay are kept apart and shown again on "back to live".
import { onEndpoints, refresh as refreshEndpoints } from "./endpoints.js";
import { onEvents } from "../net/events.js";
import * as chart from "./charts.js";
import * as counters from "./counters.js";
import * as focus from "./focus.js";
import * as ladder from "./ladder.js";
import * as log from "./log.js";
import { onFilterChange } from "./log-filter.js";
import * as projector from "./projector.js";
import * as replay from "./replay.js";
import { initShortcuts } from "./shortcuts.js";
import { feedByStage, lastStageIndex } from "../models/stages.js";

const MAX_HISTORY = 20000;
const VIEW_KEY = "socketlab.view";
const LAYOUTS = ["log", "ladder", "split", "numbers", "board"]; // the tabs: which panes are shown (board: during an exercise)
// The views: each takes the same events, live or replayed, through one interface (init, add,
// reset, redraw). Adding a view is one module with that interface plus its entry here.
// A view shows the current classroom stage only (it starts afresh with newStage(), or reset() when
// it has none) unless it says `keepsStages` (the log keeps earlier stages, marked).
const VIEWS = [log, ladder, counters, chart];
const panel = document.getElementById("classroom");
let history = []; // the live events this page has seen (bounded), oldest first
let replaying = false;
let skew = 0; // server clock minus ours, from live batches (rates are computed in server time)
let chosen = "log";

const serverNow = () => Date.now() / 1000 + skew;

// Fed in order (live, the catch-up after a reload, a replay), a "stage" event is where the views
// of the current stage start afresh: they get only what follows the last one in the batch.
function feed(events) {
  if (lastStageIndex(events) >= 0) focus.clear(); // the connection in focus belongs to the stage that ended
  feedByStage(VIEWS, events);
}

function resetViews() {
  for (const view of VIEWS) view.reset();
}

function redrawViews() {
  for (const view of VIEWS) view.redraw();
}

function onLive(events, { live = false } = {}) {
  history.push(...events);
  if (history.length > MAX_HISTORY) history = history.slice(-MAX_HISTORY);
  if (live && events.length) {
    const sample = events[events.length - 1].ts - Date.now() / 1000;
    if (sample > skew || skew === 0) skew = sample;
  }
  if (replaying) replay.liveWaiting(events.length);
  else feed(events);
}

function setClocks(fn) {
  counters.setClock(fn);
  chart.setClock(fn);
  ladder.setClock(fn);
}

const replayHooks = {
  begin() {
    replaying = true;
    document.body.classList.add("replaying");
    focus.clear();
    resetViews();
  },
  feed,
  clock: setClocks,
  end() {
    replaying = false;
    document.body.classList.remove("replaying");
    setClocks(serverNow);
    focus.clear();
    resetViews();
    feed(history);
    refreshEndpoints(); // the lanes get their kinds from the live endpoint list again
  },
  source: () => (replaying ? replay.events() : history),
};

/** The view the user chose last (a focus or a lesson may show another meanwhile). */
export const chosenView = () => chosen;

/** The dashboard restarted with a new lab (embedded): what this page saw belongs to the old one. */
export function startAfresh() {
  history = [];
  focus.clear();
  if (!replaying) resetViews();
}

/** Show one of the views: "log", "ladder", "split" (diagram and log side by side), "numbers", "board" (the class's checks). */
export function showView(view, { remember = true } = {}) {
  if (!LAYOUTS.includes(view)) return;
  // the board exists while the stage runs an exercise only (board.js shows its tab then)
  if (view === "board" && panel.querySelector("[data-view-tab=board]").hidden) view = chosen !== "board" ? chosen : "log";
  if (remember) {
    chosen = view;
    localStorage.setItem(VIEW_KEY, view);
  }
  panel.dataset.view = view;
  document.body.dataset.classroomView = view;
  for (const tab of panel.querySelectorAll("[data-view-tab]")) {
    const on = tab.dataset.viewTab === view;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
  }
  document.getElementById("pane-log").hidden = !["log", "split"].includes(view);
  document.getElementById("pane-ladder").hidden = !["ladder", "split"].includes(view);
  document.getElementById("pane-numbers").hidden = view !== "numbers";
  document.getElementById("pane-board").hidden = view !== "board";
  redrawViews();
}

function setUpTabs() {
  const tabs = [...panel.querySelectorAll("[data-view-tab]")];
  const shown = () => tabs.filter((tab) => !tab.hidden); // (the board's tab is there during an exercise only)
  for (const tab of tabs) {
    tab.addEventListener("click", () => showView(tab.dataset.viewTab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const list = shown();
      const next = list[(list.indexOf(tab) + step + list.length) % list.length];
      showView(next.dataset.viewTab);
      next.focus();
    });
  }
  // the board waits for its exercise (board.js shows it when the stage has one)
  const stored = localStorage.getItem(VIEW_KEY);
  const usable = LAYOUTS.includes(stored) && stored !== "board";
  showView(usable ? stored : "log", { remember: false });
  if (usable) chosen = stored;
}

export function initClassroom() {
  for (const view of VIEWS) view.init();
  setClocks(serverNow);
  counters.setLaneInfo((id) => ladder.model.lanes.get(id));
  setUpTabs();
  replay.initReplay(replayHooks);
  projector.initProjector(redrawViews);
  focus.initFocus({
    // a focus shows the diagram and the log together; leaving it goes back to the chosen view
    changed(lanes) {
      ladder.setFocus(lanes);
      log.setFocus(lanes);
      if (lanes && ["log", "ladder", "board"].includes(panel.dataset.view)) showView("split", { remember: false });
      if (!lanes && panel.dataset.view !== chosen) showView(chosen, { remember: false });
    },
  });
  ladder.onPick((seq) => {
    if (panel.dataset.view === "ladder") showView("split", { remember: false });
    log.select(seq);
  });
  onEndpoints((list) => ladder.setEndpoints(list));
  ladder.onLeft(counters.forget); // a closed socket's lane leaves the diagram and the numbers together
  onFilterChange(ladder.redraw); // the encoding of the previews is chosen in the log's tools
  onEvents(onLive);
  initShortcuts({ showView, focus, ladder, projector, log });
}
