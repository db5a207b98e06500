//! Subscriptions over websockets: async-graphql's protocol engine, with the close codes of
//! the graphql-transport-ws protocol that it does not send itself (4400 for an invalid
//! message, 4401 for a subscribe before the handshake, 4403 for a refused or revoked key,
//! 4409 for a duplicate subscription id, 4408 for a `connection_init` that does not come in
//! time; it sends 4429 itself), and the bounds HTTP has: every operation re-checks the key
//! and spends from the caller's rate budget, a connection holds at most so many
//! subscriptions, the process at most so many in all, and a caller at most so many sockets.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::http::{WebSocketProtocols, WsMessage};
use async_graphql::{Data, Executor};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::http::HeaderMap;
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt, future};

/// The protocol a client asked for, if this server speaks it.
pub fn protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(axum::http::header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
}

/// Subscriptions the whole process holds at most, whatever the other bounds allow: each
/// subscription resolves every event it hears, so this bounds the work one event fans out to.
pub const MAX_SUBSCRIPTIONS_IN_ALL: usize = 10_000;

/// How often a connection with a key checks that the key is still valid, between operations.
pub const RECHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// The websocket bounds, shared by every connection of the server.
#[derive(Clone)]
pub struct WsLimits {
    pub max_subscriptions: usize,
    pub max_per_caller: usize,
    /// The HTTP body limit: no message may be bigger.
    pub max_message_bytes: usize,
    total: Arc<AtomicUsize>,
    sockets: Arc<Mutex<HashMap<String, usize>>>,
}

impl WsLimits {
    pub fn new(max_subscriptions: usize, max_per_caller: usize, max_message_bytes: usize) -> Self {
        WsLimits {
            max_subscriptions,
            max_per_caller,
            max_message_bytes,
            total: Default::default(),
            sockets: Default::default(),
        }
    }

    /// A socket for `caller` (a key's hash or an address), or `None` when it has its share.
    pub fn socket(&self, caller: String) -> Option<SocketSlot> {
        let mut open = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(caller.clone()).or_insert(0);
        if self.max_per_caller > 0 && *n >= self.max_per_caller {
            return None;
        }
        *n += 1;
        Some(SocketSlot {
            sockets: self.sockets.clone(),
            caller,
        })
    }

    /// Subscriptions open in the process now.
    pub fn subscriptions(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

/// One caller's socket, given back when dropped.
pub struct SocketSlot {
    sockets: Arc<Mutex<HashMap<String, usize>>>,
    caller: String,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.caller);
            }
        }
    }
}

/// What the server says of an operation (or, between operations, of the connection).
pub enum Verdict {
    Go,
    /// Over the caller's rate budget: wait this many seconds.
    Limited(u64),
    /// The key was revoked (or deleted) since `connection_init`.
    Revoked,
}

/// Asked before each operation (`true`: the operation spends from the budgets) and now and
/// then between them (`false`: only whether the key still holds).
pub type Gate = Arc<dyn Fn(bool) -> BoxFuture<'static, Verdict> + Send + Sync>;

/// An accepted connection: its data, its gate, and its caller's socket slot.
pub struct Accepted {
    pub data: Data,
    pub gate: Gate,
    pub slot: SocketSlot,
    /// Whether a key authenticated it (only then is there anything to re-check).
    pub keyed: bool,
}

/// A refused `connection_init`: the close code and reason.
pub struct Refused(pub u16, pub String);

/// Why a connection is being closed, as noticed on our side of the engine, and what it holds.
#[derive(Default)]
struct Watch {
    refused: Option<u16>,
    duplicate: bool,
    revoked: bool,
    active: HashSet<String>,
    gate: Option<Gate>,
    slot: Option<SocketSlot>,
    keyed: bool,
}

/// What the input does with one client message.
enum Step {
    Pass(axum::body::Bytes),
    Drop,
    End,
}

fn error_message(id: &str, code: &str, message: String) -> String {
    serde_json::json!({
        "id": id,
        "type": "error",
        "payload": [{ "message": message, "extensions": { "code": code } }]
    })
    .to_string()
}

