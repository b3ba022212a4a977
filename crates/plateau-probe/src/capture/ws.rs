//! A minimal RFC 6455 WebSocket client for text messages: the upgrade handshake with its
//! `Sec-WebSocket-Accept` check, masked client frames, fragmented messages, 16/64-bit lengths,
//! ping -> pong, and close.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;

use super::http::{Conn, Deadline, Url};
use super::{CaptureError, Network};

/// A message larger than this is refused (CDP's heap snapshot chunks are ~100 KB).
const MAX_MESSAGE: u64 = 256 << 20;
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

pub(super) struct WebSocket {
    conn: Conn,
    closed: bool,
}

impl WebSocket {
    /// Connects to a `ws://` URL and upgrades.
    pub fn connect(
        url: &Url,
        network: Network,
        deadline: Deadline,
        what: &'static str,
        hint: &'static str,
    ) -> Result<Self, CaptureError> {
        let mut conn = Conn::open(url, network, deadline, what, hint)?;
        let key = base64(&random_bytes::<16>());
        conn.send_get(
            url,
            &format!(
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n\
                 Sec-WebSocket-Version: 13\r\n"
            ),
        )?;
        let head = conn.read_head()?;
        let bad = |detail: String| CaptureError::Protocol {
            what: conn.what.clone(),
            detail,
        };
        if head.status != 101 {
            return Err(bad(format!(
                "the WebSocket upgrade got HTTP {} {} instead of 101 (is this a WebSocket \
                 endpoint? a Node inspector's is listed by GET /json/list)",
                head.status, head.reason
            )));
        }
        let has_token = |name: &str, token: &str| {
            head.header(name)
                .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        };
        if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
            return Err(bad(
                "the 101 response lacks 'Upgrade: websocket' / 'Connection: Upgrade'".into(),
            ));
        }
        let expected = accept_key(&key);
        match head.header("sec-websocket-accept") {
            Some(got) if got == expected => {}
            got => {
                return Err(bad(format!(
                    "Sec-WebSocket-Accept is {got:?}, expected {expected:?}"
                )))
            }
        }
        if let Some(ext) = head.header("sec-websocket-extensions") {
            return Err(bad(format!("unrequested extensions {ext:?}")));
        }
        Ok(WebSocket {
            conn,
            closed: false,
        })
    }

    pub fn set_deadline(&mut self, deadline: Deadline) {
        self.conn.set_deadline(deadline);
    }

    pub fn what(&self) -> &str {
        &self.conn.what
    }

    fn bad(&self, detail: impl Into<String>) -> CaptureError {
        CaptureError::Protocol {
            what: self.conn.what.clone(),
            detail: detail.into(),
        }
    }

    pub fn send_text(&mut self, text: &str) -> Result<(), CaptureError> {
        self.send_frame(OP_TEXT, text.as_bytes())
    }

    fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> Result<(), CaptureError> {
        let frame = encode_frame(opcode, payload, random_bytes::<4>());
        self.conn.write_all(&frame)
    }

    /// The next text message, answering pings on the way. A close from the peer is
    /// [`CaptureError::Closed`].
    pub fn recv_text(&mut self) -> Result<String, CaptureError> {
        let mut message: Option<Vec<u8>> = None;
        loop {
            let frame = self.read_frame()?;
            match frame.opcode {
                OP_PING => self.send_frame(OP_PONG, &frame.payload)?,
                OP_PONG => {}
                OP_CLOSE => {
                    let detail = close_detail(&frame.payload);
                    if !self.closed {
                        self.closed = true;
                        // Echo the close, as the protocol asks; the peer is going anyway.
                        let _ = self.send_frame(OP_CLOSE, frame.payload.get(..2).unwrap_or(&[]));
                    }
                    return Err(CaptureError::Closed {
                        what: self.conn.what.clone(),
                        detail,
                    });
                }
                OP_TEXT | OP_BINARY => {
                    if message.is_some() {
                        return Err(self.bad("a new message started inside a fragmented one"));
                    }
                    if frame.opcode == OP_BINARY {
                        return Err(self.bad("a binary message (only text was expected)"));
                    }
                    if frame.fin {
                        return self.text(frame.payload);
                    }
                    message = Some(frame.payload);
                }
                OP_CONTINUATION => {
                    let Some(mut so_far) = message.take() else {
                        return Err(self.bad("a continuation frame outside a message"));
                    };
                    if so_far.len() as u64 + frame.payload.len() as u64 > MAX_MESSAGE {
                        return Err(self.bad(format!("a message larger than {MAX_MESSAGE} bytes")));
                    }
                    so_far.extend_from_slice(&frame.payload);
                    if frame.fin {
                        return self.text(so_far);
                    }
                    message = Some(so_far);
                }
                other => return Err(self.bad(format!("unknown frame opcode {other:#x}"))),
            }
        }
    }

    fn text(&self, payload: Vec<u8>) -> Result<String, CaptureError> {
        String::from_utf8(payload).map_err(|_| self.bad("a text message that is not UTF-8"))
    }

    fn read_frame(&mut self) -> Result<Frame, CaptureError> {
        let map = self.conn.error_mapper();
        let reader = self.conn.reader();
        let mut head = [0u8; 2];
        reader.read_exact(&mut head).map_err(&map)?;
        let fin = head[0] & 0x80 != 0;
        let opcode = head[0] & 0x0f;
        if head[0] & 0x70 != 0 {
            return Err(self.bad("a frame with RSV bits set (no extension was negotiated)"));
        }
        let masked = head[1] & 0x80 != 0;
        let len = match head[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                reader.read_exact(&mut b).map_err(&map)?;
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                reader.read_exact(&mut b).map_err(&map)?;
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        if opcode >= 0x8 && (len > 125 || !fin) {
            return Err(self.bad("a control frame that is fragmented or longer than 125 bytes"));
        }
        if len > MAX_MESSAGE {
            return Err(self.bad(format!("a frame of {len} bytes (limit {MAX_MESSAGE})")));
        }
        let mut mask = [0u8; 4];
        if masked {
            reader.read_exact(&mut mask).map_err(&map)?;
        }
        let mut payload = vec![0u8; len as usize];
        reader.read_exact(&mut payload).map_err(&map)?;
        if masked {
            apply_mask(&mut payload, mask);
        }
        Ok(Frame {
            fin,
            opcode,
            payload,
        })
    }

    /// Sends a close (1000) and waits briefly for the peer's; errors are ignored.
    pub fn close(mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if self.send_frame(OP_CLOSE, &1000u16.to_be_bytes()).is_err() {
            return;
        }
        self.set_deadline(Deadline::after(std::time::Duration::from_millis(500)));
        while let Ok(frame) = self.read_frame() {
            if frame.opcode == OP_CLOSE {
                break;
            }
        }
    }
}

