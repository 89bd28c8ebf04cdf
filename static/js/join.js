// The short link's page: a student types the code from the projector (and, if they like, the name
// the class should see), trades the code for a token of their own, and lands on the dashboard with
// it. The QR code on the projector opens this page with the code after "#" (never sent to a server).
import { ApiError, keepToken, post } from "./net/api.js";
import { languages, preferredLanguage, setLanguage, t } from "./i18n.js";

export const NAME_KEY = "socketlab.name"; // the name a student gave: given again at each new stage

const form = document.getElementById("join-form");
const problem = document.getElementById("join-problem");

function show(sentence) {
  problem.textContent = sentence;
  problem.hidden = !sentence;
}

function setUpLanguage() {
  const select = document.getElementById("lang-select");
  for (const { code, name } of languages()) select.append(new Option(name, code));
  select.value = preferredLanguage();
  setLanguage(select.value, { remember: false });
  select.addEventListener("change", () => setLanguage(select.value));
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  show("");
  const code = form.elements.code.value.trim();
  const name = form.elements.name.value.trim();
  if (!code) {
    show(t("join.needCode"));
    return;
  }
  const button = form.querySelector("[type=submit]");
  button.disabled = true;
  try {
    // the name comes with the code: it names this address and gives the student's own name
    const answer = await post("/join", name ? { code, name } : { code });
    keepToken(answer.token);
    if (name) localStorage.setItem(NAME_KEY, name);
    window.location.assign(answer.url.replace(/\?token=.*$/, "")); // the token is in sessionStorage now
  } catch (error) {
    show(error instanceof ApiError ? error.message : String(error));
  } finally {
    button.disabled = false;
  }
});

setUpLanguage();
const stored = localStorage.getItem(NAME_KEY);
if (stored) form.elements.name.value = stored;
const fromQr = decodeURIComponent(window.location.hash.slice(1)).replace(/[^A-Za-z0-9]/g, "").slice(0, 12);
if (fromQr) {
  form.elements.code.value = fromQr;
  history.replaceState(history.state, "", window.location.pathname);
}
(fromQr ? form.elements.name : form.elements.code).focus();
