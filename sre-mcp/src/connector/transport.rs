//! Transport and session setup: `${NAME}` resolution, the stdio child process or the
//! Streamable HTTP client, the MCP handshake, and the classification of setup failures.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use tokio::io::AsyncBufReadExt;

use super::handler::{ElicitationPolicy, Handler};
use super::http::{self, EventStreamWatch, WatchedClient};
use super::{Inner, STDERR_TAIL_LINES};
use crate::config::{ConnectorConfig, ProtocolMode, Transport};
use crate::error::{FailureKind, McpError, Redactor, classify};
use crate::headers::expand;

/// Transport settings with `${NAME}` expanded. Holds secrets: never printed.
pub(super) enum Resolved {
    Http {
        url: String,
        headers: Vec<(String, String)>,
    },
    Stdio {
        command: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
        cwd: Option<std::path::PathBuf>,
    },
}

/// A started, initialised service; for HTTP also the watch on its background event stream.
pub(super) struct Started {
    pub(super) running: RunningService<RoleClient, Handler>,
    pub(super) events: Option<EventStreamWatch>,
}

/// Credential part of a header value (`Bearer <cred>` -> `<cred>`) to redact it alone too.
fn push_secret(secrets: &mut Vec<String>, value: &str) {
    secrets.push(value.to_string());
    if let Some((_, cred)) = value.split_once(' ') {
        secrets.push(cred.to_string());
    }
}

