//! `ACCESS=jwt`: the identity provider whose signed-in users may call, read once at init.

use crate::setting::{ConfigError, is_loopback};

/// `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_JWKS_URL`, `JWT_LIMITS_CLAIM`, `JWT_PLAN_LIMITS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// The exact `iss` every token must carry.
    pub issuer: String,
    /// Accepted values of `aud` (or of `client_id`, for Cognito access tokens, which have no `aud`).
    pub audiences: Vec<String>,
    /// Where the keys are; otherwise found through the issuer's discovery document.
    pub jwks_url: Option<String>,
    /// The claim whose value names the user's plan, e.g. `plan`.
    pub limits_claim: Option<String>,
    /// Per-plan limits; a user with no plan, or one not listed, gets the per-caller defaults.
    pub plans: Vec<PlanLimits>,
}

/// One entry of `JWT_PLAN_LIMITS`: `<plan>=<requests per minute>/<tokens per day>[/$<dollars per day>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanLimits {
    pub plan: String,
    pub rate_per_minute: u64,
    pub tokens_per_day: u64,
    /// In nano-dollars; `None`: the deployment's `CALLER_USD_PER_DAY`, if any.
    pub usd_per_day: Option<crate::prices::Nanos>,
}

impl JwtConfig {
    /// The discovery document that names the JWKS when `JWT_JWKS_URL` is not set.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'))
    }

    /// The limits of `plan`, when the deployment lists it.
    pub fn plan(&self, plan: &str) -> Option<&PlanLimits> {
        self.plans.iter().find(|p| p.plan == plan)
    }

    pub(crate) fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str, expected: &'static str| {
            get(name).ok_or(ConfigError::Invalid { name, value: String::new(), expected })
        };
        let issuer = required(
            "JWT_ISSUER",
            "the identity provider's issuer URL (the exact `iss` of its tokens), required with ACCESS=jwt",
        )?;
        check_url("JWT_ISSUER", &issuer)?;
        let audiences: Vec<String> = required(
            "JWT_AUDIENCE",
            "the accepted audiences (or Cognito app client ids), comma-separated, required with ACCESS=jwt",
        )?
        .split(',')
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect();
        if audiences.is_empty() {
            return Err(ConfigError::Invalid {
                name: "JWT_AUDIENCE",
                value: String::new(),
                expected: "at least one audience",
            });
        }
        let jwks_url = get("JWT_JWKS_URL");
        if let Some(url) = &jwks_url {
            check_url("JWT_JWKS_URL", url)?;
        }
        let plans = get("JWT_PLAN_LIMITS").map(|v| plan_limits(&v)).transpose()?.unwrap_or_default();
        Ok(Self { issuer, audiences, jwks_url, limits_claim: get("JWT_LIMITS_CLAIM"), plans })
    }
}

/// `free=5/20000,pro=60/1000000/$2.50`.
fn plan_limits(value: &str) -> Result<Vec<PlanLimits>, ConfigError> {
    let invalid = || ConfigError::Invalid {
        name: "JWT_PLAN_LIMITS",
        value: value.to_owned(),
        expected: "comma-separated <plan>=<requests per minute>/<tokens per day>[/$<dollars per day>], e.g. free=5/20000/$0.05,pro=60/1000000",
    };
    let positive = |n: &str| n.trim().parse::<u64>().ok().filter(|n| *n > 0);
    value
        .split(',')
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| {
            let (plan, limits) = entry.split_once('=').ok_or_else(invalid)?;
            let (rate, tokens) = limits.split_once('/').ok_or_else(invalid)?;
            let (tokens, usd) = match tokens.split_once('/') {
                Some((tokens, usd)) => {
                    (tokens, Some(crate::prices::parse_usd(usd).filter(|n| *n > 0).ok_or_else(invalid)?))
                }
                None => (tokens, None),
            };
            let plan = plan.trim();
            if plan.is_empty() {
                return Err(invalid());
            }
            Ok(PlanLimits {
                plan: plan.to_owned(),
                rate_per_minute: positive(rate).ok_or_else(invalid)?,
                tokens_per_day: positive(tokens).ok_or_else(invalid)?,
                usd_per_day: usd,
            })
        })
        .collect()
}

/// Keys are fetched from these URLs and trusted: `https`, or plain `http` only on this machine.
fn check_url(name: &'static str, url: &str) -> Result<(), ConfigError> {
    let invalid = |expected| ConfigError::Invalid { name, value: url.to_owned(), expected };
    let uri: http::Uri = url.parse().map_err(|_| invalid("an https URL"))?;
    let host = uri.host().ok_or_else(|| invalid("an https URL"))?;
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if is_loopback(host) => Ok(()),
        _ => Err(invalid("an https URL, or http only to a loopback address (keys fetched in clear could be forged)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(vars: &[(&str, &str)]) -> Result<JwtConfig, ConfigError> {
        JwtConfig::from_lookup(&|name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn issuer_and_audience_are_required_and_the_issuer_must_be_https_or_local() {
        assert!(jwt(&[("JWT_AUDIENCE", "app")]).unwrap_err().to_string().contains("JWT_ISSUER"));
        assert!(jwt(&[("JWT_ISSUER", "https://id.example")]).unwrap_err().to_string().contains("JWT_AUDIENCE"));
        assert!(jwt(&[("JWT_ISSUER", "http://id.example"), ("JWT_AUDIENCE", "app")]).is_err());
        assert!(
            jwt(&[
                ("JWT_ISSUER", "https://id.example"),
                ("JWT_AUDIENCE", "app"),
                ("JWT_JWKS_URL", "http://evil.example/k")
            ])
            .is_err()
        );
        let config = jwt(&[("JWT_ISSUER", "http://127.0.0.1:9/realm/"), ("JWT_AUDIENCE", " app , other ,")]).unwrap();
        assert_eq!(config.audiences, ["app", "other"]);
        assert_eq!(config.discovery_url(), "http://127.0.0.1:9/realm/.well-known/openid-configuration");
        assert_eq!(config.issuer, "http://127.0.0.1:9/realm/", "the issuer is kept exactly: `iss` must match it");
    }

    #[test]
    fn plan_limits_are_read_in_one_variable() {
        let vars = [
            ("JWT_ISSUER", "https://id.example"),
            ("JWT_AUDIENCE", "app"),
            ("JWT_PLAN_LIMITS", "free=5/20000/$0.05, pro=60/1000000"),
        ];
        let config = jwt(&vars).unwrap();
        assert_eq!(
            config.plan("pro"),
            Some(&PlanLimits { plan: "pro".into(), rate_per_minute: 60, tokens_per_day: 1_000_000, usd_per_day: None })
        );
        assert_eq!(config.plan("free").map(|p| (p.rate_per_minute, p.usd_per_day)), Some((5, Some(50_000_000))));
        assert_eq!(config.plan("gold"), None);
        for bad in ["free", "free=5", "free=0/10", "=5/10", "free=5/many", "free=5/10/$", "free=5/10/$0", "free=5/10/x"]
        {
            let vars = [("JWT_ISSUER", "https://id.example"), ("JWT_AUDIENCE", "app"), ("JWT_PLAN_LIMITS", bad)];
            assert!(jwt(&vars).unwrap_err().to_string().contains("JWT_PLAN_LIMITS"), "{bad}");
        }
    }
}
