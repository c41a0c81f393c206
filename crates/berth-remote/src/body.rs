//! Request bodies: bytes that the authentication flow may send again, and a blob streamed once,
//! watched for stalls.
//!
//! A streamed blob can be gigabytes: it is never buffered, so it cannot be replayed after a 401,
//! and neither reqwest's whole-request read timeout nor the response timeout (both counted from
//! the request's start) may apply to it. Instead a watchdog fails the request when the
//! connection takes no bytes for [`ClientOptions::read_timeout`](crate::ClientOptions) while the
//! caller's stream has some to give, or when no answer comes within
//! [`ClientOptions::response_timeout`](crate::ClientOptions) of the body's end. The caller's
//! stream keeps its own pace: waiting for it is no stall.

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use reqwest::header::{self, HeaderValue};
use reqwest::{RequestBuilder, Response};

use crate::Error;

/// What a request carries.
pub(crate) enum Payload {
    /// Nothing.
    Empty,
    /// Bytes with their `Content-Type`, sent again when the flow retries.
    Bytes {
        content_type: HeaderValue,
        bytes: Bytes,
    },
    /// A body sent once: a 401 to it is final.
    Stream(OneShot),
}

impl Payload {
    /// `stream`, of exactly `size` bytes, as `application/octet-stream`.
    pub(crate) fn stream(stream: BoxStream<'static, Result<Bytes, Error>>, size: u64) -> Self {
        Payload::Stream(OneShot {
            stream: Mutex::new(Some(stream)),
            size,
        })
    }

    /// Whether the flow may send the request again (after a challenge).
    pub(crate) fn replayable(&self) -> bool {
        !matches!(self, Payload::Stream(_))
    }
}

/// A stream taken by the first attempt to send it.
pub(crate) struct OneShot {
    // A mutex only so that the operation holding it is `Sync`; it is taken once.
    stream: Mutex<Option<BoxStream<'static, Result<Bytes, Error>>>>,
    size: u64,
}

/// Where a streamed body is, for the watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The connection took the last chunk (or the request started) at `since`, and wants more.
    Sending,
    /// Waiting for the caller's stream.
    Waiting,
    /// The body ended at `since`: the answer is due.
    Sent,
}

struct Progress {
    phase: Phase,
    since: Instant,
    /// What made the body fail, when it was the caller's stream (or its length): reported
    /// instead of the transport error it causes.
    failure: Option<Error>,
}

impl Progress {
    fn enter(&mut self, phase: Phase) {
        if phase != Phase::Waiting {
            self.since = Instant::now();
        }
        self.phase = phase;
    }
}

fn lock(progress: &Mutex<Progress>) -> MutexGuard<'_, Progress> {
    // Every update leaves the state whole: a panic elsewhere cannot have broken it.
    progress.lock().unwrap_or_else(|e| e.into_inner())
}

impl OneShot {
    /// Sends `request` with the stream as its body and `Content-Length: size`, up to the
    /// response head, under the watchdog (`idle` for the connection to take bytes, `answer` for
    /// the head after the body's end). `url` is for messages.
    pub(crate) async fn send(
        &self,
        url: &str,
        request: RequestBuilder,
        idle: Duration,
        answer: Duration,
    ) -> Result<Response, Error> {
        let taken = self.stream.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut stream) = taken else {
            return Err(Error::invalid(url, "a streamed body can be sent only once"));
        };
        let progress = Arc::new(Mutex::new(Progress {
            // An empty body is whole before hyper asks for it (it does not).
            phase: if self.size == 0 {
                Phase::Sent
            } else {
                Phase::Sending
            },
            since: Instant::now(),
            failure: None,
        }));
        let (size, shown, tracker) = (self.size, url.to_owned(), progress.clone());
        let mut seen = 0u64;
        let mut ended = false;
        let body = futures::stream::poll_fn(move |cx| {
            if ended {
                return Poll::Ready(None);
            }
            let next = stream.poll_next_unpin(cx);
            let mut p = lock(&tracker);
            let fail = |p: &mut Progress, e: Error| {
                p.failure = Some(e);
                p.enter(Phase::Sent);
                Poll::Ready(Some(Err(std::io::Error::other("the body failed"))))
            };
            match next {
                Poll::Pending => {
                    p.enter(Phase::Waiting);
                    Poll::Pending
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    seen += chunk.len() as u64;
                    if seen > size {
                        ended = true;
                        let message = format!("the body is longer than its size of {size} bytes");
                        return fail(&mut p, Error::invalid(&shown, message));
                    }
                    // hyper asks for nothing after the last byte its Content-Length
                    // announced: the body's end is there, not at the stream's.
                    p.enter(if seen == size {
                        Phase::Sent
                    } else {
                        Phase::Sending
                    });
                    Poll::Ready(Some(Ok(chunk)))
                }
                Poll::Ready(Some(Err(e))) => {
                    ended = true;
                    fail(&mut p, e)
                }
                Poll::Ready(None) if seen != size => {
                    ended = true;
                    let message = format!("the body ended after {seen} of its {size} bytes");
                    fail(&mut p, Error::invalid(&shown, message))
                }
                Poll::Ready(None) => {
                    ended = true;
                    p.enter(Phase::Sent);
                    Poll::Ready(None)
                }
            }
        });
        let request = request
            .header(header::CONTENT_LENGTH, self.size)
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            )
            .body(reqwest::Body::wrap_stream(body));
        let result = tokio::select! {
            sent = request.send() => sent.map_err(|e| Error::transport(url, e)),
            stalled = watch(url, &progress, idle, answer) => Err(stalled),
        };
        match result {
            Ok(response) => Ok(response),
            Err(e) => Err(lock(&progress).failure.take().unwrap_or(e)),
        }
    }
}

/// Returns when the request has stalled: the error that says how.
async fn watch(url: &str, progress: &Mutex<Progress>, idle: Duration, answer: Duration) -> Error {
    loop {
        let (phase, since) = {
            let p = lock(progress);
            (p.phase, p.since)
        };
        let now = Instant::now();
        let (deadline, stalled) = match phase {
            // The caller's pace: looked at again later.
            Phase::Waiting => (now + idle, None),
            Phase::Sending => (
                since + idle,
                Some(format!(
                    "the registry took no bytes of the body for {idle:?}"
                )),
            ),
            Phase::Sent => (
                since + answer,
                Some(format!("no response within {answer:?} of the body's end")),
            ),
        };
        match stalled {
            Some(message) if deadline <= now => {
                return Error::Unreachable {
                    url: url.to_owned(),
                    source: message.into(),
                };
            }
            _ => tokio::time::sleep_until(deadline.into()).await,
        }
    }
}
