//! The tokio adapter (cargo feature `tokio`): both roles over loopback TCP
//! and in-memory duplex streams; messages, ping/pong, the closing handshake
//! (RFC 6455 §7), a vanishing peer, the timers, split halves, backpressure.
#![cfg(feature = "tokio")]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::timeout;
use wsmachine::adapters::tokio::WebSocket;
use wsmachine::adapters::{AdapterError, CloseFrame, Message};
use wsmachine::{Accept, ClientRequest, CloseCode, Config, MessageKind, Reject, Request};

const LIMIT: Duration = Duration::from_secs(10);
const HANDSHAKE: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn config(f: impl FnOnce(&mut Config)) -> Config {
    let mut c = Config::default();
    f(&mut c);
    c
}

/// A connected client and server over an in-memory stream.
async fn duplex_pair(
    client_config: Config,
    server_config: Config,
) -> (WebSocket<DuplexStream>, WebSocket<DuplexStream>) {
    let (a, b) = tokio::io::duplex(256 << 10);
    let server = tokio::spawn(WebSocket::accept(b, server_config));
    let request = ClientRequest::new("ws://localhost/").unwrap();
    let client = WebSocket::client(request, client_config, a).await.unwrap();
    (client, server.await.unwrap().unwrap())
}

/// Echoes data messages until the stream ends; returns how it ended.
async fn echo<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut ws: WebSocket<S>,
) -> Result<Message, AdapterError> {
    while let Some(item) = ws.next().await {
        match item? {
            m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await?,
            end @ Message::Close(_) => return Ok(end),
            _ => {}
        }
    }
    Err(AdapterError::AlreadyClosed)
}

async fn next(ws: &mut WebSocket<impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>) -> Message {
    timeout(LIMIT, ws.next()).await.expect("timed out").expect("stream ended").expect("error")
}

#[tokio::test]
async fn echo_over_tcp_text_binary_large_fragmented() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        echo(WebSocket::accept(tcp, Config::default()).await.unwrap()).await
    });
    let url = format!("ws://{addr}/echo");
    let mut ws = WebSocket::connect(ClientRequest::new(&url).unwrap(), Config::default()).await.unwrap();

    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(next(&mut ws).await, Message::text("hello"));
    ws.send_binary(&[0, 1, 2, 255]).await.unwrap();
    assert_eq!(next(&mut ws).await, Message::binary(vec![0, 1, 2, 255]));

    // 4 MiB: many reads and writes on both sides.
    let big: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8).collect();
    ws.send(Message::Binary(big.clone())).await.unwrap();
    assert_eq!(next(&mut ws).await, Message::Binary(big));

    // A streamed message in three fragments arrives whole (RFC 6455 §5.4).
    for (data, fin) in [("frag", false), ("men", false), ("ted ✓", true)] {
        ws.feed(Message::Fragment { kind: MessageKind::Text, data: data.into(), fin }).await.unwrap();
    }
    ws.flush().await.unwrap();
    assert_eq!(next(&mut ws).await, Message::text("fragmented ✓"));

    // Many messages queued, one flush.
    for i in 0..1000 {
        ws.feed(Message::text(i.to_string())).await.unwrap();
    }
    ws.flush().await.unwrap();
    for i in 0..1000 {
        assert_eq!(next(&mut ws).await, Message::text(i.to_string()));
    }

    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(
        next(&mut ws).await,
        Message::Close(Some(CloseFrame { code: CloseCode::NORMAL, reason: String::new() }))
    );
    assert!(ws.next().await.is_none());
    let end = timeout(LIMIT, server).await.unwrap().unwrap().unwrap();
    assert_eq!(end, Message::Close(Some(CloseFrame { code: CloseCode::NORMAL, reason: String::new() })));
}

#[tokio::test]
async fn ping_is_answered_and_reported_rfc6455_5_5_2() {
    let (mut client, mut server) = duplex_pair(Config::default(), Config::default()).await;
    client.send(Message::Ping(b"are you there".to_vec())).await.unwrap();
    // The server reports the Ping; its Pong is already on the way.
    assert_eq!(next(&mut server).await, Message::Ping(b"are you there".to_vec()));
    assert_eq!(next(&mut client).await, Message::Pong(b"are you there".to_vec()));
    // An unsolicited Pong is delivered as such (RFC 6455 §5.5.3).
    server.send(Message::Pong(b"beat".to_vec())).await.unwrap();
    assert_eq!(next(&mut client).await, Message::Pong(b"beat".to_vec()));
    // Over-long control payloads are refused before anything is sent.
    let err = client.send(Message::Ping(vec![0; 126])).await.unwrap_err();
    assert!(matches!(err, AdapterError::Send(wsmachine::SendError::ControlTooLong(126))), "{err:?}");
}

