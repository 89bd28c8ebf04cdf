// The endpoints list: GET /api/endpoints, one card per endpoint id, kept in the server's order.
// Refreshed after every action and, debounced, after lifecycle events in the log.
import { get } from "./api.js";
import { EndpointCard } from "./card.js";
import { debounce } from "./dom.js";
import { onLanguageChange } from "./i18n.js";

const container = document.getElementById("endpoints");
const empty = document.getElementById("sockets-empty");
const cards = new Map();
const listeners = [];
let generation = 0; // answers that arrive out of order must not undo newer ones
let failed = () => {};

export function onEndpoints(fn) {
  listeners.push(fn);
}

/** Called with the sentence when a refresh fails (the page shows it in its banner). */
export function onRefreshError(fn) {
  failed = fn;
}

function render(list) {
  const seen = new Set();
  let previous = null;
  for (const ep of list) {
    seen.add(ep.id);
    let card = cards.get(ep.id);
    if (card && card.kind !== ep.kind) {
      card.root.remove();
      card = null;
    }
    if (!card) {
      card = new EndpointCard(ep, refresh);
      cards.set(ep.id, card);
    } else {
      card.update(ep);
    }
    const wanted = previous ? previous.nextSibling : container.firstChild;
    if (wanted !== card.root) container.insertBefore(card.root, wanted);
    previous = card.root;
  }
  for (const [id, card] of cards) {
    if (!seen.has(id)) {
      card.root.remove();
      cards.delete(id);
    }
  }
  empty.hidden = list.length > 0;
  for (const fn of listeners) fn(list);
}

export async function refresh() {
  const mine = ++generation;
  let list;
  try {
    list = await get("/endpoints");
  } catch (error) {
    failed(error.message);
    return;
  }
  if (mine === generation && Array.isArray(list)) render(list);
}

export const refreshSoon = debounce(refresh, 150);

/** The card of endpoint `id`, brought into view (after a create). */
export function reveal(id) {
  cards.get(id)?.root.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

onLanguageChange(() => {
  for (const card of cards.values()) card.update(card.ep);
});
