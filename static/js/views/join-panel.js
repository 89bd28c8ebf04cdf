// Joining the class, the page side: the Join panel the teacher puts on the projector
// (the QR code of the view link, the short link and its code, the lab's servers as students type
// them in their own programs), the names a controller renames or clears, and the "Your name"
// control of a viewer's page. Everything a student typed is put on the page as text (textContent),
// and the QR code, though it comes from our own server, is parsed as SVG data, never as HTML.
// For the teacher, the panel also lists the students who joined (each with a token of their own,
// which the teacher may revoke) and makes a new code; while it is open it asks again every few
// seconds, so a code the dashboard changed by itself (too many wrong codes) shows at once.
import { authHeaders, del, get, post, put } from "../net/api.js";
import { el } from "../dom.js";
import { onLanguageChange, t } from "../i18n.js";
import { book as names, onNames } from "../models/names.js";
import { noticeIn } from "./notice.js";
import { callFor, hostPort, liveServers, reachableOf } from "../models/reach.js";
import { current as currentStage, onStage, onStageNames } from "../models/stage.js";

const NAME_KEY = "socketlab.name"; // the /join page stores the name a student gave under the same key
const SVG_NS = "http://www.w3.org/2000/svg";
const QR_PARTS = new Set(["svg", "path", "rect", "g", "title", "desc"]); // all segno's SVG needs

const POLL_MS = 3000; // how soon a new code (or a new student) shows on the open panel

let role = "control";
let student = null; // this page's student name (GET /api/session), or null
let info = null; // the answer of GET /api/join
let students = []; // GET /api/students (the teacher's page only)
let qrFor = ""; // the link the QR code shows
let poller = 0;
let qr = null; // the QR code as an <svg> element, or null
let servers = [];
let dialog = null;
let body = null;
let notice = null;

/** The card's line for a server bound to every address: "reach me at 192.168.1.10:40123 · 10.0.0.5:40123 (bridge)". */
export function reachLine(line, ep) {
  const wildcard = Boolean(ep) && Array.isArray(ep.reachable);
  const found = wildcard ? reachableOf(ep) : [];
  line.hidden = !found.length;
  if (!found.length) return;
  const parts = found.map((a) => hostPort(a.address, a.port) + (a.kind === "lan" ? "" : ` (${t(`join.kind.${a.kind}`)})`));
  line.textContent = t("join.reachMe", { list: parts.join(" · ") });
  line.title = t("join.reachTitle");
}

/** The QR code from its SVG text: only the shapes segno draws, no scripts, no links, no handlers. */
function parseQr(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = doc.documentElement;
  if (root.namespaceURI !== SVG_NS || root.localName !== "svg" || doc.querySelector("parsererror")) return null;
  for (const node of [...root.querySelectorAll("*")]) {
    if (!QR_PARTS.has(node.localName)) node.remove();
  }
  for (const node of [root, ...root.querySelectorAll("*")]) {
    for (const attr of [...node.attributes]) {
      if (/^on|href$/i.test(attr.name)) node.removeAttribute(attr.name);
    }
  }
  const svg = document.importNode(root, true);
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t("join.qrLabel"));
  return svg;
}

async function loadQr() {
  // fetched with the page's token (an <img src> could not send it) and parsed, not inserted as HTML
  const response = await fetch("/api/join/qr.svg", { headers: authHeaders(), cache: "no-store" });
  if (!response.ok) throw new Error(t("error.status", { status: response.status }));
  return parseQr(await response.text());
}

async function load() {
  try {
    const [next, list] = await Promise.all([get("/join"), role === "control" ? get("/students") : null]);
    const seen = JSON.stringify([info, students]);
    info = next;
    if (Array.isArray(list)) students = list;
    const link = info && !info.loopback_only ? String(info.join_url || "") : "";
    if (link !== qrFor) {
      qr = link ? await loadQr() : null;
      qrFor = link;
    } else if (seen === JSON.stringify([info, students])) {
      return; // nothing new: the panel is left as it is (a name being typed in it stays)
    }
    notice.clear();
  } catch (error) {
    notice.show(error.message);
  }
  render();
}

