"use strict";
// The page's setup and who is asking: its config, the elements every part uses, the access key
// (keys mode) and the signed-in user's token (jwt mode).
// A token handed over in the address (#access_token=…) leaves the address bar and the history
// at once, in every mode; only jwt mode uses it.
const handedToken = new URLSearchParams(location.hash.slice(1)).get("access_token");
if (handedToken !== null) history.replaceState(null, "", location.pathname + location.search);
const config = JSON.parse(document.getElementById("config").textContent);
const log = document.getElementById("log");
const form = document.getElementById("chat-form");
const prompt = document.getElementById("prompt");
const send = document.getElementById("send");
const stop = document.getElementById("stop");
let source = null;
let previousResponseId = null;

// Keys mode: the access key is asked for once, kept in this browser only, and can be forgotten.
const KEY_STORE = "chat-access-key";
const forgetKey = document.getElementById("forget-key");
function accessKey() {
  if (config.access !== "keys") return null;
  let key = localStorage.getItem(KEY_STORE);
  if (!key) {
    key = (window.prompt("This chat needs an access key. Paste yours (it stays in this browser):") || "").trim();
    if (key) localStorage.setItem(KEY_STORE, key);
  }
  forgetKey.hidden = !key;
  return key || null;
}
function forgetAccessKey() {
  localStorage.removeItem(KEY_STORE);
  forgetKey.hidden = true;
}
forgetKey.addEventListener("click", () => { forgetAccessKey(); followOwner(); prompt.focus(); });
if (config.access === "keys") forgetKey.hidden = !localStorage.getItem(KEY_STORE);

// Jwt mode: the signed-in user's token, in memory only, from the address or from the app that
// embeds the page (only an allowed origin, as the parent window; the newest token wins).
const SIGN_IN_FIRST = "Sign in first: this chat is for the signed-in users of its app.";
const SIGN_IN_AGAIN = "Your sign-in has expired or is not valid; sign in again.";
const embedded = window.parent !== window;
const tokenOrigins = (config.access === "jwt" && config.tokenOrigins) || [];
let token = (config.access === "jwt" && handedToken) || null;
function requestToken() {
  if (!embedded) return;
  // Where the browser names the parent's origin, post only there (others would be refused).
  const parentOrigin = location.ancestorOrigins && location.ancestorOrigins[0];
  for (const origin of tokenOrigins) {
    if (!parentOrigin || parentOrigin === origin) window.parent.postMessage({ type: "chat:token-request" }, origin);
  }
}
window.addEventListener("message", (event) => {
  if (!embedded || event.source !== window.parent || !tokenOrigins.includes(event.origin)) return;
  const data = event.data;
  if (data && data.type === "chat:token" && typeof data.token === "string" && data.token) token = data.token;
});
requestToken();
