// The languages the page offers, in the order of the language menu.
// To add one: write xx.js beside this file (copy en.js and translate the values), then list it here.
import en from "./en.js";
import zh from "./zh.js";
// Error sentences by stable code ("err.<code>", from lab/messages.py), kept in their own files.
import enErrors from "./errors-en.js";
import zhErrors from "./errors-zh.js";

export const LANGUAGES = [{ ...enErrors, ...en }, { ...zhErrors, ...zh }];
