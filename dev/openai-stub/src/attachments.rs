//! Images and PDFs in the input, as OpenAI takes them: an `input_image` must be a data URL of an
//! image it reads, an `input_file` a PDF with its name; anything else is its 400. Each is billed
//! as input tokens: an image by OpenAI's tile rule for its size (85 tokens at `detail: low`, else
//! 85 plus 170 per 512-pixel tile once it fits 2048 px and its short side is at most 768), a PDF by
//! its pages (765 each, a page's picture at high detail). `POST /responses/input_tokens` counts
//! the input the same way, as OpenAI's does before any answer.

use base64::Engine;
use serde_json::{Value, json};

/// What a request's input carries, and its tokens.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub images: usize,
    pub files: usize,
    pub tokens: u64,
}

/// Reads every image and file part of the input; OpenAI's 400 body for one it cannot read.
pub fn read(request: &Value) -> Result<Seen, Value> {
    let mut seen = Seen::default();
    let items = request["input"].as_array().into_iter().flatten();
    for part in items.flat_map(|item| item["content"].as_array().into_iter().flatten()) {
        match part["type"].as_str() {
            Some("input_image") => {
                let bytes = data_url(part["image_url"].as_str().unwrap_or_default(), "image/").ok_or_else(|| {
                    refusal("invalid_image", "Invalid image: send a PNG, JPEG, WebP or GIF data URL.")
                })?;
                let image = image_kind(&bytes)
                    .ok_or_else(|| refusal("invalid_image", "The image data is not a supported image."))?;
                seen.images += 1;
                seen.tokens += image_tokens(image, &bytes, part["detail"].as_str().unwrap_or("auto"));
            }
            Some("input_file") => {
                let bytes = data_url(part["file_data"].as_str().unwrap_or_default(), "application/pdf")
                    .filter(|bytes| bytes.starts_with(b"%PDF-"))
                    .ok_or_else(|| refusal("invalid_file", "Invalid file: file_data must be a PDF data URL."))?;
                if part["filename"].as_str().is_none_or(str::is_empty) {
                    return Err(refusal("invalid_file", "Missing filename for the file."));
                }
                seen.files += 1;
                seen.tokens += pdf_pages(&bytes) * 765;
            }
            _ => {}
        }
    }
    Ok(seen)
}

/// The bytes of a base64 data URL whose media type starts with `kind`.
fn data_url(url: &str, kind: &str) -> Option<Vec<u8>> {
    let (header, data) = url.strip_prefix("data:")?.split_once(',')?;
    let media = header.strip_suffix(";base64")?;
    media.starts_with(kind).then_some(())?;
    base64::engine::general_purpose::STANDARD.decode(data).ok()
}

#[derive(Clone, Copy)]
enum Image {
    Png,
    Other,
}

fn image_kind(bytes: &[u8]) -> Option<Image> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Image::Png);
    }
    let other = bytes.starts_with(&[0xFF, 0xD8, 0xFF])
        || bytes.starts_with(b"GIF8")
        || (bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"));
    other.then_some(Image::Other)
}

/// OpenAI's tile rule; a PNG's size is read from its header, any other image is taken as
/// 1024 x 1024 (the stand-in reads no other format's header).
fn image_tokens(image: Image, bytes: &[u8], detail: &str) -> u64 {
    if detail == "low" {
        return 85;
    }
    let number = |at: usize| bytes.get(at..at + 4).map_or(1024, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let (width, height) = match image {
        Image::Png => (f64::from(number(16)).max(1.0), f64::from(number(20)).max(1.0)),
        Image::Other => (1024.0, 1024.0),
    };
    let fit = (2048.0 / width.max(height)).min(1.0);
    let (width, height) = (width * fit, height * fit);
    let short = (768.0 / width.min(height)).min(1.0);
    let (width, height) = (width * short, height * short);
    let tiles = (width / 512.0).ceil() * (height / 512.0).ceil();
    85 + 170 * tiles as u64
}

/// A PDF's pages: its `/Type /Page` objects (not `/Pages`), at least one.
fn pdf_pages(bytes: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(bytes);
    let pages = text.match_indices("/Type /Page").filter(|(at, _)| !text[at + 11..].starts_with('s')).count();
    pages.max(1) as u64
}

fn refusal(code: &str, message: &str) -> Value {
    json!({"error": {"message": message, "type": "invalid_request_error", "param": "input", "code": code}})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1x1 PNG.
    const PNG: &str =
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

    fn input(parts: Value) -> Value {
        json!({"input": [{"role": "user", "content": parts}]})
    }

    #[test]
    fn images_and_pdfs_are_read_and_counted_as_openai_bills_them() {
        let image = |detail: &str| json!({"type": "input_image", "image_url": format!("data:image/png;base64,{PNG}"), "detail": detail});
        let pdf =
            base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4 /Type /Pages /Type /Page /Type /Page %%EOF");
        let file = json!({"type": "input_file", "filename": "a.pdf", "file_data": format!("data:application/pdf;base64,{pdf}")});
        let seen =
            read(&input(json!([{"type": "input_text", "text": "what?"}, image("low"), image("high"), file]))).unwrap();
        assert_eq!(seen, Seen { images: 2, files: 1, tokens: 85 + 255 + 2 * 765 });
        assert_eq!(image_tokens(Image::Other, b"", "auto"), 85 + 170 * 4, "1024 px square: 768 px, four tiles");
        let bad =
            read(&input(json!([{"type": "input_image", "image_url": "data:image/png;base64,aGVsbG8="}]))).unwrap_err();
        assert_eq!(bad["error"]["code"], "invalid_image");
        let nameless = json!([{"type": "input_file", "file_data": format!("data:application/pdf;base64,{pdf}")}]);
        assert_eq!(read(&input(nameless)).unwrap_err()["error"]["code"], "invalid_file");
    }
}