struct Frame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

fn close_detail(payload: &[u8]) -> String {
    match payload {
        [a, b, reason @ ..] => format!(
            "(WebSocket close {} {:?})",
            u16::from_be_bytes([*a, *b]),
            String::from_utf8_lossy(reason)
        ),
        _ => "(WebSocket close)".to_string(),
    }
}

/// One final, masked client frame.
fn encode_frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else if len <= 0xffff {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend_from_slice(&mask);
    let start = frame.len();
    frame.extend_from_slice(payload);
    apply_mask(&mut frame[start..], mask);
    frame
}

fn apply_mask(bytes: &mut [u8], mask: [u8; 4]) {
    for (i, b) in bytes.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
}

/// Unpredictable enough for a handshake nonce and frame masks (neither is a secret: RFC 6455
/// wants them unguessable by scripts steering a proxy, which loopback has none of).
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(8) {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        let bytes = h.finish().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    out
}

fn accept_key(key: &str) -> String {
    base64(&sha1(format!("{key}{GUID}").as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// SHA-1 (FIPS 180-4), for the handshake only.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut message = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, &wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;
    use std::time::Duration;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha1_and_base64_match_known_values() {
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(hex(&sha1(long)), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        // RFC 6455 section 1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn frames_are_masked_with_the_right_length_encoding() {
        let mask = [1, 2, 3, 4];
        let f = encode_frame(OP_TEXT, b"Hi", mask);
        assert_eq!(f[..2], [0x81, 0x82]);
        assert_eq!(f[2..6], mask);
        assert_eq!(f[6..], [b'H' ^ 1, b'i' ^ 2]);
        let f = encode_frame(OP_TEXT, &[0; 300], mask);
        assert_eq!(f[1], 0x80 | 126);
        assert_eq!(u16::from_be_bytes([f[2], f[3]]), 300);
        assert_eq!(f.len(), 4 + 4 + 300);
        let f = encode_frame(OP_TEXT, &vec![0; 70_000], mask);
        assert_eq!(f[1], 0x80 | 127);
        assert_eq!(u64::from_be_bytes(f[2..10].try_into().unwrap()), 70_000);
    }

    fn server_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![(if fin { 0x80 } else { 0 }) | opcode];
        match payload.len() {
            n if n < 126 => f.push(n as u8),
            n if n <= 0xffff => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    /// A server that completes the handshake, then sends `frames` and records what it got.
    fn server(frames: Vec<u8>, bad_accept: bool) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") {
                s.read_exact(&mut byte).unwrap();
                request.push(byte[0]);
            }
            let request = String::from_utf8(request).unwrap();
            let key = request
                .lines()
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap()
                .to_string();
            let accept = if bad_accept {
                "bm9wZQ==".to_string()
            } else {
                accept_key(&key)
            };
            let response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            s.write_all(response.as_bytes()).unwrap();
            s.write_all(&frames).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            got
        });
        (port, handle)
    }

    fn connect(port: u16) -> Result<WebSocket, CaptureError> {
        let url = Url::parse(&format!("ws://127.0.0.1:{port}/x"), &["ws://"], 80).unwrap();
        WebSocket::connect(
            &url,
            Network::LoopbackOnly,
            Deadline::after(Duration::from_secs(5)),
            "test",
            "",
        )
    }

    #[test]
    fn reads_fragments_answers_pings_and_sees_close() {
        let big = "x".repeat(70_000);
        let mut frames = Vec::new();
        frames.extend(server_frame(OP_TEXT, true, b"one"));
        frames.extend(server_frame(OP_TEXT, false, b"tw"));
        frames.extend(server_frame(OP_PING, true, b"are you there"));
        frames.extend(server_frame(OP_CONTINUATION, true, b"o"));
        frames.extend(server_frame(OP_TEXT, true, big.as_bytes()));
        frames.extend(server_frame(
            OP_CLOSE,
            true,
            &[0x03, 0xe8, b'b', b'y', b'e'],
        ));
        let (port, handle) = server(frames, false);
        let mut ws = connect(port).unwrap();
        ws.send_text("hello").unwrap();
        assert_eq!(ws.recv_text().unwrap(), "one");
        assert_eq!(ws.recv_text().unwrap(), "two");
        assert_eq!(ws.recv_text().unwrap(), big);
        let err = ws.recv_text().unwrap_err();
        assert!(err.to_string().contains("close 1000 \"bye\""), "{err}");
        drop(ws);
        let got = handle.join().unwrap();
        // "hello" (masked), then the pong, then the echoed close.
        assert_eq!(got[0], 0x81);
        assert_eq!(got[1], 0x80 | 5);
        let mask = [got[2], got[3], got[4], got[5]];
        let mut hello = got[6..11].to_vec();
        apply_mask(&mut hello, mask);
        assert_eq!(hello, b"hello");
        assert_eq!(got[11], 0x80 | OP_PONG);
        assert_eq!(got[12], 0x80 | 13);
        let pong_end = 13 + 4 + 13;
        assert_eq!(got[pong_end], 0x80 | OP_CLOSE);
    }

    #[test]
    fn a_wrong_accept_key_is_refused() {
        let (port, _handle) = server(Vec::new(), true);
        let err = connect(port).err().unwrap();
        assert!(err.to_string().contains("Sec-WebSocket-Accept"), "{err}");
    }
}
