// The lab agents a dashboard drives (the lab-agents issue), as a model: each agent's state (up, or
// down since when) and which agent holds each endpoint, from GET /api/agents and then live from
// the events (kind "agent" says one came or went; every event from an agent names it in `agent`).
// An embedded dashboard has no agents (GET /api/session "agents": null): the model stays off and the
// page shows nothing of agents. Pure (no DOM): node tests use it as it is.

const NAME = /^[A-Za-z0-9_.-]{1,40}$/; // agent names, as the agents themselves check them
const MAX_OWNERS = 20000; // ids remembered; the oldest go first (a long class makes many sockets)

const text = (v) => (typeof v === "string" ? v : "");
const time = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

export class AgentsModel extends EventTarget {
  constructor() {
    super();
    this.enabled = false;
    this.agents = new Map(); // name -> {name, host, state: "up"|"down", since}
    this.owners = new Map(); // endpoint or download id -> agent name
    // a class's dashboard routes what names no agent (the session's "default_agent": lessons 10-14 go
    // to the sandbox, the rest to the class's lab), so its pickers offer "automatic"
    this.routed = false;
    this.routedTo = ""; // where such a socket goes (the class's lab)
  }

  /** The list GET /api/agents (or the session's "agents") answered; anything else turns agents off. */
  setList(list) {
    if (!Array.isArray(list)) {
      const was = this.enabled;
      this.enabled = false;
      this.agents.clear();
      this.owners.clear();
      if (was) this.changed();
      return;
    }
    this.enabled = true;
    const fresh = new Map();
    for (const item of list) {
      if (!item || typeof item !== "object" || !NAME.test(text(item.name))) continue;
      fresh.set(item.name, { name: item.name, host: text(item.host), state: item.state === "up" ? "up" : "down",
        since: time(item.since) });
    }
    this.agents = fresh;
    this.changed();
  }

  /** Take what a batch of events says of agents; true when an agent's state changed. */
  applyEvents(events) {
    if (!this.enabled) return false;
    let changed = false;
    for (const ev of events) {
      if (!ev || typeof ev !== "object" || !NAME.test(text(ev.agent))) continue;
      if (ev.endpoint && typeof ev.endpoint === "string" && !this.owners.has(ev.endpoint)) this.own(ev.endpoint, ev.agent);
      if (ev.kind !== "agent") continue;
      const what = ev.args && typeof ev.args === "object" ? ev.args.event : null;
      if (what !== "up" && what !== "down") continue; // ("dropped" is a row in the log, not a change of state)
      const known = this.agents.get(ev.agent);
      const host = text(ev.args.host) || known?.host || "";
      if (known && known.state === what && known.host === host) continue;
      this.agents.set(ev.agent, { name: ev.agent, host, state: what, since: time(ev.ts) ?? known?.since ?? null });
      changed = true;
    }
    if (changed) this.changed();
    return changed;
  }

  own(id, agent) {
    if (this.owners.size >= MAX_OWNERS) this.owners.delete(this.owners.keys().next().value);
    this.owners.set(id, agent);
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }

  /** fn() after every change of the agents or their states. */
  onChange(fn) {
    this.addEventListener("change", () => fn());
  }

  /** Every agent known, by name. */
  list() {
    return [...this.agents.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  up() {
    return this.list().filter((a) => a.state === "up").map((a) => a.name);
  }

  /** The session's "default_agent" (a class's dashboard): the pickers may leave the choice to it. */
  setRouted(defaultAgent) {
    this.routed = typeof defaultAgent === "string" && NAME.test(defaultAgent);
    this.routedTo = this.routed ? defaultAgent : "";
  }

  /** The agent a new socket goes to when nobody chose one: the only one up, else none (the server asks,
   * or, on a class's dashboard, routes it). */
  defaultAgent() {
    const up = this.up();
    return up.length === 1 ? up[0] : "";
  }

  /** The agent that holds endpoint or download `id` (as its events named it), or "". */
  ownerOf(id) {
    return this.enabled ? this.owners.get(id) ?? "" : "";
  }

  /** "up", "down", or "" for a name this page does not know. */
  stateOf(name) {
    return this.agents.get(name)?.state ?? "";
  }

  get(name) {
    return this.agents.get(name) ?? null;
  }
}

/** The one model of this page (the strip, the pickers, the cards, the diagram and the log read it). */
export const agents = new AgentsModel();

/** "10:42:05": when an agent went down, in the reader's clock (ts in unix seconds). */
export function clockOf(ts) {
  if (typeof ts !== "number" || !Number.isFinite(ts)) return "";
  const d = new Date(ts * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}
