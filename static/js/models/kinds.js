// The event kinds as the server names them (lab/events/kinds.py, handed over by GET /api/session as
// "kinds": {name: {lifecycle, draw, changes, log}}). The page lists no kind by hand: it asks this
// registry how a kind is drawn and whether it is part of a socket's life. Pure (no DOM).

let registry = new Map();
const LOG_ROWS = ["row", "divider", "none"];

/** Take the registry from the session answer; anything malformed is left out, not guessed. */
export function setKinds(kinds) {
  registry = new Map();
  if (!kinds || typeof kinds !== "object") return;
  for (const [name, info] of Object.entries(kinds)) {
    if (info && typeof info === "object") {
      registry.set(name, { lifecycle: Boolean(info.lifecycle), draw: String(info.draw || "none"), changes: Boolean(info.changes),
        log: LOG_ROWS.includes(info.log) ? info.log : "row" });
    }
  }
}

/** Every kind the server publishes, in its order. */
export const kindNames = () => [...registry.keys()];

export const isKnown = (kind) => registry.has(kind);

/** How the diagram draws `kind`: "lane-start" | "lane-end" | "arrow" | "mark" | "none" ("mark" when unknown: still seen). */
export const drawOf = (kind) => registry.get(kind)?.draw ?? "mark";

/** A lifecycle kind tells a socket's life (listen, accept, close, ...); the rest is traffic. */
export const isLifecycle = (kind) => registry.get(kind)?.lifecycle ?? false;

/** Starts a socket's lane in the diagram (and its row in the counters). */
export const startsLane = (kind) => drawOf(kind) === "lane-start";

/** Ends a socket's lane (close): the diagram lets the lane go a few seconds later. */
export const endsLane = (kind) => drawOf(kind) === "lane-end";

/**
 * How the log shows `kind`: "row", "divider" (a new stage begins) or "none" (snapshots that keep
 * the cards current). A kind the registry does not know is still shown: "row".
 */
export const logOf = (kind) => registry.get(kind)?.log ?? "row";

/** A new classroom stage begins: the views of "the current stage only" start afresh here. */
export const beginsStage = (kind) => logOf(kind) === "divider";

// The server's modes and framings for the create form ("modes": {"tcp-server": [...]},
// "framings": {mode: [...]}); null until a session that names them was read.
let modes = null;
let framings = null;

export function setModes(sessionModes, sessionFramings) {
  modes = sessionModes && typeof sessionModes === "object" ? sessionModes : null;
  framings = sessionFramings && typeof sessionFramings === "object" ? sessionFramings : null;
}

/** The modes of an endpoint kind ("tcp-server"), or null when the server did not say. */
export const modesOf = (endpointKind) => (modes && Array.isArray(modes[endpointKind]) ? modes[endpointKind] : null);

/** The framings a mode allows, or null when the server did not say. */
export const framingsOf = (mode) => (framings && Array.isArray(framings[mode]) ? framings[mode] : null);

/** A mode that speaks its own protocol on the bytes (a file, HTTP): raw only, so no framing, no rules, no send box. */
export function speaksOwnProtocol(mode) {
  const allowed = framingsOf(mode);
  return Boolean(allowed && allowed.length && allowed.every((f) => f === "raw"));
}
