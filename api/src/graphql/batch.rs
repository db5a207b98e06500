//! Deterministic batching for DataLoaders.
//!
//! async-graphql resolves sibling fields in one poll of the request's future; each sibling
//! registers its key with a loader, whose fetch task normally starts after a fixed delay. A
//! fixed delay adds latency to every nesting level, yet still splits a batch when a pass over
//! many siblings outlasts it (a loaded machine, a debug build).
//!
//! Here a fetch starts only when the request is quiescent: its future is not being polled, no
//! wake-up of it is pending, and no other fetch of the request is still delivering results
//! (results arrive field by field, and each arrival may trigger a poll that registers more
//! keys). Then every key the current level will ask for has been registered, on any machine.
//!
//! What this needs of resolvers: a loader is asked at the same step by every parent, or not at
//! all. A parent that skips a step and asks the next loader early would have its key fetched
//! in a batch of its own (see `types::related` for a resolver shaped to this rule).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures::future::BoxFuture;
use tokio::sync::Notify;

#[derive(Default)]
struct State {
    polling: AtomicBool,
    woken: AtomicBool,
    delivering: AtomicUsize,
    changed: Notify,
}

impl State {
    fn quiescent(&self) -> bool {
        !self.polling.load(Ordering::Acquire)
            && !self.woken.load(Ordering::Acquire)
            && self.delivering.load(Ordering::Acquire) == 0
    }
}

/// The batching state of one request.
#[derive(Clone, Default)]
pub struct PassFlag(Arc<State>);

impl PassFlag {
    /// A spawner for `DataLoader`: the fetch waits for the request to be quiescent.
    pub fn spawner(&self) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let state = self.0.clone();
        move |fetch| {
            let state = state.clone();
            tokio::spawn(async move {
                loop {
                    let changed = state.changed.notified();
                    tokio::pin!(changed);
                    changed.as_mut().enable();
                    if state.quiescent() {
                        break;
                    }
                    changed.await;
                }
                state.delivering.fetch_add(1, Ordering::AcqRel);
                fetch.await;
                state.delivering.fetch_sub(1, Ordering::AcqRel);
                state.changed.notify_waiters();
            });
        }
    }

    /// Wraps the request's future to track its polls and wake-ups.
    pub fn track<F: Future>(&self, inner: F) -> Tracked<F> {
        Tracked {
            inner: Box::pin(inner),
            state: self.0.clone(),
        }
    }
}

/// Records that the request has a poll pending before passing the wake on.
struct FlagWaker {
    inner: Waker,
    state: Arc<State>,
}

impl Wake for FlagWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.state.woken.store(true, Ordering::Release);
        self.inner.wake_by_ref();
    }
}

pub struct Tracked<F> {
    inner: Pin<Box<F>>,
    state: Arc<State>,
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let state = self.state.clone();
        state.polling.store(true, Ordering::Release);
        state.woken.store(false, Ordering::Release);
        let waker = Waker::from(Arc::new(FlagWaker {
            inner: cx.waker().clone(),
            state: state.clone(),
        }));
        let out = self.inner.as_mut().poll(&mut Context::from_waker(&waker));
        state.polling.store(false, Ordering::Release);
        state.changed.notify_waiters();
        out
    }
}
