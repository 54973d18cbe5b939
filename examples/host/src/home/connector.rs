//! MCP connectors: the vendor's `DataConnector` (`type: Mcp`, `endpoint`, `auth`),
//! sre-mcp's connector shape (`kind: McpConnector`, or a file with `connectors: [...]`).
//! Each becomes an [`sre_mcp::ConnectorConfig`], checked with its own `validate`. Secrets
//! come only from the environment (`${NAME}`).

use std::path::Path;
use std::time::Duration;

use sre_mcp::{Auth, ConnectorConfig, McpError, ProtocolMode, ToolFilter};

use super::diag::{Sink, Source, suggestion};
use super::document::Envelope;
use super::fields::{Field, Fields};
use super::yaml::{Node, Pos};
use super::{Loaded, Location};

/// Which file shape a connector came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectorShape {
    /// The vendor's `kind: DataConnector`.
    DataConnector,
    /// `kind: McpConnector` (sre-mcp's connector in `spec`).
    McpConnector,
    /// An sre-mcp config file (`connectors: [...]`).
    McpConfig,
}

/// One MCP connector.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectorDef {
    /// Unique name (tools are named `mcp__<name>__<tool>`).
    pub name: String,
    /// What sre-mcp connects with (`${NAME}` references unexpanded).
    pub config: ConnectorConfig,
    /// The file shape.
    pub shape: ConnectorShape,
    /// Where it is defined.
    pub location: Location,
}

/// A connector as parsed.
pub(crate) struct ConnectorDraft {
    pub def: ConnectorDef,
    pub file: usize,
    pub name_pos: Pos,
}

const MCP_FIELDS: &[&str] = &[
    "name",
    "transport",
    "url",
    "headers",
    "auth",
    "command",
    "args",
    "env",
    "cwd",
    "call_timeout_secs",
    "startup_timeout_secs",
    "tools",
    "region",
    "description",
    "protocol",
];

const DATA_CONNECTOR_FIELDS: &[&str] =
    &["name", "type", "endpoint", "auth", "headers", "description"];

pub(crate) fn parse_connector_document(
    env: &Envelope<'_>,
    file: usize,
    src: &Source,
    out: &mut Sink,
) -> Option<ConnectorDraft> {
    let spec = env.spec?;
    let meta = env.meta_name.as_ref().map(|m| (m.value.clone(), m.pos));
    if env.kind == "DataConnector" {
        parse_data_connector(spec, meta, file, src, out)
    } else {
        parse_mcp(
            spec,
            "spec",
            meta,
            ConnectorShape::McpConnector,
            file,
            src,
            out,
        )
    }
}

/// A document with `connectors: [...]` and no `kind`: sre-mcp's `McpConfig`.
pub(crate) fn parse_mcp_config(
    root: &Node,
    file: usize,
    src: &Source,
    out: &mut Sink,
    loaded: &mut Loaded,
) {
    let Some(mut f) = Fields::of(root, "", src, out) else {
        return;
    };
    if let Some(list) = f.take(&["connectors"], src, out) {
        match list.node.items() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("connectors[{i}]");
                    if let Some(c) =
                        parse_mcp(item, &path, None, ConnectorShape::McpConfig, file, src, out)
                    {
                        loaded.connectors.push(c);
                    }
                }
            }
            None => {
                out.error(
                    src,
                    list.node.pos,
                    "connectors",
                    format!(
                        "expected a list of connectors, got {}",
                        list.node.kind_name()
                    ),
                );
            }
        }
    }
    f.finish(&["connectors"], &[], false, src, out);
}

fn name_of(
    f: &mut Fields<'_>,
    meta: Option<(String, Pos)>,
    src: &Source,
    out: &mut Sink,
) -> Option<(String, Pos)> {
    let path = f.path_of("name");
    let named = match f.take(&["name"], src, out) {
        Some(n) => (n.string(src, out)?, n.node.pos),
        None => match meta {
            Some(m) => m,
            None => {
                out.error(src, f.pos(), path, "missing: a connector needs a name");
                return None;
            }
        },
    };
    super::agent::check_name(&named.0, named.1, &path, "connector", src, out);
    Some(named)
}