/// Serves one websocket. `authorise` turns the `connection_init` payload into the
/// connection's data and gate, or refuses it (closed with the code it gives). A connection
/// not acknowledged within `init_timeout` (no `connection_init`, or one still being checked)
/// is closed with 4408, so that an idle socket cannot outlive the request timeout before it
/// has even been accepted.
pub async fn serve<E, F, Fut>(
    socket: WebSocket,
    executor: E,
    protocol: WebSocketProtocols,
    mut closing: tokio::sync::watch::Receiver<bool>,
    init_timeout: std::time::Duration,
    limits: WsLimits,
    authorise: F,
) where
    E: Executor,
    F: FnOnce(serde_json::Value) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Accepted, Refused>> + Send + 'static,
{
    let watch = Arc::new(Mutex::new(Watch::default()));
    let (mut sink, stream) = socket.split();
    // Errors the input answers itself (a refused subscribe), sent between the engine's.
    let (inject, mut injected) = tokio::sync::mpsc::unbounded_channel::<String>();
    let seen = watch.clone();
    let lim = limits.clone();
    let input = stream
        .take_while(|m| future::ready(m.is_ok()))
        .filter_map(|m| {
            future::ready(match m {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => Some(m),
                _ => None,
            })
        })
        .map(Message::into_data)
        .then(move |bytes| {
            let seen = seen.clone();
            let inject = inject.clone();
            let lim = lim.clone();
            async move {
                let Ok(msg) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                    return Step::Pass(bytes);
                };
                let id = msg["id"].as_str().map(str::to_owned);
                match (msg["type"].as_str(), id) {
                    (Some("subscribe"), Some(id)) => {
                        let gate = {
                            let mut w = seen.lock().unwrap_or_else(|e| e.into_inner());
                            if w.active.contains(&id) {
                                // A second subscription under a live id ends the input: the
                                // close code says why.
                                w.duplicate = true;
                                return Step::End;
                            }
                            if w.active.len() >= lim.max_subscriptions
                                || lim.total.load(Ordering::Relaxed) >= MAX_SUBSCRIPTIONS_IN_ALL
                            {
                                let _ = inject.send(error_message(
                                    &id,
                                    "TOO_MANY_SUBSCRIPTIONS",
                                    format!(
                                        "this connection holds {} subscriptions; at most {} are \
                                         allowed (complete one first)",
                                        w.active.len(),
                                        lim.max_subscriptions
                                    ),
                                ));
                                return Step::Drop;
                            }
                            w.gate.clone()
                        };
                        // Without a gate, the handshake has not happened: the engine closes
                        // with 4401.
                        if let Some(gate) = gate {
                            match gate(true).await {
                                Verdict::Go => {}
                                Verdict::Limited(secs) => {
                                    let _ = inject.send(error_message(
                                        &id,
                                        "RATE_LIMITED",
                                        format!("too many requests; retry in {secs} s"),
                                    ));
                                    return Step::Drop;
                                }
                                Verdict::Revoked => {
                                    seen.lock().unwrap_or_else(|e| e.into_inner()).revoked = true;
                                    return Step::End;
                                }
                            }
                        }
                        let mut w = seen.lock().unwrap_or_else(|e| e.into_inner());
                        if w.active.insert(id) {
                            lim.total.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    (Some("complete"), Some(id)) => {
                        let mut w = seen.lock().unwrap_or_else(|e| e.into_inner());
                        if w.active.remove(&id) {
                            lim.total.fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                    _ => {}
                }
                Step::Pass(bytes)
            }
        })
        .take_while(|step| future::ready(!matches!(step, Step::End)))
        .filter_map(|step| {
            future::ready(match step {
                Step::Pass(bytes) => Some(bytes),
                _ => None,
            })
        });
    let accepted = watch.clone();
    let engine = async_graphql::http::WebSocket::new(executor, input, protocol).on_connection_init(
        move |payload| async move {
            match authorise(payload).await {
                Ok(a) => {
                    let mut w = accepted.lock().unwrap_or_else(|e| e.into_inner());
                    w.gate = Some(a.gate);
                    w.slot = Some(a.slot);
                    w.keyed = a.keyed;
                    Ok(a.data)
                }
                Err(Refused(code, reason)) => {
                    accepted.lock().unwrap_or_else(|e| e.into_inner()).refused = Some(code);
                    Err(async_graphql::Error::new(reason))
                }
            }
        },
    );
    futures::pin_mut!(engine);
    let transport_ws = protocol == WebSocketProtocols::GraphQLWS;
    let init_deadline = tokio::time::sleep(init_timeout);
    futures::pin_mut!(init_deadline);
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut acknowledged, mut init_timed_out) = (false, false);
    let close = |code: u16, reason: &str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.to_owned().into(),
        }))
    };
    loop {
        let next = tokio::select! {
            out = engine.next() => out,
            Some(text) = injected.recv() => Some(WsMessage::Text(text)),
            _ = recheck.tick(), if acknowledged => Some(WsMessage::Text(String::new())),
            _ = closing.wait_for(|c| *c) => None,
            () = &mut init_deadline, if !acknowledged => {
                init_timed_out = true;
                None
            }
        };
        if init_timed_out {
            let _ = sink
                .send(close(4408, "Connection initialisation timeout"))
                .await;
            return release(&watch, &limits);
        }
        let Some(out) = next else {
            if *closing.borrow() {
                // The server is shutting down: say so (1001, going away) rather than vanish.
                let _ = sink.send(close(1001, "the server is shutting down")).await;
                return release(&watch, &limits);
            }
            break;
        };
        let msg = match out {
            // The recheck's tick: is the key still valid?
            WsMessage::Text(text) if text.is_empty() => {
                let gate = {
                    let w = watch.lock().unwrap_or_else(|e| e.into_inner());
                    w.gate.clone().filter(|_| w.keyed)
                };
                if let Some(gate) = gate
                    && let Verdict::Revoked = gate(false).await
                {
                    watch.lock().unwrap_or_else(|e| e.into_inner()).revoked = true;
                    break;
                }
                continue;
            }
            WsMessage::Text(text) => {
                let v = serde_json::from_str::<serde_json::Value>(&text).unwrap_or_default();
                // graphql-transport-ws says `connection_ack`; the older graphql-ws too.
                acknowledged |= v["type"] == "connection_ack";
                if matches!(v["type"].as_str(), Some("complete" | "error"))
                    && let Some(id) = v["id"].as_str()
                    && watch
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .active
                        .remove(id)
                {
                    limits.total.fetch_sub(1, Ordering::Relaxed);
                }
                Message::Text(text.into())
            }
            WsMessage::Close(code, reason) => {
                let refused = watch.lock().unwrap_or_else(|e| e.into_inner()).refused;
                let code = match code {
                    1002 if transport_ws && refused.is_some() => refused.unwrap_or(4403),
                    1002 if transport_ws => 4400,
                    1011 if transport_ws => 4401,
                    other => other,
                };
                Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                }))
            }
        };
        if sink.send(msg).await.is_err() {
            return release(&watch, &limits);
        }
    }
    let (duplicate, revoked) = {
        let w = watch.lock().unwrap_or_else(|e| e.into_inner());
        (w.duplicate, w.revoked)
    };
    if revoked {
        let _ = sink
            .send(close(4403, "Forbidden: the API key was revoked"))
            .await;
    } else if duplicate {
        let _ = sink
            .send(close(4409, "Subscriber for that id already exists"))
            .await;
    }
    release(&watch, &limits);
}

/// Gives back what a finished connection held: its subscriptions' share of the process
/// total, and its caller's socket slot.
fn release(watch: &Arc<Mutex<Watch>>, limits: &WsLimits) {
    let mut w = watch.lock().unwrap_or_else(|e| e.into_inner());
    let n = w.active.len();
    w.active.clear();
    limits.total.fetch_sub(n, Ordering::Relaxed);
    w.slot = None;
}
