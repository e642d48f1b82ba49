//! The whole adapter between a blocking `TcpStream` and a `Connection`:
//! read into the connection, let the application handle events, write what
//! the connection produced, sleep at most until its next timer.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use wsmachine::Connection;

/// Runs `ws` over `stream` until the connection says to close the transport.
/// `handle` is called after every read and timer tick; it polls events and
/// sends.
pub fn drive(
    stream: &mut TcpStream,
    ws: &mut Connection,
    mut handle: impl FnMut(&mut Connection) -> io::Result<()>,
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 << 10];
    ws.handle_timeout(Instant::now()); // start the connection's clock
    loop {
        handle(ws)?;
        // One write for everything pending: many messages per syscall.
        while !ws.pending_output().is_empty() {
            let n = stream.write(ws.pending_output())?;
            ws.advance_output(n);
        }
        if ws.should_close_transport() {
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        let wait = ws.poll_timeout().map(|t| t.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
        stream.set_read_timeout(wait)?;
        match stream.read(&mut buf) {
            Ok(0) => ws.receive_eof(),
            Ok(n) => ws.receive(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => ws.receive_eof(),
            Err(e) => return Err(e),
        }
        ws.handle_timeout(Instant::now());
    }
}