fn parse_data_connector(
    spec: &Node,
    meta: Option<(String, Pos)>,
    file: usize,
    src: &Source,
    out: &mut Sink,
) -> Option<ConnectorDraft> {
    let mut f = Fields::of(spec, "spec", src, out)?;
    let (name, name_pos) = name_of(&mut f, meta, src, out)?;
    let ty = f.take(&["type"], src, out);
    match ty.and_then(|t| t.string(src, out).map(|s| (s, t.node.pos))) {
        Some((s, _)) if s.eq_ignore_ascii_case("mcp") => {}
        Some((s, pos)) => {
            out.warn(
                src,
                pos,
                "spec.type",
                format!("data connectors of type `{s}` are not supported yet: `{name}` is skipped"),
            )
            .help("only `type: Mcp` connectors load");
            return None;
        }
        None => {
            out.error(src, f.pos(), "spec.type", "missing: `type: Mcp`");
            return None;
        }
    }
    let Some(endpoint) = f.take(&["endpoint"], src, out) else {
        out.error(
            src,
            f.pos(),
            "spec.endpoint",
            "missing: the MCP server's URL",
        );
        return None;
    };
    let url = endpoint.string(src, out)?;
    check_url_credential(&url, endpoint.node.pos, "spec.endpoint", src, out);
    let mut config = ConnectorConfig::streamable_http(name.clone(), url);
    if let Some(a) = f.take(&["auth"], src, out)
        && let Some(auth) = vendor_auth(a, src, out)
    {
        config = config.auth(auth);
    }
    if let Some(h) = f.take(&["headers"], src, out) {
        check_secret_entries(&h, "spec.headers", src, out);
        for (k, v) in h.string_map(src, out) {
            config = config.header(k, v);
        }
    }
    if let Some(d) = f.take(&["description"], src, out)
        && let Some(d) = d.string(src, out)
    {
        config = config.description(d);
    }
    f.finish(DATA_CONNECTOR_FIELDS, &[], false, src, out);
    finish(
        config,
        spec,
        "spec",
        ConnectorShape::DataConnector,
        file,
        name_pos,
        src,
        out,
    )
}

/// `auth: {type: BearerToken, token}` / `{type: Basic, username, password}`.
fn vendor_auth(field: Field<'_>, src: &Source, out: &mut Sink) -> Option<Auth> {
    let mut f = Fields::of(field.node, "spec.auth", src, out)?;
    let ty = f
        .take(&["type"], src, out)
        .and_then(|t| t.string(src, out))
        .unwrap_or_else(|| "BearerToken".into());
    let secret = |f: &mut Fields<'_>, key: &str, out: &mut Sink| -> Option<String> {
        let path = format!("spec.auth.{key}");
        let Some(x) = f.take(&[key], src, out) else {
            out.error(src, f.pos(), &path, format!("missing: `{key}`"));
            return None;
        };
        let v = x.string(src, out)?;
        check_secret(&v, x.node.pos, &path, src, out);
        Some(v)
    };
    let auth = match ty.to_ascii_lowercase().as_str() {
        "bearertoken" | "bearer" => secret(&mut f, "token", out).map(Auth::Bearer),
        "token" => secret(&mut f, "token", out).map(Auth::Token),
        "basic" => {
            let username = f
                .take(&["username"], src, out)
                .and_then(|u| u.text(src, out));
            let password = secret(&mut f, "password", out);
            match (username, password) {
                (Some(username), Some(password)) => Some(Auth::Basic { username, password }),
                (None, _) => {
                    out.error(src, f.pos(), "spec.auth.username", "missing: `username`");
                    None
                }
                _ => None,
            }
        }
        "none" => None,
        other => {
            out.error(
                src,
                field.node.find("type"),
                "spec.auth.type",
                format!("unsupported auth type `{other}`"),
            )
            .help("expected BearerToken, Token, Basic or None");
            None
        }
    };
    f.finish(
        &["type", "token", "username", "password"],
        &[],
        false,
        src,
        out,
    );
    auth
}

/// A secret written in the file is an error: it must come from `${NAME}`. The error never
/// shows the value.
fn check_secret(value: &str, pos: Pos, path: &str, src: &Source, out: &mut Sink) {
    if !value.contains("${") {
        out.secret(src, value);
        out.error(src, pos, path, "a secret written in the file")
            .help("take it from the environment: `${MY_TOKEN}`")
            .redact(value);
    }
}

fn check_secret_entries(headers: &Field<'_>, path: &str, src: &Source, out: &mut Sink) {
    for e in headers.node.entries().unwrap_or_default() {
        let Some(v) = e.value.scalar_text().filter(|v| !v.is_empty()) else {
            continue;
        };
        let at = format!("{path}.{}", e.key);
        if super::secret::names_a_credential(&e.key) {
            check_secret(v, e.value.pos, &at, src, out);
        } else {
            // `DATABASE_URL: postgres://user:password@host/db`
            check_url_credential(v, e.value.pos, &at, src, out);
        }
    }
}

