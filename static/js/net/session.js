// Who is looking: the access-token prompt (shown when the API answers 401) and the role
// (GET /api/session: "view" hides every control and shows the "view only" badge).
import { ApiError, get, setTokenPrompt } from "./api.js";
import { setKinds, setModes } from "../models/kinds.js";
import { setEventFields } from "../models/recording.js";

const dialog = document.getElementById("token-dialog");
const form = document.getElementById("token-form");
const input = document.getElementById("token-input");
const wrong = document.getElementById("token-wrong");

/** Show the token form; resolves with what the user typed. */
function askForToken(rejected) {
  wrong.hidden = !rejected;
  input.value = "";
  if (!dialog.open) dialog.showModal();
  input.focus();
  return new Promise((resolve) => {
    const submitted = (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!value) return;
      form.removeEventListener("submit", submitted);
      dialog.close();
      resolve(value);
    };
    form.addEventListener("submit", submitted);
  });
}

// Escape must not leave the page without a token and every request waiting.
dialog.addEventListener("cancel", (event) => event.preventDefault());

export function installTokenPrompt() {
  setTokenPrompt(askForToken);
}

/**
 * GET /api/session: the role ("control" or "view"; a server without /api/session is a control
 * session) and the registries the page reads instead of listing them itself (kinds, modes, framings,
 * an event's fields).
 */
export async function loadSession() {
  let session = null;
  try {
    session = await get("/session");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
  setKinds(session?.kinds);
  setEventFields(session?.event_fields);
  setModes(session?.modes, session?.framings);
  const lessons = Array.isArray(session?.lessons) ? session.lessons : []; // the Lessons menu (teach.js)
  // "agents": a list over lab agents, null on an embedded dashboard (nothing of agents shown)
  const agents = Array.isArray(session?.agents) ? session.agents : null;
  // the wire: whether this lab captures packets, and the code of why not
  const wire = session && "capture" in session
    ? { sandbox: Boolean(session.sandbox), capture: Boolean(session.capture), impair_tcp: session.impair_tcp !== false,
      why_not: session.why_not ?? {} } : null;
  // a student's own token is a viewer on the page, that may also name itself (join-panel.js)
  const role = session && (session.role === "view" || session.role === "student") ? "view" : "control";
  const student = session?.role === "student" && typeof session.student === "string" ? session.student : null;
  return { role, student, lessons, agents, wire };
}

/**
 * Controls carry data-control; the stylesheet hides them all in a view-only session. A viewer's page
 * (the view link, a student's own token) is folded like a projector's (html.compact: cards as chips,
 * the banner on one line) at its normal type size: on a laptop the lesson's view gets the screen.
 */
export function applyRole(role) {
  document.body.classList.toggle("view-only", role === "view");
  document.documentElement.classList.toggle("compact", role === "view");
  document.getElementById("view-only-badge").hidden = role !== "view";
}
