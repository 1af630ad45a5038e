//! Pictures and documents a question carries (`attachments`, or the AI SDK's `file` parts):
//! checked before anything is asked or reserved. The type is read from the bytes, never from
//! what the client claims; the count and the decoded size are bounded, the size before a byte
//! is decoded. Only the model's own catalogue row says whether it takes them.

use base64::Engine;
use serde_json::Value;

use crate::ApiError;

/// The most attachments one question may carry.
pub const MAX_ATTACHMENTS: usize = 16;
/// `MAX_ATTACHMENT_BYTES`' default: 4 MB decoded, which base64 makes about 5.3 MB, inside a
/// function URL's 6 MB request.
pub const DEFAULT_MAX_ATTACHMENT_BYTES: usize = 4 * 1024 * 1024;
/// The most bytes read from a request's attachments before the owner's limit is applied (in
/// admission): more cannot come through a function URL's 6 MB request as base64.
pub const READ_LIMIT: usize = 6 * 1024 * 1024;
/// The longest name kept (a file name for the model and the transcript).
const MAX_NAME_BYTES: usize = 255;

/// What an attachment is, read from its first bytes (their formats' signatures: no crate for it
/// is available offline, and five fixed prefixes need none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentKind {
    Png,
    Jpeg,
    Webp,
    Gif,
    Pdf,
}

impl AttachmentKind {
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
            Self::Pdf => "application/pdf",
        }
    }

    pub fn is_image(self) -> bool {
        !matches!(self, Self::Pdf)
    }

    /// The kind `bytes` begin as, if any this service takes.
    pub fn of(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(Self::Png),
            [0xFF, 0xD8, 0xFF, ..] => Some(Self::Jpeg),
            [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(Self::Gif),
            [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some(Self::Webp),
            [b'%', b'P', b'D', b'F', b'-', ..] => Some(Self::Pdf),
            _ => None,
        }
    }
}

/// One attachment, checked: its name, its kind, and its bytes as base64 (as sent, valid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub kind: AttachmentKind,
    pub base64: String,
    /// Decoded size in bytes.
    pub bytes: usize,
}

impl Attachment {
    /// `data:<media type>;base64,<data>`, as OpenAI takes an image or a file inline.
    pub fn data_url(&self) -> String {
        format!("data:{};base64,{}", self.kind.media_type(), self.base64)
    }

    /// An attachment from a data URL (the AI SDK's `file` part), named `name`.
    pub fn from_data_url(url: &str, name: &str) -> Result<(String, String), ApiError> {
        let invalid = || ApiError::InvalidAttachment(format!("{name:?} is not a base64 data URL"));
        let rest = url.strip_prefix("data:").ok_or_else(invalid)?;
        let (header, data) = rest.split_once(',').ok_or_else(invalid)?;
        if !header.ends_with(";base64") {
            return Err(invalid());
        }
        Ok((name.to_owned(), data.to_owned()))
    }
}

/// Reads a request's `attachments`: `[{"name", "media_type", "data"}]`, `data` in base64, at most
/// [`MAX_ATTACHMENTS`] and `max_bytes` decoded together. `media_type` is not trusted.
pub fn attachments(value: Option<Value>, max_bytes: usize) -> Result<Vec<Attachment>, ApiError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ApiError::InvalidAttachment("send an array of {\"name\", \"media_type\", \"data\"}".into()));
        }
    };
    let mut named = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let data = item.get("data").and_then(Value::as_str).ok_or_else(|| {
            ApiError::InvalidAttachment(format!("attachment {index} needs `data`, its bytes in base64"))
        })?;
        let name = item.get("name").and_then(Value::as_str).unwrap_or("attachment");
        named.push((name.to_owned(), data.to_owned()));
    }
    checked(named, max_bytes)
}

/// Checks `(name, base64)` pairs: the count and the size first (from the base64's length,
/// before decoding), then each one's bytes and kind.
pub fn checked(named: Vec<(String, String)>, max_bytes: usize) -> Result<Vec<Attachment>, ApiError> {
    let count = named.len();
    let too_large = |actual: usize| ApiError::AttachmentTooLarge { count, actual, limit: max_bytes };
    if named.len() > MAX_ATTACHMENTS {
        return Err(too_large(0));
    }
    // Base64 of n bytes is at least 4n/3 characters: a bound on the decoded size, read first.
    let at_least: usize = named.iter().map(|(_, data)| data.trim_end_matches('=').len() * 3 / 4).sum();
    if at_least > max_bytes {
        return Err(too_large(at_least));
    }
    let mut checked = Vec::with_capacity(named.len());
    for (index, (name, data)) in named.into_iter().enumerate() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.as_bytes())
            .map_err(|_| ApiError::InvalidAttachment(format!("attachment {index} ({name:?}) is not valid base64")))?;
        let kind = AttachmentKind::of(&bytes).ok_or_else(|| {
            ApiError::UnsupportedAttachment(format!(
                "attachment {index} ({name:?}) is none of PNG, JPEG, WebP, GIF or PDF, whatever it says it is"
            ))
        })?;
        let name = clean_name(&name);
        checked.push(Attachment { name, kind, base64: data, bytes: bytes.len() });
    }
    within(&checked.iter().collect::<Vec<_>>(), max_bytes)?;
    Ok(checked)
}

/// Whether `model` takes what `attachments` are, by its catalogue row: a row that says no is a
/// 400 naming the model; a model the catalogue does not know is left to OpenAI.
pub fn taken_by(model: &str, attachments: &[&Attachment]) -> Result<(), ApiError> {
    let Some(facts) = crate::catalogue::describe(model) else { return Ok(()) };
    let refused = |what: &'static str| ApiError::AttachmentNotTaken { model: model.to_owned(), what };
    if attachments.iter().any(|a| a.kind.is_image()) && facts.images == Some(false) {
        return Err(refused("images"));
    }
    if attachments.iter().any(|a| !a.kind.is_image()) && facts.files == Some(false) {
        return Err(refused("PDF files"));
    }
    Ok(())
}

/// Whether `attachments` (the new message's and the history's) fit in `max_bytes` decoded.
pub fn within(attachments: &[&Attachment], max_bytes: usize) -> Result<(), ApiError> {
    let actual: usize = attachments.iter().map(|a| a.bytes).sum();
    if attachments.len() > MAX_ATTACHMENTS || actual > max_bytes {
        return Err(ApiError::AttachmentTooLarge { count: attachments.len(), actual, limit: max_bytes });
    }
    Ok(())
}

/// A name fit for a file name and a transcript: no control characters, at most 255 bytes.
fn clean_name(name: &str) -> String {
    let cleaned: String = name.chars().filter(|c| !c.is_control()).collect();
    let mut end = cleaned.len().min(MAX_NAME_BYTES);
    while !cleaned.is_char_boundary(end) {
        end -= 1;
    }
    let cleaned = cleaned.get(..end).unwrap_or_default().trim();
    if cleaned.is_empty() { "attachment".to_owned() } else { cleaned.to_owned() }
}

#[cfg(test)]
#[path = "attachments_tests.rs"]
mod tests;
