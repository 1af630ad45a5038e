"use strict";
// The transcript: the model's markdown as safe DOM, the question and answer turns, errors.
// Markdown to DOM nodes. The model's text is untrusted: it only ever becomes text nodes and a
// fixed set of elements, never HTML, and links only keep http(s) targets.
function el(tag, children) {
  const node = document.createElement(tag);
  for (const child of children || []) node.append(child);
  return node;
}

function inline(text) {
  const out = [];
  // Underscores only emphasise at word boundaries (snake_case and URLs stay as they are).
  const pattern = /(`+)([\s\S]*?)\1|\*\*([^*]+)\*\*|(?<!\w)__([^_]+)__(?!\w)|\*([^*\s][^*]*)\*|(?<!\w)_([^_\s][^_]*)_(?!\w)|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1]) out.push(el("code", [m[2]]));
    else if (m[3] || m[4]) out.push(el("strong", inline(m[3] || m[4])));
    else if (m[5] || m[6]) out.push(el("em", inline(m[5] || m[6])));
    else if (/^https?:\/\//i.test(m[8])) {
      const a = el("a", inline(m[7]));
      a.href = m[8];
      a.rel = "noopener noreferrer nofollow";
      a.target = "_blank";
      out.push(a);
    } else out.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function withBreaks(lines) {
  const out = [];
  lines.forEach((line, i) => { if (i) out.push(el("br")); out.push(...inline(line)); });
  return out;
}

function markdown(text) {
  const lines = text.split("\n");
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(/^\s*(```|~~~)\s*([\w+-]*)/);
    if (fence) {
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++;
      const code = el("code", [body.join("\n")]);
      if (fence[2]) code.dataset.lang = fence[2];
      blocks.push(el("pre", [code]));
      continue;
    }
    if (!line.trim()) { i++; continue; }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) { blocks.push(el("h" + Math.min(heading[1].length + 2, 6), inline(heading[2]))); i++; continue; }
    const bullet = /^\s*[-*+]\s+/, numbered = /^\s*\d+[.)]\s+/;
    if (bullet.test(line) || numbered.test(line)) {
      const kind = bullet.test(line) ? bullet : numbered;
      const list = el(kind === bullet ? "ul" : "ol");
      while (i < lines.length && kind.test(lines[i])) list.append(el("li", inline(lines[i++].replace(kind, ""))));
      blocks.push(list);
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quoted = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*>\s?/, ""));
      blocks.push(el("blockquote", withBreaks(quoted)));
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^\s*(```|~~~|#{1,6}\s|[-*+]\s|\d+[.)]\s|>)/.test(lines[i])) para.push(lines[i++]);
    if (!para.length) para.push(lines[i++]);
    blocks.push(el("p", withBreaks(para)));
  }
  return blocks;
}

function scrollToEnd(node) { node.scrollIntoView({ block: "end" }); }

/** A sent attachment as the transcript shows it: its thumbnail, or its name. */
function sentChip(file) {
  const chip = el("span", file.thumb ? [] : [file.name]);
  if (file.thumb) {
    const img = el("img");
    img.src = file.thumb;
    img.alt = file.name;
    chip.append(img);
  }
  chip.className = "sent";
  return chip;
}

function addUserTurn(text, files) {
  const div = el("div", [text]);
  if (files && files.length) {
    const sents = el("div", files.map(sentChip));
    sents.className = "sents";
    div.append(sents);
  }
  div.className = "turn me";
  log.append(div);
  scrollToEnd(div);
}

function addAnswer() {
  // "Thinking…" until the first piece of the reasoning summary or of the answer arrives.
  const status = el("p", ["Thinking…"]);
  status.className = "status";
  const text = el("div");
  text.className = "text";
  const copy = el("button", ["Copy"]);
  copy.type = "button";
  const tools = el("div", [copy]);
  tools.className = "tools";
  tools.hidden = true;
  const turn = el("div", [status, text, tools]);
  turn.className = "turn bot";
  turn.setAttribute("aria-busy", "true");
  log.append(turn);
  let raw = "";
  let answering = false;
  let queued = false;
  // The reasoning summary (of reasoning models): above the answer, open while it streams, then
  // collapsed. It is the model's text too, so it goes through the same renderer.
  let reasoning = "";
  let thoughts = null;
  const label = el("summary", ["Thinking…"]);
  const thinking = el("div");
  const render = () => {
    queued = false;
    if (thoughts) thinking.replaceChildren(...markdown(reasoning));
    text.replaceChildren(...markdown(raw));
    scrollToEnd(turn);
  };
  const schedule = () => { if (!queued) { queued = true; requestAnimationFrame(render); } };
  const thought = () => {
    status.remove();
    label.textContent = "Thought process";
  };
  // The pages the answer cites (web search): links under it, http(s) only, titles as text.
  let sources = null;
  copy.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(raw); copy.textContent = "Copied"; }
    catch (_) { copy.textContent = "Copy failed"; }
    setTimeout(() => { copy.textContent = "Copy"; }, 1500);
  });
  return {
    turn,
    think(delta) {
      if (!thoughts) {
        status.remove();
        thoughts = el("details", [label, thinking]);
        thoughts.className = "reasoning";
        thoughts.open = !answering;
        text.before(thoughts);
      }
      reasoning += delta;
      thoughts.dataset.raw = reasoning;
      schedule();
    },
    // A hosted tool at work: the status line says what it does while the answer waits.
    tool(event) {
      if (answering || !status.isConnected) return;
      const searching = event.type === "web_search";
      status.textContent = event.status === "completed"
        ? (searching ? "Searched the web" : "Used a tool") + (event.query ? ` for “${event.query}”…` : "…")
        : (searching ? "Searching the web…" : "Using a tool…");
    },
    // An MCP call of the owner's that waits on the user's yes or no: `decide(id, approve)`.
    ask(request, decide) {
      const what = el("p", ["The model wants to use ", el("strong", [String(request.name)]), " on ",
        el("strong", [String(request.server_label)]), " with ", el("code", [String(request.arguments)]), "."]);
      const allow = el("button", ["Allow"]);
      const deny = el("button", ["Deny"]);
      deny.className = "secondary";
      for (const [button, approve] of [[allow, true], [deny, false]]) {
        button.type = "button";
        button.addEventListener("click", () => {
          allow.disabled = deny.disabled = true;
          button.setAttribute("aria-pressed", "true");
          decide(request.approval_request_id, approve);
        });
      }
      const box = el("div", [what, allow, deny]);
      box.className = "approval";
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", "Approval");
      tools.before(box);
      return () => { allow.disabled = deny.disabled = true; };
    },
    cite(source) {
      let url;
      try { url = new URL(source.url); } catch (_) { return; }
      if (url.protocol !== "https:" && url.protocol !== "http:") return;
      // Each page once, a resumed stream's again-sent sources too.
      if (sources && [...sources.querySelectorAll("a")].some((a) => a.href === url.href)) return;
      if (!sources) {
        sources = el("ol");
        sources.className = "sources";
        sources.setAttribute("aria-label", "Sources");
        tools.before(sources);
      }
      const link = el("a", [source.title || url.href]);
      link.href = url.href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      sources.append(el("li", [link]));
    },
    append(delta) {
      if (!answering) {
        answering = true;
        thought();
        if (thoughts) thoughts.open = false;
      }
      raw += delta;
      turn.dataset.raw = raw;
      schedule();
    },
    done() {
      render();
      thought();
      turn.removeAttribute("aria-busy");
      // An answer cut before its text keeps what the model thought, or what it asks, if anything.
      if (raw) tools.hidden = false; else if (!reasoning && !turn.querySelector(".approval")) turn.remove();
    },
  };
}

// Errors the conversation itself caused: only a new chat gets past them.
const NEW_CHAT_CODES = ["context_length_exceeded", "previous_response_not_found"];

function addError(text, offerNewChat) {
  const dismiss = el("button", ["Dismiss"]);
  dismiss.type = "button";
  dismiss.setAttribute("aria-label", "Dismiss this error");
  const buttons = [dismiss];
  if (offerNewChat) {
    const fresh = el("button", ["Start a new chat"]);
    fresh.type = "button";
    fresh.className = "new-chat-offer";
    fresh.addEventListener("click", () => document.getElementById("new-chat").click());
    buttons.unshift(fresh);
  }
  const div = el("div", [el("span", [text]), ...buttons]);
  div.className = "turn error";
  div.setAttribute("role", "alert");
  dismiss.addEventListener("click", () => { div.remove(); prompt.focus(); });
  log.append(div);
  scrollToEnd(div);
}
