// Payload previews in the encoding a student's program used. The lab sends the first 64 bytes as
// hex; we decode those bytes here (TextDecoder, so GBK 你好 "c4 e3 ba c3" reads as 你好), show
// control characters as escapes and bytes that are not valid text as a marked U+FFFD. Never throws.
import { el } from "../dom.js";

export const ENCODINGS = ["utf-8", "gbk", "latin1", "hex"];
const ESCAPES = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0" };
const decoders = new Map();
const cache = new Map(); // `${encoding} ${hex}` -> text (small: previews repeat a lot)

/** Bytes from "68 65 6c"; null when there is no preview or it is not hex. */
export function bytesOf(hex) {
  if (typeof hex !== "string" || !hex) return null;
  const parts = hex.trim().split(/\s+/);
  const out = new Uint8Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const n = /^[0-9a-fA-F]{2}$/.test(parts[i]) ? parseInt(parts[i], 16) : NaN;
    if (Number.isNaN(n)) return null;
    out[i] = n;
  }
  return out;
}

function decoder(encoding) {
  if (!decoders.has(encoding)) {
    let d = null;
    try {
      d = new TextDecoder(encoding, { fatal: false });
    } catch {
      d = null; // a browser without this encoding: the caller falls back to UTF-8
    }
    decoders.set(encoding, d);
  }
  return decoders.get(encoding);
}

/**
 * The event's preview as text in `encoding` ("utf-8", "gbk", "latin1") or as hex ("hex").
 * Without a hex preview the server's UTF-8 text is all there is.
 */
export function decodeText(ev, encoding) {
  if (encoding === "hex") return ev.hex || "";
  // the server's own preview is UTF-8 with U+FFFD already: the same text, without the work
  if (encoding === "utf-8" && typeof ev.data === "string" && !isCut(ev)) return ev.data;
  const bytes = bytesOf(ev.hex);
  if (!bytes) return typeof ev.data === "string" ? ev.data : "";
  const key = `${encoding} ${ev.hex}`;
  if (cache.has(key)) return cache.get(key);
  let text;
  if (encoding === "latin1") {
    // ISO-8859-1 itself: every byte is the code point of the same number (TextDecoder's "latin1" is windows-1252)
    text = Array.from(bytes, (b) => String.fromCharCode(b)).join("");
  } else {
    const name = decoder(encoding) ? encoding : "utf-8";
    // a cut preview may end in the middle of a character: that tail is not the sender's error,
    // so it is held back (stream mode, in a decoder of its own) instead of shown as invalid
    text = isCut(ev) ? new TextDecoder(name).decode(bytes, { stream: true }) : decoder(name).decode(bytes);
  }
  if (cache.size > 5000) cache.clear();
  cache.set(key, text);
  return text;
}

/** True when the preview is shorter than the payload (only the first bytes were kept). */
export const isCut = (ev) => typeof ev.hex === "string" && ev.hex !== "" && Number(ev.size) > (ev.hex.length + 1) / 3;

/** Append `text` to `node`: control characters as escapes, U+FFFD marked as an invalid byte. */
export function appendText(node, text, { title = "" } = {}) {
  if (!text) return node;
  for (const part of text.split(/([\x00-\x1f\x7f\ufffd])/)) {
    if (!part) continue;
    if (part === "\ufffd") {
      node.append(el("span", { class: "bad-byte", text: "\ufffd", title: title || undefined }));
    } else if (/^[\x00-\x1f\x7f]$/.test(part)) {
      const code = part.charCodeAt(0);
      node.append(el("span", { class: "ctrl", text: ESCAPES[part] || `\\x${code.toString(16).padStart(2, "0")}` }));
    } else {
      node.append(part);
    }
  }
  return node;
}

/** A classic hex dump: offset, 16 bytes, and the printable ASCII beside them. */
export function hexDump(hex) {
  const bytes = bytesOf(hex);
  if (!bytes) return "";
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const chunk = Array.from(bytes.slice(i, i + 16));
    const hexPart = chunk.map((b) => b.toString(16).padStart(2, "0")).join(" ").padEnd(47, " ");
    const ascii = chunk.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${i.toString(16).padStart(4, "0")}  ${hexPart}  ${ascii}`);
  }
  return lines.join("\n");
}
