//! Subscriptions over websockets: async-graphql's protocol engine, with the close codes of
//! the graphql-transport-ws protocol that it does not send itself (4400 for an invalid
//! message, 4401 for a subscribe before the handshake, 4403 for a refused key, 4409 for a
//! duplicate subscription id, 4408 for a `connection_init` that does not come in time; it
//! sends 4429 itself).

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use async_graphql::http::{WebSocketProtocols, WsMessage};
use async_graphql::{Data, Executor};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::http::HeaderMap;
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

/// Why a connection is being closed, as noticed on our side of the engine.
#[derive(Default)]
struct Watch {
    refused: bool,
    duplicate: bool,
    active: HashSet<String>,
}

/// Serves one websocket. `authorise` turns the `connection_init` payload into the
/// connection's data, or refuses it (closed with 4403). A connection not acknowledged within
/// `init_timeout` (no `connection_init`, or one still being checked) is closed with 4408, so
/// that an idle socket cannot outlive the request timeout before it has even been accepted.
pub async fn serve<E, F, Fut>(
    socket: WebSocket,
    executor: E,
    protocol: WebSocketProtocols,
    mut closing: tokio::sync::watch::Receiver<bool>,
    init_timeout: std::time::Duration,
    authorise: F,
) where
    E: Executor,
    F: FnOnce(serde_json::Value) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Data, String>> + Send + 'static,
{
    let watch = Arc::new(Mutex::new(Watch::default()));
    let (mut sink, stream) = socket.split();
    let seen = watch.clone();
    let input = stream
        .take_while(|m| future::ready(m.is_ok()))
        .filter_map(|m| {
            future::ready(match m {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => Some(m),
                _ => None,
            })
        })
        .map(Message::into_data)
        // A second subscription under a live id ends the input: the close code says why.
        .take_while(move |bytes| {
            let mut w = seen.lock().unwrap_or_else(|e| e.into_inner());
            if let Ok(msg) = serde_json::from_slice::<serde_json::Value>(bytes) {
                let id = msg["id"].as_str().map(str::to_owned);
                match (msg["type"].as_str(), id) {
                    (Some("subscribe"), Some(id)) if w.active.contains(&id) => w.duplicate = true,
                    (Some("subscribe"), Some(id)) => {
                        w.active.insert(id);
                    }
                    (Some("complete"), Some(id)) => {
                        w.active.remove(&id);
                    }
                    _ => {}
                }
            }
            future::ready(!w.duplicate)
        });
    let refusals = watch.clone();
    let engine = async_graphql::http::WebSocket::new(executor, input, protocol).on_connection_init(
        move |payload| async move {
            authorise(payload).await.map_err(|reason| {
                refusals.lock().unwrap_or_else(|e| e.into_inner()).refused = true;
                async_graphql::Error::new(reason)
            })
        },
    );
    futures::pin_mut!(engine);
    let transport_ws = protocol == WebSocketProtocols::GraphQLWS;
    let init_deadline = tokio::time::sleep(init_timeout);
    futures::pin_mut!(init_deadline);
    let (mut acknowledged, mut init_timed_out) = (false, false);
    loop {
        let next = tokio::select! {
            out = engine.next() => out,
            _ = closing.wait_for(|c| *c) => None,
            () = &mut init_deadline, if !acknowledged => {
                init_timed_out = true;
                None
            }
        };
        if init_timed_out {
            let _ = sink
                .send(Message::Close(Some(CloseFrame {
                    code: 4408,
                    reason: "Connection initialisation timeout".into(),
                })))
                .await;
            return;
        }
        let Some(out) = next else {
            if *closing.borrow() {
                // The server is shutting down: say so (1001, going away) rather than vanish.
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code: 1001,
                        reason: "the server is shutting down".into(),
                    })))
                    .await;
                return;
            }
            break;
        };
        let msg = match out {
            WsMessage::Text(text) => {
                let v = serde_json::from_str::<serde_json::Value>(&text).unwrap_or_default();
                // graphql-transport-ws says `connection_ack`; the older graphql-ws too.
                acknowledged |= v["type"] == "connection_ack";
                if matches!(v["type"].as_str(), Some("complete" | "error"))
                    && let Some(id) = v["id"].as_str()
                {
                    watch
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .active
                        .remove(id);
                }
                Message::Text(text.into())
            }
            WsMessage::Close(code, reason) => {
                let refused = watch.lock().unwrap_or_else(|e| e.into_inner()).refused;
                let code = match code {
                    1002 if transport_ws && refused => 4403,
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
            return;
        }
    }
    if watch.lock().unwrap_or_else(|e| e.into_inner()).duplicate {
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: 4409,
                reason: "Subscriber for that id already exists".into(),
            })))
            .await;
    }
}
