//! The minted key against AWS's own generator (known answers made with
//! `aws-bedrock-token-generator-python` 1.1.0 on botocore 1.43.11, its clock fixed), the shape
//! of the URL inside it, the refresh rule, and the minter's cache.

use super::*;

const ACCESS: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SESSION: &str = "IQoJb3JpZ2luX2VjEXAMPLE/token+with=chars";

/// 2026-12-06T12:00:00Z.
fn noon() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_558_400)
}

fn decoded(key: &str) -> String {
    let encoded = key.strip_prefix(KEY_PREFIX).unwrap();
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap()
}

#[test]
fn the_key_is_byte_for_byte_what_aws_s_generator_makes() {
    let role = Credentials::new(ACCESS, SECRET, Some(SESSION.into()), None, "test");
    let key = mint(&role, "us-east-1", noon(), LIFETIME).unwrap();
    assert_eq!(
        key,
        "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29tLz9BY3Rpb249Q2FsbFdpdGhCZWFyZXJUb2tlbiZYLUFtei1BbGdvcml0aG09QVdTNC1ITUFDLVNIQTI1NiZYLUFtei1DcmVkZW50aWFsPUFLSURFWEFNUExFJTJGMjAyNjEyMDYlMkZ1cy1lYXN0LTElMkZiZWRyb2NrJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9MjAyNjEyMDZUMTIwMDAwWiZYLUFtei1FeHBpcmVzPTM2MDAmWC1BbXotU2lnbmVkSGVhZGVycz1ob3N0JlgtQW16LVNlY3VyaXR5LVRva2VuPUlRb0piM0pwWjJsdVgyVmpFWEFNUExFJTJGdG9rZW4lMkJ3aXRoJTNEY2hhcnMmWC1BbXotU2lnbmF0dXJlPTFmZmJhMzQ1Y2E1MzQwZDExNDdjYmVkYjU1OTBmZWM0MWM4MTYwZTA1MjhmMjExYTA0OGYxMThjODJkOTM3NTkmVmVyc2lvbj0x"
    );
    // Long-term credentials (no session token), the longest lifetime, another region.
    let user = Credentials::new(ACCESS, SECRET, None, None, "test");
    let key = mint(&user, "us-west-2", noon(), MAX_LIFETIME).unwrap();
    assert_eq!(
        decoded(&key),
        "bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261206%2Fus-west-2%2Fbedrock%2Faws4_request&X-Amz-Date=20261206T120000Z&X-Amz-Expires=43200&X-Amz-SignedHeaders=host&X-Amz-Signature=e54bc32a20e64ea3a5ad706af10d02b60df225033cdd3f87118e65cfe672224f&Version=1"
    );
}

#[test]
fn the_url_inside_is_the_presigned_action_with_version_after_the_signature() {
    let role = Credentials::new(ACCESS, SECRET, Some(SESSION.into()), None, "test");
    let url = decoded(&mint(&role, "eu-west-1", noon(), Duration::from_secs(900)).unwrap());
    assert!(
        url.starts_with("bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Algorithm=AWS4-HMAC-SHA256&"),
        "{url}"
    );
    assert!(!url.contains("https://"), "the scheme is left out");
    assert!(url.contains("&X-Amz-Credential=AKIDEXAMPLE%2F20261206%2Feu-west-1%2Fbedrock%2Faws4_request&"), "{url}");
    assert!(url.contains("&X-Amz-Expires=900&") && url.contains("&X-Amz-SignedHeaders=host&"), "{url}");
    let (signed, version) = url.rsplit_once("&X-Amz-Signature=").unwrap();
    assert!(signed.ends_with("&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2Ftoken%2Bwith%3Dchars"), "{signed}");
    let (signature, after) = version.split_at(64);
    assert!(signature.bytes().all(|b| b.is_ascii_hexdigit()) && after == "&Version=1", "{version}");
    // Same inputs, same key: nothing random; another second, another key.
    let again = mint(&role, "eu-west-1", noon(), Duration::from_secs(900)).unwrap();
    assert_eq!(decoded(&again), url);
    let later = mint(&role, "eu-west-1", noon() + Duration::from_secs(1), Duration::from_secs(900)).unwrap();
    assert_ne!(decoded(&later), url);
}

#[test]
fn a_lifetime_past_twelve_hours_or_no_region_is_refused_without_the_secret_in_the_error() {
    let role = Credentials::new(ACCESS, SECRET, None, None, "test");
    for (region, lifetime) in
        [("us-east-1", MAX_LIFETIME + Duration::from_secs(1)), ("us-east-1", Duration::ZERO), ("", LIFETIME)]
    {
        let error = mint(&role, region, noon(), lifetime).unwrap_err();
        assert_eq!(error.status(), 500);
        assert!(!error.log_detail().contains(SECRET) && !error.detail().contains("Bedrock"), "{}", error.log_detail());
    }
}

