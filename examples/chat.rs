//! A chat server with rooms on the tokio adapter, and the page that uses it.
//!
//! ```text
//! cargo run --release --features tokio --example chat -- [127.0.0.1:8080] [--deflate]
//!     [--ping-interval-ms 20000] [--pong-timeout-ms 10000] [--seconds N]
//! ```
//!
//! Open `http://127.0.0.1:8080/` in two browser tabs. The page speaks a
//! line protocol over a WebSocket at `/ws`:
//!
//! | client sends | effect |
//! |---|---|
//! | `join <room> <name>` | leave the current room, join `<room>`; answered `joined <room>`, others get `info <name> joined` |
//! | `say <text>` | everyone else in the room gets `msg <name>: <text>` |
//! | `leave` | answered `left <room>`; others get `info <name> left` (also when the page closes or the connection drops) |
//!
//! What it shows:
//! - **One port for the page and the WebSocket**: the request head is read
//!   and parsed first ([`RequestHead::parse`]); an upgrade is handed to
//!   [`accept_connection`] with the bytes already read, anything else gets
//!   the page or a 404.
//! - **Broadcast encoded once**: a room message becomes one
//!   [`PreparedMessage`] (the frame is built once) shared by `Arc` with every
//!   other member's task, which copies the frame into its connection.
//! - **A bounded queue per member**: a member whose queue (64 messages of
//!   at most 32 KiB) is full is too slow to keep up; it is dropped from the
//!   room (which is told) and its connection closed with 1008, instead of
//!   the server's memory growing. A member that stops reading altogether
//!   is dropped by the connection's write timeout.
//! - **Bounded input**: names and rooms of at most 32 bytes, lines of at
//!   most 32 KiB (a longer one closes the connection with 1009); the
//!   request head must arrive within the handshake timeout and its end is
//!   found by a [`HeadScanner`], which looks at each byte once (a head
//!   trickled a byte at a time costs linear time).
//! - **Heartbeat**: the server Pings after `--ping-interval-ms` of silence
//!   and drops a client that does not answer within `--pong-timeout-ms`
//!   (browsers answer Pings by themselves).
//! - `--deflate` accepts permessage-deflate, which browsers offer.
//!
//! It stops on Ctrl-C, or after `--seconds`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use wsmachine::adapters::tokio::WebSocket;
use wsmachine::adapters::{AdapterError, Message, accept_all};
use wsmachine::handshake::{HeadScanner, RequestHead};
use wsmachine::{CloseCode, Config, Connection, PreparedMessage};

const PAGE: &str = include_str!("chat.html");
/// Messages queued for one member before it counts as too slow.
const QUEUE: usize = 64;
const MAX_HEAD: usize = 16 << 10;
/// The longest line a client may send, and the longest name or room.
const MAX_LINE: usize = 32 << 10;
const MAX_NAME: usize = 32;

/// A member's name and queue.
type Member = (String, mpsc::Sender<Arc<PreparedMessage>>);

/// The rooms and their members' queues.
#[derive(Default)]
struct Hub {
    rooms: Mutex<HashMap<String, HashMap<u64, Member>>>,
}

impl Hub {
    fn join(&self, room: &str, id: u64, member: Member) {
        self.rooms.lock().unwrap().entry(room.to_owned()).or_default().insert(id, member);
    }

    fn leave(&self, room: &str, id: u64) {
        let mut rooms = self.rooms.lock().unwrap();
        if let Some(members) = rooms.get_mut(room) {
            members.remove(&id);
            if members.is_empty() {
                rooms.remove(room);
            }
        }
    }

    /// Sends `text` to everyone in `room` but `except`; drops members whose
    /// queue is full, and tells the room they left.
    fn broadcast(&self, room: &str, except: u64, text: &str) {
        let mut texts = vec![text.to_owned()];
        // Each text may drop members, whose leaving is told in turn.
        while let Some(text) = texts.pop() {
            let message = Arc::new(PreparedMessage::text(&text));
            let mut rooms = self.rooms.lock().unwrap();
            let Some(members) = rooms.get_mut(room) else { return };
            members.retain(|&id, (name, queue)| {
                id == except
                    || match queue.try_send(message.clone()) {
                        Ok(()) => true,
                        // Too slow (full) or gone (closed): dropping our
                        // sender ends its queue, and its task closes the
                        // connection.
                        Err(_) => {
                            texts.push(format!("info {name} left (too slow)"));
                            false
                        }
                    }
            });
        }
    }
}

/// Where a member is.
struct Seat {
    room: String,
    name: String,
    inbox: mpsc::Receiver<Arc<PreparedMessage>>,
}

async fn chat(hub: &Hub, id: u64, mut ws: WebSocket<TcpStream>) -> Result<(), AdapterError> {
    let mut seat: Option<Seat> = None;
    let result = loop {
        let inbox = async {
            match &mut seat {
                Some(seat) => seat.inbox.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(line))) if line.len() > MAX_LINE => {
                    break ws.close(CloseCode::MESSAGE_TOO_BIG, "line too long").await;
                }
                Some(Ok(Message::Text(line))) => {
                    if let Err(e) = command(hub, id, &mut ws, &mut seat, &line).await {
                        break Err(e);
                    }
                }
                Some(Ok(Message::Close(_))) | None => break Ok(()),
                Some(Err(e)) => break Err(e),
                Some(Ok(_)) => {}
            },
            prepared = inbox => match prepared {
                Some(prepared) => {
                    // Copy every queued frame, then write once.
                    ws.connection_mut().sender().send_prepared(&prepared)?;
                    while let Some(more) = seat.as_mut().and_then(|s| s.inbox.try_recv().ok()) {
                        ws.connection_mut().sender().send_prepared(&more)?;
                    }
                    ws.flush().await?;
                }
                None => {
                    // The hub dropped us: too slow.
                    seat = None;
                    ws.close(CloseCode::POLICY_VIOLATION, "too slow").await?;
                }
            },
        }
    };
    if let Some(seat) = seat {
        hub.leave(&seat.room, id);
        hub.broadcast(&seat.room, id, &format!("info {} left", seat.name));
    }
    result
}

