//! `static/openapi.json`, the API's public description, against the code it describes. Each
//! drift check takes its truth from the code (every `ApiError` variant, the parser's own name
//! constants, the handlers' routes, the headers the responses really carry), so a status, code,
//! parameter or path added to the code and not to the document fails here, and so does a document
//! that promises what the code does not do. The index function is asked for each route it
//! documents as AWS runs it: its release binary behind the Runtime API stand-in. Well-formedness
//! is the official OpenAPI 3.1 schema's, applied by openapi-spec-validator (Python, in the e2e tier).

use std::collections::{BTreeMap, BTreeSet};

use chat_core::ApiError;
use lambda_http::Body;
use serde_json::Value;
use shared::StreamAction;
use shared::request::names;
use test_harness::runtime_api::{RuntimeApi, function_url_event};

const DOCUMENT: &str = include_str!("../../static/openapi.json");
/// index's own routes, as a deployed function URL is asked for them (the contract names them).
const INDEX_ROUTES: [&str; 2] = ["/openapi.json", "/docs"];

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("static/openapi.json is JSON")
}

/// Follows local `$ref`s.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("only local references: {reference}"));
        value = doc.pointer(pointer).unwrap_or_else(|| panic!("{reference} resolves"));
    }
    value
}

/// Every operation as (path, method, operation), `x-other-methods` (what a path answers to any
/// method it does not list) included as the method `other`.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if ["get", "post", "put", "patch", "delete", "head", "options", "trace"].contains(&method.as_str()) {
                found.push((path.clone(), method.clone(), operation));
            } else if method == "x-other-methods" {
                found.push((path.clone(), "other".to_owned(), operation));
            }
        }
    }
    found
}

/// Every response as (where, status, response): `where` names the operation, for messages.
fn responses(doc: &Value) -> Vec<(String, u16, &Value)> {
    let mut found = Vec::new();
    for (path, method, operation) in operations(doc) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let status = status.parse().unwrap_or_else(|_| panic!("{method} {path}: status {status}"));
            found.push((format!("{method} {path} {status}"), status, resolve(doc, response)));
        }
    }
    found
}

/// The error codes a response lists: its JSON schema's `code` enum, through `allOf`.
fn listed_codes(doc: &Value, response: &Value) -> Vec<String> {
    let Some(schema) = response.pointer("/content/application~1json/schema") else { return Vec::new() };
    let parts = schema.get("allOf").and_then(Value::as_array).cloned().unwrap_or_else(|| vec![schema.clone()]);
    let codes = parts
        .iter()
        .filter_map(|part| resolve(doc, part).pointer("/properties/code/enum"))
        .flat_map(|e| e.as_array().expect("enum"));
    codes.map(|code| code.as_str().expect("code").to_owned()).collect()
}

/// The header a response declares under `name` (case-insensitive, as HTTP's are).
fn declared_header<'a>(doc: &'a Value, response: &'a Value, name: &str) -> Option<&'a Value> {
    let headers = response.get("headers")?.as_object()?;
    headers.iter().find(|(declared, _)| declared.eq_ignore_ascii_case(name)).map(|(_, header)| resolve(doc, header))
}

/// Each code's status, from the code.
fn true_statuses() -> BTreeMap<&'static str, BTreeSet<u16>> {
    let mut statuses: BTreeMap<_, BTreeSet<_>> = BTreeMap::new();
    for error in ApiError::examples() {
        statuses.entry(error.code()).or_default().insert(error.status().as_u16());
    }
    statuses
}

