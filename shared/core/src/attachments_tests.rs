use serde_json::json;

use super::*;

/// A 1x1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const PDF: &str = "JVBERi0xLjQKMSAwIG9iaiA8PCAvVHlwZSAvUGFnZSA+PiBlbmRvYmoKJSVFT0Y=";

#[test]
fn the_kind_is_read_from_the_bytes_not_the_claim() {
    let sent = json!([
        {"name": "shot.png", "media_type": "application/pdf", "data": PNG},
        {"name": "paper.pdf", "media_type": "image/png", "data": PDF},
        {"name": "a.gif", "data": "R0lGODlhAAAAAAAAAAAAAA=="},
        {"name": "a.webp", "data": "UklGRgAAAABXRUJQVlA4IA=="},
        {"data": "/9j/4AAAAAAAAAAA"},
    ]);
    let read = attachments(Some(sent), 1024).unwrap();
    let kinds: Vec<AttachmentKind> = read.iter().map(|a| a.kind).collect();
    use AttachmentKind::*;
    assert_eq!(kinds, [Png, Pdf, Gif, Webp, Jpeg]);
    assert_eq!((read[4].name.as_str(), read[0].bytes), ("attachment", 70));
    assert!(read[0].data_url().starts_with("data:image/png;base64,iVBOR"));
    assert_eq!(attachments(None, 1), Ok(vec![]));
}

#[test]
fn anything_else_gets_its_own_status_and_code() {
    let cases = [
        (json!({"data": PNG}), 400, "invalid_attachment"),
        (json!([{"name": "x"}]), 400, "invalid_attachment"),
        (json!([{"data": "not base64!"}]), 400, "invalid_attachment"),
        (
            json!([{"name": "notes.txt", "media_type": "image/png", "data": "aGVsbG8sIG5vdCBhIHBpY3R1cmU="}]),
            415,
            "unsupported_attachment",
        ),
        (json!(vec![json!({"data": PNG}); MAX_ATTACHMENTS + 1]), 413, "attachment_too_large"),
        (json!([{"data": PNG}, {"data": PNG}]), 413, "attachment_too_large"),
    ];
    for (sent, status, code) in cases {
        let error = attachments(Some(sent.clone()), 100).unwrap_err();
        assert_eq!((error.status().as_u16(), error.code()), (status, code), "{sent}: {}", error.detail());
    }
    // Refused for its size before a byte is decoded: the length of the base64 is enough.
    let huge = "A".repeat(8 * 1024 * 1024);
    let error = attachments(Some(json!([{"data": format!("{huge}!")}])), DEFAULT_MAX_ATTACHMENT_BYTES).unwrap_err();
    assert_eq!(error.code(), "attachment_too_large", "not a base64 error: the size is read first");
}

#[test]
fn names_are_cleaned_and_data_urls_read() {
    let read = attachments(Some(json!([{"name": "a\u{0}b\n.png", "data": PNG}])), 1024).unwrap();
    assert_eq!(read[0].name, "ab.png");
    let long = attachments(Some(json!([{"name": "é".repeat(200), "data": PNG}])), 1024).unwrap();
    assert!(long[0].name.len() <= 255 && long[0].name.chars().all(|c| c == 'é'));
    let url = format!("data:image/png;base64,{PNG}");
    assert_eq!(Attachment::from_data_url(&url, "p.png"), Ok(("p.png".to_owned(), PNG.to_owned())));
    assert_eq!(Attachment::from_data_url("https://x/p.png", "p.png").unwrap_err().code(), "invalid_attachment");
}

#[test]
fn a_model_that_takes_no_images_is_named() {
    let png = attachments(Some(json!([{"data": PNG}])), 1024).unwrap();
    let png: Vec<&Attachment> = png.iter().collect();
    assert_eq!(taken_by("gpt-6-luna", &png), Ok(()));
    assert_eq!(taken_by("a-model-nobody-knows", &png), Ok(()));
    let refused = taken_by("gpt-oss-120b", &png).unwrap_err();
    assert_eq!((refused.status().as_u16(), refused.code()), (400, "attachment_not_supported"));
    assert!(refused.detail().contains("gpt-oss-120b") && refused.detail().contains("images"), "{}", refused.detail());
}
