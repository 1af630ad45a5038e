"use strict";
// Asking: a question's answer streamed (EventSource, or PostedStream for a POST), kept as it
// grows, stopped upstream on Stop.
/**
 * The contract's events over a POST (a question with attachments: EventSource only GETs), read
 * with fetch: the same events to the same listeners, and after a drop before `end` (a lost
 * network, a hand-over) the rest read again by the last event's id, as EventSource reconnects
 * (a GET with Last-Event-ID), at most five times in a row. `credential` (an access key or a
 * token) goes in `Authorization`, never in the address, as EventSource would need.
 */
class PostedStream extends EventTarget {
  constructor(url, body, credential) {
    super();
    this.url = url;
    this.readyState = 0;
    this.lastEventId = "";
    this.controller = new AbortController();
    this.headers = credential ? { Authorization: "Bearer " + credential } : {};
    const headers = { ...this.headers, "Content-Type": "application/json" };
    this.read(fetch(url, { method: "POST", headers, body, signal: this.controller.signal }), 0);
  }
  set onmessage(listener) { this.addEventListener("message", listener); }
  close() { this.readyState = 2; this.controller.abort(); }
  async read(request, reconnects) {
    let ended = false;
    let heard = false;
    try {
      const response = await request;
      this.readyState = 1;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      let event = { type: "", data: [], id: null };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const lines = (buffer + value).split(/\r\n|\r|\n/);
        buffer = lines.pop();
        for (const line of lines) {
          if (line === "") {
            if (event.id !== null) this.lastEventId = event.id;
            if (event.data.length) {
              const type = event.type || "message";
              ended = ended || type === "end";
              heard = true;
              this.dispatchEvent(new MessageEvent(type, { data: event.data.join("\n"), lastEventId: this.lastEventId }));
              if (this.readyState === 2) return;
            }
            event = { type: "", data: [], id: null };
            continue;
          }
          if (line.startsWith(":")) continue;
          const at = line.indexOf(":");
          const field = at < 0 ? line : line.slice(0, at);
          const text = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
          if (field === "data") event.data.push(text);
          else if (field === "event") event.type = text;
          else if (field === "id") event.id = text;
        }
      }
    } catch (_) { /* a dropped connection: read again below */ }
    if (ended || this.readyState === 2) return;
    // A connection that brought events (a hand-over, a drop mid-answer) starts the count again.
    if (heard) reconnects = 0;
    if (this.lastEventId && reconnects < 5) {
      this.readyState = 0;
      this.dispatchEvent(new Event("error"));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (this.readyState === 2) return;
      const headers = { ...this.headers, "Last-Event-ID": this.lastEventId };
      return this.read(fetch(this.url, { headers, signal: this.controller.signal }), reconnects + 1);
    }
    this.readyState = 2;
    this.dispatchEvent(new Event("error"));
  }
}

// The approval requests of the last answer still open, and the closer of each one's buttons.
let openApprovals = [];

/**
 * Asks `message`, or (with `answers`, `[[id, approve], ...]`) answers the last answer's
 * approvals, or (with `resume`, `{answer, lastEventId}`) picks up an answer a reload left.
 */
