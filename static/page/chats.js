"use strict";
// The chats kept in this browser, a shelf per owner.
// Your chats, kept in this browser only (no server store): each owner (the public, an access
// key, a signed-in user) has a shelf of their own, newest first, at most CHATS_KEPT chats and
// CHATS_BYTES of JSON, the oldest dropped first. A chat keeps its transcript and the id of its
// last answer (what it goes on from); an answer still running keeps where it was, so a reload
// picks it up.
const CHATS_KEPT = 50;
const CHATS_BYTES = 2000000;
const chatsBox = document.getElementById("chats");
const chatList = document.getElementById("chat-list");
let openChat = null;
let leaving = false;
// Before the page's streams are closed under it, whichever event comes first.
for (const event of ["beforeunload", "pagehide"]) window.addEventListener(event, () => { leaving = true; });

function fnv(text) {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16);
}
function shelfOwner() {
  if (config.access === "keys") {
    const key = localStorage.getItem(KEY_STORE);
    return key ? "key-" + fnv(key) : null;
  }
  if (config.access === "jwt") {
    if (!token) return null;
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(atob(part + "=".repeat((4 - part.length % 4) % 4)));
      return "user-" + fnv(`${claims.iss} ${claims.sub}`);
    } catch (_) { return null; }
  }
  return "public";
}
function shelfName() { const owner = shelfOwner(); return owner && "chat-shelf:" + owner; }
function loadShelf() {
  const name = shelfName();
  try { return (name && JSON.parse(localStorage.getItem(name))) || { current: null, chats: [] }; }
  catch (_) { return { current: null, chats: [] }; }
}
function saveShelf(shelf) {
  const name = shelfName();
  if (!name) return;
  shelf.chats.sort((a, b) => b.updated - a.updated);
  shelf.chats.length = Math.min(shelf.chats.length, CHATS_KEPT);
  for (;;) {
    const text = JSON.stringify(shelf);
    try {
      if (text.length <= CHATS_BYTES || shelf.chats.length <= 1) { localStorage.setItem(name, text); return; }
    } catch (_) { if (shelf.chats.length <= 1) return; }
    shelf.chats.pop();
  }
}
/** Changes the open chat's record with `change`, and keeps it. */
function keepChat(change) {
  const shelf = loadShelf();
  let chat = shelf.chats.find((c) => c.id === openChat);
  if (!chat) return;
  change(chat);
  chat.updated = Date.now();
  shelf.current = chat.id;
  saveShelf(shelf);
  renderShelf(shelf);
}
/** The open chat, begun with `message` when there is none yet. */
function chatFor(message) {
  const shelf = loadShelf();
  if (!shelf.chats.some((c) => c.id === openChat)) {
    openChat = crypto.randomUUID();
    const title = (message || "New chat").trim().replace(/\s+/g, " ").slice(0, 60);
    shelf.chats.unshift({ id: openChat, title, updated: Date.now(), previousResponseId: null, turns: [], running: null });
    shelf.current = openChat;
    saveShelf(shelf);
  }
}
/** What an answer's turn shows, to keep: its text, its reasoning, its sources. */
function turnOf(turn) {
  const reasoning = turn.querySelector(".reasoning");
  const sources = [...turn.querySelectorAll(".sources a")].map((a) => ({ url: a.href, title: a.textContent }));
  return { who: "bot", text: turn.dataset.raw || "", reasoning: reasoning ? reasoning.dataset.raw || "" : "", sources };
}
function renderShelf(shelf = loadShelf()) {
  chatsBox.hidden = shelf.chats.length === 0;
  chatList.replaceChildren(...shelf.chats.map((chat) => {
    const open = el("button", [chat.title]);
    open.type = "button";
    open.className = "open-chat";
    open.setAttribute("aria-label", `Open chat: ${chat.title}`);
    open.addEventListener("click", () => showChat(chat.id));
    const rename = el("button", ["Rename"]);
    rename.type = "button";
    rename.className = "chat-action";
    rename.setAttribute("aria-label", `Rename chat: ${chat.title}`);
    rename.addEventListener("click", () => {
      const title = (window.prompt("Rename this chat:", chat.title) || "").trim();
      if (!title) return;
      const shelf = loadShelf();
      const kept = shelf.chats.find((c) => c.id === chat.id);
      if (kept) kept.title = title.slice(0, 60);
      saveShelf(shelf);
      renderShelf(shelf);
    });
    const remove = el("button", ["Delete"]);
    remove.type = "button";
    remove.className = "chat-action";
    remove.setAttribute("aria-label", `Delete chat: ${chat.title}`);
    remove.addEventListener("click", () => {
      if (!window.confirm(`Delete the chat “${chat.title}”?`)) return;
      const shelf = loadShelf();
      shelf.chats = shelf.chats.filter((c) => c.id !== chat.id);
      if (shelf.current === chat.id) shelf.current = null;
      saveShelf(shelf);
      if (openChat === chat.id) showChat(null);
      else renderShelf(shelf);
    });
    for (const button of [open, rename, remove]) button.disabled = Boolean(source);
    const item = el("li", [open, rename, remove]);
    if (chat.id === openChat) item.setAttribute("aria-current", "true");
    return item;
  }));
}
/** Shows chat `id` (none: a new one), its transcript, and picks up an answer it was running. */
function showChat(id) {
  openApprovals.forEach((close) => close());
  openApprovals = [];
  log.replaceChildren();
  const shelf = loadShelf();
  const chat = shelf.chats.find((c) => c.id === id) || null;
  openChat = chat ? chat.id : null;
  previousResponseId = chat ? chat.previousResponseId : null;
  shelf.current = openChat;
  saveShelf(shelf);
  let running = null;
  for (const [index, turn] of (chat ? chat.turns : []).entries()) {
    if (turn.who === "me") { addUserTurn(turn.text, turn.files); continue; }
    const answer = addAnswer();
    if (turn.reasoning) answer.think(turn.reasoning);
    if (turn.text) answer.append(turn.text);
    for (const source of turn.sources || []) answer.cite(source);
    if (chat.running && index === chat.turns.length - 1) running = answer; else answer.done();
  }
  renderShelf(shelf);
  if (running) ask(null, null, { answer: running, lastEventId: chat.running.lastEventId });
  prompt.focus();
}

function setBusy(busy) {
  send.disabled = busy;
  stop.hidden = !busy;
  for (const button of chatList.querySelectorAll("button")) button.disabled = busy;
  if (!busy) prompt.focus();
}
