//! `guard --from-logs`, for sites with no inbound HTTPS: a System Log polling query (no
//! `until`, ascending) for the guard's event types, its `next` link followed forever and
//! saved with the checkpoint, each page's events going through the same intake as hook
//! deliveries. A page with events is followed at once; an empty one waits `interval`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::alerts::AlertSink;
use super::event::log_event_types;
use super::journal::{Intake, IntakeError};
use crate::okta::OktaClient;

/// The poller.
pub struct LogPoller {
    pub client: OktaClient,
    pub intake: Arc<Intake>,
    pub interval: Duration,
    pub sink: AlertSink,
    /// Where a first poll starts (no saved position): before the guard read the org.
    pub since: chrono::DateTime<chrono::Utc>,
}

impl LogPoller {
    /// Polls until `stop` flips to `true`.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut next = match self.intake.log_next() {
            Some(next) => next,
            None => {
                let since = self
                    .since
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                match self.client.log_polling_start(&since, &log_event_types()) {
                    Ok(url) => url,
                    Err(e) => {
                        self.sink
                            .note(&format!("error: cannot poll the System Log: {e}"));
                        return;
                    }
                }
            }
        };
        let mut failures: u32 = 0;
        loop {
            if *stop.borrow() {
                return;
            }
            let wait = match self.client.poll_log_page(&next).await {
                Ok(page) => {
                    failures = 0;
                    let had_events = !page.events.is_empty();
                    let mut events = page.events;
                    super::event::sort_by_published(&mut events);
                    // A full queue: wait for the judge, then offer the same page again.
                    loop {
                        match self.intake.accept(events.clone(), Some(page.next.clone())) {
                            Ok(accepted) => {
                                tracing::debug!(
                                    events = events.len(),
                                    new = accepted.new,
                                    duplicates = accepted.duplicates,
                                    "system log page"
                                );
                                next = page.next;
                                break;
                            }
                            Err(IntakeError::Full) => {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                            Err(IntakeError::Closed) => return,
                            Err(IntakeError::Journal(e)) => {
                                self.sink.note(&format!(
                                    "error: failed to journal System Log events: {e:#}; retrying"
                                ));
                                tokio::time::sleep(self.interval).await;
                            }
                        }
                        if *stop.borrow() {
                            return;
                        }
                    }
                    if had_events {
                        Duration::ZERO
                    } else {
                        self.interval
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    self.sink.note(&format!(
                        "warning: polling the System Log failed: {e}{}",
                        e.hint()
                            .map(|h| format!(" (hint: {h})"))
                            .unwrap_or_default()
                    ));
                    // Back off up to ten intervals; the position is kept.
                    self.interval.saturating_mul(failures.min(10))
                }
            };
            if !wait.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
    }
}
