//! A scripted HTTP/1.1 server on `127.0.0.1:0` for the client's own tests: canned answers
//! per route, in order, and a record of every request. Tests only; it is not the simulated
//! org and shares nothing with it. Raw tokio sockets, so a test can drop a connection.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::client::{ClientOptions, OktaClient};
use super::settings::{ConnectionSettings, Credentials, Secret, SettingSource};

/// The token every test client sends; tests assert it never shows up in output.
pub(crate) const TEST_TOKEN: &str = "00TESTtoken_SECRET_never_print_me";

/// One canned answer.
#[derive(Debug, Clone)]
pub(crate) struct Canned {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    drop_connection: bool,
    /// Wait this long before answering.
    delay: Option<Duration>,
    /// `(limit, remaining, reset − now in seconds)`: sent with a `Date` of the moment of answering.
    rate: Option<(u64, u64, u64)>,
}

impl Canned {
    pub(crate) fn json(status: u16, body: impl Into<String>) -> Self {
        Canned {
            status,
            headers: Vec::new(),
            body: body.into(),
            drop_connection: false,
            delay: None,
            rate: None,
        }
    }

    pub(crate) fn ok(body: impl Into<String>) -> Self {
        Canned::json(200, body)
    }

    pub(crate) fn error(status: u16, code: &str, summary: &str) -> Self {
        Canned::json(
            status,
            format!(
                r#"{{"errorCode":"{code}","errorSummary":"{summary}","errorLink":"{code}","errorId":"oae1","errorCauses":[]}}"#
            ),
        )
    }

    /// Closes the connection without answering.
    pub(crate) fn drop_connection() -> Self {
        Canned {
            drop_connection: true,
            ..Canned::json(200, "")
        }
    }

    pub(crate) fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub(crate) fn rate(mut self, limit: u64, remaining: u64, reset_in_secs: u64) -> Self {
        self.rate = Some((limit, remaining, reset_in_secs));
        self
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// When the whole request had arrived.
    pub at: std::time::Instant,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or(&self.target)
    }
}

#[derive(Default)]
struct Script {
    /// `"GET /path?query"` or `"GET /path"` → answers; the last one repeats.
    routes: HashMap<String, VecDeque<Canned>>,
    recorded: Vec<Recorded>,
    served: u64,
    /// Requests received and not yet answered (or dropped), and the most there ever were.
    in_flight: usize,
    peak_in_flight: usize,
}

/// Counts a request in flight at the server until dropped (answered, or the connection
/// went away).
struct InFlightAtServer(Arc<Mutex<Script>>);

impl Drop for InFlightAtServer {
    fn drop(&mut self) {
        let mut script = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        script.in_flight = script.in_flight.saturating_sub(1);
    }
}

/// The running server.
pub(crate) struct ScriptedServer {
    pub url: String,
    script: Arc<Mutex<Script>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) struct ScriptBuilder {
    script: Script,
}

/// Starts describing a server: `script().route("GET", "/api/v1/apps", vec![…]).start().await`.
pub(crate) fn script() -> ScriptBuilder {
    ScriptBuilder {
        script: Script::default(),
    }
}

impl ScriptBuilder {
    /// `target` is a path (any query) or a path with its exact query.
    pub(crate) fn route(mut self, method: &str, target: &str, answers: Vec<Canned>) -> Self {
        self.script
            .routes
            .insert(format!("{method} {target}"), answers.into());
        self
    }

    pub(crate) async fn start(self) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let script = Arc::new(Mutex::new(self.script));
        let shared = Arc::clone(&script);
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve_connection(socket, shared).await;
                });
            }
        });
        ScriptedServer {
            url: format!("http://{addr}"),
            script,
            task,
        }
    }
}

impl ScriptedServer {
    /// Adds a route once the server runs (for answers that must name the server's own url).
    pub(crate) fn add_route(&self, method: &str, target: &str, answers: Vec<Canned>) {
        self.script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .routes
            .insert(format!("{method} {target}"), answers.into());
    }

    /// The most requests the server ever held unanswered at once.
    pub(crate) fn peak_in_flight(&self) -> usize {
        self.script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .peak_in_flight
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recorded
            .clone()
    }

    pub(crate) fn client(&self, options: ClientOptions) -> OktaClient {
        let settings = ConnectionSettings {
            org_url: self.url.clone(),
            org_url_source: SettingSource::Flag,
            credentials: Credentials::ApiToken(Secret::new(TEST_TOKEN)),
            warnings: Vec::new(),
        };
        OktaClient::new(&settings, options).expect("client")
    }
}

/// Options with tiny waits, so tests take milliseconds.
pub(crate) fn fast_options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
        reset_padding: Duration::from_millis(10),
        ..ClientOptions::default()
    }
}

/// Every test's body runs under this: a hang fails the test instead of the run.
pub(crate) async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("test took longer than 20 s")
}

async fn serve_connection(
    mut socket: TcpStream,
    script: Arc<Mutex<Script>>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    loop {
        let Some(head_end) = read_head(&mut socket, &mut buffer).await? else {
            return Ok(());
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut rest = buffer.split_off(head_end + 4);
        while rest.len() < length {
            let mut chunk = [0u8; 4096];
            let n = socket.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        buffer = rest.split_off(length);
        let body = String::from_utf8_lossy(&rest).to_string();

        let (answer, number) = {
            let mut script = script.lock().unwrap_or_else(PoisonError::into_inner);
            script.recorded.push(Recorded {
                method: method.clone(),
                target: target.clone(),
                headers,
                body,
                at: std::time::Instant::now(),
            });
            script.served += 1;
            script.in_flight += 1;
            script.peak_in_flight = script.peak_in_flight.max(script.in_flight);
            let number = script.served;
            let path = target.split('?').next().unwrap_or_default();
            let exact = format!("{method} {target}");
            let by_path = format!("{method} {path}");
            let key = if script.routes.contains_key(&exact) {
                exact
            } else {
                by_path
            };
            let answer = match script.routes.get_mut(&key) {
                Some(queue) if queue.len() > 1 => queue.pop_front(),
                Some(queue) => queue.front().cloned(),
                None => None,
            };
            (
                answer.unwrap_or_else(|| {
                    Canned::error(404, "E0000007", "Not found: Resource not found")
                }),
                number,
            )
        };
        let in_flight = InFlightAtServer(Arc::clone(&script));
        if let Some(delay) = answer.delay {
            tokio::time::sleep(delay).await;
        }
        if answer.drop_connection {
            return Ok(());
        }
        let reason = match answer.status {
            200 => "OK",
            429 => "Too Many Requests",
            _ => "Status",
        };
        let mut response = format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            answer.status,
            answer.body.len()
        );
        if !answer
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("x-okta-request-id"))
        {
            response.push_str(&format!("x-okta-request-id: req-{number}\r\n"));
        }
        if let Some((limit, remaining, reset_in)) = answer.rate {
            let now = chrono::Utc::now();
            let epoch = u64::try_from(now.timestamp()).unwrap_or(0);
            response.push_str(&format!(
                "date: {}\r\nx-rate-limit-limit: {limit}\r\nx-rate-limit-remaining: {remaining}\r\nx-rate-limit-reset: {}\r\n",
                now.format("%a, %d %b %Y %H:%M:%S GMT"),
                epoch + reset_in
            ));
        }
        for (name, value) in &answer.headers {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
        response.push_str("\r\n");
        response.push_str(&answer.body);
        socket.write_all(response.as_bytes()).await?;
        drop(in_flight);
    }
}

/// Reads until a full request head is buffered; `None` when the peer closed first.
async fn read_head(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(i));
        }
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}