#[test]
fn every_error_code_is_in_the_schema_with_its_status() {
    let doc = document();
    let truth = true_statuses();
    let codes = &doc["components"]["schemas"]["ErrorCode"];
    let listed: BTreeSet<&str> =
        codes["enum"].as_array().expect("ErrorCode.enum").iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(listed, truth.keys().copied().collect(), "ErrorCode.enum against ApiError::code()");
    let described = codes["x-codes"].as_object().expect("ErrorCode.x-codes");
    assert_eq!(described.keys().map(String::as_str).collect::<BTreeSet<_>>(), listed, "x-codes against the enum");
    for (code, statuses) in &truth {
        assert_eq!(statuses.len(), 1, "{code} has one status");
        assert_eq!(
            described[*code]["status"].as_u64(),
            statuses.first().map(|s| u64::from(*s)),
            "x-codes.{code}.status"
        );
    }
    // The error body is what `to_json` writes, field for field.
    let body: Value = serde_json::from_str(&ApiError::BlankMessage.to_json("req")).unwrap();
    let schema = &doc["components"]["schemas"]["Error"];
    let fields: BTreeSet<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(fields, schema["properties"].as_object().unwrap().keys().collect(), "Error.properties");
    let required: BTreeSet<&str> = schema["required"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(required, fields.iter().map(|f| f.as_str()).collect(), "Error.required");
}

#[test]
fn every_error_is_declared_where_it_can_happen_and_only_under_its_status() {
    let doc = document();
    let truth = true_statuses();
    let mut declared: BTreeSet<String> = BTreeSet::new();
    for (place, status, response) in responses(&doc) {
        for code in listed_codes(&doc, response) {
            let statuses = truth.get(code.as_str()).unwrap_or_else(|| panic!("{place}: {code} is no ApiError code"));
            assert!(statuses.contains(&status), "{place} lists {code}, whose status is {statuses:?}");
            declared.insert(code);
        }
    }
    // A code never answered as a status says so (`http: false`): exactly those are undeclared.
    let described = doc["components"]["schemas"]["ErrorCode"]["x-codes"].as_object().unwrap();
    let not_http: BTreeSet<String> =
        described.iter().filter(|(_, about)| about["http"] == false).map(|(code, _)| code.clone()).collect();
    let undeclared: BTreeSet<String> = truth.keys().map(|c| c.to_string()).filter(|c| !declared.contains(c)).collect();
    assert_eq!(undeclared, not_http, "codes no operation answers with, against those marked `http: false`");
}

#[test]
fn every_header_an_error_carries_is_declared_with_its_value() {
    let doc = document();
    for error in ApiError::examples() {
        for (place, _, declared) in
            responses(&doc).into_iter().filter(|(_, _, r)| listed_codes(&doc, r).iter().any(|c| c == error.code()))
        {
            // A wrong method is told what the path answers: `/stop` takes a POST only, and
            // `/{id}/stream` a GET only.
            let error = match &error {
                ApiError::MethodNotAllowed { method, .. } if place.contains("/chat-stream/stop ") => {
                    ApiError::MethodNotAllowed { method: method.clone(), allow: ApiError::ALLOW_STOP }
                }
                ApiError::MethodNotAllowed { method, .. } if place.contains("/chat-stream/{id}/stream ") => {
                    ApiError::MethodNotAllowed { method: method.clone(), allow: ApiError::ALLOW_STREAM_AGAIN }
                }
                ApiError::MethodNotAllowed { method, .. } if place.contains("/index") => {
                    ApiError::MethodNotAllowed { method: method.clone(), allow: ApiError::ALLOW_PAGE }
                }
                other => other.clone(),
            };
            let response: http::Response<String> = error.to_response("req");
            for (name, value) in response.headers() {
                if name == http::header::CONTENT_TYPE {
                    assert!(
                        declared["content"].get(value.to_str().unwrap()).is_some(),
                        "{place}: content type {value:?}"
                    );
                    continue;
                }
                let header = declared_header(&doc, declared, name.as_str())
                    .unwrap_or_else(|| panic!("{place} ({}): header {name}", error.code()));
                if let Some(constant) = header.pointer("/schema/const") {
                    assert_eq!(constant.as_str(), value.to_str().ok(), "{place}: {name}");
                }
            }
        }
    }
}

/// The query parameters of one operation, `?key=` (a security scheme) included.
fn query_names(doc: &Value, operation: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for parameter in operation["parameters"].as_array().into_iter().flatten().map(|p| resolve(doc, p)) {
        if parameter["in"] == "query" {
            found.insert(parameter["name"].as_str().unwrap().to_owned());
        }
    }
    for scheme in operation["security"].as_array().into_iter().flatten().flat_map(|r| r.as_object().unwrap().keys()) {
        let scheme = &doc["components"]["securitySchemes"][scheme];
        if scheme["in"] == "query" {
            found.insert(scheme["name"].as_str().unwrap().to_owned());
        }
    }
    found
}

fn operation<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    doc["paths"][path].get(method).unwrap_or_else(|| panic!("{method} {path} is documented"))
}