function startPolling() {
  clearInterval(poller);
  poller = setInterval(() => {
    if (dialog?.open) load();
    else clearInterval(poller);
  }, POLL_MS);
}

function codeBlock() {
  if (!info.needs_code) return [];
  const code = el("p", { class: "join-big join-code", testid: "join-code", text: String(info.code || "") });
  const parts = [el("p", { class: "join-label", text: t("join.codeLabel") }), code];
  if (role === "control") {
    const renew = el("button", { type: "button", class: "btn small", testid: "join-new-code", text: t("join.newCode"),
      title: t("join.newCodeTitle") });
    renew.addEventListener("click", async () => {
      try {
        info = await post("/join/code");
        notice.clear();
      } catch (error) {
        notice.show(error.message);
      }
      load();
    });
    parts.push(renew);
    if (info.code_changed?.reason === "guessed") {
      parts.push(el("p", { class: "hint join-guessed", testid: "join-guessed",
        text: t("join.codeGuessed", { n: info.wrong_per_code ?? 100 }) }));
    }
  }
  return parts;
}

function studentsBlock() {
  const rows = students.slice().reverse().map((s) => {
    const shownName = names.of(s.address) || s.shown || "";
    const when = new Date(s.joined * 1000).toLocaleTimeString();
    // (a name in any script, isolated so that a right-to-left one cannot reorder the row)
    const who = el("span", { class: "join-student-name" }, shownName ? el("bdi", { text: shownName }) : null,
      shownName ? " · " : null, el("bdi", { text: s.name }));
    const where = el("span", { class: "join-name-addr", text: s.address });
    const joined = el("span", { class: "hint", text: t("join.joinedAt", { time: when }) });
    let end;
    if (s.revoked) {
      end = el("span", { class: "join-revoked", testid: "student-revoked", text: t("join.revoked") });
    } else {
      end = el("button", { type: "button", class: "btn small ghost", testid: "student-revoke", text: t("join.revoke"),
        title: t("join.revokeTitle") });
      end.addEventListener("click", async () => {
        try {
          await del(`/students/${encodeURIComponent(s.name)}`);
          notice.clear();
        } catch (error) {
          notice.show(error.message);
        }
        load();
      });
    }
    return el("li", { class: "join-name-row", testid: "student-row", data: { name: s.name } }, who, where, joined, end);
  });
  const active = students.filter((s) => !s.revoked).length;
  const box = el("details", { class: "join-students", testid: "students", "data-control": true },
    el("summary", { text: t("join.students", { n: active }) }),
    rows.length ? el("ul", { class: "join-names-list", testid: "students-list" }, ...rows)
      : el("p", { class: "hint", text: t("join.noStudents") }));
  box.open = studentsOpen;
  box.addEventListener("toggle", () => {
    studentsOpen = box.open;
  });
  return box;
}
let studentsOpen = true;

function serverBlock(ep) {
  const found = reachableOf(ep);
  const lines = found.map((a) => {
    const marked = a.kind !== "lan";
    return el("li", { class: `join-call${marked ? " other" : ""}`, testid: "join-server", data: { kind: a.kind, endpoint: ep.id } },
      el("code", { text: callFor(ep.kind, a.address, a.port) }),
      marked ? el("span", { class: "join-mark", text: t(`join.kind.${a.kind}`), title: t(`join.kindTitle.${a.kind}`) }) : null);
  });
  if (!lines.length) return null;
  return el("li", { class: "join-ep" },
    el("span", { class: "join-ep-head", text: t("join.serverHead", { id: ep.id, kind: t(`kind.${ep.kind}`) }) }),
    el("ul", { class: "join-calls" }, ...lines));
}

