//! A small keep-alive HTTP/1.1 server on 127.0.0.1:0 for the tests: one thread per connection,
//! replies chosen by a closure, optional connection resets, and a record of what arrived.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// Send the body chunked (in pieces of 7 bytes) instead of with Content-Length.
    pub chunked: bool,
    /// Send `Connection: close` and close after the reply.
    pub close: bool,
    /// Send Content-Length but no body (what a HEAD, 204 or 304 reply does).
    pub no_body: bool,
    /// HTTP/1.0 reply with no length: the body ends when the connection closes.
    pub until_close: bool,
    pub delay: Duration,
}

impl Reply {
    pub fn ok(body: &str) -> Reply {
        Reply {
            status: 200,
            body: body.as_bytes().to_vec(),
            chunked: false,
            close: false,
            no_body: false,
            until_close: false,
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            ..Reply::ok("status")
        }
    }
}

type Handler = dyn Fn(u64, &Request) -> Reply + Send + Sync;

pub struct Server {
    pub addr: SocketAddr,
    /// Requests that arrived (including the reset ones).
    pub arrived: Arc<AtomicU64>,
    /// Connections accepted.
    pub accepted: Arc<AtomicU64>,
    /// Requests the server reset the connection on instead of answering.
    pub resets: Arc<AtomicU64>,
    /// The requests it answered, in arrival order.
    pub log: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Answers every request with `200 hello`.
    pub fn hello() -> Server {
        Server::start(None, |_, _| Reply::ok("hello"))
    }

    /// `reset_every`: the n-th, 2n-th, ... request (counting from 1) gets its connection reset
    /// (closed with the request unread, which makes the kernel send RST).
    pub fn start(
        reset_every: Option<u64>,
        handler: impl Fn(u64, &Request) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server {
            addr,
            arrived: Arc::default(),
            accepted: Arc::default(),
            resets: Arc::default(),
            log: Arc::default(),
            stop: Arc::default(),
        };
        let handler: Arc<Handler> = Arc::new(handler);
        let (arrived, accepted, resets, log, stop) = (
            server.arrived.clone(),
            server.accepted.clone(),
            server.resets.clone(),
            server.log.clone(),
            server.stop.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                accepted.fetch_add(1, SeqCst);
                let (handler, arrived, resets, log) = (
                    handler.clone(),
                    arrived.clone(),
                    resets.clone(),
                    log.clone(),
                );
                std::thread::spawn(move || {
                    let _ = serve(stream, reset_every, &*handler, &arrived, &resets, &log);
                });
            }
        });
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(
    stream: TcpStream,
    reset_every: Option<u64>,
    handler: &Handler,
    arrived: &AtomicU64,
    resets: &AtomicU64,
    log: &Mutex<Vec<Request>>,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        // Wait for a request to arrive without taking it from the kernel's buffer.
        if reader.buffer().is_empty() && reader.get_ref().peek(&mut [0u8; 1])? == 0 {
            return Ok(());
        }
        let index = arrived.fetch_add(1, SeqCst);
        if reset_every.is_some_and(|n| (index + 1).is_multiple_of(n)) {
            resets.fetch_add(1, SeqCst);
            // Unread bytes at close: the kernel answers with RST.
            return Ok(());
        }
        let Some(request) = read_request(&mut reader)? else {
            return Ok(());
        };
        let reply = handler(index, &request);
        log.lock().unwrap().push(request);
        std::thread::sleep(reply.delay);
        let mut out = Vec::new();
        let version = if reply.until_close {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        };
        out.extend_from_slice(format!("{version} {} Test\r\n", reply.status).as_bytes());
        if reply.close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        if reply.chunked {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for piece in reply.body.chunks(7) {
                out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                out.extend_from_slice(piece);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        } else if reply.until_close {
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&reply.body);
        } else {
            out.extend_from_slice(
                format!("Content-Length: {}\r\n\r\n", reply.body.len()).as_bytes(),
            );
            if !reply.no_body {
                out.extend_from_slice(&reply.body);
            }
        }
        // Written in two parts so that the client sees split reads too.
        let half = out.len() / 2;
        writer.write_all(&out[..half])?;
        writer.flush()?;
        writer.write_all(&out[half..])?;
        if reply.close || reply.until_close {
            return Ok(());
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':').unwrap();
        let (name, value) = (name.trim().to_string(), value.trim().to_string());
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().unwrap();
        }
        headers.push((name, value));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}
