//! Whether `static/openapi.json` is a well-formed OpenAPI 3.1 document. The structure the
//! specification requires is checked here with serde_json (the tree has no JSON Schema crate,
//! and none is added for a test); the official 3.1 schema is applied too, through
//! openapi-spec-validator in the project's .venv (moto's server brings it; scripts/test makes
//! the .venv, as the Lambda look-up test in `urls` already needs).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::docs::DOCUMENT;

const ROOT: &[&str] = &[
    "openapi",
    "info",
    "jsonSchemaDialect",
    "servers",
    "paths",
    "webhooks",
    "components",
    "security",
    "tags",
    "externalDocs",
];
const INFO: &[&str] = &["title", "summary", "description", "termsOfService", "contact", "license", "version"];
const SERVER: &[&str] = &["url", "description", "variables"];
const TAG: &[&str] = &["name", "description", "externalDocs"];
const PATH_ITEM: &[&str] = &[
    "$ref",
    "summary",
    "description",
    "servers",
    "parameters",
    "get",
    "put",
    "post",
    "delete",
    "options",
    "head",
    "patch",
    "trace",
];
const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const OPERATION: &[&str] = &[
    "tags",
    "summary",
    "description",
    "externalDocs",
    "operationId",
    "parameters",
    "requestBody",
    "responses",
    "callbacks",
    "deprecated",
    "security",
    "servers",
];
const PARAMETER: &[&str] = &[
    "name",
    "in",
    "description",
    "required",
    "deprecated",
    "allowEmptyValue",
    "style",
    "explode",
    "allowReserved",
    "schema",
    "example",
    "examples",
    "content",
];
const HEADER: &[&str] =
    &["description", "required", "deprecated", "style", "explode", "schema", "example", "examples", "content"];
const REQUEST_BODY: &[&str] = &["description", "content", "required"];
const RESPONSE: &[&str] = &["description", "headers", "content", "links"];
const MEDIA_TYPE: &[&str] = &["schema", "example", "examples", "encoding"];
const EXAMPLE: &[&str] = &["summary", "description", "value", "externalValue"];
const COMPONENTS: &[&str] = &[
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
    "pathItems",
];
const SECURITY_SCHEME: &[&str] =
    &["type", "description", "name", "in", "scheme", "bearerFormat", "flows", "openIdConnectUrl"];
const JSON_TYPES: &[&str] = &["null", "boolean", "object", "array", "number", "string", "integer"];

/// Collects every problem, so one run names them all.
struct Check<'a> {
    doc: &'a Value,
    problems: Vec<String>,
}

impl<'a> Check<'a> {
    fn fail(&mut self, at: &str, what: impl std::fmt::Display) {
        self.problems.push(format!("{at}: {what}"));
    }