#[test]
fn every_query_parameter_the_parser_reads_is_documented_and_nothing_else() {
    let doc = document();
    let all: BTreeSet<String> = operations(&doc).iter().flat_map(|(_, _, op)| query_names(&doc, op)).collect();
    assert_eq!(
        all,
        names::QUERY.iter().map(|n| n.to_string()).collect(),
        "documented query parameters against request::names::QUERY"
    );
    let has = |path: &str, method: &str, wanted: &[&str]| {
        let found = query_names(&doc, operation(&doc, path, method));
        for name in wanted {
            assert!(found.contains(*name), "{method} {path} documents ?{name}");
        }
    };
    has("/chat-complete", "get", &[names::MESSAGE, names::PREVIOUS_RESPONSE_ID, names::KEY, names::ACCESS_TOKEN]);
    has("/chat-complete", "post", &[names::KEY, names::ACCESS_TOKEN]);
    has(
        "/chat-stream",
        "get",
        &[
            names::MESSAGE,
            names::PREVIOUS_RESPONSE_ID,
            names::ERRORS,
            names::LAST_EVENT_ID,
            names::KEY,
            names::ACCESS_TOKEN,
        ],
    );
    has("/chat-stream", "post", &[names::ERRORS, names::KEY, names::ACCESS_TOKEN]);
    has(&format!("/chat-stream{}", names::STOP_PATH), "post", &[names::KEY, names::ACCESS_TOKEN]);
    let errors =
        doc["components"]["parameters"].as_object().unwrap().values().find(|p| p["name"] == names::ERRORS).unwrap();
    // An open enum: `inline` is the one value that means something, any other is ignored.
    assert_eq!(errors["schema"]["anyOf"], serde_json::json!([{ "const": names::ERRORS_INLINE }, { "type": "string" }]));
    let header = operation(&doc, "/chat-stream", "get")["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| resolve(&doc, p))
        .find(|p| p["in"] == "header")
        .unwrap();
    assert!(header["name"].as_str().unwrap().eq_ignore_ascii_case(names::LAST_EVENT_ID_HEADER));
}

/// What the document's own examples make of a request, read by the real parser: a field or
/// parameter the document misnames is not read, and the comparison fails.
#[test]
fn the_document_s_examples_are_what_the_parser_reads() {
    let doc = document();
    let example = |path: &str, method: &str, name: &str| -> String {
        let parameters =
            operation(&doc, path, method)["parameters"].as_array().unwrap().iter().map(|p| resolve(&doc, p));
        parameters.into_iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{name}"))["example"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for path in ["/chat-complete", "/chat-stream"] {
        let (message, previous) =
            (example(path, "get", names::MESSAGE), example(path, "get", names::PREVIOUS_RESPONSE_ID));
        let query =
            format!("{}={}&{}={previous}", names::MESSAGE, message.replace(' ', "+"), names::PREVIOUS_RESPONSE_ID);
        let chat = shared::request::chat_request(
            &http::Request::get(format!("https://x/?{query}")).body(Body::Empty).unwrap(),
            32_768,
        )
        .unwrap();
        assert_eq!((chat.message, chat.previous_response_id), (message, Some(previous)), "GET {path}");
        let body =
            resolve(&doc, &operation(&doc, path, "post")["requestBody"])["content"]["application/json"]["example"]
                .to_string();
        let chat = shared::request::chat_request(
            &http::Request::post("https://x/").body(Body::Text(body.clone())).unwrap(),
            32_768,
        )
        .unwrap();
        let expected: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (chat.message.as_str(), chat.previous_response_id.as_deref()),
            (expected["message"].as_str().unwrap(), expected["previous_response_id"].as_str()),
            "POST {path}"
        );
    }
    // The AI SDK's body: told apart by its shape, read by its own parser, answered with its header.
    let body = doc["components"]["schemas"]["UiChatBody"]["examples"][0].to_string();
    let request = http::Request::post("https://x/").body(Body::Text(body.clone())).unwrap();
    assert_eq!(StreamAction::of(&request), StreamAction::AskUiChat);
    let chat = shared::ui_chat::chat_request(&request, 32_768).unwrap();
    let expected: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(Some(chat.message.as_str()), expected["messages"][2]["parts"][0]["text"].as_str());
    assert_eq!(chat.earlier.len(), 2);
    let (name, value) = shared::ui_chat::STREAM_HEADER;
    let declared = &doc["components"]["responses"]["Stream"]["headers"][name]["schema"]["const"];
    assert_eq!(declared.as_str(), Some(value), "the UI message stream's header");
    let stop_path = format!("/chat-stream{}", names::STOP_PATH);
    let body =
        resolve(&doc, &operation(&doc, &stop_path, "post")["requestBody"])["content"]["application/json"]["example"]
            .clone();
    let request =
        http::Request::post(format!("https://x{}", names::STOP_PATH)).body(Body::Text(body.to_string())).unwrap();
    assert_eq!(shared::request::stop_target(&request).ok().as_deref(), body["response_id"].as_str());
    let token = example("/chat-stream", "get", names::LAST_EVENT_ID);
    let resume =
        http::Request::get("https://x/").header(names::LAST_EVENT_ID_HEADER, &token).body(Body::Empty).unwrap();
    assert_eq!(StreamAction::of(&resume), StreamAction::Resume(token.clone()));
    let resume = http::Request::get(format!("https://x/?{}={token}", names::LAST_EVENT_ID)).body(Body::Empty).unwrap();
    assert_eq!(StreamAction::of(&resume), StreamAction::Resume(token));
}