impl Inner {
    /// Resolve `${NAME}` references; also refreshes the redactor with every secret value.
    pub(super) fn resolve(&self) -> Result<Resolved, McpError> {
        let name = &self.config.name;
        let env = |n: &str| (self.env)(n);
        let mut secrets = Vec::new();
        let resolved = match &self.config.transport {
            Transport::StreamableHttp { url, headers, auth } => {
                let url = expand(url, name, "url", &env)?;
                // Keys travel in query strings and user information (`?api_key=...`).
                for secret in url_secrets(&url) {
                    push_secret(&mut secrets, &secret);
                }
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(McpError::config(
                        format!("connector `{name}`: url"),
                        "must start with `http://` or `https://` once its variables are expanded",
                    ));
                }
                let mut out = Vec::new();
                for (k, v) in &headers.0 {
                    let v = expand(v, name, &format!("headers.{k}"), &env)?;
                    push_secret(&mut secrets, &v);
                    out.push((k.clone(), v));
                }
                if let Some(auth) = auth {
                    let v = auth.header_value(name, &env)?;
                    push_secret(&mut secrets, &v);
                    out.push(("Authorization".to_string(), v));
                }
                Resolved::Http { url, headers: out }
            }
            Transport::Stdio {
                command,
                args,
                env: vars,
                cwd,
            } => {
                let command = expand(command, name, "command", &env)?;
                let args = args
                    .iter()
                    .enumerate()
                    .map(|(i, a)| expand(a, name, &format!("args[{i}]"), &env))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut out = Vec::new();
                for (k, v) in &vars.0 {
                    let v = expand(v, name, &format!("env.{k}"), &env)?;
                    secrets.push(v.clone());
                    out.push((k.clone(), v));
                }
                Resolved::Stdio {
                    command,
                    args,
                    env: out,
                    cwd: cwd.clone(),
                }
            }
        };
        if let Ok(mut r) = self.redactor.write() {
            *r = Redactor::new(secrets);
        }
        Ok(resolved)
    }

    pub(super) fn classify_connect(&self, err: &(dyn std::error::Error + 'static)) -> McpError {
        let (mut kind, detail) = classify(err);
        let is_stdio = matches!(self.config.transport, Transport::Stdio { .. });
        if is_stdio && matches!(kind, FailureKind::Other | FailureKind::Closed) {
            // A stdio server that closes during the handshake either crashed or printed
            // something that is not JSON-RPC on stdout.
            kind = FailureKind::Closed;
        }
        let tail = if is_stdio {
            self.stderr_tail()
        } else {
            String::new()
        };
        self.connect_error(kind, format!("{detail}{tail}"))
    }

    /// rmcp does not keep reqwest's error as a `source`, so connect/TLS/DNS failures arrive
    /// as "error sending request". Probe the URL once (no credentials) to classify them.
    async fn http_diagnose(&self, client: &reqwest::Client, url: &str, err: McpError) -> McpError {
        if !matches!(
            err.kind(),
            Some(FailureKind::Other | FailureKind::Closed | FailureKind::Protocol)
        ) {
            return err;
        }
        let probe = client.get(url).timeout(Duration::from_secs(5)).send().await;
        match probe {
            Err(e) => {
                let (kind, detail) = classify(&e);
                if kind == FailureKind::Other {
                    return err;
                }
                let original = match &err {
                    McpError::Connect { detail, .. } => detail.clone(),
                    other => other.to_string(),
                };
                self.connect_error(kind, format!("{detail} (while: {original})"))
            }
            Ok(_) => err,
        }
    }

    fn client_info(&self) -> ClientConfig {
        let mut caps = ClientCapabilities::default();
        if self.elicitation == ElicitationPolicy::AcceptDefaults {
            caps.elicitation = Some(Default::default());
        }
        ClientConfig::new(
            caps,
            Implementation::new("sre-mcp", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(ProtocolVersion::V_2025_11_25)
    }

    fn header_map(
        &self,
        headers: Vec<(String, String)>,
    ) -> Result<HashMap<reqwest::header::HeaderName, reqwest::header::HeaderValue>, McpError> {
        let mut map = HashMap::new();
        for (k, v) in headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                self.connect_error(FailureKind::Other, format!("invalid header name `{k}`"))
            })?;
            let mut value = reqwest::header::HeaderValue::from_str(&v).map_err(|_| {
                self.connect_error(
                    FailureKind::Other,
                    format!("header `{k}` has a value that is not a valid HTTP header value (after `${{...}}` expansion)"),
                )
            })?;
            value.set_sensitive(true);
            map.insert(name, value);
        }
        Ok(map)
    }

    /// Start the transport and run the handshake.
    pub(super) async fn start(&self, resolved: Resolved) -> Result<Started, McpError> {
        let handler = Handler {
            info: self.client_info(),
            progress: self.progress.clone(),
            progress_total: self.progress_total.clone(),
            elicitation: self.elicitation,
        };
        let lifecycle = match self.config.protocol {
            ProtocolMode::Initialize => ClientLifecycleMode::Initialize,
            ProtocolMode::Auto => ClientLifecycleMode::Auto {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                legacy_version: Some(ProtocolVersion::V_2025_11_25),
            },
        };
        match resolved {
            Resolved::Http { url, headers } => {
                let map = self.header_map(headers)?;
                let client = http::client(self.config.startup_timeout)
                    .map_err(|(kind, e)| self.connect_error(kind, e))?;
                let events = EventStreamWatch::new();
                let watched = WatchedClient {
                    http: client.clone(),
                    watch: events.clone(),
                };
                // rmcp's own 404 recovery would re-send every pending request, side
                // effects or not; the connector re-sends only calls that are safe to repeat.
                let cfg = StreamableHttpClientTransportConfig::with_uri(url.clone())
                    .custom_headers(map)
                    .reinit_on_expired_session(false);
                let transport = StreamableHttpClientTransport::with_client(watched, cfg);
                match handler.serve_with_lifecycle(transport, lifecycle).await {
                    Ok(running) => Ok(Started {
                        running,
                        events: Some(events),
                    }),
                    Err(e) => {
                        let err = self.classify_connect(&e);
                        Err(self.http_diagnose(&client, &url, err).await)
                    }
                }
            }
            Resolved::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                let mut cmd = tokio::process::Command::new(&command);
                cmd.args(&args).envs(env).kill_on_drop(true);
                if let Some(cwd) = cwd {
                    cmd.current_dir(cwd);
                }
                let (proc, stderr) = TokioChildProcess::builder(cmd)
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .map_err(|e| {
                        self.connect_error(
                            FailureKind::Spawn,
                            format!("cannot run `{command}`: {e}"),
                        )
                    })?;
                if let Ok(mut t) = self.stderr_tail.lock() {
                    t.clear();
                }
                if let Some(stderr) = stderr {
                    let tail = self.stderr_tail.clone();
                    tokio::spawn(async move {
                        let mut lines = tokio::io::BufReader::new(stderr).lines();
                        while let Ok(Some(line)) = lines.next_line().await {
                            if let Ok(mut t) = tail.lock() {
                                if t.len() >= STDERR_TAIL_LINES {
                                    t.pop_front();
                                }
                                t.push_back(line.chars().take(500).collect());
                            }
                        }
                    });
                }
                let running = handler
                    .serve_with_lifecycle(proc, lifecycle)
                    .await
                    .map_err(|e| self.classify_connect(&e))?;
                Ok(Started {
                    running,
                    events: None,
                })
            }
        }
    }

    /// Manifest-friendly facts: resolved URL when resolvable (the manifest keeps only the
    /// host, the path and allow-listed query values: `manifest::url_parts`).
    pub(crate) fn resolved_url(&self) -> Option<String> {
        match &self.config.transport {
            Transport::StreamableHttp { url, .. } => {
                let env = |n: &str| (self.env)(n);
                Some(expand(url, &self.config.name, "url", &env).unwrap_or_else(|_| url.clone()))
            }
            Transport::Stdio { .. } => None,
        }
    }
}

