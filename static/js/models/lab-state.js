// The page's copy of the lab's endpoints, kept current from events instead of asking again: a
// `state` event carries an endpoint's snapshot (its to_json() without TCP_INFO; "removed" on the
// last one), and traffic between two snapshots moves the card's counters the way the lab counts
// them (one send() call, one recv() call, one framed message, one datagram). The next snapshot
// puts any difference right. A late joiner loads the whole list once (GET /api/endpoints). Pure.
//
// A loaded list already holds what events up to `base` did (the newest seq the lab had recorded
// just before the list was asked for): those events, arriving later through the stream, are not
// counted again. Events past `base` that arrived while the list was on its way were applied to the
// old list: they are applied again to the new one (else an endpoint made meanwhile, whose one
// snapshot came before the list, would never show).

const KEEP_APPLIED = 5000; // events kept for that (a list takes a few round trips to come)

export class LabState {
  constructor() {
    this.endpoints = new Map(); // id -> endpoint JSON, in the server's order
    this.base = 0;
    this.applied = []; // events applied since the last load, oldest first (at most KEEP_APPLIED)
  }

  /** The whole list, as GET /api/endpoints answered it; `base`: the newest seq recorded before asking. */
  load(list, base = 0) {
    this.endpoints = new Map(list.filter((ep) => ep && ep.id).map((ep) => [ep.id, ep]));
    this.base = Math.max(this.base, base);
    const again = this.applied.filter((ev) => typeof ev.seq === "number" && ev.seq > this.base);
    this.applied = [];
    this.apply(again);
  }

  list() {
    return [...this.endpoints.values()];
  }

  /** Apply a batch of events; true when any endpoint changed (the cards draw again). */
  apply(events) {
    let changed = false;
    for (const ev of events) changed = this.applyOne(ev) || changed;
    return changed;
  }

  applyOne(ev) {
    if (typeof ev.seq === "number" && ev.seq <= this.base) return false; // already in the loaded list
    this.applied.push(ev);
    if (this.applied.length > KEEP_APPLIED * 1.25) this.applied.splice(0, this.applied.length - KEEP_APPLIED);
    const snapshot = ev.state;
    // an endpoint's snapshot names its kind ("tcp-server", ...); a download's does not
    if (snapshot && typeof snapshot === "object" && typeof snapshot.kind === "string") return this.applySnapshot(snapshot);
    const ep = this.endpoints.get(ev.endpoint);
    if (!ep) return false;
    return countTraffic(ep, ev);
  }

  /**
   * From one endpoint as GET /api/endpoints/<id> answered it, take only what a syscall tells
   * (TCP_INFO, kernel drops): the counters here are the events' to keep, so none is counted twice
   * whatever order the answer and the stream arrive in. Returns the endpoint as the page holds it.
   */
  takeSyscallFields(ep) {
    const mine = this.endpoints.get(ep.id);
    if (!mine) return ep;
    if ("kernel_drops" in ep) mine.kernel_drops = ep.kernel_drops;
    const info = new Map([...(ep.connections || []), ...(ep.connection ? [ep.connection] : [])].map((c) => [c.id, c.tcp_info]));
    for (const c of [...(mine.connections || []), ...(mine.connection ? [mine.connection] : [])]) {
      if (info.get(c.id) != null) c.tcp_info = info.get(c.id);
    }
    return mine;
  }

  applySnapshot(snapshot) {
    if (snapshot.removed) return this.endpoints.delete(snapshot.id);
    const old = this.endpoints.get(snapshot.id);
    const fresh = { ...snapshot };
    // snapshots carry no TCP_INFO (that is a syscall): keep what tcp_info events brought
    if (old && Array.isArray(fresh.connections)) {
      const info = new Map((old.connections || []).map((c) => [c.id, c.tcp_info]));
      fresh.connections = fresh.connections.map((c) => (c.tcp_info == null && info.get(c.id) ? { ...c, tcp_info: info.get(c.id) } : c));
    }
    if (old?.connection && fresh.connection && fresh.connection.tcp_info == null) {
      fresh.connection = { ...fresh.connection, tcp_info: old.connection.tcp_info ?? null };
    }
    if (old && fresh.kernel_drops == null && old.kernel_drops != null) fresh.kernel_drops = old.kernel_drops; // (a syscall too)
    this.endpoints.set(snapshot.id, fresh);
    return true;
  }
}

/** The connection object of `ep` an event is about: a server's accepted one, or a client's own. */
function connectionOf(ep, ev) {
  if (Array.isArray(ep.connections)) return ev.conn ? ep.connections.find((c) => c.id === ev.conn) || null : null;
  return ep.connection || null;
}

/** Move the counters the lab keeps for `ev` (returns whether anything moved). */
function countTraffic(ep, ev) {
  const size = Number(ev.size) || 0;
  const conn = connectionOf(ep, ev);
  switch (ev.kind) {
    case "send":
      ep.bytes_out = (ep.bytes_out || 0) + size;
      if ("datagrams_out" in ep) ep.datagrams_out = (ep.datagrams_out || 0) + 1;
      if (conn) Object.assign(conn, { sends: (conn.sends || 0) + 1, bytes_out: (conn.bytes_out || 0) + size });
      return true;
    case "recv":
      ep.bytes_in = (ep.bytes_in || 0) + size;
      if ("datagrams_in" in ep) ep.datagrams_in = (ep.datagrams_in || 0) + 1;
      if ("last_peer" in ep && ev.peer) ep.last_peer = ev.peer;
      if (conn) Object.assign(conn, { recvs: (conn.recvs || 0) + 1, bytes_in: (conn.bytes_in || 0) + size });
      return true;
    case "message":
      if (conn) conn.messages = (conn.messages || 0) + 1;
      return Boolean(conn);
    case "lost": // the impairment counts what it drops; a full delay line only says so
      if ("datagrams_lost" in ep && ev.code !== "delay-line-full") ep.datagrams_lost = (ep.datagrams_lost || 0) + 1;
      return true;
    case "tcp_info":
      if (conn && ev.args) conn.tcp_info = ev.args;
      return Boolean(conn && ev.args);
    default:
      return false;
  }
}