function namesBlock() {
  const entries = names.entries();
  const rows = entries.map(([address, name]) => {
    const input = el("input", { value: name, spellcheck: "false", dir: "auto", "aria-label": t("join.renameLabel", { address }),
      testid: "name-input" });
    const rename = el("button", { type: "submit", class: "btn small", text: t("join.rename") });
    const clear = el("button", { type: "button", class: "btn small ghost", testid: "name-clear", text: t("join.clear") });
    const form = el("form", { class: "join-name-row", testid: "name-row", data: { address } },
      el("span", { class: "join-name-addr", text: address }), input, rename, clear);
    const target = `/names/${encodeURIComponent(address)}`;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(() => put(target, { name: input.value }));
    });
    clear.addEventListener("click", () => act(() => del(target)));
    return el("li", {}, form);
  });
  const list = el("ul", { class: "join-names-list", testid: "names-list" }, ...rows);
  const box = el("details", { class: "join-names", "data-control": true },
    el("summary", { text: t("join.names", { n: entries.length }) }),
    entries.length ? list : el("p", { class: "hint", text: t("join.noNames") }));
  if (!entries.length) box.append(list); // the list is there (empty), so a test and a reader find it
  box.open = wasOpen;
  box.addEventListener("toggle", () => {
    wasOpen = box.open;
  });
  return box;
}
let wasOpen = false;

async function act(request) {
  try {
    const answer = await request();
    notice.clear();
    if (answer && typeof answer === "object") names.set(answer); // the answer is the names now
  } catch (error) {
    notice.show(error.message);
  }
}

function render() {
  if (!dialog?.open) return;
  const close = el("button", { type: "button", class: "btn join-close", testid: "join-close", text: t("join.close") });
  close.addEventListener("click", () => dialog.close());
  const head = el("div", { class: "join-head" }, el("h2", { id: "join-panel-title", text: t("join.panelTitle") }), close);
  const running = liveServers(servers);
  const live = running.map(serverBlock).filter(Boolean);
  // servers there are, but only this computer can reach them: say what students need instead
  const onlyHere = running.length > 0 && !running.some((ep) => reachableOf(ep).some((a) => a.kind === "lan"));
  const serverList = el("div", { class: "join-servers" },
    el("h3", { text: t("join.serversTitle") }),
    live.length ? el("ul", { class: "join-eps" }, ...live) : el("p", { class: "hint", text: t("join.noServers") }),
    onlyHere ? el("p", { class: "join-only-here", testid: "join-only-here" }, t("join.onlyHere"), " ",
      el("code", { text: "SOCKETLAB_BIND=0.0.0.0" })) : null);
  const parts = [head];
  if (!info) {
    parts.push(el("p", { class: "hint", text: t("join.loading") }));
  } else if (info.loopback_only) {
    parts.push(el("p", { class: "join-loopback", testid: "join-loopback" },
      t("join.loopbackOnly"), " ", el("code", { text: "make run HOST=0.0.0.0" })), serverList);
  } else {
    const qrBox = el("div", { class: "join-qr", testid: "join-qr" });
    if (qr) qrBox.append(qr);
    const facts = el("div", { class: "join-facts" },
      el("p", { class: "join-label", text: t("join.openLabel") }),
      el("p", { class: "join-big join-url", testid: "join-short-url" }, ...breakable(String(info.short_url || ""))),
      ...codeBlock(),
      serverList);
    parts.push(el("div", { class: "join-main" }, qrBox, facts));
  }
  if (role === "control") parts.push(namesBlock());
  if (role === "control" && info?.needs_code) parts.push(studentsBlock());
  body.replaceChildren(...parts);
}

/** A link as text nodes with a line-break chance before its path ("http://10.0.0.5:5000" / "/join"),
 * so a narrow projector wraps it there and not in the middle of a word. */
