//! `--server URL`: the CLI subcommands that act on incidents and approvals, talking to a
//! running `sre serve` over its API instead of opening the data folder.

use std::path::{Path, PathBuf};

use serde_json::Value;

type Failure = Box<dyn std::error::Error>;

/// Where a running server is, and its token.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServerArgs {
    /// Talk to a running `sre serve` at this URL (e.g. `http://127.0.0.1:8080`) instead
    /// of opening the data folder; the token comes from `SRE_API_TOKEN` or `--token-file`.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// A file holding the API token (else `SRE_API_TOKEN`).
    #[arg(long, value_name = "FILE", requires = "server")]
    pub token_file: Option<PathBuf>,
}

/// The API token: the content of `file` (trimmed), else `SRE_API_TOKEN` (empty when
/// neither).
pub fn read_token(file: Option<&Path>) -> Result<String, String> {
    match file {
        Some(f) => std::fs::read_to_string(f)
            .map(|t| t.trim().to_string())
            .map_err(|e| format!("{}: {e}", f.display())),
        None => Ok(std::env::var("SRE_API_TOKEN").unwrap_or_default()),
    }
}

/// A client of a running server's API.
pub struct Server {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Server {
    /// The server `args` name, if any.
    pub fn from_args(args: &ServerArgs) -> Result<Option<Server>, Failure> {
        let Some(url) = &args.server else {
            return Ok(None);
        };
        let Some(rest) = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
        else {
            return Err(format!("--server `{url}`: expected an http:// or https:// URL").into());
        };
        // Credentials in a URL end up in error messages and shell history.
        if rest
            .split('/')
            .next()
            .is_some_and(|host| host.contains('@'))
        {
            return Err("--server: no credentials in the URL (the token comes from \
                        SRE_API_TOKEN or --token-file)"
                .into());
        }
        let token = read_token(args.token_file.as_deref())?;
        if token.is_empty() {
            return Err("--server needs the API token: SRE_API_TOKEN or --token-file".into());
        }
        let mut settings = sre_core::providers::HttpSettings::new(url.trim_end_matches('/'));
        settings.read_timeout = std::time::Duration::from_secs(30);
        Ok(Some(Server {
            base: settings.base_url.clone(),
            token,
            client: sre_core::providers::http_client(&settings)?,
        }))
    }

    /// `GET path` (e.g. `/api/approvals?all=true`): the JSON answer.
    pub async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    /// `POST path` with a JSON body: the JSON answer.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        self.post_bytes(path, body.to_string().into_bytes()).await
    }

    /// `POST path` with `body` as it is (a webhook payload).
    pub async fn post_bytes(&self, path: &str, body: Vec<u8>) -> Result<Value, Failure> {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        self.send(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("{}: {}", self.base, with_causes(&e)))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("{}: {e}", self.base))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            let why = body
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| body.to_string());
            return Err(format!("the server answered {}: {why}", status.as_u16()).into());
        }
        Ok(body)
    }
}

/// An error and what caused it (a refused connection, a DNS or TLS failure).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

/// Percent-encode one path segment (ids are plain, but a mistyped one must not change the
/// path).
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The positionals `DIR WHAT` of a command that takes a home, or with `--server` just
/// `WHAT` (`what` names it in errors: `ID`, `FILE`).
pub fn home_and_id(
    dir: Option<PathBuf>,
    id: Option<String>,
    server: bool,
    what: &str,
) -> Result<(Option<PathBuf>, String), Failure> {
    match (dir, id, server) {
        (Some(dir), Some(id), false) => Ok((Some(dir), id)),
        (Some(only), None, true) => Ok((None, only.to_string_lossy().into_owned())),
        (None, None, true) => Err(format!("{what} is missing").into()),
        (_, _, true) => {
            Err(format!("with --server, give {what} alone (the server knows its home)").into())
        }
        (_, _, false) => Err(format!(
            "give the agent home and {what}: `DIR {what}` (or --server URL {what})"
        )
        .into()),
    }
}

/// The agent home a command without `--server` needs.
pub fn home(dir: Option<&Path>) -> Result<&Path, Failure> {
    dir.ok_or_else(|| "give the agent home (DIR) or --server URL".into())
}