#[test]
fn every_path_the_handlers_route_is_documented() {
    let doc = document();
    // chat-stream's one route: the documented path, with the function's name taken off as the
    // convention says, is a stop locally and deployed.
    let stop = format!("/chat-stream{}", names::STOP_PATH);
    operation(&doc, &stop, "post");
    for prefix in ["", "/lambda-url/chat-stream"] {
        let path = format!("{prefix}{}", stop.trim_start_matches("/chat-stream"));
        let request = http::Request::post(format!("https://x{path}")).body(Body::Empty).unwrap();
        assert_eq!(StreamAction::of(&request), StreamAction::Stop, "{path}");
    }
    // The AI SDK's reconnect, after a URL ending in `/` as the transport builds it, and its headers.
    let again = format!("/chat-stream/{{id}}{}", names::STREAM_SEGMENT);
    operation(&doc, &again, "get");
    for prefix in ["", "/lambda-url/chat-stream"] {
        let uri = format!("https://x{prefix}//run.1{}?{}=3", names::STREAM_SEGMENT, names::START_INDEX);
        let request = http::Request::get(uri).body(Body::Empty).unwrap();
        let expected = StreamAction::StreamAgain { id: "run.1".into(), start_index: Some("3".into()) };
        assert_eq!(StreamAction::of(&request), expected, "{prefix}");
    }
    for header in [shared::ui_chat::RUN_ID_HEADER, shared::ui_chat::TAIL_INDEX_HEADER] {
        assert!(doc["components"]["responses"]["Stream"]["headers"].get(header).is_some(), "{header} is documented");
    }
    for route in INDEX_ROUTES {
        operation(&doc, &format!("/index{route}"), "get");
    }
}