function ask(message, answers, resume) {
  openApprovals.forEach((close) => close());
  openApprovals = [];
  let answer;
  let params;
  let files = [];
  if (resume) {
    answer = resume.answer;
    params = new URLSearchParams({ last_event_id: resume.lastEventId, errors: "inline" });
  } else {
    files = answers ? [] : pending;
    if (!answers) { pending = []; renderPending(); }
    chatFor(message);
    addUserTurn(message, files);
    answer = addAnswer();
    const kept = files.map((file) => ({ name: file.name, thumb: file.thumb }));
    keepChat((chat) => { chat.turns.push({ who: "me", text: message, files: kept }, turnOf(answer.turn)); chat.running = null; });
    params = new URLSearchParams(answers ? { errors: "inline" } : { message, errors: "inline" });
    for (const [id, approve] of answers || []) params.append(approve ? "approve" : "deny", id);
    if (previousResponseId) params.set("previous_response_id", previousResponseId);
  }
  // Where the answer is, kept now and then while it streams: a reload picks it up there.
  let keptAt = 0;
  // The id of the last event read (a resume token; an EventSource does not expose its own).
  let lastId = resume ? resume.lastEventId : "";
  const keepRunning = (settled) => {
    // A page being left closes its stream: the answer goes on, and the next load picks it up.
    if (leaving || (!settled && (lastId === "" || Date.now() - keptAt < 300))) return;
    keptAt = Date.now();
    keepChat((chat) => {
      chat.turns[chat.turns.length - 1] = turnOf(answer.turn);
      chat.running = settled ? null : { lastEventId: lastId };
      if (settled) chat.previousResponseId = previousResponseId;
    });
  };
  const key = accessKey();
  const sentToken = token;
  const base = config.chatStreamUrl;
  let body = null;
  if (!files.length) {
    // EventSource sets no headers: the credential goes in the address.
    if (key) params.set("key", key);
    if (sentToken) params.set("access_token", sentToken);
  } else {
    body = { message, attachments: files.map((f) => ({ name: f.name, media_type: f.type, data: f.data })) };
    if (params.has("previous_response_id")) body.previous_response_id = params.get("previous_response_id");
    params.delete("message");
    params.delete("previous_response_id");
  }
  const url = base + (base.includes("?") ? "&" : "?") + params.toString();
  const stream = body ? new PostedStream(url, JSON.stringify(body), key || sentToken) : new EventSource(url);
  source = stream;
  setBusy(true);
  let started = false;
  let problem = null;
  let responseId = null;
  let done = false;
  let reconnects = 0;
  // Closing before the server does keeps EventSource from reconnecting and asking again.
  const finish = (error) => {
    if (done) return;
    done = true;
    stream.close();
    // An answer that ended well (or was stopped, its text standing) is what the next message
    // continues; a conversation OpenAI no longer has is left, and the next message starts anew.
    if (!error && responseId) previousResponseId = responseId;
    if (problem && problem.code === "previous_response_not_found") previousResponseId = null;
    if (source === stream) source = null;
    answer.done();
    keepRunning(true);
    // A key the service refused is forgotten, so the next message asks for a new one; one it
    // never knew (a typo) takes its shelf with it, which holds only the refused question.
    if (problem && problem.code === "access_key_unknown") localStorage.removeItem(shelfName());
    if (problem && String(problem.code).startsWith("access_key_")) forgetAccessKey();
    // So is a refused token (unless a newer one came meanwhile); the app is asked for a new one.
    const code = problem && problem.code;
    if (code === "token_expired" || code === "token_invalid") {
      if (token === sentToken) token = null;
      requestToken();
      error = SIGN_IN_AGAIN;
    } else if (code === "token_missing") error = SIGN_IN_FIRST;
    // A refused key or token leaves nobody asking; the screen stays as the refused one saw it,
    // with the reason, until someone asks again (see followOwner).
    if (String(code).startsWith("access_key_") || code === "token_expired" || code === "token_invalid") shownOwner = shelfOwner();
    if (error) addError(error, Boolean(problem && NEW_CHAT_CODES.includes(problem.code)));
    setBusy(false);
  };
  stream.addEventListener("start", () => { started = true; });
  stream.addEventListener("problem", (event) => {
    try { problem = JSON.parse(event.data); } catch (_) { problem = null; }
  });
  stream.onmessage = (event) => {
    reconnects = 0;
    answer.append(event.data);
    if (event.lastEventId) lastId = event.lastEventId;
    keepRunning(false);
  };
  stream.addEventListener("reasoning", (event) => {
    reconnects = 0;
    if (event.lastEventId) lastId = event.lastEventId;
    answer.think(event.data);
  });
  stream.addEventListener("tool", (event) => {
    try { answer.tool(JSON.parse(event.data)); } catch (_) { /* not JSON: nothing to show */ }
  });
  stream.addEventListener("source", (event) => {
    try { answer.cite(JSON.parse(event.data)); } catch (_) { /* not JSON: nothing to show */ }
  });
  // Each request a yes or no; once all of this answer's are decided, the answers go together.
  const requests = [];
  const decided = new Map();
  stream.addEventListener("approval", (event) => {
    let request;
    try { request = JSON.parse(event.data); } catch (_) { return; }
    if (requests.some((known) => known.approval_request_id === request.approval_request_id)) return;
    requests.push(request);
    openApprovals.push(answer.ask(request, (id, approve) => {
      decided.set(id, approve);
      if (decided.size < requests.length || source) return;
      const said = requests.map((r) => `${decided.get(r.approval_request_id) ? "Allowed" : "Denied"} ${r.name}`);
      ask(said.join(", "), [...decided]);
    }));
  });
  // The answer's id becomes the conversation's anchor only once the answer has finished:
  // a follow-up of one that failed part way would be refused.
  stream.addEventListener("response", (event) => {
    try { responseId = JSON.parse(event.data).id || null; } catch (_) { /* no id */ }
  });
  stream.addEventListener("error", (event) => {
    // A named `error` event carries words; a bare one means the connection itself failed.
    if (event.data) return finish(event.data);
    // A resumable answer (its events carry ids) picks up where it was: EventSource reconnects
    // with Last-Event-ID and the service sends the rest, with no new question to the model.
    // Without an id (RESUMABLE_STREAMS=false) a reconnect would ask the question again: closed.
    if (stream.readyState === EventSource.CONNECTING && lastId !== "" && ++reconnects <= 5) return;
    finish(started ? "The connection was lost before the answer finished." : "Could not reach the chat service. Check your connection and try again.");
  });
  stream.addEventListener("end", () => finish(null));
  stop.onclick = async () => {
    // Stopping upstream is what saves the tokens: closing the stream alone does not, on AWS.
    if (responseId && lastId !== "") {
      stop.disabled = true;
      await stopUpstream(responseId, key);
      stop.disabled = false;
    }
    finish(null);
  };
}

/** Asks chat-stream to cancel the answer upstream; waits at most a few seconds. */
async function stopUpstream(responseId, key) {
  const url = new URL(config.chatStreamUrl, location.href);
  url.pathname = url.pathname.replace(/\/?$/, "/stop");
  const headers = { "Content-Type": "application/json" };
  if (key || token) headers.Authorization = "Bearer " + (key || token);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 5000);
  try {
    await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify({ response_id: responseId }),
      signal: controller.signal,
    });
  } catch (_) {
    /* the stream is closed either way */
  } finally {
    clearTimeout(timer);
  }
}
