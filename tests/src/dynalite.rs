//! dynalite, a DynamoDB emulator that is atomic under concurrent conditional writes, on a
//! loopback port (installed by the test command into tests/dynamo/node_modules); stopped when
//! dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
};

use crate::{free_port, workspace_root};

pub struct Dynalite {
    child: Child,
    port: u16,
    endpoint: String,
}

impl Dynalite {
    pub async fn start() -> Self {
        let port = free_port();
        let binary = workspace_root().join("tests/dynamo/node_modules/.bin/dynalite");
        let child = Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--createTableMs", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dynalite (run scripts/test, which installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "dynalite did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, port, endpoint: format!("http://127.0.0.1:{port}") }
    }

    /// A limits table with two callers' access keys in it (Alice's and Bob's), for tests of who
    /// may see what; the table's store and the keys.
    pub async fn with_two_keys(&self, table: &str) -> (spend::Store, String, String) {
        self.create_limits_table(table).await;
        let store = spend::Store::with_client(table.into(), self.client());
        let (alice, bob) = (spend::generate_key().expect("key"), spend::generate_key().expect("key"));
        store.put_key(&alice, "alice").await.expect("alice's key");
        store.put_key(&bob, "bob").await.expect("bob's key");
        (store, alice, bob)
    }

    /// The variables that turn a function's limits on in `table` of this emulator, as deployed.
    pub fn limits_env<'a>(&'a self, table: &'a str) -> [(&'static str, &'a str); 5] {
        [
            ("LIMITS_TABLE", table),
            ("AWS_ENDPOINT_URL_DYNAMODB", self.endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ]
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// A client on the project's TLS stack, with test credentials.
    pub fn client(&self) -> Client {
        Self::client_at(&self.endpoint())
    }

    /// The same client, pointed at `endpoint` (a proxy in front of the emulator).
    pub fn client_at(endpoint: &str) -> Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .http_client(chat_core::tls::aws_https_client())
            .build();
        Client::from_conf(config)
    }

    /// Creates a table with the contract's key schema (`pk`, String) and waits until it is active.
    pub async fn create_limits_table(&self, name: &str) {
        let client = self.client();
        client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attribute"),
            )
            .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().expect("key"))
            .send()
            .await
            .expect("create the limits table");
        let started = Instant::now();
        loop {
            let table = client.describe_table().table_name(name).send().await.expect("describe");
            if table.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "the table did not become active");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the emulator now (the store-unreachable case).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Dynalite {
    fn drop(&mut self) {
        self.stop();
    }
}
