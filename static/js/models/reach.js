// Where students reach a lab server: the addresses they must type in their own programs. A server
// bound to 0.0.0.0 (or ::) listens on every interface, and "0.0.0.0" is no address a student can
// connect to, so the endpoint JSON lists the machine's real ones (`reachable`, LAN first): those
// are shown, the LAN ones plain, the others (loopback, a container bridge, link-local) marked,
// because a student's laptop cannot reach them. Pure (no DOM): card.js and join-panel.js word it.

const WILDCARDS = new Set(["0.0.0.0", "::", ""]);
const SERVERS = new Set(["tcp-server", "udp-server"]);
const LIVE = new Set(["listening", "bound", "ready"]);

/** "192.168.1.10:40123", or "[fd00::1]:40123". */
export const hostPort = (host, port) => (String(host).includes(":") ? `[${host}]:${port}` : `${host}:${port}`);

const isLoopback = (host) => /^127\./.test(host) || host === "::1" || host === "localhost";

/**
 * [{address, port, kind, interface}] a student may type for endpoint `ep`: its `reachable` list
 * when it is bound to every address, else its own address (kind "loopback" or "lan"). Empty for a
 * server with no local address yet.
 */
export function reachableOf(ep) {
  if (!ep || !Array.isArray(ep.local)) return [];
  const [host, port] = ep.local;
  if (Array.isArray(ep.reachable)) {
    return ep.reachable
      .filter((a) => a && typeof a.address === "string")
      .map((a) => ({ address: a.address, port, kind: String(a.kind || "lan"), interface: String(a.interface || "") }));
  }
  if (WILDCARDS.has(String(host))) return [];
  return [{ address: String(host), port, kind: isLoopback(String(host)) ? "loopback" : "lan", interface: "" }];
}

/** The live servers of a list of endpoints, in the list's order (what the Join panel lists). */
export function liveServers(list) {
  return (Array.isArray(list) ? list : []).filter((ep) => SERVERS.has(ep.kind) && LIVE.has(String(ep.state)));
}

/** The line a student copies into a program: connect(...) for TCP, sendto(...) for UDP. */
export function callFor(kind, address, port) {
  const where = `("${address}", ${port})`;
  return kind === "udp-server" ? `sendto(b"hi", ${where})` : `connect(${where})`;
}
