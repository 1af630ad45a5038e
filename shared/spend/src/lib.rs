//! Who may spend how much: the gate every chat request passes before anything goes upstream.
//!
//! - Other websites: a browser request made by a page not in `ALLOWED_ORIGINS` is refused
//!   (403), by its `Origin` or, when it carries none, its `Sec-Fetch-Site` (see `origin`).
//! - The caller is the Function URL's `sourceIp` (IPv6 grouped by /64), which it cannot forge,
//!   its access key (`ACCESS=keys`), or the user its identity provider signed in (`ACCESS=jwt`,
//!   verified by the `identity` crate; a plan claim may name the user's own limits).
//! - With `LIMITS_TABLE` set, every request (a question, a resume, a stop) takes one slot of its
//!   caller's requests per minute; a question also reserves a safe upper bound of the tokens it
//!   can use, the conversation it continues included, against the caller's and the deployment's
//!   daily tokens and, when set, dollars (`DAILY_BUDGET_USD`, `CALLER_USD_PER_DAY`, counted in
//!   nano-dollars at the model's price, in the same writes), atomically in DynamoDB (conditional writes: concurrent requests can never push
//!   a counter past its limit). A new question does both in one round trip ([`Gate::admit`]: its
//!   request and tokens in one write to the caller's item, see `window`); a follow-up takes its
//!   slot ([`Gate::enter`]), reads what it continues, then reserves ([`Gate::reserve`]). The answer's real
//!   usage settles the reservation on the day it was made, at most once; a request that never
//!   reached the model releases it. The store unreachable or slow: 503.
//!
//! It knows nothing of OpenAI's wire format: it counts the tokens it is handed.

mod amount;
mod caller;
mod chats;
mod failover;
mod gate;
mod handover;
mod items;
mod keys;
mod origin;
mod store;
mod table;
mod window;

use std::time::Duration;

pub use amount::{Amount, DayLimit};
pub use caller::caller_id;
pub use chat_core::LimitsConfig;
pub use chats::ChatRuns;
pub use gate::{Admission, Caller, Gate, Pass, reservation};
pub use handover::Parked;
pub use keys::{
    KEY_PARAMETER, KeyRecord, TOKEN_PARAMETER, generate as generate_key, hash as key_hash, presented_key,
    presented_token,
};
pub use store::{Change, Clock, Store, day_now};

/// Seconds until the next minute and the next UTC day, for `Retry-After`.
pub(crate) fn until_next(period: u64, now: u64) -> Duration {
    Duration::from_secs(period - now % period)
}
