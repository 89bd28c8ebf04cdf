// The projector's compact layout: in projector mode every endpoint and download card
// folds to a one-line chip that opens into the full card, and the lesson banner folds to one line
// that opens into its "do" and "see" text, so the lesson's main view keeps most of the screen.
// A viewer's or a student's page folds the same way (html.compact, set by session.js), at its normal
// type size, so a laptop's screen gives the lesson's view the room. Elsewhere the chips are not shown
// (style.css) and the cards are as they were.
import { el } from "../dom.js";
import { onLanguageChange, t } from "../i18n.js";
import { pointOf } from "../models/lesson-view.js";
import { current, onStage } from "../models/stage.js";

/** Is the page folded (projector mode, or a viewer's compact page)? */
export const isFolded = () => ["projector", "compact"].some((name) => document.documentElement.classList.contains(name));

/**
 * A chip toggle for `card` (the card's root element, which needs an id): a <button>, so click,
 * Enter and Space all open and close it; `data-expanded` on the card is what the CSS reads.
 * The card stays open across its redraws, which only ever refill the chip's children.
 */
export function chipToggle(card, testid) {
  const chip = el("button", { type: "button", class: "chip", testid, "aria-expanded": "false",
    "aria-controls": card.id, "data-i18n-title": "chip.open" });
  chip.addEventListener("click", () => {
    const open = card.dataset.expanded !== "true";
    card.dataset.expanded = String(open);
    chip.setAttribute("aria-expanded", String(open));
    chip.title = t(open ? "chip.close" : "chip.open");
    if (open) card.scrollIntoView({ block: "nearest" });
  });
  return chip;
}

/** "42 B", "1,048,576 B": the byte counts of a chip, in the page's number format. */
export const bytes = (n) => t("chip.bytes", { n: Number(n) || 0 });

/** One labelled part of a chip: a class to style it, the text, an optional testid. */
export const part = (cls, text, testid) => el("span", { class: `chip-part ${cls}`, testid, text });

// -- the lesson banner ----------------------------------------------------------------------
// The banner's markup is teach.js's; this only relies on its class names (.lesson-title,
// .lesson-do, .lesson-see) and keeps its own state on #lesson-banner, which survives redraws.

function foldable(banner) {
  const title = banner.querySelector(".lesson-title");
  if (!title) return;
  const open = banner.dataset.expanded === "true";
  if (isFolded()) {
    title.setAttribute("role", "button");
    title.tabIndex = 0;
    title.setAttribute("aria-expanded", String(open));
    title.setAttribute("aria-description", t(open ? "chip.bannerClose" : "chip.bannerOpen"));
  } else {
    for (const name of ["role", "tabindex", "aria-expanded", "aria-description"]) title.removeAttribute(name);
  }
}

/** Folded (projector or compact), a click (or Enter / Space) on the banner's title shows or hides its do/see text. */
export function initBannerFold() {
  const banner = document.getElementById("lesson-banner");
  if (!banner) return;
  const toggle = (event) => {
    if (!isFolded()) return;
    if (!event.target.closest(".lesson-title")) return;
    if (event.type === "keydown" && event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault();
    banner.dataset.expanded = String(banner.dataset.expanded !== "true");
    foldable(banner);
  };
  banner.addEventListener("click", toggle);
  banner.addEventListener("keydown", toggle);
  // teach.js redraws the banner's children (a language switch, an action's result, a new lesson)
  new MutationObserver(() => foldable(banner)).observe(banner, { childList: true });
  new MutationObserver(() => foldable(banner)).observe(document.documentElement,
    { attributes: true, attributeFilter: ["class"] });
  foldable(banner);
}

// -- the chip row: two lines, and a sign when it holds more -----------------------------------
// Chips past the row's two lines are not shown until "+N more" opens the row; the cards that carry
// the lesson's point (the registry's point.cards, e.g. lesson 5's downloads) come first, so they are
// never the hidden ones.

const kindOfCard = (card) => (card.classList.contains("download") ? "download" : card.dataset.kind || "");

export function initChipRow() {
  const panel = document.querySelector(".sockets-panel");
  if (!panel) return;
  const more = el("button", { type: "button", class: "chips-more", testid: "chips-more", hidden: true });
  panel.append(more);
  let frame = 0;
  // the chips past two lines move behind the sign (order 2; the sign is 1), and while the sign itself
  // would fall off the second line, the last chip before it goes behind it too
  const count = () => {
    frame = 0;
    const cards = [...panel.querySelectorAll(".card")].filter((card) => card.getClientRects().length);
    const first = pointOf(current()?.lesson).cards;
    for (const card of cards) card.style.order = first.has(kindOfCard(card)) ? "-1" : "";
    const open = panel.dataset.open === "true";
    more.hidden = false;
    more.textContent = open ? t("chips.less") : t("chips.more", { n: 0 });
    const bottom = panel.getBoundingClientRect().top + panel.clientTop + panel.clientHeight;
    const past = (node) => node.getBoundingClientRect().bottom > bottom + 1;
    let behind = [];
    if (isFolded() && !open) {
      behind = cards.filter(past);
      for (const card of behind) card.style.order = "2";
      const shown = () => cards.filter((card) => card.style.order !== "2");
      while (behind.length && past(more) && shown().length) {
        const last = shown().reduce((a, b) => (b.getBoundingClientRect().top > a.getBoundingClientRect().top
          || (b.getBoundingClientRect().top === a.getBoundingClientRect().top && b.getBoundingClientRect().left > a.getBoundingClientRect().left) ? b : a));
        last.style.order = "2";
        behind.push(last);
        more.textContent = t("chips.more", { n: behind.length });
      }
    }
    more.hidden = !behind.length && !open;
    more.dataset.count = String(behind.length);
    more.textContent = open ? t("chips.less") : t("chips.more", { n: behind.length });
    more.title = t(open ? "chips.lessTitle" : "chips.moreTitle");
    more.setAttribute("aria-expanded", String(open));
  };
  const later = () => {
    if (!frame) frame = requestAnimationFrame(count);
  };
  more.addEventListener("click", () => {
    panel.dataset.open = String(panel.dataset.open !== "true");
    count();
  });
  onStage((stage, previous) => {
    if (previous && previous.stage !== stage.stage) delete panel.dataset.open; // a new lesson: two lines again
    later();
  });
  new ResizeObserver(later).observe(panel);
  for (const box of panel.querySelectorAll(".cards")) {
    new MutationObserver(later).observe(box, { childList: true, subtree: true, characterData: true });
  }
  new MutationObserver(later).observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });
  onLanguageChange(later);
  later();
}
