// Wires the page together: language, token and role, then the forms, the lists and the event
// stream. Commands go page -> REST; what happened comes back as events and refreshes the lists.
import { get, takeTokenFromUrl } from "./api.js";
import * as createForm from "./create-form.js";
import * as downloads from "./downloads.js";
import * as endpoints from "./endpoints.js";
import { connectEvents, onCatchUpError, onEvents } from "./events.js";
import { languages, preferredLanguage, setLanguage } from "./i18n.js";
import { initClassroom } from "./classroom.js";
import { noticeIn } from "./notice.js";
import { applyRole, installTokenPrompt, loadRole } from "./session.js";
import { initTeaching } from "./teach.js";

// Data kinds change no endpoint; every other kind (listen, accept, connect, close, error, done,
// stop, ...) may, so the cards refresh after it. A UDP recv changes the server's last peer.
const DATA_KINDS = new Set(["send", "recv", "progress", "message", "tcp_info"]);
const changesEndpoint = (ev) => !DATA_KINDS.has(ev.kind) || (ev.proto === "udp" && ev.kind === "recv");

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
    const files = await get("/files");
    if (!Array.isArray(files)) return;
    createForm.setFiles(files);
    downloads.setFiles(files);
  } catch (error) {
    banner.show(error.message);
  }
}

function onNewEvents(events) {
  // the log, diagram and counters get their events in classroom.js (live, or a replay)
  if (events.some(changesEndpoint)) endpoints.refreshSoon();
  if (events.some((ev) => String(ev.endpoint || "").startsWith("d"))) downloads.refreshSoon();
}

async function start() {
  takeTokenFromUrl();
  setUpLanguage();
  installTokenPrompt();
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
  initTeaching(onEvents); // lessons, the TCP vs UDP panel, live counters and TCP_INFO

  try {
    applyRole(await loadRole());
  } catch (error) {
    banner.show(error.message);
  }
  await Promise.all([loadFiles(), endpoints.refresh(), downloads.refresh()]);
  connectEvents();
  document.body.dataset.ready = "true";
}

start();
