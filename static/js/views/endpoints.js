// The endpoints list: one card per endpoint id, kept in the server's order. Loaded once with
// GET /api/endpoints (and after this page's own actions); from then on `state` events carry each
// endpoint's snapshot and traffic moves its counters (lab-state.js): no request per event.
import { get } from "../net/api.js";
import { EndpointCard } from "./card.js";
import { peerIndex } from "../models/conn-stats.js";
import { debounce } from "../dom.js";
import { Emitter } from "../emitter.js";
import { onLanguageChange } from "../i18n.js";
import { LabState } from "../models/lab-state.js";

const cards = new Map();
const signals = new Emitter();
const lab = new LabState();
let container = null;
let empty = null;
let generation = 0; // answers that arrive out of order must not undo newer ones
let latest = []; // the last list drawn, for the peer lookups of a single card's refresh

/** fn(list) after every drawing of the list. */
export const onEndpoints = (fn) => signals.on("endpoints", fn);

/** fn(sentence) when a refresh fails (the page shows it in its banner). */
export const onRefreshError = (fn) => signals.on("error", fn);

const failed = (sentence) => signals.emit("error", sentence);

let drawSoon = () => {};

/** Keep the cards current from a batch of events (snapshots and counters), drawn at most once a frame. */
export function applyEvents(events) {
  // (TCP_INFO comes in tcp_info events, from the handshake on; kernel drops in UDP snapshots)
  if (lab.apply(events)) drawSoon();
}

export function initEndpoints() {
  container = document.getElementById("endpoints");
  empty = document.getElementById("sockets-empty");
  let frame = 0;
  drawSoon = () => {
    if (!frame) frame = requestAnimationFrame(() => {
      frame = 0;
      render(lab.list());
    });
  };
  onLanguageChange(() => {
    const index = peerIndex(latest);
    for (const card of cards.values()) card.update(card.ep, index);
  });
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
  signals.emit("endpoints", list);
}

/** The newest seq the lab recorded: what is read right after holds the events up to it. */
async function newestSeq() {
  const newest = await get(`/events?after=${Number.MAX_SAFE_INTEGER}&limit=1`);
  return Number(newest?.last) || 0;
}

/** GET the whole list (at start, and after this page's own actions); events keep it current after. */
export async function refresh() {
  const mine = ++generation;
  let list;
  let base = 0;
  try {
    // a list read while no event was recorded holds exactly the events up to `base`: traffic may
    // go on meanwhile (a periodic send), so ask again, a few times at most, until nothing moved
    for (let tries = 0; tries < 3; tries++) {
      base = await newestSeq();
      list = await get("/endpoints");
      if ((await newestSeq()) === base) break;
    }
  } catch (error) {
    failed(error.message);
    return;
  }
  if (mine === generation && Array.isArray(list)) {
    lab.load(list, base);
    render(lab.list());
  }
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
  const held = lab.takeSyscallFields(ep);
  latest = latest.map((old) => (old.id === id ? held : old));
  card.update(held, peerIndex(latest));
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

