// What an event says about its socket: its lane, its addresses as text, who closed it. Pure (no DOM):
// the diagram's rows and lanes (ladder-model.js), their links (ladder-links.js), the packets among
// them (wire-model.js), the log's filter and the counters all read events through these.

/** "127.0.0.1:5000" (IPv6 in brackets), "" for null. */
export function addr(a) {
  if (!a) return "";
  return String(a[0]).includes(":") ? `[${a[0]}]:${a[1]}` : `${a[0]}:${a[1]}`;
}

/** The lane (socket) an event belongs to: "e1" for an endpoint's own socket, "e1/c2" for an accepted one. */
export function laneOf(ev) {
  if (!ev.conn || ev.kind === "refuse") return String(ev.endpoint ?? "");
  return `${ev.endpoint}/${ev.conn}`;
}

/** The peer closed (our recv() returned 0: its FIN arrived) rather than this side. */
export function closedByPeer(ev) {
  return ev.kind === "close" && ev.closed_by === "peer";
}
