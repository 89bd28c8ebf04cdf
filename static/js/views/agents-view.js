// The page's side of lab agents: the strip of agents and their states, the agent pickers
// (the create form, the Download form, the Lessons menu) and the agent marks on the cards. It draws
// the model of agents.js; on an embedded dashboard (the session's "agents" is null) it shows nothing.
import { agents, clockOf } from "../models/agents.js";
import { get } from "../net/api.js";
import { cardOf } from "./endpoints.js";
import { el } from "../dom.js";
import { onLanguageChange, t } from "../i18n.js";

const strip = document.getElementById("agents-strip");
const pickers = () => [...document.querySelectorAll("select[data-agent-picker]")];
const touched = new WeakSet(); // pickers a person chose in: their choice is kept while that agent is up

function drawStrip() {
  const items = agents.list().map((a) => {
    const state = a.state === "up" ? t("agents.up") : t("agents.downSince", { time: clockOf(a.since) });
    return el("li", { class: "agent-pill", testid: "agent", data: { agent: a.name, state: a.state },
      title: t("agents.pillTitle", { name: a.name, host: a.host || "?" }) },
    el("span", { class: "dot", "aria-hidden": "true" }), el("b", { class: "agent-name", text: a.name }),
    el("span", { class: "agent-state", testid: "agent-state", text: state }));
  });
  strip.querySelector("ul").replaceChildren(...(items.length ? items
    : [el("li", { class: "agent-none", testid: "agents-none", text: t("agents.none") })]));
  // a folded page (projector, a student's) keeps the strip's row for the lesson while every agent is up
  strip.dataset.allUp = String(items.length > 0 && agents.list().every((a) => a.state === "up"));
}

/** Every agent as an option (down ones shown, not chosen); the only one up when nobody chose. */
function fillPicker(select) {
  const up = agents.up();
  const auto = agents.routed && up.length > 0; // (a class: the dashboard chooses, by what the lesson needs)
  const kept = touched.has(select) && up.includes(select.value) ? select.value : auto ? "" : agents.defaultAgent();
  const options = agents.list().map((a) => el("option", { value: a.name, disabled: a.state !== "up",
    text: a.state === "up" ? a.name : t("agents.optionDown", { name: a.name }) }));
  // several up and none chosen: the server would ask which one (409), so the page asks first
  const choose = el("option", { value: "", disabled: up.length > 0 && !auto,
    text: t(auto ? "agents.auto" : up.length ? "agents.choose" : "agents.noneUp") });
  select.replaceChildren(choose, ...options);
  select.value = kept;
}

function draw() {
  drawStrip();
  for (const select of pickers()) fillPicker(select);
  for (const node of document.querySelectorAll("[data-testid=endpoint-card]")) cardOf(node.dataset.endpointId)?.markAgent();
}

/** The agent a form's picker names, to go in its body as "agent"; null on an embedded dashboard. */
export function chosenAgent(select) {
  return agents.enabled && select && select.value ? select.value : null;
}

/** `body` with "agent" set from `select` when this dashboard drives agents (else unchanged). */
export function withAgent(body, select) {
  const agent = chosenAgent(select);
  return agent ? { ...body, agent } : body;
}

/** GET /api/files of the agent the create form names (each agent serves its own folder); null: none up. */
export function filesPath() {
  if (!agents.enabled) return "/files";
  const picked = document.querySelector("[data-testid=create-agent]")?.value;
  const name = picked || agents.defaultAgent() || agents.routedTo || agents.up()[0];
  return name ? `/files?agent=${encodeURIComponent(name)}` : null;
}

async function reload(failed) {
  try {
    agents.setList(await get("/agents"));
  } catch (error) {
    failed(error.message);
  }
}

/**
 * `list`: the session's "agents" (null: an embedded dashboard, nothing of agents is shown).
 * The model follows the events; on every reconnection GET /api/agents is read again (what came or
 * went while this page was away).
 */
export function initAgents({ list, routed = null, onEvents, onConnected, failed, pickedAgent = () => {} }) {
  agents.setRouted(routed);
  agents.setList(list);
  document.body.classList.toggle("has-agents", agents.enabled);
  if (!agents.enabled) return;
  for (const node of document.querySelectorAll("[data-agents]")) node.hidden = false;
  for (const select of pickers()) {
    select.addEventListener("change", () => {
      touched.add(select);
      pickedAgent(); // (the file menus follow the chosen agent's folder)
    });
  }
  agents.onChange(draw);
  onEvents((events) => agents.applyEvents(events));
  onConnected(() => reload(failed));
  onLanguageChange(draw);
  draw();
}
