//! What OpenAI says of hosted tools: which output items are billed calls, what a search looked
//! for, and the citations of an answer's text.

use serde::Deserialize;

use super::{ContentPart, OutputItem, ResponseObject};

impl OutputItem {
    /// A hosted tool call's item type (`web_search_call`, ...); `None` for anything else.
    pub fn tool_call(&self) -> Option<&'static str> {
        self.tool_step().map(|(call, _, _)| call)
    }

    /// A hosted tool call's `(item type, item id, what it searched for)`.
    fn tool_step(&self) -> Option<(&'static str, Option<&str>, Option<&str>)> {
        match self {
            Self::WebSearchCall { id, action } => {
                let query = action.as_ref().and_then(|action| action.query.as_deref());
                Some(("web_search_call", id.as_deref(), query))
            }
            Self::FileSearchCall { id } => Some(("file_search_call", id.as_deref(), None)),
            Self::CodeInterpreterCall { id } => Some(("code_interpreter_call", id.as_deref(), None)),
            Self::McpCall { id } => Some(("mcp_call", id.as_deref(), None)),
            Self::Message { .. }
            | Self::Reasoning { .. }
            | Self::Compaction {}
            | Self::FunctionCall { .. }
            | Self::McpApprovalRequest { .. }
            | Self::Other => None,
        }
    }
}

/// A `web_search_call`'s action: a search and its query, a page opened, a find in it.
#[derive(Debug, Clone, Deserialize)]
pub struct ToolAction {
    #[serde(default)]
    pub query: Option<String>,
}

/// One citation of the answer's text; only `url_citation` carries a link.
#[derive(Debug, Clone, Deserialize)]
pub struct Annotation {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
}

/// A cited page: shown as a link under the answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Source {
    pub url: String,
    pub title: String,
}

impl Annotation {
    /// The page a `url_citation` cites, when its URL is http or https (nothing else is a link a
    /// reader may follow).
    pub fn source(&self) -> Option<Source> {
        let url = self.url.as_deref().filter(|_| self.kind == "url_citation")?;
        let scheme = url.split_once("://")?.0.to_ascii_lowercase();
        (scheme == "http" || scheme == "https")
            .then(|| Source { url: url.to_owned(), title: self.title.clone().unwrap_or_else(|| url.to_owned()) })
    }
}

impl ResponseObject {
    /// The answer's hosted tool calls, each as its last step (`completed`, with what it searched
    /// for): what a reader who reads the stored answer from its start is told of them.
    pub fn tool_steps(&self) -> Vec<crate::UpstreamEvent> {
        let steps = self.output.iter().filter_map(OutputItem::tool_step);
        steps
            .filter_map(|(item, id, query)| {
                let tool = chat_core::tools::ToolKind::of_call(item)?;
                Some(crate::UpstreamEvent::Tool {
                    call: id.unwrap_or_default().to_owned(),
                    tool: tool.as_str().to_owned(),
                    status: "completed".into(),
                    query: query.map(str::to_owned),
                })
            })
            .collect()
    }

    /// What the answer waits on the caller for, in order: its calls of the caller's functions
    /// and its MCP approval requests, as the events that tell them.
    pub fn waiting_on(&self) -> Vec<crate::UpstreamEvent> {
        let waits = self.output.iter().filter_map(|item| match item {
            OutputItem::FunctionCall { call_id, name, arguments } => {
                Some(crate::UpstreamEvent::FunctionCall(chat_core::functions::FunctionCall {
                    call_id: call_id.clone(),
                    name: name.clone(),
                    arguments: arguments.clone(),
                }))
            }
            OutputItem::McpApprovalRequest { id, server_label, name, arguments } => {
                Some(crate::UpstreamEvent::Approval(chat_core::approvals::ApprovalRequest {
                    approval_request_id: id.clone(),
                    server_label: server_label.clone(),
                    name: name.clone(),
                    arguments: arguments.clone(),
                }))
            }
            _ => None,
        });
        waits.collect()
    }

    /// The answer's calls of the caller's functions, in order.
    pub fn function_calls(&self) -> Vec<chat_core::functions::FunctionCall> {
        let calls = self.waiting_on().into_iter().filter_map(|wait| match wait {
            crate::UpstreamEvent::FunctionCall(call) => Some(call),
            _ => None,
        });
        calls.collect()
    }

    /// The answer's MCP approval requests, in order.
    pub fn approval_requests(&self) -> Vec<chat_core::approvals::ApprovalRequest> {
        let requests = self.waiting_on().into_iter().filter_map(|wait| match wait {
            crate::UpstreamEvent::Approval(request) => Some(request),
            _ => None,
        });
        requests.collect()
    }

    /// The pages the answer cites, each once, in the order first cited.
    pub fn sources(&self) -> Vec<Source> {
        let mut sources: Vec<Source> = Vec::new();
        let cited = self.output.iter().flat_map(|item| match item {
            OutputItem::Message { content } => content.as_slice(),
            _ => &[],
        });
        for part in cited {
            if let ContentPart::OutputText { annotations, .. } = part {
                for source in annotations.iter().filter_map(Annotation::source) {
                    if !sources.iter().any(|known| known.url == source.url) {
                        sources.push(source);
                    }
                }
            }
        }
        sources
    }
}