    /// An object whose fields are all `allowed` (or `x-` extensions).
    fn object(&mut self, at: &str, value: &'a Value, allowed: &[&str]) -> Option<&'a Map<String, Value>> {
        let Some(object) = value.as_object() else {
            self.fail(at, "not an object");
            return None;
        };
        for field in object.keys().filter(|f| !f.starts_with("x-") && !allowed.contains(&f.as_str())) {
            self.fail(at, format!("unknown field {field:?}"));
        }
        Some(object)
    }

    fn string(&mut self, at: &str, value: Option<&Value>) {
        if !value.is_some_and(Value::is_string) {
            self.fail(at, "a string is required");
        }
    }

    /// Follows a reference, which must point at a component of `kind` (`responses`, ...).
    fn resolve(&mut self, at: &str, value: &'a Value, kind: &str) -> Option<&'a Value> {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else { return Some(value) };
        if !reference.starts_with(&format!("#/components/{kind}/")) {
            self.fail(at, format!("{reference} is not a {kind} component"));
        }
        let target = reference.strip_prefix('#').and_then(|pointer| self.doc.pointer(pointer));
        if target.is_none() {
            self.fail(at, format!("{reference} resolves to nothing"));
        }
        target
    }

    fn map_of(&mut self, at: &str, value: Option<&'a Value>, kind: &str, each: fn(&mut Self, &str, &'a Value)) {
        let Some(value) = value else { return };
        let Some(map) = value.as_object() else { return self.fail(at, "not an object") };
        for (name, item) in map {
            let at = format!("{at}.{name}");
            if let Some(item) = self.resolve(&at, item, kind) {
                each(self, &at, item);
            }
        }
    }

    fn schema(&mut self, at: &str, schema: &'a Value) {
        if schema.get("$ref").is_some() {
            self.resolve(at, schema, "schemas");
            return;
        }
        let Some(object) = schema.as_object() else { return self.fail(at, "a schema is an object") };
        match object.get("type") {
            None => {}
            Some(Value::String(t)) if JSON_TYPES.contains(&t.as_str()) => {}
            Some(Value::Array(ts))
                if !ts.is_empty() && ts.iter().all(|t| t.as_str().is_some_and(|t| JSON_TYPES.contains(&t))) => {}
            Some(other) => self.fail(at, format!("type {other}")),
        }
        if let Some(values) = object.get("enum") {
            let unique: BTreeSet<String> = values.as_array().into_iter().flatten().map(Value::to_string).collect();
            if values.as_array().is_none_or(|v| v.is_empty() || v.len() != unique.len()) {
                self.fail(at, "enum must be a non-empty array of distinct values");
            }
        }
        let properties = object.get("properties").and_then(Value::as_object);
        for required in object.get("required").and_then(Value::as_array).into_iter().flatten() {
            if !required.as_str().is_some_and(|r| properties.is_some_and(|p| p.contains_key(r))) {
                self.fail(at, format!("required {required} is not a property"));
            }
        }
        for (name, property) in properties.into_iter().flatten() {
            self.schema(&format!("{at}.properties.{name}"), property);
        }
        for keyword in ["allOf", "oneOf", "anyOf"] {
            for (i, part) in object.get(keyword).and_then(Value::as_array).into_iter().flatten().enumerate() {
                self.schema(&format!("{at}.{keyword}[{i}]"), part);
            }
        }
        if let Some(items) = object.get("items") {
            self.schema(&format!("{at}.items"), items);
        }
    }

    fn media(&mut self, at: &str, content: Option<&'a Value>) {
        let Some(content) = content.and_then(Value::as_object) else {
            return self.fail(at, "content must be a map of media types");
        };
        for (media_type, media) in content {
            let at = format!("{at}.content.{media_type}");
            if !media_type.contains('/') {
                self.fail(&at, "not a media type");
            }
            let Some(media) = self.object(&at, media, MEDIA_TYPE) else { continue };
            if let Some(schema) = media.get("schema") {
                self.schema(&format!("{at}.schema"), schema);
            }
            self.map_of(&format!("{at}.examples"), media.get("examples"), "examples", |c, at, e| {
                c.object(at, e, EXAMPLE);
            });
        }
    }

    /// A parameter or a header: a schema or a content, never both.
    fn parameter_like(&mut self, at: &str, value: &'a Value, allowed: &[&str]) {
        let Some(object) = self.object(at, value, allowed) else { return };
        match (object.get("schema"), object.get("content")) {
            (Some(schema), None) => self.schema(&format!("{at}.schema"), schema),
            (None, Some(_)) => self.media(at, object.get("content")),
            _ => self.fail(at, "exactly one of schema and content"),
        }
    }

    fn operation(&mut self, at: &str, operation: &'a Value, tags: &BTreeSet<&str>, ids: &mut BTreeSet<String>) {
        let Some(object) = self.object(at, operation, OPERATION) else { return };
        if let Some(id) = object.get("operationId").and_then(Value::as_str)
            && !ids.insert(id.to_owned())
        {
            self.fail(at, format!("operationId {id} is not unique"));
        }
        for tag in object.get("tags").and_then(Value::as_array).into_iter().flatten() {
            if !tag.as_str().is_some_and(|t| tags.contains(t)) {
                self.fail(at, format!("tag {tag} is not declared"));
            }
        }
        let mut seen = BTreeSet::new();
        for (i, parameter) in object.get("parameters").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let at = format!("{at}.parameters[{i}]");
            let Some(parameter) = self.resolve(&at, parameter, "parameters") else { continue };
            self.parameter_like(&at, parameter, PARAMETER);
            let (name, place) =
                (parameter["name"].as_str().unwrap_or_default(), parameter["in"].as_str().unwrap_or_default());
            if name.is_empty() || !["query", "header", "path", "cookie"].contains(&place) {
                self.fail(&at, "name and in (query, header, path, cookie) are required");
            }
            if place == "path" && parameter["required"] != true {
                self.fail(&at, "a path parameter is required");
            }
            if place == "header"
                && ["accept", "content-type", "authorization"].contains(&name.to_ascii_lowercase().as_str())
            {
                self.fail(&at, format!("a header parameter named {name} is ignored by the specification"));
            }
            if !seen.insert((name.to_ascii_lowercase(), place)) {
                self.fail(&at, format!("{place} parameter {name} twice"));
            }
        }
        if let Some(body) =
            object.get("requestBody").and_then(|b| self.resolve(&format!("{at}.requestBody"), b, "requestBodies"))
            && self.object(&format!("{at}.requestBody"), body, REQUEST_BODY).is_some()
        {
            self.media(&format!("{at}.requestBody"), body.get("content"));
        }
        let responses = object.get("responses").and_then(Value::as_object);
        if responses.is_none_or(Map::is_empty) {
            self.fail(at, "responses must list at least one");
        }
        for (status, response) in responses.into_iter().flatten() {
            let at = format!("{at}.responses.{status}");
            let pattern = status.len() == 3
                && matches!(status.as_bytes()[0], b'1'..=b'5')
                && (status[1..].bytes().all(|b| b.is_ascii_digit()) || &status[1..] == "XX");
            if status != "default" && !pattern {
                self.fail(&at, "not a status code");
            }
            self.response(&at, response);
        }
        self.security(at, object.get("security"));
    }

