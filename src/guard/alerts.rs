//! Where the guard's alerts go: one JSON line per alert on stdout (for a log shipper), a
//! human line on stderr, an optional `POST {"text": …}` to `--notify-url` (a Slack or Teams
//! incoming webhook), and the saved plan's path. Never prints a secret: alerts carry only
//! what the org and the rules said.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::event::GuardEvent;
use crate::rules::Finding;
use crate::text::truncate_for_message;

/// Why an alert was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An Event Hook delivery or a System Log event.
    Event,
    /// The periodic poll (mappings, and everything else).
    Poll,
    /// The reconciliation when the guard starts.
    Startup,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Event => "event",
            Source::Poll => "poll",
            Source::Startup => "startup",
        }
    }
}

/// One thing to say.
#[derive(Debug, Clone)]
pub enum Alert<'a> {
    /// A finding that was not open before.
    New {
        finding: &'a Finding,
        event: Option<&'a GuardEvent>,
        source: Source,
        plan: Option<String>,
        plan_error: Option<String>,
    },
    /// An open finding that is gone (fixed, or its group unassigned).
    Fixed {
        finding: &'a Finding,
        event: Option<&'a GuardEvent>,
        source: Source,
    },
    /// A provisioning failure on an AD app, with the open findings it may belong to.
    Impact {
        event: &'a GuardEvent,
        directory: &'a str,
        findings: Vec<&'a Finding>,
    },
}

fn event_json(event: Option<&GuardEvent>) -> (Value, Value) {
    match event {
        None => (Value::Null, Value::Null),
        Some(e) => (
            json!({"uuid": e.uuid, "published": e.published, "eventType": e.event_type}),
            e.actor.as_ref().map_or(Value::Null, |a| {
                json!({"id": a.id, "alternateId": a.alternate_id, "displayName": a.display_name})
            }),
        ),
    }
}

fn by_whom(event: Option<&GuardEvent>) -> String {
    match event {
        Some(e) => {
            let who = e
                .actor
                .as_ref()
                .map(|a| {
                    if a.alternate_id.is_empty() {
                        a.display_name.clone()
                    } else {
                        a.alternate_id.clone()
                    }
                })
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "an unknown actor".into());
            format!(
                " (changed by `{}` at {}, event `{}`)",
                truncate_for_message(&who),
                truncate_for_message(&e.published),
                truncate_for_message(&e.uuid)
            )
        }
        None => String::new(),
    }
}

impl Alert<'_> {
    /// The JSON line.
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            Alert::New {
                finding,
                event,
                source,
                plan,
                plan_error,
            } => {
                let (event, actor) = event_json(*event);
                json!({
                    "alert": "new-finding",
                    "finding": finding.id,
                    "rule": finding.rule.name(),
                    "directory": finding.directory,
                    "group": finding.group,
                    "mapping": finding.mapping,
                    "ou": finding.ou,
                    "message": finding.message,
                    "source": source.name(),
                    "event": event,
                    "actor": actor,
                    "plan": plan,
                    "plan_error": plan_error,
                })
            }
            Alert::Fixed {
                finding,
                event,
                source,
            } => {
                let (event, actor) = event_json(*event);
                json!({
                    "alert": "fixed",
                    "finding": finding.id,
                    "rule": finding.rule.name(),
                    "directory": finding.directory,
                    "group": finding.group,
                    "source": source.name(),
                    "event": event,
                    "actor": actor,
                })
            }
            Alert::Impact {
                event,
                directory,
                findings,
            } => {
                let (event_value, _) = event_json(Some(event));
                let user = event.target("User").map(|u| {
                    json!({"id": u.id, "alternateId": u.alternate_id, "displayName": u.display_name})
                });
                json!({
                    "alert": "provisioning-failure",
                    "directory": directory,
                    "user": user,
                    "reason": event.reason,
                    "event": event_value,
                    "findings": findings.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
                })
            }
        }
    }

    /// The human line.
    #[must_use]
    pub fn to_text(&self) -> String {
        match self {
            Alert::New {
                finding,
                event,
                plan,
                plan_error,
                ..
            } => {
                let mut line = format!(
                    "guard: new finding `{}`: {}{}",
                    finding.id,
                    finding.message,
                    by_whom(*event)
                );
                if let Some(plan) = plan {
                    line.push_str(&format!(
                        "; plan saved to `{plan}` (review: `ouguard show {plan}`, apply: `ouguard apply {plan}`)"
                    ));
                }
                if let Some(error) = plan_error {
                    line.push_str(&format!("; no plan saved: {error}"));
                }
                line
            }
            Alert::Fixed { finding, event, .. } => {
                format!("guard: fixed `{}`{}", finding.id, by_whom(*event))
            }
            Alert::Impact {
                event,
                directory,
                findings,
            } => {
                let user = event.target("User").map_or("an unknown user".into(), |u| {
                    format!("`{}`", truncate_for_message(&u.alternate_id))
                });
                let belongs = match findings.as_slice() {
                    [] => "no open finding of this directory explains it".to_string(),
                    [one] => format!("it belongs to `{}`", one.id),
                    many => format!(
                        "it may belong to one of {}",
                        many.iter()
                            .map(|f| format!("`{}`", f.id))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                format!(
                    "guard: provisioning of {user} to `{directory}` failed{}: {belongs}",
                    event
                        .reason
                        .as_deref()
                        .filter(|r| !r.is_empty())
                        .map(|r| format!(" (\"{}\")", truncate_for_message(r)))
                        .unwrap_or_default()
                )
            }
        }
    }
}

/// The outputs of the guard. Cheap to clone.
#[derive(Clone)]
pub struct AlertSink {
    stdout: Arc<Mutex<Box<dyn Write + Send>>>,
    stderr: Arc<Mutex<Box<dyn Write + Send>>>,
    notify: Option<mpsc::Sender<String>>,
}

impl std::fmt::Debug for AlertSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSink").finish_non_exhaustive()
    }
}

