// The nine lessons of docs/lessons.md, in teaching order. Each one makes its sockets in one
// click and returns the banner's action buttons; the words live in the translation tables
// (lessons.<n>.title / .do / .see, lessons.act.*).
import { get, post } from "./api.js";

const BROADCAST = "127.255.255.255"; // loopback's broadcast address: one machine, many receivers
const HTTP_GET = "GET / HTTP/1.0\r\n\r\n";

/** A sample file worth watching arrive: the 1 MiB one when the folder has it. */
async function bigFile() {
  const files = (await get("/files")) || [];
  const big = files.find((f) => f.name === "random-1MB.bin") || [...files].sort((a, b) => b.size - a.size)[0];
  return big ? big.name : null;
}

/**
 * `lab` is what a preset may do: make(spec) -> endpoint (remembered, so the next lesson can clean
 * up), send(id) with the card's own send box, prefill(id, values), download(body), refresh(),
 * showDownload(serverId, values), openCompare(), tryMake(spec) -> sentence of the refusal.
 */
export const LESSONS = [
  {
    n: 1, key: "echo",
    async build(lab) {
      const server = await lab.make({ kind: "tcp-server", port: 0, mode: "echo" });
      const client = await lab.make({ kind: "tcp-client", port: server.local[1] });
      await lab.refresh();
      lab.prefill(client.id, { data: "hello" });
      return { actions: [{ label: "lessons.act.sendHello", run: () => lab.send(client.id) }] };
    },
  },
  {
    n: 2, key: "clients",
    async build(lab) {
      const server = await lab.make({ kind: "tcp-server", port: 0, mode: "echo" });
      const clients = [];
      for (let i = 1; i <= 3; i++) clients.push(await lab.make({ kind: "tcp-client", port: server.local[1] }));
      await lab.refresh();
      clients.forEach((c, i) => lab.prefill(c.id, { data: `client ${i + 1}` }));
      return { actions: [
        { label: "lessons.act.oneMore", run: () => lab.make({ kind: "tcp-client", port: server.local[1] }) },
        { label: "lessons.act.sendAll", run: () => Promise.all(clients.map((c) => lab.send(c.id))) },
      ] };
    },
  },
  {
    n: 3, key: "stop",
    async build(lab) {
      const server = await lab.make({ kind: "tcp-server", port: 0, mode: "echo" });
      const first = await lab.make({ kind: "tcp-client", port: server.local[1] });
      await lab.make({ kind: "tcp-client", port: server.local[1] });
      await lab.refresh();
      lab.prefill(first.id, { data: "still here?" });
      const port = server.local[1];
      return { actions: [
        { label: "lessons.act.stopListening", run: () => post(`/endpoints/${server.id}/stop-listening`) },
        { label: "lessons.act.newClient", run: () => lab.tryMake({ kind: "tcp-client", port }) },
        { label: "lessons.act.sendFirst", run: () => lab.send(first.id) },
        { label: "lessons.act.stopServer", run: () => lab.remove(server.id) },
      ] };
    },
  },
  {
    n: 4, key: "sticky",
    async build(lab) {
      // the two servers first, so their counters sit side by side in the first row of cards
      const raw = await lab.make({ kind: "tcp-server", port: 0, mode: "manual" });
      const line = await lab.make({ kind: "tcp-server", port: 0, mode: "manual", framing: "line" });
      const rawClient = await lab.make({ kind: "tcp-client", port: raw.local[1] });
      const lineClient = await lab.make({ kind: "tcp-client", port: line.local[1], framing: "line" });
      await lab.refresh();
      const burst = { data: "hello", repeat: 20, interval: 0, numbered: true };
      lab.prefill(rawClient.id, burst);
      lab.prefill(lineClient.id, burst);
      return { actions: [{ label: "lessons.act.burst",
        run: () => Promise.all([lab.send(rawClient.id), lab.send(lineClient.id)]) }] };
    },
  },
  {
    n: 5, key: "files",
    async build(lab) {
      const file = await bigFile();
      const raw = await lab.make({ kind: "tcp-server", port: 0, mode: "file", file });
      const framed = await lab.make({ kind: "tcp-server", port: 0, mode: "files", protocol: "framed" });
      await lab.refresh();
      lab.showDownload(framed.id, { file, protocol: "framed" });
      return { actions: [
        { label: "lessons.act.downloadRaw", run: () => lab.download({ host: raw.local[0], port: raw.local[1], protocol: "raw" }) },
        { label: "lessons.act.downloadFramed",
          run: () => lab.download({ host: framed.local[0], port: framed.local[1], file, protocol: "framed" }) },
      ] };
    },
  },
  {
    n: 6, key: "relay",
    async build(lab) {
      const server = await lab.make({ kind: "tcp-server", port: 0, mode: "relay", framing: "line" });
      const clients = [];
      for (let i = 1; i <= 3; i++) clients.push(await lab.make({ kind: "tcp-client", port: server.local[1], framing: "line" }));
      await lab.refresh();
      clients.forEach((c, i) => lab.prefill(c.id, { data: i === 0 ? "hello, class!" : `hi from client ${i + 1}` }));
      return { actions: [{ label: "lessons.act.sendFirst", run: () => lab.send(clients[0].id) }] };
    },
  },
  {
    n: 7, key: "http",
    async build(lab) {
      const server = await lab.make({ kind: "tcp-server", port: 0, mode: "http" });
      await lab.refresh();
      const [host, port] = server.local;
      const byHand = async () => {
        const client = await lab.make({ kind: "tcp-client", host, port });
        await post(`/endpoints/${client.id}/send`, { data: HTTP_GET });
      };
      return { link: `http://${host}:${port}/`, actions: [{ label: "lessons.act.getByHand", run: byHand }] };
    },
  },
  {
    n: 8, key: "compare",
    async build(lab) {
      lab.openCompare();
      return { actions: [{ label: "lessons.act.openCompare", run: () => lab.openCompare() }] };
    },
  },
  {
    n: 9, key: "broadcast",
    async build(lab) {
      const first = await lab.make({ kind: "udp-server", host: BROADCAST, port: 0, mode: "manual" });
      const port = first.local[1];
      for (let i = 0; i < 2; i++) await lab.make({ kind: "udp-server", host: BROADCAST, port, mode: "manual" });
      const client = await lab.make({ kind: "udp-client", host: BROADCAST, port, broadcast: true });
      await lab.refresh();
      lab.prefill(client.id, { data: "hello, everyone" });
      return { actions: [{ label: "lessons.act.broadcast", run: () => lab.send(client.id) }] };
    },
  },
];