#[tokio::test]
async fn server_closes_with_code_and_reason_rfc6455_7_1_2() {
    let (mut client, mut server) = duplex_pair(Config::default(), Config::default()).await;
    server.close(CloseCode::GOING_AWAY, "restart").await.unwrap();
    // Sending after our Close is refused with the reason.
    let err = server.send(Message::text("late")).await.unwrap_err();
    assert!(matches!(err, AdapterError::Send(wsmachine::SendError::Closed(wsmachine::Initiator::Local))), "{err:?}");
    let expected = Message::Close(Some(CloseFrame { code: CloseCode::GOING_AWAY, reason: "restart".into() }));
    // The client answers by itself while it reads, then sees the server
    // close the transport once the server read the answer.
    let (c, s) = tokio::join!(next(&mut client), next(&mut server));
    assert_eq!(c, expected);
    // The client's reply echoes the code (RFC 6455 §5.5.1).
    assert_eq!(s, Message::Close(Some(CloseFrame { code: CloseCode::GOING_AWAY, reason: String::new() })));
    assert!(client.next().await.is_none());
    assert!(server.next().await.is_none());
    // Reading after the end is the end, again.
    assert!(server.next().await.is_none());
}

#[tokio::test]
async fn messages_sent_before_close_arrive_first() {
    let (mut client, mut server) = duplex_pair(Config::default(), Config::default()).await;
    client.feed(Message::text("one")).await.unwrap();
    client.feed(Message::text("two")).await.unwrap();
    client.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(next(&mut server).await, Message::text("one"));
    assert_eq!(next(&mut server).await, Message::text("two"));
    let (s, c) = tokio::join!(next(&mut server), next(&mut client));
    assert!(matches!((s, c), (Message::Close(Some(_)), Message::Close(Some(_)))));
}

