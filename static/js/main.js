// Wires the page together: language, token, role and the server's registries, then the forms, the
// lists and the event stream. Commands go page -> REST; what happened comes back as events, and the
// lists follow them (snapshots in `state` events) without asking the server again.
import { get, takeTokenFromUrl } from "./net/api.js";
import * as createForm from "./views/create-form.js";
import * as downloads from "./views/downloads.js";
import * as endpoints from "./views/endpoints.js";
import { connectEvents, initLiveState, onCatchUpError, onConnected, onEvents, onRestarted, setOverAgents } from "./net/events.js";
import { filesPath, initAgents } from "./views/agents-view.js";
import { followAgain, initFollow, setFollowRole } from "./views/follow.js";
import { initJoin } from "./views/join-panel.js";
import { initTracePanel } from "./views/trace-panel.js";
import { languages, preferredLanguage, setLanguage, t } from "./i18n.js";
import { initBannerFold, initChipRow } from "./views/chips.js";
import { chosenView, initClassroom, showView, startAfresh } from "./views/classroom.js";
import { initBoard, loadExercises } from "./views/board.js";
import { initExerciseCard } from "./views/exercise-card.js";
import { noticeIn } from "./views/notice.js";
import { applyRole, installTokenPrompt, loadSession } from "./net/session.js";
import { initStage, loadStage } from "./models/stage.js";
import { initTeaching, setSession } from "./views/teach.js";
import { applyWireEvents, setWireSession } from "./views/wire-controls.js";

const banner = noticeIn(document.getElementById("page-notice"), "page-error");

function setUpLanguage() {
  const select = document.getElementById("lang-select");
  for (const { code, name } of languages()) {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = name;
    select.append(option);
  }
  const code = preferredLanguage();
  select.value = code;
  setLanguage(code, { remember: false });
  select.addEventListener("change", () => setLanguage(select.value));
}

function setUpTabs() {
  const tabs = [...document.querySelectorAll(".tabs [role=tab]")];
  const choose = (tab) => {
    for (const other of tabs) {
      const chosen = other === tab;
      other.setAttribute("aria-selected", String(chosen));
      other.tabIndex = chosen ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !chosen;
    }
    tab.focus();
    if (tab.id === "tab-download") loadFiles();
  };
  for (const tab of tabs) {
    tab.addEventListener("click", () => choose(tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) choose(tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length]);
    });
  }
}

async function loadFiles() {
  try {
    const path = filesPath(); // over agents: the chosen agent's files (null while none is up)
    if (!path) return;
    const files = await get(path);
    if (!Array.isArray(files)) return;
    createForm.setFiles(files);
    downloads.setFiles(files);
  } catch (error) {
    banner.show(error.message);
  }
}

function onNewEvents(events) {
  // the log, diagram and counters get their events in classroom.js (live, or a replay)
  endpoints.applyEvents(events);
  downloads.applyEvents(events);
}

async function start() {
  takeTokenFromUrl();
  initLiveState();
  setUpLanguage();
  installTokenPrompt();
  endpoints.initEndpoints();
  initClassroom();
  setUpTabs();
  downloads.initDownloads();
  createForm.initCreateForm(async (endpoint) => {
    await endpoints.refresh();
    endpoints.reveal(endpoint.id);
  });
  endpoints.onEndpoints((list) => {
    createForm.setServers(list);
    downloads.setServers(list);
  });
  endpoints.onRefreshError((sentence) => banner.show(sentence));
  downloads.onDownloadsError((sentence) => banner.show(sentence));
  onCatchUpError((sentence) => banner.show(sentence));
  onEvents(onNewEvents);
  onRestarted(({ agents }) => {
    // over agents the page resumes where it was; embedded, the lab is new: say so and start afresh
    if (!agents) {
      banner.show(t("agents.newLab"), "info");
      startAfresh();
    }
    endpoints.refresh(); // (their lists and the seq they are current at belong to the new run)
    downloads.refresh();
  });
  initStage({ onEvents, onConnected }); // the shared classroom stage: lesson, step, the teacher's view
  initTeaching(onEvents); // lessons, the TCP vs UDP panel, live counters and TCP_INFO
  initFollow(onEvents); // controllers lead, viewers follow
  initBannerFold(); // projector mode: the lesson banner on one line, opening on a click
  initChipRow(); // ... and the chips on two lines, with "+N more"

  try {
    const session = await loadSession();
    applyRole(session.role);
    setSession(session);
    setWireSession(session.wire); // the diagram's packets, or the sentence of why there are none
    onEvents(applyWireEvents); // (and the sentence at once if capture stops meanwhile)
    setFollowRole(session.role);
    initAgents({ list: session.agents, routed: session.default_agent, onEvents, onConnected, failed: (sentence) => banner.show(sentence),
      pickedAgent: loadFiles });
    setOverAgents(Array.isArray(session.agents));
    createForm.showModes();
    await loadStage();
    initJoin({ role: session.role, student: session.student, onEndpoints: endpoints.onEndpoints }); // the Join panel, names
    initTracePanel({ student: session.student }); // a student's own program: the one-file tracer
    // exercises: the class board (teacher), a student's own checks; then the registry's exercises
    initBoard({ onEvents, onConnected, showView, chosenView, followAgain, role: session.role, student: session.student });
    initExerciseCard({ role: session.role, student: session.student });
    await loadExercises();
  } catch (error) {
    banner.show(error.message);
  }
  await Promise.all([loadFiles(), endpoints.refresh(), downloads.refresh()]);
  connectEvents();
  document.body.dataset.ready = "true";
}

start();
