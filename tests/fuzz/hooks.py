"""schemathesis hooks for tests/tests/api_fuzz_under_watch.rs: the few failures that are not
the document's or the handlers' fault, each matched
as narrowly as the response allows. Every failure set aside is logged to $API_FUZZ_KNOWN_LOG,
which the test prints, so nothing is hidden."""

import base64
import json
import os
import unicodedata

import schemathesis

# The bounds the functions keep and the document states in words (shared/core/src/functions.rs,
# approvals.rs, attachments.rs; MAX_MESSAGE_BYTES and MAX_ATTACHMENT_BYTES are the functions'
# defaults: the fuzz run sets neither).
MAX_MESSAGE_BYTES = 32 * 1024
MAX_TOOLS_BYTES = 64 * 1024
MAX_APPROVALS = 32
MAX_ATTACHMENTS = 16
MAX_ATTACHMENT_BYTES = 4 * 1024 * 1024
# The kinds an attachment may be, by their first bytes (PNG, JPEG, GIF, WebP, PDF).
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"%PDF-")


def _utf8(data):
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _breaks_the_last_message_rules(body):
    """Whether an AI SDK body breaks what `messages` documents in words, which JSON Schema cannot
    say of an array's last item: it must be the user's, with text that is not blank (unless it
    carries `file` parts) and has no control characters but tabs and line breaks. The files'
    own rules are `_words_broken_by_attachments`'."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages:
        return False
    parts_of = lambda m: [p for p in (m.get("parts") or []) if isinstance(p, dict)] if isinstance(m, dict) else []
    last = messages[-1]
    if not isinstance(last, dict) or last.get("role") != "user":
        return True
    text = "".join(p["text"] for p in parts_of(last) if p.get("type") == "text" and isinstance(p.get("text"), str))
    if not text.strip():
        return not any(p.get("type") == "file" for p in parts_of(last))
    return any(unicodedata.category(c) == "Cc" and c not in "\t\r\n" for c in text)


def _json_bytes(value):
    """The length of `value` as compact JSON text, as serde_json writes it."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode("utf-8", "surrogatepass"))


def _twice(ids):
    return len(ids) != len(set(ids))