    fn response(&mut self, at: &str, response: &'a Value) {
        let Some(response) = self.resolve(at, response, "responses") else { return };
        let Some(object) = self.object(at, response, RESPONSE) else { return };
        self.string(&format!("{at}.description"), object.get("description"));
        self.map_of(&format!("{at}.headers"), object.get("headers"), "headers", |c, at, h| {
            if at.to_ascii_lowercase().ends_with(".content-type") {
                c.fail(at, "a Content-Type header is ignored by the specification");
            }
            c.parameter_like(at, h, HEADER);
        });
        if object.contains_key("content") {
            self.media(at, object.get("content"));
        }
    }

    fn security(&mut self, at: &str, security: Option<&'a Value>) {
        let schemes = self.doc.pointer("/components/securitySchemes").and_then(Value::as_object);
        for requirement in security.and_then(Value::as_array).into_iter().flatten() {
            for (name, scopes) in requirement.as_object().into_iter().flatten() {
                if !schemes.is_some_and(|s| s.contains_key(name)) || !scopes.is_array() {
                    self.fail(at, format!("security scheme {name} is not declared"));
                }
            }
        }
    }
}

/// The problems in a document; none for a well-formed one.
fn problems(doc: &Value) -> Vec<String> {
    let mut check = Check { doc, problems: Vec::new() };
    let Some(root) = check.object("$", doc, ROOT) else { return check.problems };
    let version = root.get("openapi").and_then(Value::as_str).unwrap_or_default();
    if !version.strip_prefix("3.1.").is_some_and(|patch| !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit()))
    {
        check.fail("$.openapi", format!("{version:?} is not 3.1.x"));
    }
    if let Some(info) = root.get("info").and_then(|i| check.object("$.info", i, INFO)) {
        check.string("$.info.title", info.get("title"));
        check.string("$.info.version", info.get("version"));
    } else {
        check.fail("$.info", "required");
    }
    for (i, server) in root.get("servers").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if let Some(server) = check.object(&format!("$.servers[{i}]"), server, SERVER) {
            check.string(&format!("$.servers[{i}].url"), server.get("url"));
        }
    }
    let tags: BTreeSet<&str> =
        root.get("tags").and_then(Value::as_array).into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
    for (i, tag) in root.get("tags").and_then(Value::as_array).into_iter().flatten().enumerate() {
        check.object(&format!("$.tags[{i}]"), tag, TAG);
    }
    if let Some(components) = root.get("components").and_then(|c| check.object("$.components", c, COMPONENTS)) {
        for (kind, entries) in components {
            for name in entries.as_object().into_iter().flatten().map(|(name, _)| name) {
                if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
                    check.fail(&format!("$.components.{kind}"), format!("{name:?} is not a component name"));
                }
            }
        }
        check.map_of("$.components.schemas", components.get("schemas"), "schemas", Check::schema);
        check.map_of(
            "$.components.securitySchemes",
            components.get("securitySchemes"),
            "securitySchemes",
            |c, at, scheme| {
                let Some(scheme) = c.object(at, scheme, SECURITY_SCHEME) else { return };
                match scheme.get("type").and_then(Value::as_str) {
                    Some("apiKey")
                        if scheme.get("name").is_some_and(Value::is_string)
                            && ["query", "header", "cookie"].contains(&scheme["in"].as_str().unwrap_or_default()) => {}
                    Some("http") if scheme.get("scheme").is_some_and(Value::is_string) => {}
                    Some("mutualTLS" | "oauth2" | "openIdConnect") => {}
                    other => c.fail(at, format!("type {other:?} without its required fields")),
                }
            },
        );
    }
    let mut ids = BTreeSet::new();
    let Some(paths) = root.get("paths").and_then(Value::as_object) else {
        check.fail("$.paths", "required here");
        return check.problems;
    };
    for (path, item) in paths {
        let at = format!("$.paths.{path}");
        if !path.starts_with('/') {
            check.fail(&at, "a path starts with /");
        }
        let Some(item) = check.object(&at, item, PATH_ITEM) else { continue };
        for method in METHODS.iter().filter(|m| item.contains_key(**m)) {
            for name in templated_names(path) {
                let parameters = item[*method]["parameters"].as_array().cloned().unwrap_or_default();
                if !parameters.iter().any(|p| p["name"] == name && p["in"] == "path") {
                    check.fail(&format!("{at}.{method}"), format!("the path's {{{name}}} is a path parameter"));
                }
            }
        }
        if !METHODS.iter().any(|m| item.contains_key(*m)) {
            check.fail(&at, "no operation");
        }
        for method in METHODS.iter().filter(|m| item.contains_key(**m)) {
            check.operation(&format!("{at}.{method}"), &item[*method], &tags, &mut ids);
        }
        // What a path answers to the methods it does not list: responses, as an operation's.
        if let Some(other) = item
            .get("x-other-methods")
            .and_then(|o| check.object(&format!("{at}.x-other-methods"), o, &["summary", "description", "responses"]))
        {
            for (status, response) in other.get("responses").and_then(Value::as_object).into_iter().flatten() {
                check.response(&format!("{at}.x-other-methods.{status}"), response);
            }
        }
    }
    check.security("$.security", root.get("security"));
    check.problems
}

