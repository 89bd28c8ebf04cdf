// The endpoints list: GET /api/endpoints, one card per endpoint id, kept in the server's order.
// Refreshed after every action and, debounced, after lifecycle events in the log.
import { get } from "./api.js";
import { EndpointCard } from "./card.js";
import { peerIndex } from "./conn-stats.js";
import { debounce } from "./dom.js";
import { onLanguageChange } from "./i18n.js";

const container = document.getElementById("endpoints");
const empty = document.getElementById("sockets-empty");
const cards = new Map();
const listeners = [];
let generation = 0; // answers that arrive out of order must not undo newer ones
let failed = () => {};
let latest = []; // the last list drawn, for the peer lookups of a single card's refresh

export function onEndpoints(fn) {
  listeners.push(fn);
}

/** Called with the sentence when a refresh fails (the page shows it in its banner). */
export function onRefreshError(fn) {
  failed = fn;
}

function render(list) {
  latest = list;
  const index = peerIndex(list);
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
      card = new EndpointCard(ep, refresh, () => refreshOne(ep.id));
      cards.set(ep.id, card);
    }
    card.update(ep, index);
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

/** Re-GET one endpoint (its TCP_INFO, its counters) and redraw only its card. */
export async function refreshOne(id) {
  let ep;
  try {
    ep = await get(`/endpoints/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error.status === 404) refreshSoon();
    else failed(error.message);
    return;
  }
  const card = cards.get(id);
  if (!card || !ep || card.kind !== ep.kind) return;
  latest = latest.map((old) => (old.id === id ? ep : old));
  card.update(ep, peerIndex(latest));
}

/**
 * Refresh until endpoints `ids` have their cards: a refresh whose answer is overtaken by a newer
 * one draws nothing, and a lesson preset needs the cards it is about to fill.
 */
export async function showing(ids) {
  for (let i = 0; i < 5 && (i === 0 || ids.some((id) => !cards.has(id))); i++) await refresh();
}

/** The card of endpoint `id`, for lesson presets that fill its send box. */
export function cardOf(id) {
  return cards.get(id) || null;
}

/** The card of endpoint `id`, brought into view (after a create). */
export function reveal(id) {
  cards.get(id)?.root.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

onLanguageChange(() => {
  const index = peerIndex(latest);
  for (const card of cards.values()) card.update(card.ep, index);
});