async fn command(
    hub: &Hub,
    id: u64,
    ws: &mut WebSocket<TcpStream>,
    seat: &mut Option<Seat>,
    line: &str,
) -> Result<(), AdapterError> {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    match verb {
        "join" => {
            let mut words = rest.split_whitespace();
            let (Some(room), Some(name)) = (words.next(), words.next()) else {
                return ws.send(Message::text("error usage: join <room> <name>")).await;
            };
            if room.len() > MAX_NAME || name.len() > MAX_NAME {
                return ws.send(Message::text(format!("error room and name are at most {MAX_NAME} bytes"))).await;
            }
            if let Some(old) = seat.take() {
                hub.leave(&old.room, id);
                hub.broadcast(&old.room, id, &format!("info {} left", old.name));
            }
            let (member, inbox) = mpsc::channel(QUEUE);
            hub.join(room, id, (name.to_owned(), member));
            hub.broadcast(room, id, &format!("info {name} joined"));
            *seat = Some(Seat { room: room.to_owned(), name: name.to_owned(), inbox });
            ws.send(Message::text(format!("joined {room}"))).await
        }
        "say" => match seat {
            Some(seat) => {
                hub.broadcast(&seat.room, id, &format!("msg {}: {rest}", seat.name));
                Ok(())
            }
            None => ws.send(Message::text("error join a room first")).await,
        },
        "leave" => match seat.take() {
            Some(old) => {
                hub.leave(&old.room, id);
                hub.broadcast(&old.room, id, &format!("info {} left", old.name));
                ws.send(Message::text(format!("left {}", old.room))).await
            }
            None => Ok(()),
        },
        _ => ws.send(Message::text(format!("error unknown command {verb:?}"))).await,
    }
}

/// Reads the request head; serves the page, a 404, or hands the connection to the chat.
async fn route(mut tcp: TcpStream, hub: Arc<Hub>, id: u64, config: Config) -> Result<(), AdapterError> {
    tcp.set_nodelay(true)?;
    let limit = config.handshake_timeout.unwrap_or(Duration::from_secs(10));
    let head = match tokio::time::timeout(limit, read_head(&mut tcp)).await {
        Err(_) => return respond(&mut tcp, "408 Request Timeout", "text/plain", "").await,
        Ok(head) => head?,
    };
    let Some(head) = head else {
        return respond(&mut tcp, "431 Request Header Fields Too Large", "text/plain", "").await;
    };
    let parsed = match RequestHead::parse(&head, config.max_headers) {
        Ok(Some((parsed, _))) => parsed,
        Ok(None) => return Ok(()),
        Err(e) => return respond(&mut tcp, "400 Bad Request", "text/plain", &e.to_string()).await,
    };
    let request = parsed.request();
    if request.headers().has_token("Upgrade", "websocket") {
        // The connection parses the head again (it is small) and checks every rule of RFC 6455 §4.2.1.
        let mut ws = Connection::server(std::time::Instant::now(), config);
        ws.receive(&head);
        let ws = WebSocket::accept_connection(tcp, ws, accept_all).await?;
        return chat(&hub, id, ws).await;
    }
    match (request.method(), request.path()) {
        ("GET", "/") => respond(&mut tcp, "200 OK", "text/html; charset=utf-8", PAGE).await,
        _ => respond(&mut tcp, "404 Not Found", "text/plain", "not found").await,
    }
}

/// Reads until the end of the request head (`None` if it grows past
/// `MAX_HEAD`); a [`HeadScanner`] looks only at what each read added, so a
/// head that trickles in costs linear time. What came after the head stays
/// in the buffer for the connection.
async fn read_head(tcp: &mut TcpStream) -> Result<Option<Vec<u8>>, AdapterError> {
    let mut head = Vec::with_capacity(1024);
    let mut scanner = HeadScanner::default();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(AdapterError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        head.extend_from_slice(&chunk[..n]);
        if scanner.find_end(&head).is_some() {
            return Ok(Some(head));
        }
        if head.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

async fn respond(tcp: &mut TcpStream, status: &str, content_type: &str, body: &str) -> Result<(), AdapterError> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await?;
    tcp.write_all(body.as_bytes()).await?;
    tcp.shutdown().await?;
    Ok(())
}

fn flag(args: &[String], name: &str) -> Option<u64> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).and_then(|v| v.parse().ok())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.first().filter(|a| !a.starts_with("--")).cloned().unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let mut config = Config::default();
    config.ping_interval = Some(Duration::from_millis(flag(&args, "--ping-interval-ms").unwrap_or(20_000)));
    config.pong_timeout = Duration::from_millis(flag(&args, "--pong-timeout-ms").unwrap_or(10_000));
    config.max_message_size = MAX_LINE;
    if args.iter().any(|a| a == "--deflate") {
        config.deflate = Some(wsmachine::deflate::DeflateConfig::default());
    }
    let stop = async {
        match flag(&args, "--seconds") {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("chat on http://{}/", listener.local_addr()?);
    let hub = Arc::new(Hub::default());
    let ids = AtomicU64::new(0);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = accepted?;
                let (hub, config) = (hub.clone(), config.clone());
                let id = ids.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    if let Err(e) = route(tcp, hub, id, config).await {
                        eprintln!("{peer}: {e}");
                    }
                });
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = &mut stop => return Ok(()),
        }
    }
}
