use super::*;

#[test]
fn statuses_say_whose_fault_it_is() {
    assert_eq!(ApiError::BlankMessage.status(), 400);
    assert_eq!(ApiError::MessageTooLong { actual: 9, limit: 8 }.status(), 413);
    assert_eq!(ApiError::UpstreamTimeout(Wait::FirstText).status(), 504);
    assert_eq!(ApiError::RateLimited { retry_after: None }.status(), 429);
    assert_eq!(ApiError::UpstreamServerError(503).status(), 502);
    assert_eq!(ApiError::Misconfigured("x".into()).status(), 500);
}

#[test]
fn error_response_is_json_with_detail_and_retry_after() {
    let error = ApiError::RateLimited { retry_after: Some(Duration::from_millis(1500)) };
    let response: http::Response<String> = error.to_response("req-1");
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
    assert_eq!(body["detail"], "OpenAI is rate limiting this deployment; try again in a moment");
    assert_eq!((body["code"].as_str(), body["request_id"].as_str()), (Some("upstream_rate_limited"), Some("req-1")));
}

#[test]
fn public_details_hold_nothing_internal() {
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/openai-AbCdEf";
    let secret = ApiError::SecretUnavailable {
        secret_id: arn.into(),
        reason: "AccessDeniedException: User arn:aws:sts::123456789012:assumed-role/x".into(),
    };
    let misconfigured = ApiError::Misconfigured("could not build the HTTP client: /etc/ssl".into());
    for error in [secret, misconfigured] {
        let public = format!("{} {}", error.detail(), error.to_json("req-2"));
        for internal in ["arn:", "123456789012", "AccessDenied", "secret:", "/etc/ssl"] {
            assert!(!public.contains(internal), "{internal} in {public}");
        }
        assert!(error.log_detail().len() > error.detail().len() / 2, "the log keeps the cause");
        assert_eq!(error.status(), 500);
    }
    assert!(ApiError::SecretUnavailable { secret_id: arn.into(), reason: "x".into() }.log_detail().contains(arn));
}

#[test]
fn openai_own_words_reach_the_log_not_the_caller() {
    let words = "Invalid value for 'input': org-12345 has billing hold";
    for error in [ApiError::UpstreamRejected(words.into()), ApiError::StreamFailed(words.into())] {
        assert!(
            !error.detail().contains("org-12345") && !error.to_json("r").contains("Invalid value"),
            "{}",
            error.detail()
        );
        assert!(error.log_detail().contains(words), "{}", error.log_detail());
    }
}

#[test]
fn examples_hold_each_variant_once() {
    let examples = ApiError::examples();
    let kinds: std::collections::HashSet<_> = examples.iter().map(std::mem::discriminant).collect();
    assert_eq!(kinds.len(), examples.len(), "a variant is listed twice");
    // The one that hides a wait from `Retry-After` would make the drift test miss the header.
    assert!(examples.iter().all(|e| !matches!(e, ApiError::RateLimited { retry_after: None })));
}

#[test]
fn conversation_problems_are_4xx_with_stable_codes() {
    assert_eq!(
        (ApiError::ContextTooLong.status().as_u16(), ApiError::ContextTooLong.code()),
        (400, "context_length_exceeded")
    );
    let gone = ApiError::PreviousResponseNotFound;
    assert_eq!((gone.status().as_u16(), gone.code()), (404, "previous_response_not_found"));
    assert!(gone.detail().contains("new chat") && ApiError::ContextTooLong.detail().contains("new chat"));
    assert!(ApiError::BlankMessage.is_callers_fault());
    assert!(!ApiError::RateLimited { retry_after: None }.is_callers_fault());
}
