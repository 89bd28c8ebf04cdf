// The projector's compact layout (issue 12): in projector mode every endpoint and download card
// folds to a one-line chip that opens into the full card, and the lesson banner folds to one line
// that opens into its "do" and "see" text, so the lesson's main view keeps most of the screen.
// Outside projector mode the chips are not shown (style.css) and the cards are as they were.
import { el } from "./dom.js";
import { t } from "./i18n.js";

const PROJECTOR = "projector";

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
  const projector = document.documentElement.classList.contains(PROJECTOR);
  const open = banner.dataset.expanded === "true";
  if (projector) {
    title.setAttribute("role", "button");
    title.tabIndex = 0;
    title.setAttribute("aria-expanded", String(open));
    title.setAttribute("aria-description", t(open ? "chip.bannerClose" : "chip.bannerOpen"));
  } else {
    for (const name of ["role", "tabindex", "aria-expanded", "aria-description"]) title.removeAttribute(name);
  }
}

/** In projector mode, a click (or Enter / Space) on the banner's title shows or hides its do/see text. */
export function initBannerFold() {
  const banner = document.getElementById("lesson-banner");
  if (!banner) return;
  const toggle = (event) => {
    if (!document.documentElement.classList.contains(PROJECTOR)) return;
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
