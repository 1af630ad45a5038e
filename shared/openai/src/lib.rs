//! The OpenAI Responses API, as the chat functions use it: the wire types; a client that creates
//! answers, buffered or streamed, with retries and timeouts; calls about a stored answer
//! (retrieve, stream again, cancel, the size of the conversation it ends); resume tokens and
//! the owner tag of every answer; and the API key, read from Secrets Manager or, for Bedrock,
//! minted from the function's role. It knows nothing of
//! Lambda, of HTTP requests from callers, or of limits.

pub mod bedrock;
mod circuit;
mod client;
mod count;
mod create;
mod event;
mod key;
mod mcp;
mod models;
mod owner;
pub mod resume;
mod retry;
mod stored;
mod stream;
pub mod types;

pub use circuit::PROBE_EVERY;
pub use client::{DEADLINE_MARGIN, FALLBACK_ID_PREFIX, ResponsesClient};
pub use create::Completion;
pub use event::{UpstreamEvent, parse as parse_event};
pub use key::ApiKey;
pub use models::ModelLifecycle;
pub use owner::safety_identifier;
pub use stream::ResponseStream;
