//! A local OpenID provider on loopback (tests/oidc/provider.py: discovery, a JWKS of RSA, EC
//! and Ed25519 keys, rotation, a hit counter), whose tokens PyJWT signs: another language's
//! well-kept JWT library, so our verifier is not checked against itself.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::{Value, json};

use crate::watch::workspace_root;

/// The audience the provider's tokens carry by default.
pub const AUDIENCE: &str = "chat-test";

/// A running provider; stopped when dropped (it also exits when its stdin closes).
pub struct OidcProvider {
    child: Child,
    _stdin: ChildStdin,
    issuer: String,
    http: reqwest::Client,
}

impl OidcProvider {
    pub fn start() -> Self {
        let python = workspace_root().join(".venv").join("bin").join("python");
        let script = workspace_root().join("tests").join("oidc").join("provider.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .args(["--port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {} (run scripts/test to install PyJWT): {e}", python.display()));
        let stdin = child.stdin.take().expect("the provider's stdin");
        let stdout = child.stdout.take().expect("the provider's stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("the provider's first line");
        let issuer =
            line.trim().strip_prefix("listening ").unwrap_or_else(|| panic!("the provider said {line:?}")).to_owned();
        chat_core::tls::install_crypto_provider();
        Self { child, _stdin: stdin, issuer, http: reqwest::Client::new() }
    }

    /// `http://127.0.0.1:<port>`: the exact `iss` of its tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response =
            self.http.post(format!("{}{path}", self.issuer)).json(&body).send().await.expect("the provider answers");
        assert!(response.status().is_success(), "POST {path}: {}", response.status());
        response.json().await.expect("the provider's JSON")
    }

    /// A token of the default RSA key with these claims over the defaults (`null` removes one).
    pub async fn mint(&self, claims: Value) -> String {
        self.mint_with(json!({ "claims": claims })).await
    }

    /// A token as `request` asks (`family`, `alg`, `kid`, `headers`, `unpublished`; see provider.py).
    pub async fn mint_with(&self, request: Value) -> String {
        self.post("/mint", request).await["token"].as_str().expect("a token").to_owned()
    }

    /// A new key of `family` published beside the old ones (or instead, with `drop_old`); its kid.
    pub async fn rotate(&self, family: &str, drop_old: bool) -> String {
        self.post("/rotate", json!({ "family": family, "drop_old": drop_old })).await["kid"]
            .as_str()
            .expect("a kid")
            .to_owned()
    }

    /// Discovery and JWKS answer 503 while `down`.
    pub async fn set_down(&self, down: bool) {
        self.post("/config", json!({ "down": down })).await;
    }

    /// The JWKS's `Cache-Control: max-age`, or none.
    pub async fn set_cache_max_age(&self, seconds: Option<u64>) {
        self.post("/config", json!({ "cache_max_age": seconds })).await;
    }

    /// How often the JWKS was fetched.
    pub async fn jwks_hits(&self) -> u64 {
        let hits: Value =
            self.http.get(format!("{}/hits", self.issuer)).send().await.expect("hits").json().await.expect("hits JSON");
        hits["jwks"].as_u64().expect("a count")
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
