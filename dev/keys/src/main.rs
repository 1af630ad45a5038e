//! `scripts/keys`: access keys for `ACCESS=keys`, in the limits table named by `--table` or
//! `LIMITS_TABLE` (the deployed table, or a local emulator through the AWS SDK's own variables,
//! e.g. `AWS_ENDPOINT_URL_DYNAMODB`).
//!
//! ```text
//! keys create <name> [--rate N] [--tokens N]   a new key, shown once
//! keys list                                    every key, its limits and its tokens today
//! keys limits <id> [--rate N] [--tokens N]     a key's own limits (per minute, per day)
//! keys revoke <id>                             the key stops working at once
//! ```

use spend::{KeyRecord, Store, day_now, generate_key};

const USAGE: &str = "usage: keys [--table T] create <name> [--rate N] [--tokens N] | list | limits <id> [--rate N] [--tokens N] | revoke <id>";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    chat_core::tls::install_crypto_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(output) => println!("{output}"),
        Err(error) => {
            eprintln!("keys: {error}");
            std::process::exit(2);
        }
    }
}

/// Runs one command and returns what to print.
async fn run(args: &[String]) -> Result<String, String> {
    let option = |name: &str| -> Result<Option<u64>, String> {
        match args.iter().position(|a| a == name) {
            None => Ok(None),
            Some(i) => args
                .get(i + 1)
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or(format!("{name} takes a positive number")),
        }
    };
    let table = match args.iter().position(|a| a == "--table") {
        Some(i) => args.get(i + 1).cloned(),
        None => std::env::var("LIMITS_TABLE").ok(),
    }
    .ok_or("name the table with --table or LIMITS_TABLE")?;
    let words: Vec<&str> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            !(a.starts_with("--")
                || i.checked_sub(1).and_then(|p| args.get(p)).is_some_and(|flag| flag.starts_with("--")))
        })
        .map(|(_, a)| a.as_str())
        .collect();
    let store = Store::from_env(table);
    let failed = |e: chat_core::ApiError| e.log_detail();
    match words.as_slice() {
        ["create", name] => {
            let key = generate_key().map_err(failed)?;
            let record = store.put_key(&key, name).await.map_err(failed)?;
            let record =
                store.update_key(&record.id, option("--rate")?, option("--tokens")?, false).await.map_err(failed)?;
            Ok(format!("{key}\n(shown only now: the table keeps its hash)\n{}", describe(&record, 0)))
        }
        ["list"] => {
            let mut lines = Vec::new();
            for record in store.keys().await.map_err(failed)? {
                let used = store.used(&format!("tokens#key:{}#{}", record.id, day_now())).await.map_err(failed)?;
                lines.push(describe(&record, used));
            }
            Ok(if lines.is_empty() { "no keys".to_owned() } else { lines.join("\n") })
        }
        ["limits", id] => store
            .update_key(id, option("--rate")?, option("--tokens")?, false)
            .await
            .map(|r| describe(&r, 0))
            .map_err(failed),
        ["revoke", id] => store.update_key(id, None, None, true).await.map(|r| describe(&r, 0)).map_err(failed),
        _ => Err(USAGE.to_owned()),
    }
}

fn describe(record: &KeyRecord, used_today: u64) -> String {
    let limit = |value: Option<u64>| value.map_or("default".to_owned(), |n| n.to_string());
    format!(
        "{}  {:<20} {}  rate/min: {}  tokens/day: {}  used today: {used_today}",
        record.id,
        record.name,
        if record.revoked { "revoked" } else { "active " },
        limit(record.rate_per_minute),
        limit(record.tokens_per_day),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &str) -> Vec<String> {
        words.split_whitespace().map(str::to_owned).collect()
    }

    // Through the tool's own commands, against dynalite; the key is printed once and never again.
    #[tokio::test]
    #[cfg_attr(
        not(feature = "e2e"),
        ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it"
    )]
    async fn create_list_limit_and_revoke() {
        let dynamo = test_harness::Dynalite::start().await;
        dynamo.create_limits_table("keys").await;
        // SAFETY: this crate's only test sets the variable before the SDK reads it.
        unsafe {
            std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", dynamo.endpoint());
            std::env::set_var("AWS_REGION", "us-east-1");
            std::env::set_var("AWS_ACCESS_KEY_ID", "test");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        }
        chat_core::tls::install_crypto_provider();
        let created = run(&args("--table keys create alice --rate 3")).await.unwrap();
        let key = created.lines().next().unwrap().to_owned();
        assert!(key.starts_with("chat_"), "{created}");
        let id = &spend::key_hash(&key)[..16];
        let listed = run(&args("--table keys list")).await.unwrap();
        assert!(listed.contains(id) && listed.contains("alice") && listed.contains("rate/min: 3"), "{listed}");
        assert!(!listed.contains(&key), "the key is shown only when created");
        assert!(
            run(&args(&format!("--table keys limits {id} --tokens 500"))).await.unwrap().contains("tokens/day: 500")
        );
        assert!(run(&args(&format!("--table keys revoke {id}"))).await.unwrap().contains("revoked"));
        assert!(run(&args("--table keys bogus")).await.unwrap_err().starts_with("usage"));
    }
}