#[tokio::test]
async fn peer_that_vanishes_ends_with_an_error_rfc6455_7_1_5() {
    let (client, mut server) = duplex_pair(Config::default(), Config::default()).await;
    drop(client);
    let end = timeout(LIMIT, server.next()).await.unwrap().unwrap();
    match end {
        Err(AdapterError::Closed(closed)) => {
            assert_eq!(closed.code, CloseCode::ABNORMAL);
            assert!(!closed.clean);
            assert_eq!(closed.failure, Some(wsmachine::Failure::UnexpectedEof));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(server.next().await.is_none());
}

#[tokio::test]
async fn server_decides_and_rejects_with_any_status_rfc6455_4_2_2() {
    let (a, b) = tokio::io::duplex(64 << 10);
    let server = tokio::spawn(WebSocket::accept_with(b, Config::default(), |req: &Request<'_>| {
        if req.header("Authorization") == Some("Bearer ok") {
            Ok(Accept::new())
        } else {
            Err(Reject::status(401).header("WWW-Authenticate", "Bearer"))
        }
    }));
    let err = WebSocket::client(ClientRequest::new("ws://localhost/private").unwrap(), Config::default(), a)
        .await
        .err()
        .unwrap();
    match err {
        AdapterError::Rejected(r) => {
            assert_eq!(r.status, 401);
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(server.await.unwrap(), Err(AdapterError::Refused(401))));
}

#[tokio::test]
async fn subprotocol_is_negotiated() {
    let (a, b) = tokio::io::duplex(64 << 10);
    let server = tokio::spawn(WebSocket::accept_with(b, Config::default(), |req: &Request<'_>| {
        let chat = req.protocols().any(|p| p == "chat");
        Ok(if chat { Accept::new().protocol("chat") } else { Accept::new() })
    }));
    let request =
        ClientRequest::new("ws://localhost/").unwrap().protocol("superchat").unwrap().protocol("chat").unwrap();
    let client = WebSocket::client(request, Config::default(), a).await.unwrap();
    assert_eq!(client.connection().protocol(), Some("chat"));
    assert_eq!(server.await.unwrap().unwrap().connection().protocol(), Some("chat"));
}

#[tokio::test]
async fn heartbeat_keeps_a_reading_peer_and_drops_a_silent_one() {
    let heartbeat = config(|c| {
        c.ping_interval = Some(Duration::from_millis(30));
        c.pong_timeout = Duration::from_millis(150);
    });
    // A client that reads answers the heartbeat by itself: the server's
    // Pings are reported and the connection outlives several pong timeouts.
    let (mut client, server) = duplex_pair(Config::default(), heartbeat.clone()).await;
    let server_task = tokio::spawn(echo(server));
    let mut pings = 0;
    let reading = tokio::time::Instant::now();
    while reading.elapsed() < Duration::from_millis(500) {
        // Several pong timeouts pass while the client just reads.
        assert!(matches!(next(&mut client).await, Message::Ping(_)));
        pings += 1;
    }
    assert!(pings >= 5, "{pings} heartbeat pings in 500 ms at a 30 ms interval");
    client.send(Message::text("still here?")).await.unwrap();
    loop {
        match next(&mut client).await {
            Message::Ping(_) => continue,
            m => break assert_eq!(m, Message::text("still here?")),
        }
    }
    drop(client);
    drop(server_task);

    // A peer that never answers is dropped after the pong timeout with 1006.
    let (a, mut b) = tokio::io::duplex(64 << 10);
    let server = tokio::spawn(WebSocket::accept(a, heartbeat));
    b.write_all(HANDSHAKE).await.unwrap();
    let mut server = server.await.unwrap().unwrap();
    let started = tokio::time::Instant::now();
    match timeout(LIMIT, server.next()).await.unwrap().unwrap() {
        Err(AdapterError::Closed(closed)) => {
            assert_eq!(closed.failure, Some(wsmachine::Failure::PongTimeout));
            assert_eq!(closed.code, CloseCode::ABNORMAL);
        }
        other => panic!("unexpected {other:?}"),
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(150) && took < Duration::from_secs(3), "{took:?}");
}

/// The adapter keeps time on tokio's clock: under `tokio::time::pause()` a
/// heartbeat of 30 s and a pong timeout of 20 s drop a peer that never
/// answers after 50 s of paused time, which tokio skips through at once.
/// (On `std::time::Instant` the timer task spun: the sleep fired in paused
/// time, the connection saw the real clock and found nothing due.)
#[tokio::test(start_paused = true)]
async fn timers_run_on_tokio_time_under_pause() {
    let heartbeat = config(|c| {
        c.ping_interval = Some(Duration::from_secs(30));
        c.pong_timeout = Duration::from_secs(20);
    });
    let (a, mut b) = tokio::io::duplex(64 << 10);
    let server = tokio::spawn(WebSocket::accept(a, heartbeat));
    b.write_all(HANDSHAKE).await.unwrap();
    let mut server = server.await.unwrap().unwrap();
    let (paused, real) = (tokio::time::Instant::now(), std::time::Instant::now());
    match timeout(Duration::from_secs(120), server.next()).await.expect("paused time ran out").unwrap() {
        Err(AdapterError::Closed(closed)) => assert_eq!(closed.failure, Some(wsmachine::Failure::PongTimeout)),
        other => panic!("unexpected {other:?}"),
    }
    let took = paused.elapsed();
    assert!(took >= Duration::from_secs(50) && took < Duration::from_secs(51), "{took:?} of paused time");
    assert!(real.elapsed() < Duration::from_secs(5), "{:?} of real time", real.elapsed());
}

#[tokio::test]
async fn close_timeout_bounds_waiting_for_the_peers_close() {
    let config = config(|c| c.close_timeout = Some(Duration::from_millis(100)));
    let (a, mut b) = tokio::io::duplex(64 << 10);
    let server = tokio::spawn(WebSocket::accept(a, config));
    b.write_all(HANDSHAKE).await.unwrap();
    let mut server = server.await.unwrap().unwrap();
    server.close(CloseCode::NORMAL, "").await.unwrap(); // the peer never answers
    match timeout(LIMIT, server.next()).await.unwrap().unwrap() {
        Err(AdapterError::Closed(closed)) => assert_eq!(closed.failure, Some(wsmachine::Failure::CloseTimeout)),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn split_halves_work_in_two_tasks() {
    let (client, server) = duplex_pair(Config::default(), Config::default()).await;
    let server_task = tokio::spawn(echo(server));
    let (mut rx, mut tx) = client.split();
    const N: usize = 5_000;
    let writer = tokio::spawn(async move {
        for i in 0..N {
            tx.feed(Message::text(format!("message {i}"))).await.unwrap();
            if i % 64 == 0 {
                tx.flush().await.unwrap();
            }
        }
        tx.flush().await.unwrap();
        tx
    });
    for i in 0..N {
        let m = timeout(LIMIT, rx.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(m, Message::text(format!("message {i}")));
    }
    let mut tx = writer.await.unwrap();
    // The write half closes; the read half sees the server's reply.
    tx.close().await.unwrap();
    assert!(matches!(timeout(LIMIT, rx.next()).await.unwrap(), Some(Ok(Message::Close(Some(_))))));
    assert!(matches!(timeout(LIMIT, server_task).await.unwrap().unwrap(), Ok(Message::Close(Some(_)))));
    let ws = rx.reunite(tx).ok().unwrap();
    assert_eq!(ws.connection().state(), wsmachine::State::Closed);
}

#[tokio::test]
async fn read_half_answers_pings_while_the_write_half_is_idle() {
    let (client, mut server) = duplex_pair(Config::default(), Config::default()).await;
    let (mut rx, _tx) = client.split();
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = rx.next().await {} });
    for i in 0..10u8 {
        server.send(Message::Ping(vec![i])).await.unwrap();
        assert_eq!(next(&mut server).await, Message::Pong(vec![i]));
    }
    reader.abort();
}

#[tokio::test]
async fn backpressure_bounds_what_is_buffered() {
    // A peer that never reads: the duplex holds 64 KiB, the sender at most
    // max_buffered more before `send` waits.
    let (a, b) = tokio::io::duplex(64 << 10);
    let mut server = WebSocket::from_connection(
        a,
        wsmachine::Connection::established(
            std::time::Instant::now(),
            wsmachine::Established::new(wsmachine::Role::Server),
            Config::default(),
        )
        .unwrap(),
    );
    server.set_max_buffered(32 << 10);
    let chunk = vec![7u8; 4 << 10];
    let mut sent = 0;
    let stalled = timeout(Duration::from_millis(300), async {
        loop {
            server.feed(Message::Binary(chunk.clone())).await.unwrap();
            sent += 1;
        }
    })
    .await;
    assert!(stalled.is_err(), "sending never waited");
    assert!(server.buffered_amount() <= (32 << 10) + chunk.len() + 14, "{}", server.buffered_amount());
    assert!(sent < 64, "{sent} messages of 4 KiB went into 64 KiB of pipe and 32 KiB of buffer");
    drop(b);
}

#[tokio::test]
async fn connect_refuses_wss_without_tls() {
    let err =
        WebSocket::connect(ClientRequest::new("wss://localhost/").unwrap(), Config::default()).await.err().unwrap();
    assert!(matches!(&err, AdapterError::Io(e) if e.kind() == std::io::ErrorKind::Unsupported), "{err:?}");
}

#[tokio::test]
async fn accept_connection_takes_over_after_a_router_read_the_head() {
    use wsmachine::adapters::tokio::WebSocket;
    let (a, mut b) = tokio::io::duplex(64 << 10);
    // The client's handshake and its first frame ("hi", masked) in one write.
    let mut bytes = HANDSHAKE.to_vec();
    bytes.extend_from_slice(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
    b.write_all(&bytes).await.unwrap();
    // The router reads what is there, looks at the head, and hands over.
    let mut a = a;
    let mut head = vec![0; 4096];
    let n = a.read(&mut head).await.unwrap();
    let (parsed, _) = wsmachine::handshake::RequestHead::parse(&head[..n], 64).unwrap().unwrap();
    assert!(parsed.request().headers().has_token("Upgrade", "websocket"));
    let mut conn = wsmachine::Connection::server(std::time::Instant::now(), Config::default());
    conn.receive(&head[..n]);
    let mut server = WebSocket::accept_connection(a, conn, wsmachine::adapters::accept_all).await.unwrap();
    // The frame that came with the head is not lost (RFC 6455 §4.2.2 ends with frames following).
    assert_eq!(next(&mut server).await, Message::text("hi"));
}

#[tokio::test]
async fn peer_reset_ends_with_an_error_then_none() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = WebSocket::accept(tcp, Config::default()).await.unwrap();
        let first = timeout(LIMIT, ws.next()).await.unwrap();
        (first, ws.next().await.is_none())
    });
    let client = WebSocket::connect(url.as_str(), Config::default()).await.unwrap();
    // SO_LINGER 0: dropping the socket sends a reset, not a FIN.
    client.get_ref().set_zero_linger().unwrap();
    drop(client);
    let (first, then_none) = server.await.unwrap();
    match first {
        Some(Err(AdapterError::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        Some(Err(AdapterError::Closed(c))) => assert_eq!(c.failure, Some(wsmachine::Failure::UnexpectedEof)),
        other => panic!("unexpected {other:?}"),
    }
    assert!(then_none);
}

#[tokio::test]
async fn an_idle_connection_holds_no_buffers() {
    let (mut client, mut server) = duplex_pair(Config::default(), Config::default()).await;
    server.set_shrink_after(Some(Duration::from_millis(30)));
    client.set_shrink_after(Some(Duration::from_millis(30)));
    let big = vec![1u8; 1 << 20];
    let (sent, received) = tokio::join!(client.send(Message::Binary(big.clone())), next(&mut server));
    sent.unwrap();
    assert_eq!(received, Message::Binary(big.clone()));
    let (sent, received) = tokio::join!(server.send(Message::Binary(big.clone())), next(&mut client));
    sent.unwrap();
    assert_eq!(received, Message::Binary(big));
    assert!(server.connection().buffer_capacity() > 0, "a busy connection keeps its buffers");
    // Nothing arrives for 30 ms: the buffers go.
    assert!(timeout(Duration::from_millis(100), server.next()).await.is_err());
    assert!(timeout(Duration::from_millis(100), client.next()).await.is_err());
    assert_eq!(server.connection().buffer_capacity(), 0);
    assert_eq!(client.connection().buffer_capacity(), 0);
}

/// A split writer blocked on a peer that never reads is released when the
/// reading half's timers (which run the connection's) drop the output at
/// the write timeout: its send ends with the connection's failure, and the
/// reading half reports the same end.
#[tokio::test(start_paused = true)]
async fn split_writer_is_released_by_the_write_timeout() {
    let (a, b) = tokio::io::duplex(64 << 10);
    let ws = wsmachine::Connection::established(
        std::time::Instant::now(),
        wsmachine::Established::new(wsmachine::Role::Server),
        config(|c| c.write_timeout = Some(Duration::from_secs(5))),
    )
    .unwrap();
    let (mut rx, mut tx) = WebSocket::from_connection(a, ws).split();
    let reader = tokio::spawn(async move { rx.next().await });
    let started = tokio::time::Instant::now();
    let sent = async {
        loop {
            tx.send(Message::Binary(vec![7; 4096])).await?;
        }
    };
    let result: Result<(), AdapterError> = timeout(Duration::from_secs(60), sent).await.unwrap();
    let failed =
        |e: &AdapterError| matches!(e, AdapterError::Closed(c) if c.failure == Some(wsmachine::Failure::WriteTimeout));
    assert!(result.as_ref().is_err_and(failed), "{result:?}");
    assert!(started.elapsed() <= Duration::from_secs(11), "{:?}", started.elapsed());
    let end = timeout(Duration::from_secs(60), reader).await.unwrap().unwrap();
    assert!(matches!(&end, Some(Err(e)) if failed(e)), "{end:?}");
    drop(b);
}

/// `send_prepared` sends one frame built once, through the same bounded
/// path as `send_text`.
#[tokio::test]
async fn send_prepared_reaches_the_peer() {
    let (mut client, mut server) = duplex_pair(Config::default(), Config::default()).await;
    let prepared = wsmachine::PreparedMessage::text("to everyone");
    server.send_prepared(&prepared).await.unwrap();
    server.send_prepared(&prepared).await.unwrap();
    assert_eq!(next(&mut client).await, Message::text("to everyone"));
    assert_eq!(next(&mut client).await, Message::text("to everyone"));
}
