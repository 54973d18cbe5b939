//! A small HTTP/1.1 server on 127.0.0.1 for provider tests: it records every request and
//! answers with whatever the test's responder returns, including streamed bodies that
//! break off, connections closed without an answer, and answers that never come.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

pub enum Reply {
    /// A complete response.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A chunked response; `complete: false` closes the connection after the chunks
    /// without the terminating chunk (a stream that breaks mid-response).
    Chunked {
        status: u16,
        headers: Vec<(String, String)>,
        chunks: Vec<Vec<u8>>,
        complete: bool,
    },
    /// Close the connection without answering.
    Close,
    /// Never answer (the client must time out).
    Hang,
}

impl Reply {
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply::Full {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }
    pub fn sse(text: &str) -> Reply {
        Reply::Chunked {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            chunks: split_events(text),
            complete: true,
        }
    }
    pub fn with_header(mut self, k: &str, v: &str) -> Reply {
        match &mut self {
            Reply::Full { headers, .. } | Reply::Chunked { headers, .. } => {
                headers.push((k.into(), v.into()))
            }
            _ => {}
        }
        self
    }
}

/// One chunk per SSE event, as providers flush them.
pub fn split_events(text: &str) -> Vec<Vec<u8>> {
    text.split_inclusive("\n\n")
        .map(|s| s.as_bytes().to_vec())
        .collect()
}

type Responder = dyn Fn(usize, &Recorded) -> Reply + Send + Sync;

pub struct TestServer {
    pub addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl TestServer {
    pub async fn start(
        responder: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        Self::on(listener, responder)
    }

    /// Serve on an already bound listener (e.g. one bound at an exact moment of a test).
    /// Must be called inside a tokio runtime.
    pub fn on(
        listener: std::net::TcpListener,
        responder: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        listener.set_nonblocking(true).unwrap();
        let listener = TcpListener::from_std(listener).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let responder: Arc<Responder> = Arc::new(responder);
        let recorded = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let responder = responder.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let _ = serve(socket, responder, recorded).await;
                });
            }
        });
        TestServer { addr, requests }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(
    mut socket: TcpStream,
    responder: Arc<Responder>,
    recorded: Arc<Mutex<Vec<Recorded>>>,
) -> std::io::Result<()> {
    socket.set_nodelay(true)?;
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let header_end = loop {
        let n = socket.read(&mut tmp).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let (method, path, headers) = parse_head(&buf[..header_end]);
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end..].to_vec();
    while body.len() < len {
        let n = socket.read(&mut tmp).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    let request = Recorded {
        method,
        path,
        headers,
        body,
    };
    let index = {
        let mut r = recorded.lock().unwrap();
        r.push(request.clone());
        r.len() - 1
    };
    match responder(index, &request) {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(&body);
            socket.write_all(&bytes).await?;
        }
        Reply::Chunked {
            status,
            headers,
            chunks,
            complete,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} X\r\ntransfer-encoding: chunked\r\nconnection: close\r\n"
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            socket.write_all(out.as_bytes()).await?;
            for c in chunks {
                let mut frame = format!("{:x}\r\n", c.len()).into_bytes();
                frame.extend_from_slice(&c);
                frame.extend_from_slice(b"\r\n");
                socket.write_all(&frame).await?;
                socket.flush().await?;
            }
            if complete {
                socket.write_all(b"0\r\n\r\n").await?;
            }
        }
        Reply::Close => {}
        Reply::Hang => {
            let mut sink = [0u8; 1];
            let _ = socket.read(&mut sink).await;
            std::future::pending::<()>().await;
        }
    }
    socket.shutdown().await?;
    Ok(())
}

/// An HTTPS server on 127.0.0.1 (std threads and rustls with its own crypto provider, so
/// nothing process-wide is installed): serves `chain`/`key` (DER, PKCS#8 key), offers
/// ALPN `http/1.1` only, and answers every request with `reply` (a complete JSON body).
/// Records each request, the protocol ALPN settled on, and each failed handshake.
pub struct TlsServer {
    pub addr: std::net::SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    pub alpn: Arc<Mutex<Vec<Option<Vec<u8>>>>>,
    pub handshake_errors: Arc<Mutex<Vec<String>>>,
}

impl TlsServer {
    pub fn start(chain: &[&[u8]], key: &[u8], reply: serde_json::Value) -> TlsServer {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let chain: Vec<CertificateDer<'static>> = chain
            .iter()
            .map(|c| CertificateDer::from(c.to_vec()))
            .collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = TlsServer {
            addr: listener.local_addr().unwrap(),
            requests: Arc::default(),
            alpn: Arc::default(),
            handshake_errors: Arc::default(),
        };
        let (requests, alpn, errors) = (
            server.requests.clone(),
            server.alpn.clone(),
            server.handshake_errors.clone(),
        );
        let body = reply.to_string();
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { return };
                let (config, requests, alpn, errors, body) = (
                    config.clone(),
                    requests.clone(),
                    alpn.clone(),
                    errors.clone(),
                    body.clone(),
                );
                std::thread::spawn(move || {
                    let conn = rustls::ServerConnection::new(config).unwrap();
                    let mut tls = rustls::StreamOwned::new(conn, tcp);
                    match read_request(&mut tls) {
                        Ok(recorded) => {
                            alpn.lock()
                                .unwrap()
                                .push(tls.conn.alpn_protocol().map(<[u8]>::to_vec));
                            requests.lock().unwrap().push(recorded);
                            let head = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                                body.len()
                            );
                            use std::io::Write;
                            let _ = tls.write_all(head.as_bytes());
                            let _ = tls.write_all(body.as_bytes());
                            tls.conn.send_close_notify();
                            let _ = tls.flush();
                        }
                        Err(e) => errors.lock().unwrap().push(e.to_string()),
                    }
                });
            }
        });
        server
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

/// Read one HTTP/1.1 request (head and `content-length` body) from a blocking stream.
fn read_request(stream: &mut impl std::io::Read) -> std::io::Result<Recorded> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut tmp)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let (method, path, headers) = parse_head(&buf[..header_end]);
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut tmp)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Ok(Recorded {
        method,
        path,
        headers,
        body,
    })
}

/// Method, path and lower-cased headers of a request head.
fn parse_head(head: &[u8]) -> (String, String, Vec<(String, String)>) {
    let head = String::from_utf8_lossy(head).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        })
        .collect();
    (method, path, headers)
}