function breakable(url) {
  const cut = url.indexOf("/", url.indexOf("//") + 2);
  return cut > 0 ? [url.slice(0, cut), el("wbr"), url.slice(cut)] : [url];
}

/** Open the Join panel (or close it when open): "j", or the header button. */
export function toggleJoin() {
  if (!dialog) return;
  if (dialog.open) {
    dialog.close();
    return;
  }
  dialog.showModal();
  render();
  load();
  startPolling();
}

// -- a viewer's own name ("Your name" in the header) ----------------------------------------------

const storedName = () => localStorage.getItem(NAME_KEY) || "";

async function sendMyName(name, shown) {
  try {
    const answer = name ? await put("/names/me", { name }) : await del("/names/me");
    if (name) localStorage.setItem(NAME_KEY, name);
    else localStorage.removeItem(NAME_KEY);
    showMyName();
    document.getElementById("my-name").open = false;
    shown.clear();
    if (answer && typeof answer === "object") names.set(answer);
    return true;
  } catch (error) {
    shown.show(error.message);
    return false;
  }
}

/** The header's name button says the name the class sees ("👤 Ann"), or "Your name" before one is given. */
function showMyName() {
  const label = document.getElementById("my-name-shown");
  const name = storedName();
  if (name) {
    delete label.dataset.i18n; // (applyStatic would put the placeholder words back on a language change)
    label.replaceChildren(el("bdi", { text: name })); // (isolated: see names.js)
  } else {
    label.dataset.i18n = "join.myName";
    label.textContent = t("join.myName");
  }
}

function setUpMyName() {
  const form = document.getElementById("my-name");
  const input = document.getElementById("my-name-input");
  if (!form || !input) return;
  form.hidden = !student; // a student's own token names its address; the shared view token cannot
  if (!student) return;
  const shown = noticeIn(document.getElementById("page-notice"), "name-error");
  input.value = storedName();
  showMyName();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMyName(input.value.trim(), shown);
  });
  // names are per stage: a new stage starts with none, so the name this page gave is sent again
  let sentFor = currentStage()?.stage ?? 0;
  const again = (stage) => {
    const name = storedName();
    if (!name || !stage || stage.stage <= sentFor) return;
    sentFor = stage.stage;
    sendMyName(name, shown);
  };
  onStage((stage, previous) => {
    if (previous && stage.stage > previous.stage) again(stage);
  });
  // first load: the /join page named us a moment ago; only a page whose name is missing sends it
  const now = currentStage();
  const name = storedName();
  if (now && name && !Object.values(now.names || {}).includes(name)) {
    sentFor = now.stage;
    sendMyName(name, shown);
  }
}

/**
 * `role`: "control" or "view" (GET /api/session; a student's page is "view"), `student`: the
 * student's name when the page holds a student's own token; `onEndpoints`: endpoints.js's
 * subscription (the servers the panel lists). Called once the session and the stage are loaded.
 */
export function initJoin({ role: given, student: studentName = null, onEndpoints }) {
  role = given === "view" ? "view" : "control";
  student = role === "view" && studentName ? String(studentName) : null;
  dialog = document.getElementById("join-panel");
  body = document.getElementById("join-body");
  notice = noticeIn(dialog, "join-error", body);
  names.set(currentStage()?.names);
  onStage((stage) => names.set(stage?.names));
  onStageNames((stage) => names.set(stage?.names));
  onNames(render);
  let seen = "";
  onEndpoints((list) => {
    // the list comes again with every snapshot (traffic): the panel is drawn again only when its
    // servers changed, so a name being typed in it is not wiped by a send elsewhere
    servers = liveServers(list);
    const now = JSON.stringify(servers.map((ep) => [ep.id, ep.kind, ep.local, ep.reachable]));
    if (now === seen) return;
    seen = now;
    render();
  });
  onLanguageChange(render);
  document.getElementById("join-open").addEventListener("click", toggleJoin);
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close(); // a click on the backdrop
  });
  setUpMyName();
}
