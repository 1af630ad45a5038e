//! The question a chat request asks, once it is read and checked: what the user asked, the
//! conversation it continues or carries, and who asks.

/// A validated chat request: what the user asked, and the turn it follows, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatRequest {
    pub message: String,
    pub previous_response_id: Option<String>,
    /// Who asks (set once the request is admitted); OpenAI gets a keyed hash of it.
    pub caller: Option<String>,
    /// The conversation before `message`, when the client sends it whole (the AI SDK's
    /// `messages`) rather than as `previous_response_id`; oldest first.
    pub earlier: Vec<Turn>,
    /// The caller's own function tools ([`crate::functions::function_tools`]), sent beside the
    /// owner's hosted tools.
    pub tools: Vec<serde_json::Value>,
    /// The caller's answers to the calls of the answer it follows (`previous_response_id`);
    /// `message` may then be empty.
    pub tool_outputs: Vec<crate::functions::ToolOutput>,
    /// The outputs are every result in the client's last message (the AI SDK's, which keeps one
    /// message across the turns of a tool round trip): only those answering the calls of the
    /// answer it follows are sent.
    pub outputs_of_whole_message: bool,
    /// The caller's yes or no to the MCP approval requests of the answer it follows.
    pub approvals: Vec<crate::approvals::Approval>,
    /// Pictures and documents the new message carries.
    pub attachments: Vec<crate::attachments::Attachment>,
    /// The question's input as OpenAI counted it, asked before a question with attachments is
    /// reserved: their tokens are not known from their size.
    pub counted_input: Option<u64>,
    /// That count is the fallback's (the primary could not give it): only the fallback may
    /// answer, or the count would not bound what is billed.
    pub counted_by_fallback: bool,
}

/// One earlier turn of a conversation sent whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub role: Role,
    pub text: String,
    /// What a user's turn carried (sent again with it, and counted again).
    pub attachments: Vec<crate::attachments::Attachment>,
}

impl Turn {
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Self { role, text: text.into(), attachments: Vec::new() }
    }
}

/// Who said a turn, as the Responses API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

impl ChatRequest {
    /// Bytes of text sent as input (each earlier turn counted with a little framing): a bound on
    /// the input's tokens, since a token is never shorter than a byte.
    pub fn input_bytes(&self) -> usize {
        let tools = self.tools.iter().map(|tool| tool.to_string().len()).sum::<usize>();
        let outputs = self.tool_outputs.iter().map(|output| output.output.len() + output.call_id.len() + 16);
        let approvals = self.approvals.iter().map(|approval| approval.approval_request_id.len() + 48);
        self.message.len()
            + self.earlier.iter().map(|turn| turn.text.len() + 8).sum::<usize>()
            + tools
            + outputs.sum::<usize>()
            + approvals.sum::<usize>()
    }
}