/// The names a templated path (`/a/{id}/b`) takes.
fn templated_names(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

#[test]
fn the_document_is_well_formed_openapi_3_1() {
    let doc: Value = serde_json::from_str(DOCUMENT).expect("static/openapi.json is JSON");
    let problems = problems(&doc);
    assert!(problems.is_empty(), "static/openapi.json:\n{}", problems.join("\n"));
}

#[test]
fn the_check_catches_what_it_is_for() {
    let mut doc: Value = serde_json::from_str(DOCUMENT).unwrap();
    doc["openapi"] = "3.0.3".into();
    doc["paths"]["/chat-complete"]["get"]["responses"]["200"] =
        serde_json::json!({ "$ref": "#/components/responses/Nothing" });
    doc["paths"]["/chat-complete"]["get"]["tags"] = serde_json::json!(["nobody"]);
    doc["paths"]["/chat-stream"]["post"]["operationId"] = "chatCompleteGet".into();
    doc["components"]["schemas"]["Error"]["required"] = serde_json::json!(["detail", "missing"]);
    doc["components"]["parameters"]["errors"]["in"] = "body".into();
    doc["paths"]["/chat-stream/{id}/stream"]["get"]["parameters"] = serde_json::json!([]);
    let problems = problems(&doc).join("\n");
    for expected in [
        "3.0.3",
        "Nothing resolves to nothing",
        "tag \"nobody\"",
        "chatCompleteGet is not unique",
        "\"missing\" is not a property",
        "name and in",
        "{id} is a path parameter",
    ] {
        assert!(problems.contains(expected), "{expected} not caught in:\n{problems}");
    }
}

/// The official OpenAPI 3.1 schema, as openapi-spec-validator applies it.
#[test]
fn the_document_passes_the_official_validator() {
    let root = e2e::workspace_root();
    let python = root.join(".venv").join("bin").join("python");
    let output = std::process::Command::new(&python)
        .args(["-m", "openapi_spec_validator", "--schema", "3.1", "--validation-errors", "all"])
        .arg(root.join("static").join("openapi.json"))
        .output()
        .unwrap_or_else(|e| panic!("run {} (scripts/test makes the .venv): {e}", python.display()));
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && said.contains("OK"), "{said}");
}