#[test]
fn a_key_is_replaced_well_before_it_or_its_credentials_die() {
    let now = noon();
    // Credentials that outlive the key: replaced MARGIN before the key's own end.
    assert_eq!(refresh_at(now, LIFETIME, None), now + LIFETIME - MARGIN);
    assert_eq!(refresh_at(now, LIFETIME, Some(now + Duration::from_secs(6 * 3600))), now + LIFETIME - MARGIN);
    // Session credentials that end first: the key dies with them, so it is replaced before that.
    let expiring = now + Duration::from_secs(30 * 60);
    assert_eq!(refresh_at(now, LIFETIME, Some(expiring)), expiring - MARGIN);
    // Credentials about to expire: used once, minted again at the next request.
    assert_eq!(refresh_at(now, LIFETIME, Some(now + Duration::from_secs(60))), now);
    assert!(MARGIN > Duration::from_secs(15 * 60), "a key outlives the longest invocation that took it");
}

#[tokio::test]
async fn the_minter_keeps_its_key_until_due_and_mints_anew_after_a_refusal() {
    let expires = SystemTime::now() + Duration::from_secs(2 * 3600);
    let role = Credentials::new(ACCESS, SECRET, Some(SESSION.into()), Some(expires), "test");
    let minter = Minter::new("us-east-1".into(), CredentialSource::Given(SharedCredentialsProvider::new(role)));
    let first = minter.get().await.unwrap();
    assert!(first.starts_with(KEY_PREFIX));
    assert_eq!(minter.get().await.unwrap(), first, "cached while fresh");
    // Refused: minted anew unless minted in the same second (then there is nothing new to try).
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let fresh = minter.refresh(&first).await.unwrap().unwrap();
    assert_ne!(fresh, first);
    assert_eq!(minter.get().await.unwrap(), fresh);
    assert_eq!(minter.refresh(&first).await.unwrap(), Some(fresh.clone()), "another request's new key is shared");
}

#[derive(Debug)]
struct NoRole;

impl ProvideCredentials for NoRole {
    fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let error = aws_credential_types::provider::error::CredentialsError::not_loaded("no role here");
        aws_credential_types::provider::future::ProvideCredentials::ready(Err(error))
    }
}

#[tokio::test]
async fn without_credentials_the_error_is_the_deployment_s_and_names_the_cause_in_the_log_only() {
    let minter = Minter::new("us-east-1".into(), CredentialSource::Given(SharedCredentialsProvider::new(NoRole)));
    let error = minter.get().await.unwrap_err();
    assert_eq!((error.status().as_u16(), error.code()), (500, "misconfigured"));
    assert!(error.log_detail().contains("no AWS credentials"), "{}", error.log_detail());
}

#[test]
fn the_stand_in_playing_bedrock_takes_a_minted_key_and_refuses_what_bedrock_would() {
    use openai_stub::bedrock::{BedrockCheck, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};
    let role = Credentials::new(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, Some(SESSION.into()), None, "test");
    let key = mint(&role, "us-east-1", noon(), LIFETIME).unwrap();
    let bedrock = BedrockCheck::test_role("us-east-1");
    assert_eq!(bedrock.verify(&key, noon() + Duration::from_secs(600)), Ok(()));
    let refused = |check: &BedrockCheck, key: &str, at: SystemTime| check.verify(key, at).unwrap_err();
    assert!(refused(&bedrock, &key, noon() + LIFETIME + Duration::from_secs(1)).contains("expired"));
    assert!(refused(&bedrock, &key, noon() - Duration::from_secs(3600)).contains("future"));
    assert!(refused(&BedrockCheck::test_role("eu-west-1"), &key, noon()).contains("eu-west-1"));
    let stranger = Credentials::new(TEST_ACCESS_KEY_ID, SECRET, None, None, "test");
    let forged = mint(&stranger, "us-east-1", noon(), LIFETIME).unwrap();
    assert!(refused(&bedrock, &forged, noon()).contains("signature"));
    // A longer life written into a signed key breaks its signature.
    let stretched = decoded(&key).replace("X-Amz-Expires=3600", "X-Amz-Expires=43200");
    let stretched = format!("{KEY_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(stretched));
    assert!(refused(&bedrock, &stretched, noon()).contains("signature"));
    assert!(refused(&bedrock, "sk-an-openai-key", noon()).contains("not a Bedrock API key"));
}
