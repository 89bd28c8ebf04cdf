// "Trace your program", on a student's page: the one-file tracer (GET /trace.py, made for this
// student with their own token in it) and the one command that runs their program with it. Nothing
// to install: the file needs only Python 3.8 or later. The file is fetched with the token in the
// Authorization header and saved from memory, so the token never shows in an address or a history.
import { authHeaders, errorSentence } from "../net/api.js";
import { el } from "../dom.js";
import { onLanguageChange, t } from "../i18n.js";

export const FILE_NAME = "socketlab_trace.py";
export const COMMANDS = [
  { key: "trace.unix", line: `python3 ${FILE_NAME} my_server.py` },
  { key: "trace.windows", line: `py ${FILE_NAME} my_server.py` },
];

let dialog = null;
let problem = "";

async function download(button) {
  button.disabled = true;
  problem = "";
  try {
    const answer = await fetch("/trace.py", { headers: authHeaders(), cache: "no-store" });
    if (!answer.ok) {
      let body = null;
      try {
        body = await answer.json();
      } catch {
        // not JSON: the generic sentence below
      }
      throw new Error(errorSentence(body) || t("error.status", { status: answer.status }));
    }
    const url = URL.createObjectURL(await answer.blob());
    const link = el("a", { href: url, download: FILE_NAME, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    problem = error instanceof TypeError ? t("error.network") : error.message;
  } finally {
    button.disabled = false;
    render();
  }
}

function render() {
  if (!dialog) return;
  const close = el("button", { type: "button", class: "btn trace-close", testid: "trace-close", text: t("trace.close") });
  close.addEventListener("click", () => dialog.close());
  const button = el("button", { type: "button", class: "btn primary trace-download", testid: "trace-download",
    text: t("trace.download", { file: FILE_NAME }) });
  button.addEventListener("click", () => download(button));
  const commands = COMMANDS.map(({ key, line }) => el("li", { class: "trace-command", testid: "trace-command" },
    el("span", { class: "trace-os", text: t(key) }), el("code", { text: line })));
  dialog.replaceChildren(
    el("div", { class: "trace-head" }, el("h2", { id: "trace-panel-title", text: t("trace.title") }), close),
    el("p", { class: "trace-intro", text: t("trace.intro") }),
    el("ol", { class: "trace-steps" },
      el("li", {}, el("p", { text: t("trace.step1") }), button,
        problem ? el("p", { class: "notice", "data-tone": "error", role: "alert", testid: "trace-problem", text: problem }) : null),
      el("li", {}, el("p", { text: t("trace.step2") }), el("ul", { class: "trace-commands" }, ...commands))),
    el("p", { class: "hint trace-keep", text: t("trace.keep") }),
  );
}

function toggle() {
  if (dialog.open) {
    dialog.close();
    return;
  }
  render();
  dialog.showModal();
}

/** `student`: this page's student name (GET /api/session), or null: only a student gets a file. */
export function initTracePanel({ student }) {
  const button = document.getElementById("trace-open");
  dialog = document.getElementById("trace-panel");
  if (!button || !dialog) return;
  button.hidden = !student;
  if (!student) return;
  button.addEventListener("click", toggle);
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close(); // a click on the backdrop
  });
  onLanguageChange(() => {
    if (dialog.open) render();
  });
}
