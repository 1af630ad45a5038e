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

// The chat this browser was in, with an answer it was running; another owner's shelf when the
// signed-in user changes.
let shownOwner = shelfOwner();
showChat(loadShelf().current);
setInterval(() => {
  const owner = shelfOwner();
  if (owner !== shownOwner && !source) { shownOwner = owner; showChat(loadShelf().current); }
}, 1000);