impl AlertSink {
    /// Alerts to these writers (stdout and stderr in the CLI, buffers in tests).
    #[must_use]
    pub fn new(stdout: Box<dyn Write + Send>, stderr: Box<dyn Write + Send>) -> AlertSink {
        AlertSink {
            stdout: Arc::new(Mutex::new(stdout)),
            stderr: Arc::new(Mutex::new(stderr)),
            notify: None,
        }
    }

    /// Also `POST {"text": …}` every alert to `url`, from a background task (at most 256
    /// waiting; 5 s per call; a failure is a warning on stderr, never a stop).
    #[must_use]
    pub fn with_notify(mut self, url: url::Url) -> AlertSink {
        let (tx, mut rx) = mpsc::channel::<String>(256);
        let stderr = Arc::clone(&self.stderr);
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build();
            let Ok(client) = client else {
                return;
            };
            while let Some(text) = rx.recv().await {
                let result = client
                    .post(url.clone())
                    .json(&json!({ "text": text }))
                    .send()
                    .await;
                let problem = match result {
                    Ok(r) if r.status().is_success() => None,
                    Ok(r) => Some(format!("it answered {}", r.status().as_u16())),
                    Err(e) if e.is_timeout() => Some("it did not answer in 5 s".to_string()),
                    Err(_) => Some("it could not be reached".to_string()),
                };
                if let Some(problem) = problem {
                    let mut err = stderr.lock().unwrap_or_else(PoisonError::into_inner);
                    let _ = writeln!(
                        err,
                        "warning: the alert was not delivered to `--notify-url` `{}`: {problem}",
                        url.host_str().unwrap_or("?")
                    );
                }
            }
        });
        self.notify = Some(tx);
        self
    }

    /// Emits one alert everywhere.
    pub fn emit(&self, alert: &Alert<'_>) {
        let text = alert.to_text();
        {
            let mut out = self.stdout.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = writeln!(out, "{}", alert.to_json());
            let _ = out.flush();
        }
        self.note(&text);
        if let Some(notify) = &self.notify {
            if notify.try_send(text).is_err() {
                self.note("warning: too many alerts waiting for `--notify-url`: one was dropped");
            }
        }
    }

    /// A line on stderr only.
    pub fn note(&self, line: &str) {
        let mut err = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writeln!(err, "{line}");
        let _ = err.flush();
    }
}

/// Checks a `--notify-url`: `https://`, or `http://` on loopback.
///
/// # Errors
/// A message for `error:`.
pub fn notify_url(raw: &str) -> Result<url::Url, String> {
    let url =
        url::Url::parse(raw).map_err(|e| format!("`--notify-url` `{raw}` is not a url: {e}"))?;
    let host = url.host_str().unwrap_or_default().to_string();
    match url.scheme() {
        "https" => Ok(url),
        "http" if crate::okta::is_loopback(&host) => Ok(url),
        _ => Err(format!(
            "`--notify-url` must be `https://` (or `http://` on loopback), not `{}`",
            truncate_for_message(raw)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{DirectoryRef, GroupRef, Rule};

    fn finding() -> Finding {
        Finding {
            id: "R1:corp.example.com:00g1".into(),
            rule: Rule::GroupOuNotImported,
            directory: DirectoryRef {
                app_id: "0oa1".into(),
                domain: "corp.example.com".into(),
            },
            group: Some(GroupRef {
                id: "00g1".into(),
                name: "Marketing".into(),
            }),
            mapping: None,
            ou: Some("OU=Marketing,DC=corp,DC=example,DC=com".into()),
            message: "group `Marketing` targets an OU that is not imported".into(),
        }
    }

    #[test]
    fn a_new_finding_names_the_event_and_the_actor() {
        let event = GuardEvent {
            uuid: "e1".into(),
            published: "2026-01-01T00:00:00.000Z".into(),
            event_type: "group.application_assignment.add".into(),
            actor: Some(super::super::event::Actor {
                id: "00u1".into(),
                alternate_id: "admin@example.com".into(),
                display_name: "Admin".into(),
            }),
            targets: Vec::new(),
            outcome: None,
            reason: None,
        };
        let f = finding();
        let alert = Alert::New {
            finding: &f,
            event: Some(&event),
            source: Source::Event,
            plan: Some("plans/x.json".into()),
            plan_error: None,
        };
        let json = alert.to_json();
        assert_eq!(json["finding"], "R1:corp.example.com:00g1");
        assert_eq!(json["rule"], "group-ou-not-imported");
        assert_eq!(json["event"]["uuid"], "e1");
        assert_eq!(json["actor"]["alternateId"], "admin@example.com");
        assert_eq!(json["group"]["name"], "Marketing");
        let text = alert.to_text();
        assert!(
            text.contains("`admin@example.com`") && text.contains("plans/x.json"),
            "{text}"
        );
    }

    #[test]
    fn notify_urls_must_be_https_unless_loopback() {
        assert!(notify_url("https://hooks.slack.com/services/x").is_ok());
        assert!(notify_url("http://127.0.0.1:9/x").is_ok());
        assert!(notify_url("http://hooks.example.com/x").is_err());
        assert!(notify_url("nope").is_err());
    }
}
