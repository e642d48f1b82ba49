//! wss:// (RFC 6455 §3, §4.1: TLS belongs to the caller's stream): both
//! adapters, both roles, over rustls with a certificate made at test time.
#![cfg(all(feature = "tokio", feature = "blocking", feature = "rustls"))]

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use wsmachine::adapters::{CloseFrame, Message};
use wsmachine::{ClientRequest, CloseCode, Config};

/// A server and a client TLS configuration that trust each other, for "localhost".
fn tls_configs() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

fn closed_normally() -> Message {
    Message::Close(Some(CloseFrame { code: CloseCode::NORMAL, reason: String::new() }))
}

#[tokio::test]
async fn tokio_adapter_over_tokio_rustls_both_roles() {
    use wsmachine::adapters::tokio::WebSocket;
    let (server_tls, client_tls) = tls_configs();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = tokio_rustls::TlsAcceptor::from(server_tls).accept(tcp).await.unwrap();
        let mut ws = WebSocket::accept(tls, Config::default()).await.unwrap();
        let mut seen = Vec::new();
        while let Some(m) = ws.next().await {
            match m.unwrap() {
                m @ (Message::Text(_) | Message::Binary(_)) => {
                    seen.push(m.clone());
                    ws.send(m).await.unwrap();
                }
                end => return (seen, end),
            }
        }
        unreachable!("the stream ends with Close")
    });

    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let domain = ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(client_tls).connect(domain, tcp).await.unwrap();
    let request = ClientRequest::new(&format!("wss://localhost:{port}/secure")).unwrap();
    let mut ws = WebSocket::client(request, Config::default(), tls).await.unwrap();
    let big = vec![0x5a; 1 << 20];
    for m in [Message::text("over TLS"), Message::Binary(big)] {
        ws.send(m.clone()).await.unwrap();
        let echoed = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(echoed, m);
    }
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), closed_normally());
    assert!(ws.next().await.is_none());
    let (seen, end) = server.await.unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(end, closed_normally());
}

#[test]
fn blocking_adapter_over_rustls_stream_owned_both_roles() {
    use wsmachine::adapters::blocking::WebSocket;
    let (server_tls, client_tls) = tls_configs();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(server_tls).unwrap();
        let mut config = Config::default();
        config.ping_interval = Some(Duration::from_millis(100));
        let mut ws = WebSocket::accept(rustls::StreamOwned::new(conn, tcp), config).unwrap();
        ws.set_read_timeout(Some(Duration::from_secs(10)));
        loop {
            match ws.read().unwrap() {
                m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).unwrap(),
                Message::Ping(_) | Message::Pong(_) => {}
                end => return end,
            }
        }
    });

    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let conn = rustls::ClientConnection::new(client_tls, ServerName::try_from("localhost").unwrap()).unwrap();
    let request = ClientRequest::new(&format!("wss://localhost:{port}/secure")).unwrap();
    let mut ws = WebSocket::client(request, Config::default(), rustls::StreamOwned::new(conn, tcp)).unwrap();
    ws.set_read_timeout(Some(Duration::from_secs(10)));
    // The server's heartbeat Pings may come in between.
    let read_data = |ws: &mut WebSocket<_>| loop {
        match ws.read().unwrap() {
            Message::Ping(_) => continue,
            m => return m,
        }
    };
    for m in [Message::text("over TLS"), Message::Binary(vec![0xa5; 1 << 20])] {
        ws.send(m.clone()).unwrap();
        assert_eq!(read_data(&mut ws), m);
    }
    // The server, blocked in a read through rustls, still runs its heartbeat
    // (the read timeout reaches the socket under the TLS stream).
    std::thread::sleep(Duration::from_millis(300));
    assert!(matches!(ws.read().unwrap(), Message::Ping(_)));
    // The server's automatic Pong comes back through TLS.
    ws.connection_mut().sender().ping(b"x").unwrap();
    ws.flush().unwrap();
    assert_eq!(read_data(&mut ws), Message::Pong(b"x".to_vec()));
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(read_data(&mut ws), closed_normally());
    assert_eq!(server.join().unwrap(), closed_normally());
}
