// The languages the page offers, in the order of the language menu.
// To add one: write xx.js beside this file (copy en.js and translate the values), then list it here.
import en from "./en.js";
import zh from "./zh.js";

export const LANGUAGES = [en, zh];
