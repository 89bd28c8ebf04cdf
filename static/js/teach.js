// Teaching: the Lessons menu (one click makes a lesson's sockets), the banner that says what to
// do and what the class will see, and the live hooks the teaching views need from the events.
import { del, post } from "./api.js";
import { initCompare, openCompare, resetCompare, seeEvents } from "./compare.js";
import { el } from "./dom.js";
import * as downloads from "./downloads.js";
import * as endpoints from "./endpoints.js";
import { onLanguageChange, t } from "./i18n.js";
import { noticeIn } from "./notice.js";
import { LESSONS } from "./presets.js";

const menu = document.getElementById("lessons-menu");
const list = document.getElementById("lessons-list");
const banner = document.getElementById("lesson-banner");
let made = []; // endpoints the current lesson made, stopped when the next lesson starts
let current = null; // {lesson, outcome}: the lesson on show and what its preset returned
let building = 0;

/** Every batch of new events: the comparison's counters (the cards follow them in endpoints.js). */
function onLabEvents(events) {
  seeEvents(events);
}

// -- what a lesson preset may do ------------------------------------------------------------------

async function make(spec) {
  const ep = await post("/endpoints", spec);
  made.push(ep.id);
  return ep;
}

const lab = {
  make,
  async tryMake(spec) {
    try {
      await make(spec);
      await endpoints.refresh();
      return t("lessons.accepted");
    } catch (error) {
      return t("lessons.refused", { reason: error.message });
    }
  },
  async remove(id) {
    await del(`/endpoints/${id}`);
  },
  refresh: () => endpoints.showing(made),
  prefill(id, values) {
    endpoints.cardOf(id)?.prefill(values);
  },
  async send(id) {
    const card = endpoints.cardOf(id);
    if (!card) throw new Error(t("lessons.gone", { id }));
    const answer = await card.sendBox.submit();
    if (!answer) throw new Error(t("lessons.sendFailed", { id }));
  },
  async download(body) {
    const download = await post("/downloads", body);
    await downloads.refresh();
    downloads.reveal(download.id);
  },
  showDownload(serverId, values) {
    document.getElementById("tab-download").click();
    downloads.preselect(serverId, values);
  },
  openCompare: () => openCompare(() => endpoints.refresh()),
};

// -- the banner ----------------------------------------------------------------------------

const result = el("p", { class: "lesson-result", testid: "lesson-result", "aria-live": "polite" });
let notice = null;

function drawBanner() {
  if (!current) {
    banner.hidden = true;
    return;
  }
  const { lesson, outcome } = current;
  const close = el("button", { type: "button", class: "notice-close", testid: "lesson-close",
    "data-i18n-aria-label": "lessons.close", "data-i18n-title": "lessons.close", text: "×" });
  close.addEventListener("click", () => {
    current = null;
    drawBanner();
  });
  const actions = el("div", { class: "lesson-actions" });
  for (const action of outcome?.actions || []) {
    const button = el("button", { type: "button", class: "btn small", testid: "lesson-action", i18n: action.label });
    button.addEventListener("click", () => runAction(button, action));
    actions.append(button);
  }
  if (outcome?.link) {
    actions.append(el("a", { class: "btn small primary", testid: "lesson-link", href: outcome.link, target: "_blank",
      rel: "noopener", text: t("lessons.openLink", { url: outcome.link }) }));
  }
  const head = el("div", { class: "lesson-head" },
    el("p", { class: "lesson-title", title: t("lessons.number", { n: lesson.n }) },
      el("span", { class: "lesson-n", text: String(lesson.n) }), el("span", { i18n: `lessons.${lesson.n}.title` })),
    close);
  banner.replaceChildren(head,
    el("p", { class: "lesson-do" }, el("b", { i18n: "lessons.do" }), el("span", { i18n: `lessons.${lesson.n}.do` })),
    el("p", { class: "lesson-see" }, el("b", { i18n: "lessons.see" }), el("span", { i18n: `lessons.${lesson.n}.see` })),
    actions, result);
  notice = noticeIn(banner, "lesson-error", result);
  banner.dataset.lesson = String(lesson.n);
  banner.hidden = false;
}

async function runAction(button, action) {
  button.disabled = true;
  result.textContent = "";
  try {
    const sentence = await action.run();
    notice.clear();
    if (typeof sentence === "string") result.textContent = sentence;
  } catch (error) {
    notice.show(error.message);
  } finally {
    button.disabled = false;
  }
  endpoints.refresh();
}

async function startLesson(lesson) {
  menu.open = false;
  const mine = ++building;
  const old = made;
  made = [];
  await Promise.all([resetCompare(), ...old.map((id) => del(`/endpoints/${id}`).catch(() => null))]);
  current = { lesson, outcome: null };
  result.textContent = "";
  const panel = banner.closest(".panel");
  if (panel) panel.scrollTop = 0;
  banner.dataset.state = "building";
  drawBanner();
  try {
    const outcome = await lesson.build(lab);
    if (mine !== building) return;
    current.outcome = outcome;
    drawBanner();
    banner.dataset.state = "ready";
  } catch (error) {
    if (mine !== building) return;
    drawBanner();
    notice.show(error.message);
    banner.dataset.state = "failed";
  }
  await endpoints.refresh();
  if (made.length) endpoints.reveal(made[0]);
}

function drawMenu() {
  list.replaceChildren(...LESSONS.map((lesson) => {
    const button = el("button", { type: "button", class: "lesson-item", testid: "lesson-preset",
      data: { lesson: String(lesson.n), key: lesson.key } },
      el("span", { class: "lesson-n", text: String(lesson.n) }), el("span", { i18n: `lessons.${lesson.n}.title` }));
    button.addEventListener("click", () => startLesson(lesson));
    return el("li", {}, button);
  }));
}

/**
 * The banner lives at the top of the forms panel; projector mode (html.projector) puts that panel
 * away, so there the banner moves above the whole layout, and back when the mode ends.
 */
function placeBanner() {
  const home = document.querySelector(".forms-panel");
  const projector = document.documentElement.classList.contains("projector");
  if (projector && banner.parentElement === home) document.querySelector("main.layout").before(banner);
  else if (!projector && banner.parentElement !== home) home.prepend(banner);
}

/** `onEvents` is the page's event hook (main.js passes it), so the views follow the live stream. */
export function initTeaching(onEvents) {
  drawMenu();
  initCompare(() => endpoints.refresh());
  onEvents(onLabEvents);
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape") menu.open = false;
  });
  onLanguageChange(drawBanner);
  new MutationObserver(placeBanner).observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });
  placeBanner();
}
