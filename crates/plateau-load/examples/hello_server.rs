//! A fast keep-alive HTTP/1.1 server for the load benchmark (bench/load/run.sh): every request
//! gets `200 OK` with a 13-byte body. One `mio` event loop per thread, all sharing one listener.
//! It reads GET-style requests only (no request bodies) and answers pipelined requests too.
//!
//! ```text
//! cargo run --release -p plateau-load --example hello_server -- [PORT] [THREADS]
//! ```
//! PORT 0 (the default) picks a free port; the chosen address is printed on the first line.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!";
const LISTENER: Token = Token(usize::MAX);

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    len: usize,
    out: Vec<u8>,
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(0, |p| p.parse().expect("PORT"));
    let threads: usize = args.next().map_or(1, |t| t.parse().expect("THREADS"));
    let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    listener.set_nonblocking(true)?;
    println!("listening on http://{}/", listener.local_addr()?);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let listener = listener.try_clone().expect("clone the listener");
            std::thread::spawn(move || serve(TcpListener::from_std(listener)))
        })
        .collect();
    for h in handles {
        h.join().expect("server thread")?;
    }
    Ok(())
}

fn serve(mut listener: TcpListener) -> std::io::Result<()> {
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(256);
    loop {
        poll.poll(&mut events, None)?;
        for event in events.iter() {
            if event.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            stream.set_nodelay(true)?;
                            let i = free.pop().unwrap_or_else(|| {
                                conns.push(None);
                                conns.len() - 1
                            });
                            poll.registry()
                                .register(&mut stream, Token(i), Interest::READABLE)?;
                            conns[i] = Some(Conn {
                                stream,
                                buf: vec![0; 16 * 1024],
                                len: 0,
                                out: Vec::with_capacity(RESPONSE.len() * 4),
                            });
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        // Another thread took it, or the peer gave up: nothing to do.
                        Err(_) => break,
                    }
                }
                continue;
            }
            let i = event.token().0;
            let done = match conns[i].as_mut() {
                Some(conn) => !handle(conn),
                None => false,
            };
            if done {
                if let Some(mut conn) = conns[i].take() {
                    let _ = poll.registry().deregister(&mut conn.stream);
                }
                free.push(i);
            }
        }
    }
}

/// Reads what is there and answers every complete request; false when the connection is over.
fn handle(conn: &mut Conn) -> bool {
    loop {
        if conn.len == conn.buf.len() {
            return false; // a 16 KiB request head: not for this server
        }
        match conn.stream.read(&mut conn.buf[conn.len..]) {
            Ok(0) => return false,
            Ok(n) => {
                conn.len += n;
                let mut start = 0;
                while let Some(end) = memchr::memmem::find(&conn.buf[start..conn.len], b"\r\n\r\n")
                {
                    conn.out.extend_from_slice(RESPONSE);
                    start += end + 4;
                }
                conn.buf.copy_within(start..conn.len, 0);
                conn.len -= start;
                if !conn.out.is_empty() {
                    // Small responses into an empty socket buffer: written at once.
                    match conn.stream.write_all(&conn.out) {
                        Ok(()) => conn.out.clear(),
                        Err(_) => return false,
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}
