// Students' own programs in the sequence diagram (python -m agent.trace): each traced
// program is a group of lanes under its name, each lane one of its sockets, labelled with the thread
// that made the socket's calls. The lanes stay sockets so the diagram joins a traced client to a
// traced server (or to a lab endpoint) by address, exactly as it joins the lab's own sockets: one
// arrow from the student's send to the other side's recv.
// Pure (no DOM): node tests use it as it is; ladder-model.js notes what it says, ladder-draw.js draws it.

const SOCKET = /^s\d+@([A-Za-z0-9_.-]{1,40})$/; // a traced socket's id: s<n>@<program> (agent/trace/tracer.py)
const MAX_THREAD = 40;

/** The traced program an event belongs to (its name), or null for the lab's own sockets. */
export function programOf(ev) {
  const found = SOCKET.exec(typeof ev?.endpoint === "string" ? ev.endpoint : "");
  return found && (ev.agent === undefined || ev.agent === found[1]) ? found[1] : null;
}

/** The program's thread that made this call (args.thread), or null. */
export function threadOf(ev) {
  const name = ev?.args?.thread;
  return typeof name === "string" && name ? name.slice(0, MAX_THREAD) : null;
}

/** Note on a lane what a traced program's event says of it: its program, its thread, its kind. */
export function noteTraced(lane, ev) {
  const program = programOf(ev);
  if (!program) return;
  lane.program = program;
  // the thread that uses the socket names the lane: for an accepted one, not the thread that accepted it
  const thread = threadOf(ev);
  if (thread && (ev.kind !== "accept" || !lane.thread)) lane.thread = thread;
  if (ev.kind === "accept") Object.assign(lane, { kind: "connection", known: true }); // accepted by the student's server
}

/**
 * `ids` (lanes in drawing order) with each traced program's lanes brought together, where its first
 * lane stood; returns the new order and the groups: [{ program, first, last }] (indexes in the order).
 */
export function groupLanes(ids, laneOf) {
  const programs = new Map(); // program -> its lanes, in order
  const order = [];
  for (const id of ids) {
    const program = laneOf(id)?.program ?? null;
    if (!program) {
      order.push(id);
      continue;
    }
    if (!programs.has(program)) {
      programs.set(program, []);
      order.push({ program });
    }
    programs.get(program).push(id);
  }
  const flat = [];
  const groups = [];
  for (const entry of order) {
    if (typeof entry === "string") {
      flat.push(entry);
      continue;
    }
    const lanes = programs.get(entry.program);
    groups.push({ program: entry.program, first: flat.length, last: flat.length + lanes.length - 1 });
    flat.push(...lanes);
  }
  return { order: flat, groups };
}

const PLACE_WITHIN = 300; // rows looked back at: a program's batch arrives within a second or so

/**
 * The newest row of `items` (just added, a traced program's) moved up among the rows that happened
 * after it, by the events' clocks. A traced program's events reach the page in batches, up to some
 * 50 ms late (its courier posts them), while the lab's own arrive at once: in arrival order the
 * student's `socket()` would be drawn after the server's answer to it.
 */
export function placeByTime(items) {
  const item = items[items.length - 1];
  const ts = item?.ev?.ts;
  if (typeof ts !== "number") return;
  const stop = Math.max(0, items.length - 1 - PLACE_WITHIN);
  let at = items.length - 1;
  while (at > stop && typeof items[at - 1].ev.ts === "number" && items[at - 1].ev.ts > ts) at--;
  if (at < items.length - 1) items.splice(at, 0, items.pop());
}
