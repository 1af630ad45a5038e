//! Server-Sent Events written to the browser.
//!
//! Every piece of text goes out as `data:` lines split at each line break (`\r\n`, `\r` or
//! `\n`), so whatever the model writes arrives as the browser's `event.data` and can never end
//! an event early, name one, or forge `end`.

use bytes::{BufMut, Bytes, BytesMut};

/// Encodes the chat stream's events; each method returns one complete event.
#[derive(Debug, Clone, Copy, Default)]
pub struct SseEncoder;

impl SseEncoder {
    pub const START: &'static [u8] = b"event: start\ndata: [START]\n\n";
    pub const END: &'static [u8] = b"event: end\ndata: [END]\n\n";
    pub const PING: &'static [u8] = b": ping\n\n";

    pub fn start(&self) -> Bytes {
        Bytes::from_static(Self::START)
    }

    pub fn end(&self) -> Bytes {
        Bytes::from_static(Self::END)
    }

    /// A comment line that keeps proxies and browsers from closing a quiet stream.
    pub fn ping(&self) -> Bytes {
        Bytes::from_static(Self::PING)
    }

    /// An unnamed event: the browser's `onmessage` sees `text` as `event.data`.
    pub fn text(&self, text: &str) -> Bytes {
        self.text_at(None, text)
    }

    /// [`Self::text`] with an `id:`, which a reconnecting EventSource sends back as
    /// `Last-Event-ID`. Ids are ours (resume tokens), never the model's.
    pub fn text_at(&self, id: Option<&str>, text: &str) -> Bytes {
        let mut out = BytesMut::with_capacity(text.len() + 16 + id.map_or(0, |id| id.len() + 5));
        write_id(&mut out, id);
        write_data(&mut out, text);
        out.freeze()
    }

    /// How long a browser waits before it reconnects a dropped stream: a block without data,
    /// which dispatches no event.
    pub fn retry(&self, millis: u32) -> Bytes {
        Bytes::from(format!("retry: {millis}\n\n"))
    }

    /// A named event such as `error` or `response`. The name is ours, never the model's; any
    /// character that would break the framing is dropped from it.
    pub fn named(&self, name: &str, data: &str) -> Bytes {
        self.named_at(None, name, data)
    }

    /// [`Self::named`] with an `id:`.
    pub fn named_at(&self, id: Option<&str>, name: &str, data: &str) -> Bytes {
        let mut out = BytesMut::with_capacity(name.len() + data.len() + 24 + id.map_or(0, |id| id.len() + 5));
        write_id(&mut out, id);
        out.put_slice(b"event: ");
        for c in name.chars().filter(|c| !matches!(c, '\r' | '\n')) {
            let mut buf = [0u8; 4];
            out.put_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        out.put_u8(b'\n');
        write_data(&mut out, data);
        out.freeze()
    }
}

fn write_id(out: &mut BytesMut, id: Option<&str>) {
    if let Some(id) = id {
        out.put_slice(b"id: ");
        // A line break would end the field early, and NUL makes a browser ignore the id.
        for part in id.split(['\r', '\n', '\0']) {
            out.put_slice(part.as_bytes());
        }
        out.put_u8(b'\n');
    }
}

fn write_data(out: &mut BytesMut, text: &str) {
    let mut rest = text;
    loop {
        out.put_slice(b"data: ");
        match rest.find(['\r', '\n']) {
            None => {
                out.put_slice(rest.as_bytes());
                out.put_slice(b"\n\n");
                return;
            }
            Some(at) => {
                let (line, tail) = rest.split_at(at);
                out.put_slice(line.as_bytes());
                out.put_u8(b'\n');
                // A CRLF is one line break; a lone CR or LF is one too (each is one byte).
                rest = tail.strip_prefix("\r\n").or_else(|| tail.get(1..)).unwrap_or_default();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> String {
        String::from_utf8(SseEncoder.text(s).to_vec()).unwrap()
    }

    #[test]
    fn single_line_text_is_one_data_line() {
        assert_eq!(text("Hello"), "data: Hello\n\n");
        assert_eq!(text(""), "data: \n\n");
        assert_eq!(text(" leading"), "data:  leading\n\n");
    }

    #[test]
    fn every_line_ending_splits_into_data_lines() {
        assert_eq!(text("a\nb"), "data: a\ndata: b\n\n");
        assert_eq!(text("a\r\nb"), "data: a\ndata: b\n\n");
        assert_eq!(text("a\rb"), "data: a\ndata: b\n\n");
        assert_eq!(text("\n"), "data: \ndata: \n\n");
        assert_eq!(text("a\n\nb\r"), "data: a\ndata: \ndata: b\ndata: \n\n");
    }

    #[test]
    fn sse_look_alikes_stay_inside_data() {
        assert_eq!(text("event: end\ndata: [END]"), "data: event: end\ndata: data: [END]\n\n");
        assert_eq!(text(": comment"), "data: : comment\n\n");
    }

    #[test]
    fn ids_come_first_and_cannot_break_the_framing() {
        assert_eq!(&SseEncoder.text_at(Some("resp_1.4.2.t"), "a\nb")[..], b"id: resp_1.4.2.t\ndata: a\ndata: b\n\n");
        assert_eq!(&SseEncoder.named_at(Some("x\ny\0"), "usage", "{}")[..], b"id: xy\nevent: usage\ndata: {}\n\n");
        assert_eq!(&SseEncoder.retry(1000)[..], b"retry: 1000\n\n");
    }

    #[test]
    fn named_events_cannot_be_split_by_their_name() {
        let bytes = SseEncoder.named("err\nor", "bad\nthing");
        assert_eq!(&bytes[..], b"event: error\ndata: bad\ndata: thing\n\n");
    }
}
