// The send box of a card: data, encoding, target, and the burst controls (repeat N, interval,
// numbered, add newline) that make the sticky-packet and periodic-send demos one click.
import { post } from "../net/api.js";
import { el, parseHostPort } from "../dom.js";
import { t } from "../i18n.js";

const MAX_REPEAT = 10000;
const MAX_INTERVAL = 60000;

function numberInput(name, value, max, testid, label) {
  return el("input", { name, class: "burst-num", value: String(value), inputmode: "numeric", maxlength: String(String(max).length),
    testid, "data-i18n-aria-label": label, "data-i18n-title": label });
}

function checkbox(name, testid, label, title) {
  const box = el("input", { type: "checkbox", name, testid });
  const wrap = el("label", { class: "burst-check", "data-i18n-title": title }, box, el("span", { i18n: label }));
  return { box, wrap };
}

/** "1" .. "10000" -> a whole number within [low, high], else null. */
function whole(text, low, high) {
  if (!/^\d+$/.test(String(text).trim())) return null;
  const n = Number(text);
  return n >= low && n <= high ? n : null;
}

export class SendBox {
  /** `card` gives kind, id, the notice box and changed(); the box is card.sendBox.form. */
  constructor(card) {
    this.card = card;
    this.newlineFor = null; // the line framing that adds the delimiter itself, when it does
    const data = el("input", { name: "data", class: "send-data", spellcheck: "false", testid: "send-data",
      "data-i18n-aria-label": "send.data" });
    const encoding = el("select", { name: "encoding", testid: "send-encoding", "data-i18n-aria-label": "send.encoding" },
      el("option", { value: "utf-8", i18n: "send.enc.utf-8" }),
      el("option", { value: "hex", i18n: "send.enc.hex" }));
    const placeholder = () => {
      data.dataset.i18nPlaceholder = `send.placeholder.${encoding.value === "hex" ? "hex" : "text"}`;
      data.placeholder = t(data.dataset.i18nPlaceholder);
    };
    encoding.addEventListener("change", placeholder);
    data.addEventListener("input", () => this.showSent(null));
    placeholder();
    const main = el("div", { class: "send-main" }, data, encoding);
    if (card.kind === "tcp-server") {
      this.target = el("select", { name: "conn", testid: "send-conn", "data-i18n-aria-label": "send.target",
        "data-i18n-title": "send.target" });
      main.append(this.target);
    }
    if (card.kind === "udp-server") {
      main.append(el("input", { name: "to", class: "send-to", spellcheck: "false", testid: "send-to",
        "data-i18n-placeholder": "send.to.placeholder", "data-i18n-aria-label": "send.to", "data-i18n-title": "send.to" }));
    }
    main.append(el("button", { type: "submit", class: "btn primary", testid: "send-submit", i18n: "send.submit" }));

    this.repeat = numberInput("repeat", 1, MAX_REPEAT, "send-repeat", "burst.repeatTitle");
    this.interval = numberInput("interval", 0, MAX_INTERVAL, "send-interval", "burst.intervalTitle");
    this.numbered = checkbox("numbered", "send-numbered", "burst.numbered", "burst.numberedTitle");
    this.newline = checkbox("newline", "send-newline", "burst.newline", "burst.newlineTitle");
    // The burst controls fold away until wanted (a lesson preset opens them): cards stay short.
    this.burst = el("div", { class: "burst", testid: "send-burst", hidden: true },
      el("span", { class: "burst-label", i18n: "burst.repeat" }), this.repeat,
      el("span", { class: "burst-label", i18n: "burst.every" }), this.interval,
      el("span", { class: "burst-label", text: "ms" }), this.numbered.wrap);
    this.toggle = el("button", { type: "button", class: "btn small ghost burst-toggle", testid: "send-burst-toggle",
      "aria-expanded": "false", "data-i18n-title": "burst.toggleTitle" });
    this.toggle.addEventListener("click", () => this.openBurst(this.burst.hidden));
    this.repeat.addEventListener("input", () => this.labelToggle());
    this.sent = el("span", { class: "sent", testid: "send-result", "aria-live": "polite" });
    const extras = el("div", { class: "send-extras" }, this.newline.wrap, this.toggle, this.sent);
    this.form = el("form", { class: "send-form", testid: "send-form", "data-control": true, novalidate: true },
      main, extras, this.burst);
    this.labelToggle();
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  /**
   * `framing` of this endpoint, and `peerFraming` of the lab server a raw client talks to.
   * A line-framed endpoint ends every message with its delimiter itself (the lab frames what it
   * sends), so the page must not add one too: the toggle shows that, locked. A raw client of a
   * line-framed "\n" server gets the toggle switched on once, so typing a line just works.
   */
  setFraming(ep, peerFraming) {
    const own = ep.framing === "line" || ep.framing === "length";
    const { box, wrap } = this.newline;
    this.newlineFor = own ? ep.framing : null;
    box.disabled = own;
    if (own) box.checked = ep.framing === "line" && ep.delimiter === "\n";
    wrap.dataset.i18nTitle = own ? `burst.newlineBy.${ep.framing}` : "burst.newlineTitle";
    wrap.title = t(wrap.dataset.i18nTitle);
    wrap.hidden = ep.framing === "length";
    const wantsLines = !own && peerFraming?.framing === "line" && peerFraming.delimiter === "\n";
    if (wantsLines && this.defaultedFor !== "line") box.checked = true;
    this.defaultedFor = wantsLines ? "line" : null;
  }

  openBurst(open) {
    this.burst.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    this.labelToggle();
  }

  /** "Burst ▸", or "× 20 ▾" once a repeat count is set, so a folded burst still shows. */
  labelToggle() {
    const n = whole(this.repeat.value, 1, MAX_REPEAT);
    const arrow = this.burst.hidden ? "▸" : "▾";
    this.toggle.textContent = n > 1 ? `× ${n} ${arrow}` : `${t("burst.toggle")} ${arrow}`;
  }

  /** Fill the box from a lesson preset: {data, repeat, interval, numbered, newline}. */
  prefill({ data, repeat, interval, numbered, newline } = {}) {
    const f = this.form.elements;
    if (data !== undefined) f.data.value = data;
    if (repeat !== undefined) this.repeat.value = String(repeat);
    if (interval !== undefined) this.interval.value = String(interval);
    if (numbered !== undefined) this.numbered.box.checked = numbered;
    if (newline !== undefined && !this.newline.box.disabled) this.newline.box.checked = newline;
    if (repeat !== undefined || interval !== undefined || numbered !== undefined) this.openBurst(true);
    this.showSent(null);
  }

  /** The request body, or a translated sentence saying what is wrong. */
  body() {
    const f = this.form.elements;
    const encoding = f.encoding.value;
    let data = f.data.value;
    if (this.newline.box.checked && !this.newlineFor) data += encoding === "hex" ? " 0a" : "\n";
    const body = { data, encoding };
    if (this.target && this.target.value) body.conn = this.target.value;
    const to = f.to?.value.trim();
    if (to) {
      body.to = parseHostPort(to);
      if (!body.to) return t("error.address");
    }
    const repeat = whole(this.repeat.value, 1, MAX_REPEAT);
    const interval = whole(this.interval.value, 0, MAX_INTERVAL);
    if (repeat === null) return t("burst.error.repeat", { max: MAX_REPEAT });
    if (interval === null) return t("burst.error.interval", { max: MAX_INTERVAL });
    if (repeat > 1) Object.assign(body, { repeat, interval_ms: interval });
    if (this.numbered.box.checked) body.numbered = true;
    return body;
  }

  async submit() {
    const body = this.body();
    if (typeof body === "string") {
      this.card.notice.show(body);
      return null;
    }
    this.showSent(null);
    try {
      const answer = await post(`/endpoints/${this.card.id}/send`, body);
      this.card.notice.clear();
      this.showSent({ sent: answer?.sent ?? 0, scheduled: answer?.scheduled ?? 0, repeat: body.repeat || 1,
        interval: body.interval_ms || 0 });
      this.card.changed(); // byte counts, and a UDP client's port chosen at its first sendto()
      return answer;
    } catch (error) {
      this.card.notice.show(error.message);
      return null;
    }
  }

  /** "sent 5 bytes", "sent 100 bytes in 20 send()", "sent the first; 19 more every 50 ms"; null clears. */
  showSent(result) {
    this.lastSent = result;
    if (!result) {
      this.sent.textContent = "";
      return;
    }
    const { sent, scheduled, repeat, interval } = result;
    if (scheduled) this.sent.textContent = t("burst.scheduled", { n: sent, more: scheduled, ms: interval });
    else if (repeat > 1) this.sent.textContent = t("burst.sent", { n: sent, times: repeat });
    else this.sent.textContent = t("send.sent", { n: sent });
  }

  /** Redraw what depends on the language. */
  relabel() {
    this.labelToggle();
    if (this.lastSent) this.showSent(this.lastSent);
  }
}
