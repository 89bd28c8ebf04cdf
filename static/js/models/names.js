// Names instead of numbers: "Ann" on a lane, a log row, the Focus list and the CSV, where the lab
// only knows 10.77.0.2:53422. The stage object carries `names` (IP address -> display name, per
// stage: a new stage starts with none); a peer is named by its host, whatever its port, because a
// student's programs all come from the address their page came from.
// Pure (no DOM): tested with node --test. The page wires `book` to the stage (join-panel.js), and
// the views read it and draw again on `onNames`: they keep their rows, only the labels change.
// Names are text a student typed: callers put them in textContent (or an SVG <text>), never HTML,
// and always in bidi isolation (a <bdi>, or `isolate()` where only text goes: an <option>, a CSV
// cell), so a right-to-left name cannot reorder the arrow, the address or the words beside it.
import { Emitter } from "../emitter.js";

/** A name for a text-only place: between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE. */
export const isolate = (name) => `\u2068${name}\u2069`;

/** The host as the stage writes addresses: an IPv4-mapped IPv6 peer ("::ffff:10.77.0.2", a
 * dual-stack server's view of an IPv4 client) is the IPv4 address the student's page named. */
export function plainHost(host) {
  const text = String(host ?? "").replace(/^\[|\]$/g, "");
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(text);
  return mapped ? mapped[1] : text.toLowerCase();
}

/** "127.0.0.1:5000" from ["127.0.0.1", 5000]; IPv6 hosts get brackets (as dom.js writes them). */
export function hostPort(addr) {
  if (!Array.isArray(addr) || addr.length < 2) return "";
  const [host, port] = addr;
  return String(host).includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A names object as the stage sends it, checked: string keys to non-empty string names only. */
export function cleanNames(raw) {
  const out = new Map();
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return out;
  for (const [address, name] of Object.entries(raw)) {
    if (typeof name === "string" && name) out.set(plainHost(address), name);
  }
  return out;
}

/** The name of peer `addr` ([host, port], or a bare host) in `names` (a Map from cleanNames), or null. */
export function nameIn(names, addr) {
  const host = Array.isArray(addr) ? addr[0] : addr;
  if (host === null || host === undefined || host === "") return null;
  return names.get(plainHost(host)) ?? null;
}

/** The names of one stage; emits "names" when they change (not when the same names come again). */
export class NameBook extends Emitter {
  constructor() {
    super();
    this.names = new Map();
    this.signature = "";
  }

  /** Take the names of the stage object now (`stage.names`); true when they changed. */
  set(raw) {
    const next = cleanNames(raw);
    const signature = JSON.stringify([...next].sort());
    if (signature === this.signature) return false;
    this.names = next;
    this.signature = signature;
    this.emit("names", this);
    return true;
  }

  /** The name of a peer ([host, port] or host), or null. */
  of(addr) {
    return nameIn(this.names, addr);
  }

  /** What a view writes for a peer in plain text: its name (isolated) when it has one, else "host:port". */
  label(addr) {
    const name = this.of(addr);
    return name === null ? hostPort(addr) : isolate(name);
  }

  /** [[address, name], ...] sorted by name, for the list a controller edits. */
  entries() {
    return [...this.names].sort((a, b) => a[1].localeCompare(b[1]) || a[0].localeCompare(b[0]));
  }
}

const isStageKind = (kind) => kind === "stage" || kind === "classroom";

/** A name change's [address, name | null] ({stage, part: "name", named}), or null. */
function renamed(params) {
  const named = params.part === "name" ? params.named : null;
  return Array.isArray(named) && named.length === 2 && typeof named[0] === "string"
    && (named[1] === null || typeof named[1] === "string") ? named : null;
}

/**
 * The peer name of each event (given oldest first, in seq order), for the CSV: the names its stage
 * ended with, so a student who named themselves after connecting is named on every row of theirs.
 * A stage begins with a `stage` event; `stage` and `classroom` events carry the stage object, with
 * its names, at that moment, except a name change, which carries only that change (applied to the
 * names so far). Events before the first stage object seen belong to its stage when it is a
 * `classroom` event (a recording that starts mid-stage), to an unknown earlier one when it
 * begins a new stage.
 */
export function peerNames(events) {
  const stageOf = []; // stage number per event (null before any stage object is seen)
  const books = new Map(); // stage number -> its names so far (a Map, as cleanNames makes)
  let current = null;
  for (const ev of events) {
    const params = ev && isStageKind(ev.kind) && ev.params && typeof ev.params === "object" ? ev.params : null;
    if (params && Number.isInteger(params.stage)) {
      current = params.stage;
      const change = renamed(params);
      if (!change) {
        books.set(current, cleanNames(params.names));
      } else {
        const book = books.get(current) ?? new Map();
        if (change[1]) book.set(plainHost(change[0]), change[1]);
        else book.delete(plainHost(change[0]));
        books.set(current, book);
      }
    }
    stageOf.push(current);
  }
  const opening = events.find((ev) => ev && isStageKind(ev.kind) && Number.isInteger(ev.params?.stage));
  const first = opening && opening.kind === "classroom" ? opening.params.stage : null;
  return events.map((ev, i) => {
    const stage = stageOf[i] ?? first;
    const names = stage === null ? null : books.get(stage);
    return names && ev && ev.peer ? nameIn(names, ev.peer) ?? "" : "";
  });
}

/** The page's one book of names (fed by join-panel.js from the stage). */
export const book = new NameBook();

/** fn(book) whenever the names change; returns a function that unsubscribes. */
export const onNames = (fn) => book.on("names", fn);