/// A URL whose user information holds a credential written in the file is an error.
fn check_url_credential(url: &str, pos: Pos, path: &str, src: &Source, out: &mut Sink) {
    if let Some(userinfo) = super::secret::literal_url_credential(url) {
        out.secret(src, userinfo);
        out.error(src, pos, path, "a password written in the file")
            .help("take it from the environment: `https://user:${PASSWORD}@host/...`")
            .redact(userinfo);
    }
}

#[allow(clippy::too_many_arguments)]
fn parse_mcp(
    node: &Node,
    path: &str,
    meta: Option<(String, Pos)>,
    shape: ConnectorShape,
    file: usize,
    src: &Source,
    out: &mut Sink,
) -> Option<ConnectorDraft> {
    let mut f = Fields::of(node, path, src, out)?;
    let p = |k: &str| format!("{path}.{k}");
    let (name, name_pos) = name_of(&mut f, meta, src, out)?;
    let transport = match f.take(&["transport"], src, out) {
        Some(t) => (t.string(src, out)?, t.node.pos),
        None => {
            out.error(
                src,
                f.pos(),
                p("transport"),
                "missing: `streamable_http` or `stdio`",
            );
            return None;
        }
    };
    let string = |f: &mut Fields<'_>, key: &str, out: &mut Sink| {
        f.take(&[key], src, out)
            .and_then(|x| x.string(src, out).map(|s| (s, x.node.pos)))
    };
    let url = string(&mut f, "url", out);
    if let Some((u, pos)) = &url {
        check_url_credential(u, *pos, &p("url"), src, out);
    }
    let command = string(&mut f, "command", out);
    let cwd = string(&mut f, "cwd", out);
    let region = string(&mut f, "region", out);
    let description = string(&mut f, "description", out);
    let protocol = string(&mut f, "protocol", out);
    let headers = f.take(&["headers"], src, out).map(|h| {
        check_secret_entries(&h, &p("headers"), src, out);
        h.string_map(src, out)
    });
    let env = f.take(&["env"], src, out).map(|h| {
        check_secret_entries(&h, &p("env"), src, out);
        h.string_map(src, out)
    });
    let args = f
        .take(&["args"], src, out)
        .map(|a| a.strings(false, src, out));
    let mut config = match transport.0.as_str() {
        "streamable_http" | "streamable-http" | "http" => {
            let Some((url, _)) = url else {
                out.error(
                    src,
                    f.pos(),
                    p("url"),
                    "missing: required for `transport: streamable_http`",
                );
                return None;
            };
            let mut c = ConnectorConfig::streamable_http(name.clone(), url);
            for (k, v) in headers.unwrap_or_default() {
                c = c.header(k, v);
            }
            c
        }
        "stdio" => {
            let Some((command, _)) = command else {
                out.error(
                    src,
                    f.pos(),
                    p("command"),
                    "missing: required for `transport: stdio`",
                );
                return None;
            };
            let command = relative_to(&command, src);
            let args = args.unwrap_or_default().into_iter().map(|a| a.value);
            let mut c = ConnectorConfig::stdio(name.clone(), command, args);
            for (k, v) in env.unwrap_or_default() {
                c = c.env(k, v);
            }
            if let Some((cwd, _)) = cwd
                && let sre_mcp::Transport::Stdio { cwd: slot, .. } = &mut c.transport
            {
                *slot = Some(src.join(&cwd));
            }
            c
        }
        other => {
            let d = out.error(
                src,
                transport.1,
                p("transport"),
                format!("unknown transport `{other}`"),
            );
            match suggestion(other, ["streamable_http", "stdio"]) {
                Some(h) => d.help(h),
                None => d.help("expected `streamable_http` or `stdio`"),
            };
            return None;
        }
    };
    if let Some(a) = f.take(&["auth"], src, out)
        && let Some(auth) = mcp_auth(a, &p("auth"), src, out)
    {
        config = config.auth(auth);
    }
    for (key, default) in [
        ("call_timeout_secs", config.call_timeout),
        ("startup_timeout_secs", config.startup_timeout),
    ] {
        let Some(x) = f.take(&[key], src, out) else {
            continue;
        };
        let Some(s) = x.number(src, out) else {
            continue;
        };
        if !(s > 0.0 && s < 1e9) {
            out.error(
                src,
                x.node.pos,
                &x.path,
                "must be a positive number of seconds",
            );
            continue;
        }
        let d = Duration::from_secs_f64(s);
        if key == "call_timeout_secs" {
            config.call_timeout = d;
        } else {
            config.startup_timeout = d;
        }
        let _ = default;
    }
    if let Some(t) = f.take(&["tools"], src, out) {
        config.tools = tool_filter(t, &p("tools"), src, out);
    }
    if let Some((r, _)) = region {
        config = config.region(r);
    }
    if let Some((d, _)) = description {
        config = config.description(d);
    }
    if let Some((mode, pos)) = protocol {
        config = config.protocol(match mode.as_str() {
            "initialize" => ProtocolMode::Initialize,
            "auto" => ProtocolMode::Auto,
            other => {
                out.error(
                    src,
                    pos,
                    p("protocol"),
                    format!("unknown protocol `{other}`"),
                )
                .help("expected `initialize` or `auto`");
                ProtocolMode::Initialize
            }
        });
    }
    f.finish(MCP_FIELDS, &[], false, src, out);
    finish(config, node, path, shape, file, name_pos, src, out)
}