/// The parts of `url` that may hold a credential: its user information, its query string
/// and each query value.
fn url_secrets(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        out.push(userinfo.to_string());
    }
    if let Some((_, query)) = url.split_once('?') {
        let query = query.split('#').next().unwrap_or(query);
        out.push(query.to_string());
        out.extend(
            query
                .split('&')
                .filter_map(|pair| pair.split_once('=').map(|(_, v)| v.to_string())),
        );
    }
    out
}

/// Header names and auth scheme of an HTTP connector, for the manifest (never values).
pub(crate) fn header_names(config: &ConnectorConfig) -> (Vec<String>, Option<String>) {
    match &config.transport {
        Transport::StreamableHttp { headers, auth, .. } => {
            let mut names: Vec<String> = headers.0.keys().cloned().collect();
            let mut scheme = auth.as_ref().map(|a| match a {
                crate::headers::Auth::Bearer(_) => "bearer".to_string(),
                crate::headers::Auth::Token(_) => "token".to_string(),
                crate::headers::Auth::Basic { .. } => "basic".to_string(),
            });
            if scheme.is_none() {
                let by_lower: BTreeMap<String, &String> = headers
                    .0
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect();
                if let Some(v) = by_lower.get("authorization") {
                    scheme = v
                        .split_whitespace()
                        .next()
                        .map(|s| s.to_ascii_lowercase())
                        .filter(|s| matches!(s.as_str(), "bearer" | "token" | "basic"));
                }
            }
            if auth.is_some() {
                names.push("Authorization".into());
            }
            names.sort();
            (names, scheme)
        }
        Transport::Stdio { .. } => (Vec::new(), None),
    }
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn keys_in_urls_are_secrets_for_error_messages() {
        let url = "https://bot:pw-1234@mcp.example/v1/mcp?toolsets=core&api_key=ENVSECRETXYZ#x";
        let secrets = url_secrets(url);
        assert!(secrets.contains(&"bot:pw-1234".to_string()));
        assert!(secrets.contains(&"ENVSECRETXYZ".to_string()));
        assert!(url_secrets("http://127.0.0.1:9/mcp").is_empty());
    }
}
