//! The responses the stand-in keeps, as OpenAI stores them: a background response from its
//! creation (its events, which any number of connections follow, and where it stands), a plain
//! one once it has finished; both for `GET /v1/responses/{id}`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::StubState;
use crate::events::{self, Answer, Frame};
use crate::wire;

/// How long a response is kept, and how many at most: a long offline run must not grow forever.
const KEEP_FOR: Duration = Duration::from_secs(3600);
const KEEP_AT_MOST: usize = 1000;

/// The kept responses by id, oldest first.
#[derive(Default)]
pub struct Registry {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_id: HashMap<String, Arc<Entry>>,
    order: VecDeque<String>,
}

impl Registry {
    pub fn get(&self, id: &str) -> Option<Arc<Entry>> {
        self.lock().by_id.get(id).cloned()
    }

    /// Forgets (and stops) every response, as if OpenAI had lost them: tests of a response
    /// that disappears.
    pub fn clear(&self) {
        let mut entries = self.lock();
        for entry in entries.by_id.values() {
            entry.stop_generator();
        }
        entries.by_id.clear();
        entries.order.clear();
    }

    /// Keeps `entry`, forgetting (and stopping) the ones too old or too many.
    pub fn insert(&self, entry: Arc<Entry>) {
        let mut entries = self.lock();
        while let Some(oldest) = entries.order.front().and_then(|id| entries.by_id.get(id)) {
            if oldest.created.elapsed() < KEEP_FOR && entries.order.len() < KEEP_AT_MOST {
                break;
            }
            oldest.stop_generator();
            if let Some(id) = entries.order.pop_front() {
                entries.by_id.remove(&id);
            }
        }
        entries.order.push_back(entry.id().to_owned());
        entries.by_id.insert(entry.id().to_owned(), entry);
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One kept response.
pub struct Entry {
    pub answer: Arc<Answer>,
    pub created: Instant,
    /// Its request in [`StubState::requests`].
    pub request_index: usize,
    progress: Mutex<Progress>,
    /// Bumped on every change, for the connections that follow the events.
    changed: watch::Sender<u64>,
    generator: Mutex<Option<AbortHandle>>,
}

/// Where a response stands.
struct Progress {
    /// Every frame generated so far, in order.
    frames: Vec<Frame>,
    status: String,
    text: String,
    deltas: usize,
    /// The items before the message (compaction, reasoning) as they were done.
    items_done: Vec<Value>,
    message_started: bool,
    /// The response object once it ended: completed, incomplete, failed or cancelled.
    last: Option<Value>,
    /// No frame will be added any more.
    over: bool,
}

impl Entry {
    /// A background response just created, `queued`, before any event.
    pub fn queued(answer: Arc<Answer>, request_index: usize) -> Arc<Self> {
        Self::new(answer, request_index, "queued".to_owned(), None)
    }

    /// A plain response that has ended as `response` says.
    pub fn ended(answer: Arc<Answer>, request_index: usize, response: Value) -> Arc<Self> {
        let status = response["status"].as_str().unwrap_or("completed").to_owned();
        Self::new(answer, request_index, status, Some(response))
    }

    fn new(answer: Arc<Answer>, request_index: usize, status: String, last: Option<Value>) -> Arc<Self> {
        let over = last.is_some();
        let progress = Progress {
            frames: Vec::new(),
            status,
            text: String::new(),
            deltas: 0,
            items_done: Vec::new(),
            message_started: false,
            last,
            over,
        };
        Arc::new(Self {
            answer,
            created: Instant::now(),
            request_index,
            progress: Mutex::new(progress),
            changed: watch::Sender::new(0),
            generator: Mutex::new(None),
        })
    }

    pub fn id(&self) -> &str {
        &self.answer.ids.response
    }

    pub fn background(&self) -> bool {
        self.answer.background
    }

    pub fn status(&self) -> String {
        self.lock().status.clone()
    }

    pub fn deltas(&self) -> usize {
        self.lock().deltas
    }

    /// The response object as it stands now.
    pub fn snapshot(&self) -> Value {
        let progress = self.lock();
        progress.last.clone().unwrap_or_else(|| progress.response_now(&self.answer))
    }

    /// Cancels a background response still under way, stopping its generator at once; the
    /// response object afterwards either way. `None` for a plain response: it cannot be cancelled.
    pub fn cancel(&self) -> Option<Value> {
        if !self.background() {
            return None;
        }
        let mut progress = self.lock();
        if let Some(last) = &progress.last {
            return Some(last.clone());
        }
        progress.status = "cancelled".to_owned();
        progress.over = true;
        let cancelled = progress.response_now(&self.answer);
        progress.last = Some(cancelled.clone());
        drop(progress);
        self.stop_generator();
        self.changed.send_modify(|n| *n += 1);
        Some(cancelled)
    }

    /// The frames after `starting_after` (every one when `None`), as they come, until no more
    /// will. Only the connection that created the response breaks at a `Drop`.
    pub fn follow(
        self: Arc<Self>,
        starting_after: Option<u64>,
        breaks_at_drop: bool,
    ) -> impl Stream<Item = Vec<Frame>> + Send {
        async_stream::stream! {
            let mut changed = self.changed.subscribe();
            let mut seen = 0;
            let mut past_resume_point = starting_after.is_none();
            loop {
                changed.borrow_and_update();
                let (fresh, over) = {
                    let progress = self.lock();
                    (progress.frames[seen..].to_vec(), progress.over)
                };
                seen += fresh.len();
                let mut batch = Vec::new();
                for frame in fresh {
                    if let Some(n) = frame.sequence_number() {
                        past_resume_point = starting_after.is_none_or(|after| n > after);
                    }
                    // A resumed stream starts after the last good event, past any garbage after it.
                    let wanted = match frame {
                        Frame::Event(_) | Frame::Malformed => past_resume_point,
                        Frame::Done => true,
                        Frame::Drop => breaks_at_drop,
                    };
                    if wanted {
                        batch.push(frame);
                    }
                }
                if !batch.is_empty() {
                    yield batch;
                }
                if over || changed.changed().await.is_err() {
                    return;
                }
            }
        }
    }

    /// Adds a batch of generated frames; the deltas generated so far, or `None` once cancelled.
    fn push(&self, batch: Vec<Frame>) -> Option<usize> {
        let mut progress = self.lock();
        if progress.over {
            return None;
        }
        for frame in batch {
            progress.absorb(&frame, &self.answer);
            progress.frames.push(frame);
        }
        let deltas = progress.deltas;
        drop(progress);
        self.changed.send_modify(|n| *n += 1);
        Some(deltas)
    }

    /// Marks the generator done; false when it was cancelled first.
    fn end(&self) -> bool {
        let mut progress = self.lock();
        if progress.over {
            return false;
        }
        progress.over = true;
        drop(progress);
        self.changed.send_modify(|n| *n += 1);
        true
    }

    fn stop_generator(&self) {
        if let Some(generator) = self.generator.lock().unwrap_or_else(|e| e.into_inner()).take() {
            generator.abort();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Progress {
    /// Takes in what `frame` says about the response: its status, its text, its end.
    fn absorb(&mut self, frame: &Frame, answer: &Answer) {
        // Garbage on the wire (`Malformed`) is the stream's, not the answer's: it goes on.
        let Frame::Event(event) = frame else { return };
        match frame.kind() {
            "response.queued" => self.status = "queued".to_owned(),
            "response.in_progress" => self.status = "in_progress".to_owned(),
            "response.output_item.added" if event["item"]["type"] == "message" => self.message_started = true,
            "response.output_item.done" if event["item"]["type"] != "message" => {
                self.items_done.push(event["item"].clone());
            }
            "response.output_text.delta" => {
                self.text += event["delta"].as_str().unwrap_or_default();
                self.deltas += 1;
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.status = event["response"]["status"].as_str().unwrap_or("failed").to_owned();
                self.last = Some(event["response"].clone());
            }
            "error" => self.fail(answer),
            _ => {}
        }
    }

    /// An answer cut by an `error` event or garbage ends `failed`, as OpenAI marks a response
    /// whose generation broke off.
    fn fail(&mut self, answer: &Answer) {
        self.status = "failed".to_owned();
        let mut failed = self.response_now(answer);
        failed["error"] = json!({"code": "server_error", "message": answer.failure_message});
        self.last = Some(failed);
    }

    /// The response object from what was generated so far; usage once it ended.
    fn response_now(&self, answer: &Answer) -> Value {
        let ended = !matches!(self.status.as_str(), "queued" | "in_progress");
        let mut output = Vec::new();
        output.extend(self.items_done.iter().cloned());
        if self.message_started {
            let mut message = wire::message_item(&answer.ids, Some(&self.text));
            message["status"] = json!(if ended { "incomplete" } else { "in_progress" });
            output.push(message);
        }
        answer.response(&self.status, output, ended.then(|| answer.usage(self.deltas)))
    }
}

/// Generates a background response into `entry`, on its own task: no connection's fate
/// touches it, only a cancel does.
pub fn spawn_generator(state: Arc<StubState>, entry: Arc<Entry>) {
    let generating = entry.clone();
    let task = tokio::spawn(async move {
        let mut frames = std::pin::pin!(events::generate(generating.answer.clone()));
        while let Some(batch) = frames.next().await {
            let Some(deltas) = generating.push(batch) else { return };
            state.update(generating.request_index, |r| r.deltas_sent = deltas);
        }
        if generating.end() {
            let answer = generating.answer.clone();
            state.update(generating.request_index, |r| {
                r.finished = true;
                r.usage = Some(answer.usage(r.deltas_sent));
            });
        } else if let Some(usage) = generating.snapshot().get("usage").filter(|u| u.is_object()).cloned() {
            // Ended otherwise (failed part way): billed for what it generated.
            state.update(generating.request_index, |r| r.usage = r.usage.take().or(Some(usage)));
        }
    });
    *entry.generator.lock().unwrap_or_else(|e| e.into_inner()) = Some(task.abort_handle());
    // A cancel that came before the handle was stored could not stop the task: stop it now.
    if entry.lock().over {
        entry.stop_generator();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use crate::wire::Ids;

    fn answer(n: u64) -> Arc<Answer> {
        let request = json!({"model": "gpt-4o-mini", "input": "hi"});
        let (scenario, deltas, failure_message) = (Scenario::default(), Vec::new(), String::new());
        Arc::new(Answer {
            ids: Ids::new(n),
            request,
            scenario,
            deltas,
            failure_message,
            pause: Duration::ZERO,
            background: true,
            earlier_tokens: 0,
            summary: Vec::new(),
            raw: Vec::new(),
            compacted: false,
            searches: 0,
            calls: Vec::new(),
            mcp_items: Vec::new(),
            attachment_tokens: 0,
        })
    }

    fn event(n: u64) -> Frame {
        Frame::Event(json!({"type": "response.output_text.delta", "delta": "w", "sequence_number": n}))
    }

    #[test]
    fn the_registry_keeps_the_newest_ones() {
        let registry = Registry::default();
        for n in 0..=KEEP_AT_MOST as u64 {
            registry.insert(Entry::queued(answer(n), 0));
        }
        assert!(registry.get(&Ids::new(0).response).is_none());
        assert!(registry.get(&Ids::new(1).response).is_some());
        assert_eq!(registry.lock().order.len(), KEEP_AT_MOST);
    }

    #[tokio::test]
    async fn a_resumed_stream_starts_after_the_last_good_event_past_any_garbage() {
        let entry = Entry::queued(answer(1), 0);
        entry.push(vec![event(0), event(1), Frame::Malformed, event(2)]);
        entry.end();
        let described = |frames: Vec<Frame>| {
            frames
                .iter()
                .map(|f| f.sequence_number().map_or("garbage".to_owned(), |n| n.to_string()))
                .collect::<Vec<_>>()
        };
        let from_one: Vec<Frame> = entry.clone().follow(Some(1), false).concat().await;
        assert_eq!(described(from_one), ["2"]);
        let from_zero: Vec<Frame> = entry.clone().follow(Some(0), false).concat().await;
        assert_eq!(described(from_zero), ["1", "garbage", "2"]);
        // Garbage on the wire does not fail the answer itself.
        assert_eq!(entry.deltas(), 3);
        assert_ne!(entry.status(), "failed");
    }
}
