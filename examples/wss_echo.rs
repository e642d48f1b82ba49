//! wss:// on the tokio adapter: TLS (rustls, through tokio-rustls) is the
//! stream the WebSocket runs over, on both sides.
//!
//! ```text
//! cargo run --features tokio --example wss_echo
//! ```
//!
//! It makes a certificate for `localhost` (rcgen), starts a wss echo server
//! on a free port, connects a client that trusts that certificate, sends a
//! few messages, closes cleanly and exits. In a real server the certificate
//! and key come from files; in a real client the roots come from
//! `webpki-roots` or the platform.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use wsmachine::adapters::tokio::WebSocket;
use wsmachine::adapters::{AdapterError, Message};
use wsmachine::{CloseCode, Config};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A certificate and both TLS configurations.
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_tls = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert)?;
    let client_tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();

    // The server: TLS handshake, then the WebSocket handshake over it, then echo.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_tls));
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let tls = acceptor.accept(tcp).await?;
        let mut ws = WebSocket::accept(tls, Config::default()).await?;
        while let Some(message) = ws.next().await {
            match message? {
                m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await?,
                Message::Close(frame) => println!("server: closed cleanly {frame:?}"),
                _ => {}
            }
        }
        Ok::<_, AdapterError>(())
    });

    // The client: TCP, TLS for "localhost", then the WebSocket handshake.
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let tls =
        tokio_rustls::TlsConnector::from(Arc::new(client_tls)).connect(ServerName::try_from("localhost")?, tcp).await?;
    let mut ws = WebSocket::client(format!("wss://localhost:{port}/echo"), Config::default(), tls).await?;
    println!("client: open over TLS");
    for text in ["hello", "over", "TLS"] {
        ws.send(Message::text(text)).await?;
        match ws.next().await.transpose()? {
            Some(Message::Text(echo)) if echo == text => println!("client: echoed {echo:?}"),
            other => return Err(format!("unexpected {other:?}").into()),
        }
    }
    ws.close(CloseCode::NORMAL, "").await?;
    match ws.next().await.transpose()? {
        Some(Message::Close(frame)) => println!("client: closed cleanly {frame:?}"),
        other => return Err(format!("unexpected {other:?}").into()),
    }
    server.await??;
    Ok(())
}
