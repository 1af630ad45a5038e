//! MCP approvals: when an MCP server of the owner's (`OPENAI_TOOLS`, `require_approval`) needs
//! the caller's yes before a call, the answer ends with the request, and the caller answers it
//! with a follow-up (`approvals`). Checked here: each answer names a request of the answer it
//! follows, once.

use serde_json::Value;

use crate::ApiError;

/// The most approvals one follow-up may carry.
pub const MAX_APPROVALS: usize = 32;

/// A call of an MCP server's tool waiting on the caller's yes or no.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApprovalRequest {
    pub approval_request_id: String,
    pub server_label: String,
    /// The MCP tool it would call, and its arguments as the model wrote them (a JSON text).
    pub name: String,
    pub arguments: String,
}

/// The caller's yes or no to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub approval_request_id: String,
    pub approve: bool,
}

/// Reads a request's `approvals`: `[{"approval_request_id", "approve": true|false}]`, each
/// request once. Absent or `null` is none.
pub fn approvals(approvals: Option<Value>) -> Result<Vec<Approval>, ApiError> {
    let invalid = |why: String| ApiError::InvalidApprovals(why);
    let approvals = match approvals {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(approvals)) => approvals,
        Some(_) => return Err(invalid("send an array of {\"approval_request_id\", \"approve\"}".into())),
    };
    if approvals.len() > MAX_APPROVALS {
        return Err(invalid(format!("{} approvals; at most {MAX_APPROVALS}", approvals.len())));
    }
    let mut checked: Vec<Approval> = Vec::with_capacity(approvals.len());
    for (index, approval) in approvals.into_iter().enumerate() {
        let id = approval.get("approval_request_id").and_then(Value::as_str).unwrap_or_default();
        if !crate::functions::is_call_id(id) {
            return Err(invalid(format!("approval {index} needs the `approval_request_id` of the request it answers")));
        }
        let Some(approve) = approval.get("approve").and_then(Value::as_bool) else {
            return Err(invalid(format!("approval {index} needs `approve`: true or false")));
        };
        if checked.iter().any(|known| known.approval_request_id == id) {
            return Err(invalid(format!("two approvals answer {id:?}")));
        }
        checked.push(Approval { approval_request_id: id.to_owned(), approve });
    }
    Ok(checked)
}

/// Whether each of `approvals` answers one of `requests` (the request ids of the answer they
/// follow). A request left unanswered is not called.
pub fn check_answers(requests: &[&str], approvals: &[Approval]) -> Result<(), ApiError> {
    match approvals.iter().find(|approval| !requests.contains(&approval.approval_request_id.as_str())) {
        Some(unknown) => Err(ApiError::InvalidApprovals(format!(
            "{:?} is not a request of the answer they follow",
            unknown.approval_request_id
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn approvals_are_a_yes_or_no_to_each_request_of_the_answer_once() {
        let read = approvals(Some(
            json!([{"approval_request_id": "mcpr_1", "approve": true}, {"approval_request_id": "mcpr_2", "approve": false}]),
        ));
        let expected = [
            Approval { approval_request_id: "mcpr_1".into(), approve: true },
            Approval { approval_request_id: "mcpr_2".into(), approve: false },
        ];
        assert_eq!(read.as_deref(), Ok(&expected[..]));
        assert_eq!(approvals(None), Ok(vec![]));
        for (bad, words) in [
            (json!({"approval_request_id": "mcpr_1"}), "array"),
            (json!([{"approve": true}]), "approval_request_id"),
            (json!([{"approval_request_id": "mcpr_1", "approve": "yes"}]), "true or false"),
            (
                json!([{"approval_request_id": "mcpr_1", "approve": true}, {"approval_request_id": "mcpr_1", "approve": false}]),
                "two",
            ),
        ] {
            let error = approvals(Some(bad.clone())).unwrap_err();
            assert_eq!(error.code(), "invalid_approvals", "{bad}");
            assert!(error.detail().contains(words), "{bad}: {}", error.detail());
        }
        assert_eq!(check_answers(&["mcpr_1", "mcpr_2"], &expected[..1]), Ok(()), "one left unanswered is not called");
        assert!(check_answers(&["mcpr_2"], &expected).unwrap_err().detail().contains("mcpr_1"));
    }
}