def _items(body, field):
    """The objects of a body's array `field` (absent, null or not an array: none)."""
    value = body.get(field) if isinstance(body, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _words_broken_in_body(body):
    """The codes a POST body earns by breaking what `tools`, `tool_outputs` and `approvals`
    document in words, which JSON Schema cannot say: `uniqueItems` tells whole items apart, not
    two tools with the same `name`, two outputs with the same `call_id` or two approvals with the
    same `approval_request_id`; nor can it bound the tools' bytes as JSON (65,536) or the outputs'
    bytes in all (`MAX_MESSAGE_BYTES`). The functions refuse these with 400 and that code before
    `previous_response_id` is looked up (which, generated, names no answer: 404, accepted)."""
    broken = set()
    tools = _items(body, "tools")
    if _twice([t.get("name") for t in tools]) or sum(_json_bytes(t) for t in tools) > MAX_TOOLS_BYTES:
        broken.add("invalid_tools")
    outputs = _items(body, "tool_outputs")
    if _twice([o.get("call_id") for o in outputs]) or sum(_json_bytes(o.get("output")) for o in outputs) > MAX_MESSAGE_BYTES:
        broken.add("invalid_tool_outputs")
    if _twice([a.get("approval_request_id") for a in _items(body, "approvals")]):
        broken.add("invalid_approvals")
    return broken


def _strict_base64(text):
    """The bytes of `text` as the functions decode base64 (the standard alphabet, padded, in its
    one canonical form), or None."""
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def _data_of_url(url):
    """The base64 of a `file` part's `data:` URL, or None when it is no base64 data URL."""
    if not isinstance(url, str) or not url.startswith("data:") or "," not in url:
        return None
    header, data = url[len("data:"):].split(",", 1)
    return data if header.endswith(";base64") else None


def _words_broken_by_attachments(body):
    """The codes a POST body earns by breaking what `attachments` (and the AI SDK's `file` parts)
    document in words, which JSON Schema cannot say: `data` (a part's `url` after its comma) must
    be canonical base64 (`invalid_attachment`, 400) of a PNG, JPEG, WebP, GIF or PDF, read from
    the bytes (`unsupported_attachment`, 415); at most 16 and `MAX_ATTACHMENT_BYTES` decoded in
    all, a history's user files included (`attachment_too_large`, 413). Checked before
    `previous_response_id` is looked up."""
    turns = []
    if isinstance(body, dict) and isinstance(body.get("attachments"), list):
        turns.append([item.get("data") if isinstance(item, dict) else None for item in body["attachments"]])
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("parts"), list):
            files = [p for p in message["parts"] if isinstance(p, dict) and p.get("type") == "file"]
            turns.append([_data_of_url(p.get("url")) for p in files])
    broken = set()
    count = total = 0
    for texts in turns:
        count += len(texts)
        at_least = sum(len(t.rstrip("=")) * 3 // 4 for t in texts if isinstance(t, str))
        if len(texts) > MAX_ATTACHMENTS or at_least > MAX_ATTACHMENT_BYTES:
            broken.add("attachment_too_large")
        for text in texts:
            raw = _strict_base64(text)
            if raw is None:
                broken.add("invalid_attachment")
            elif not (raw.startswith(_SIGNATURES) or (raw[:4] == b"RIFF" and raw[8:12] == b"WEBP")):
                broken.add("unsupported_attachment")
            else:
                total += len(raw)
    if count > MAX_ATTACHMENTS or total > MAX_ATTACHMENT_BYTES:
        broken.add("attachment_too_large")
    return broken


def _query_values(query, name):
    value = query.get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def _query_approvals_break_the_words(query):
    """Whether a GET's `approve` / `deny` break what they document in words, which OpenAPI cannot
    say across two parameters: each request once across both, at most 32 in all, and only with a
    (non-empty) `previous_response_id`; the functions answer `invalid_approvals`."""
    ids = _query_values(query, "approve") + _query_values(query, "deny")
    previous = "".join(_query_values(query, "previous_response_id")).strip()
    return bool(ids) and (_twice(ids) or len(ids) > MAX_APPROVALS or not previous)


def _error_code(body):
    try:
        return json.loads(body).get("code")
    except (ValueError, AttributeError):
        return None


def _inline_rejection(body):
    """An `errors=inline` rejection: EventSource's `problem` event, or the AI SDK stream's
    `start`, `error`, `[DONE]` with no answer in between."""
    ui_rejection = body.startswith(b'data: {"type":"start"}') and b'"type":"error"' in body and b"message-metadata" not in body
    return b"event: problem" in body or ui_rejection


def _known(failure, case, response):
    """Why this failure is expected, or None when it is a real finding."""
    query = case.query or {}
    body = response.content or b""
    inline = query.get("errors") == "inline"
    if response.status_code == 500 and b"httpstatuses.com" in body and isinstance(case.body, bytes) and not _utf8(case.body):
        # Not ours: cargo lambda watch answers 500 itself to a non-UTF-8 text body; the function never runs.
        return "emulator: a non-UTF-8 body is a 500 from cargo lambda watch"
    if failure.code == "ST201" and case.path == "/chat-stream" and inline and response.status_code == 200 and _inline_rejection(body):
        # Documented: with errors=inline every rejection is 200, with the error inside the stream.
        return "documented: errors=inline answers a rejection 200 with `problem`"
    if (
        failure.code == "ST202" and case.method == "GET" and case.path in ("/chat-stream", "/chat-complete")
        and "message" not in query and b'"code":"missing_message"' in body
    ):
        # Documented: `message` is required unless the request resumes (chat-stream) or answers
        # approval requests (`approve`, `deny`); OpenAPI cannot state that dependency.
        return "documented: a GET needs `message` unless it resumes or answers approvals"
    code = _error_code(body) if response.status_code == 400 else None
    if (
        failure.code == "ST202" and case.method == "GET" and case.path in ("/chat-stream", "/chat-complete")
        and code == "invalid_approvals" and _query_approvals_break_the_words(query)
    ):
        # Documented in `approve` / `deny`: each request once across both, at most 32, with `previous_response_id`.
        return "documented: `approve` / `deny` name each request once, with `previous_response_id`"
    if (
        failure.code == "ST202" and case.method == "POST" and case.path in ("/chat-stream", "/chat-complete")
        and code in _words_broken_in_body(case.body)
    ):
        # Documented in `tools`, `tool_outputs` and `approvals`: names and ids once each, and the byte bounds.
        return f"documented: {code}, a rule of its field in words (each name or id once, a byte bound)"
    refused = _error_code(body) if response.status_code in (400, 413, 415) else None
    if (
        failure.code == "ST202" and case.method == "POST" and case.path in ("/chat-stream", "/chat-complete")
        and refused in _words_broken_by_attachments(case.body)
    ):
        # Documented in `Attachment` and the `file` part's `url`: base64 the schema's pattern lets
        # through but the functions refuse (not canonical), bytes of no kind taken, the bounds.
        return f"documented: {refused}, what an attachment must be in words (its kind read from its bytes, the bounds)"
    if (
        failure.code == "ST202" and case.path in ("/chat-stream", "/chat-complete")
        and code in ("invalid_tool_outputs", "invalid_approvals") and b"the answer they follow" in body
    ):
        # Documented: outputs and approvals must answer the calls and requests of the answer
        # `previous_response_id` names. A generated id names no answer (404, accepted), so this
        # is here only should one ever name a real answer.
        return f"documented: {code} must answer the answer it follows"
    if (
        failure.code == "ST202" and case.method == "POST" and case.path == "/chat-stream" and response.status_code == 400
        and _breaks_the_last_message_rules(case.body)
    ):
        # Documented in `UiChatBody.messages`: the rules of its last item, which OpenAPI cannot express.
        return "documented: the last of `messages` must be the user's, with valid text"
    return None


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    reason = _known(failure, case, response)
    if reason is None:
        return True
    log = os.environ.get("API_FUZZ_KNOWN_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{failure.code} {case.method} {case.path} -> {response.status_code}: {reason}\n")
    return False
