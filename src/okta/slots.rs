//! The client's bound on requests in flight: a counting semaphore whose waiters are served
//! by priority, then in arrival order. A list hands its slot from one page to the next
//! without queueing (the client keeps the [`Slot`]), so the longest chain of
//! one-after-another requests (the biggest directory's pages) is not queued behind many
//! short ones once started, and a whole read takes about as long as that chain. A list
//! expected to be long starts with a higher priority than single reads, and a page that
//! must queue again (after a rate-limit wait or a retry) has a priority that grows with its
//! page number. A few slots are kept for requests deep in such a chain (priority [`DEEP`]
//! and up), so they never wait for a burst of first pages to drain.
//! Must not know HTTP or rate limits.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

/// Bounded slots with priority waiters.
#[derive(Debug)]
pub(crate) struct Slots {
    state: Mutex<State>,
}

/// Priority from which a request may use the reserved slots: the third page of a list on
/// (the second of a long list).
pub(crate) const DEEP: u32 = 2;

#[derive(Debug)]
struct State {
    free: usize,
    /// Slots only requests of priority `DEEP` and up may take.
    reserve: usize,
    arrivals: u64,
    waiting: BinaryHeap<Waiter>,
}

#[derive(Debug)]
struct Waiter {
    priority: u32,
    arrival: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    /// Highest priority first; among equals, the earliest arrival.
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.arrival.cmp(&self.arrival))
    }
}

/// One slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    slots: &'a Slots,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.slots.release();
    }
}

/// A waiter whose future was dropped gives back a slot handed to it meanwhile.
struct Pending<'a> {
    slots: &'a Slots,
    wake: Option<oneshot::Receiver<()>>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(mut wake) = self.wake.take() {
            wake.close();
            if wake.try_recv().is_ok() {
                self.slots.release();
            }
        }
    }
}

impl State {
    fn may_take(&self, priority: u32) -> bool {
        let kept = if priority >= DEEP { 0 } else { self.reserve };
        self.free > kept
    }
}

impl Slots {
    /// `count` slots, of which one in six (none below six) is kept for deep requests.
    pub(crate) fn new(count: usize) -> Slots {
        let count = count.max(1);
        Slots {
            state: Mutex::new(State {
                free: count,
                reserve: count / 6,
                arrivals: 0,
                waiting: BinaryHeap::new(),
            }),
        }
    }

    /// Waits for a slot; higher `priority` waiters are served first.
    pub(crate) async fn acquire(&self, priority: u32) -> Slot<'_> {
        let receiver = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let ahead = state.waiting.peek().is_some_and(|w| w.priority >= priority);
            if !ahead && state.may_take(priority) {
                state.free -= 1;
                return Slot { slots: self };
            }
            let (wake, receiver) = oneshot::channel();
            state.arrivals += 1;
            let arrival = state.arrivals;
            state.waiting.push(Waiter {
                priority,
                arrival,
                wake,
            });
            receiver
        };
        let mut pending = Pending {
            slots: self,
            wake: Some(receiver),
        };
        if let Some(receiver) = pending.wake.as_mut() {
            // The sender lives in `waiting` until it hands over a slot; it is never dropped
            // unsent while the `Slots` exist.
            let _ = receiver.await;
        }
        pending.wake = None;
        Slot { slots: self }
    }

    /// Slots free right now.
    #[cfg(test)]
    pub(crate) fn free(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .free
    }

    /// Frees the slot and hands free slots to the best waiters that may take them.
    fn release(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.free += 1;
        while let Some(best) = state.waiting.peek() {
            if !state.may_take(best.priority) {
                break;
            }
            let Some(waiter) = state.waiting.pop() else {
                break;
            };
            if waiter.wake.send(()).is_ok() {
                state.free -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn waiters_are_served_by_priority_then_arrival() {
        let slots = Arc::new(Slots::new(1));
        let held = slots.acquire(0).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, priority) in [("a", 0), ("b", 5), ("c", 0), ("d", 5)] {
            let slots = Arc::clone(&slots);
            let order = Arc::clone(&order);
            tasks.push(tokio::spawn(async move {
                let _slot = slots.acquire(priority).await;
                order.lock().expect("lock").push(name);
            }));
            // Let each waiter queue before the next arrives.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(held);
        for task in tasks {
            task.await.expect("joins");
        }
        assert_eq!(*order.lock().expect("lock"), ["b", "d", "a", "c"]);
    }

    #[tokio::test]
    async fn deep_requests_find_a_reserved_slot() {
        let slots = Slots::new(6);
        let mut held = Vec::new();
        for _ in 0..5 {
            held.push(slots.acquire(0).await);
        }
        // One slot left, kept for deep requests: a first page waits, a deep page goes.
        let first_page = tokio::time::timeout(Duration::from_millis(20), slots.acquire(0)).await;
        assert!(
            first_page.is_err(),
            "the reserved slot is not for first pages"
        );
        let deep = tokio::time::timeout(Duration::from_secs(5), slots.acquire(DEEP)).await;
        assert!(deep.is_ok(), "a deep request takes the reserved slot");
    }

    #[tokio::test]
    async fn a_cancelled_waiter_does_not_leak_its_slot() {
        let slots = Arc::new(Slots::new(1));
        let held = slots.acquire(0).await;
        let waiting = {
            let slots = Arc::clone(&slots);
            tokio::spawn(async move {
                let _slot = slots.acquire(0).await;
                std::future::pending::<()>().await;
            })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        waiting.abort();
        let _ = waiting.await;
        drop(held);
        let again = tokio::time::timeout(Duration::from_secs(5), slots.acquire(0)).await;
        assert!(again.is_ok(), "the slot came back");
    }
}