/// sre-mcp's `auth: {bearer | token | basic: {username, password}}`.
fn mcp_auth(field: Field<'_>, path: &str, src: &Source, out: &mut Sink) -> Option<Auth> {
    let mut f = Fields::of(field.node, path, src, out)?;
    let mut found = Vec::new();
    for key in ["bearer", "token"] {
        if let Some(x) = f.take(&[key], src, out) {
            let kp = format!("{path}.{key}");
            if let Some(v) = x.string(src, out) {
                check_secret(&v, x.node.pos, &kp, src, out);
                found.push(if key == "bearer" {
                    Auth::Bearer(v)
                } else {
                    Auth::Token(v)
                });
            }
        }
    }
    if let Some(b) = f.take(&["basic"], src, out) {
        let bp = format!("{path}.basic");
        if let Some(mut bf) = Fields::of(b.node, &bp, src, out) {
            let user = bf
                .take(&["username"], src, out)
                .and_then(|u| u.text(src, out));
            let pass = bf.take(&["password"], src, out).and_then(|x| {
                let pp = format!("{bp}.password");
                let v = x.string(src, out)?;
                check_secret(&v, x.node.pos, &pp, src, out);
                Some(v)
            });
            match (user, pass) {
                (Some(username), Some(password)) => found.push(Auth::Basic { username, password }),
                _ => {
                    out.error(src, b.node.pos, &bp, "needs `username` and `password`");
                }
            }
            bf.finish(&["username", "password"], &[], false, src, out);
        }
    }
    f.finish(&["bearer", "token", "basic"], &[], false, src, out);
    if found.len() != 1 {
        out.error(
            src,
            field.node.pos,
            path,
            "needs exactly one of `bearer`, `token`, `basic`",
        );
        return None;
    }
    found.pop()
}

fn tool_filter(field: Field<'_>, path: &str, src: &Source, out: &mut Sink) -> ToolFilter {
    let mut filter = ToolFilter::default();
    let Some(mut f) = Fields::of(field.node, path, src, out) else {
        return filter;
    };
    if let Some(a) = f.take(&["allow"], src, out) {
        filter.allow = a
            .strings(false, src, out)
            .into_iter()
            .map(|s| s.value)
            .collect();
    }
    if let Some(d) = f.take(&["deny"], src, out) {
        filter.deny = d
            .strings(false, src, out)
            .into_iter()
            .map(|s| s.value)
            .collect();
    }
    f.finish(&["allow", "deny"], &[], false, src, out);
    filter
}

/// A relative program path (`./server.py`, `bin/server`) resolved against `dir`; bare
/// names (`npx`) are left for `PATH`.
fn relative_to(command: &str, src: &Source) -> String {
    let p = Path::new(command);
    if p.is_relative() && command.contains('/') {
        src.join(command).display().to_string()
    } else {
        command.to_string()
    }
}

/// Check with sre-mcp's own rules. A URL that starts with a `${NAME}` reference is checked
/// with a stand-in host (its scheme comes from the environment).
#[allow(clippy::too_many_arguments)]
fn finish(
    config: ConnectorConfig,
    node: &Node,
    path: &str,
    shape: ConnectorShape,
    file: usize,
    name_pos: Pos,
    src: &Source,
    out: &mut Sink,
) -> Option<ConnectorDraft> {
    let mut probe = config.clone();
    if let sre_mcp::Transport::StreamableHttp { url, .. } = &mut probe.transport
        && url.starts_with("${")
        && let Some(end) = url.find('}')
    {
        *url = format!("https://env.invalid{}", &url[end + 1..]);
    }
    if let Err(e) = probe.validate(path) {
        let (field, message) = match e {
            McpError::Config { field, message, .. } => (field, message),
            other => (path.to_string(), other.to_string()),
        };
        let rel = field.strip_prefix(path).unwrap_or("");
        out.error(src, node.find(rel), field, message);
        return None;
    }
    Some(ConnectorDraft {
        def: ConnectorDef {
            name: config.name.clone(),
            config,
            shape,
            location: Location::new(src, node.pos),
        },
        file,
        name_pos,
    })
}
