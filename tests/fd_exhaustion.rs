//! A server out of file descriptors keeps serving: the mio driver backs off
//! when `accept` fails with EMFILE and accepts the waiting connection once a
//! descriptor is free again. Alone in its test binary, since it exhausts
//! the process's descriptors.
#![cfg(feature = "mio")]

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use wsmachine::adapters::mio::{Driver, Handler, Token};
use wsmachine::{Accept, ClientRequest, Config, Connection, Event};

struct Echo {
    failures: mpsc::Sender<Option<i32>>,
}

impl Handler for Echo {
    fn handle(&mut self, _id: Token, ws: &mut Connection, now: Instant) {
        while let Some((event, mut tx)) = ws.poll_event_with_sender() {
            let accept = match event {
                Event::Request(_) => true,
                Event::Text(t) => {
                    let _ = tx.send_text(t);
                    false
                }
                _ => false,
            };
            if accept {
                ws.accept(now, Accept::new()).unwrap();
            }
        }
    }

    fn accept_failed(&mut self, error: &std::io::Error) {
        let _ = self.failures.send(error.raw_os_error());
    }
}

#[test]
fn the_driver_keeps_serving_through_descriptor_exhaustion() {
    let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (failures, failed) = mpsc::channel();
    std::thread::spawn(move || {
        let mut driver = Driver::new(Echo { failures }).unwrap();
        driver.listen(listener, Config::default()).unwrap();
        loop {
            driver.turn(Some(Duration::from_millis(20))).expect("a failed accept is not the driver's end");
        }
    });
    // Take every free descriptor but one, which the client's socket takes.
    let mut hog = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => hog.push(f),
            Err(e) if e.raw_os_error() == Some(24) => break,
            Err(e) => panic!("{e}"),
        }
    }
    hog.pop();
    let mut tcp = TcpStream::connect(addr).expect("the kernel completes the connection into the backlog");
    // The server cannot accept it: EMFILE, reported, and retried.
    let error = failed.recv_timeout(Duration::from_secs(10)).expect("the failed accept is reported");
    assert_eq!(error, Some(24), "EMFILE");
    // A descriptor frees up: the waiting connection is accepted and served.
    hog.truncate(hog.len().saturating_sub(8));
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = ClientRequest::new(&format!("ws://{addr}/")).unwrap();
    let mut ws = Connection::client_with_random(t0(), request, Config::default(), seeded(3));
    tcp.write_all(ws.output_buffer()).unwrap();
    let n = ws.output_buffer().len();
    ws.advance_output(n);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.is_empty() {
        assert!(Instant::now() < deadline, "never served");
        let mut buf = [0u8; 4096];
        let n = tcp.read(&mut buf).unwrap();
        assert!(n > 0, "closed");
        ws.receive(&buf[..n]);
        for ev in events(&mut ws) {
            match ev {
                Ev::Open(_) => {
                    ws.sender().send_text("served").unwrap();
                    tcp.write_all(ws.output_buffer()).unwrap();
                    let n = ws.output_buffer().len();
                    ws.advance_output(n);
                }
                Ev::Text(t) => got.push(t),
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(got, ["served"]);
    drop(hog);
}