/// Each documented route of index, asked of its release binary as a function URL asks it: what
/// it answers (status, content type, every header and its value) must be what the document says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_answers_each_documented_route_as_documented() {
    let doc = document();
    let index = RuntimeApi::launch_release("index", "http://127.0.0.1:9", &[("ACCESS", "public")]).await;
    let routes: Vec<_> = operations(&doc).into_iter().filter(|(path, _, _)| path.starts_with("/index")).collect();
    assert!(routes.len() >= 6, "three routes, each with its other methods");
    for (path, method, operation) in routes {
        let deployed = match path.trim_start_matches("/index") {
            "" => "/",
            route => route,
        };
        let verb = match method.as_str() {
            "get" => "GET",
            "other" => "PUT",
            other => panic!("index documents {other} {path}, which it does not answer"),
        };
        let answer = index.invoke(function_url_event(verb, deployed, "", &[], None)).await;
        let status = answer.status.unwrap_or_else(|| panic!("{verb} {deployed}: no status\n{}", index.log()));
        let status = status.to_string();
        let declared = resolve(
            &doc,
            operation["responses"].get(&status).unwrap_or_else(|| panic!("{method} {path} answers {status}")),
        );
        for (name, value) in &answer.headers {
            let value = value.to_str().unwrap();
            if name == http::header::CONTENT_TYPE {
                let essence = value.split(';').next().unwrap();
                assert!(declared["content"].get(essence).is_some(), "{method} {path}: {essence}");
                continue;
            }
            let header = declared_header(&doc, declared, name.as_str())
                .unwrap_or_else(|| panic!("{method} {path} {status}: header {name}"));
            if let Some(constant) = header.pointer("/schema/const") {
                assert_eq!(constant.as_str(), Some(value), "{method} {path}: {name}");
            }
        }
    }
    assert!(index.is_alive(), "{}", index.log());
}

/// What the official schema allows but a reader would not: a tag no one declared, a required
/// property the schema does not have.
#[test]
fn every_tag_is_declared_and_every_required_field_is_a_property() {
    let doc = document();
    let declared: BTreeSet<&str> =
        doc["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    for (path, method, operation) in operations(&doc) {
        for tag in operation["tags"].as_array().into_iter().flatten() {
            assert!(declared.contains(tag.as_str().unwrap()), "{method} {path}: tag {tag} is not declared");
        }
    }
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        for part in std::iter::once(schema).chain(schema["allOf"].as_array().into_iter().flatten()) {
            let properties = &part["properties"];
            for field in part["required"].as_array().into_iter().flatten() {
                assert!(
                    properties.get(field.as_str().unwrap()).is_some(),
                    "{name}: required {field} is not a property"
                );
            }
        }
    }
}

/// openapi-spec-validator, from the project's .venv (scripts/test makes it), on `document`.
fn official_validator(document: &Value) -> (bool, String) {
    let root = test_harness::workspace_root();
    static WRITTEN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = WRITTEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("openapi-{}-{n}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(document).unwrap()).unwrap();
    let python = root.join(".venv").join("bin").join("python");
    let output = std::process::Command::new(&python)
        .args(["-m", "openapi_spec_validator", "--schema", "3.1", "--validation-errors", "all"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("run {} (scripts/test makes the .venv): {e}", python.display()));
    let _ = std::fs::remove_file(&file);
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success() && said.contains("OK"), said)
}

#[test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Python's openapi-spec-validator: cargo test --all-features")]
fn the_document_passes_the_official_validator() {
    let (valid, said) = official_validator(&document());
    assert!(valid, "{said}");
}

/// The validator is trusted with well-formedness: each kind of mistake it is there for fails it.
#[test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Python's openapi-spec-validator: cargo test --all-features")]
fn the_official_validator_catches_what_it_is_trusted_with() {
    type Mistake = (&'static str, fn(&mut Value));
    let mistakes: [Mistake; 5] = [
        ("an OpenAPI 3.0 version", |d| d["openapi"] = "3.0.3".into()),
        ("a reference to nothing", |d| {
            d["paths"]["/chat-complete"]["get"]["responses"]["200"] =
                serde_json::json!({ "$ref": "#/components/responses/Nothing" })
        }),
        ("an operationId used twice", |d| d["paths"]["/chat-stream"]["post"]["operationId"] = "chatCompleteGet".into()),
        ("a parameter in the body", |d| d["components"]["parameters"]["errors"]["in"] = "body".into()),
        ("a path parameter not declared", |d| {
            d["paths"]["/chat-stream/{id}/stream"]["get"]["parameters"] = serde_json::json!([])
        }),
    ];
    for (mistake, make) in mistakes {
        let mut doc = document();
        make(&mut doc);
        let (valid, said) = official_validator(&doc);
        assert!(!valid, "{mistake} passed:\n{said}");
    }
}
