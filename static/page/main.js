"use strict";
// The form, and where the page starts: the chat this browser was in.
form.addEventListener("submit", (event) => {
  event.preventDefault();
  const message = prompt.value;
  if ((!message.trim() && !pending.length) || source) return;
  if (config.access === "keys" && !accessKey()) {
    addError("This chat needs an access key: ask its owner for one.");
    return;
  }
  if (config.access === "jwt" && !token) {
    addError(SIGN_IN_FIRST);
    requestToken();
    return;
  }
  // A key just given, or another user's token: their shelf first, never the last one's chat.
  followOwner();
  prompt.value = "";
  ask(message);
});

prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

document.getElementById("new-chat").addEventListener("click", () => {
  if (source) stop.click();
  showChat(null);
});

// Whose chats are on screen. When whoever is asking changes (a key given or forgotten, another
// user signed in), their own shelf replaces it: at once when they act here, else within a second
// (a token handed over by the app), once no answer is streaming.
let shownOwner = shelfOwner();
function followOwner() {
  const owner = shelfOwner();
  if (owner === shownOwner || source) return;
  shownOwner = owner;
  showChat(loadShelf().current);
}
// The chat this browser was in, with an answer it was running.
showChat(loadShelf().current);
setInterval(followOwner, 1000);
