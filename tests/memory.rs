//! Memory held per connection: the fixed state and the buffers of an idle
//! OPEN connection. The figures are written in the crate docs and README.

mod common;
use common::*;
use wsmachine::Config;

#[test]
fn idle_open_connection_is_small() {
    let fixed = std::mem::size_of::<wsmachine::Connection>();
    println!("size_of::<Connection>() = {fixed} bytes");
    assert!(fixed <= 736, "Connection grew to {fixed} bytes");

    let (mut client, mut server) = pair();
    for size in [10, 1000, 100_000] {
        client.sender().send_binary(&vec![1; size]).unwrap();
        transfer(&mut client, &mut server);
        events(&mut server);
    }
    println!("after traffic: server buffers hold {} bytes", server.buffer_capacity());
    server.shrink_buffers();
    client.shrink_buffers();
    println!(
        "after shrink_buffers: server {} bytes, client {} bytes",
        server.buffer_capacity(),
        client.buffer_capacity()
    );
    assert_eq!(server.buffer_capacity(), 0);
    assert_eq!(client.buffer_capacity(), 0);
    // Still works after shrinking.
    client.sender().send_text("again").unwrap();
    transfer(&mut client, &mut server);
    assert_eq!(events(&mut server), [Ev::Text("again".into())]);
}

/// A large message's buffers are not kept once it is delivered: a peer that
/// sent one (fragmented, in one frame, or compressed: a few kilobytes that
/// inflate to megabytes) and then trickles bytes does not pin that memory.
/// Buffers up to `max_retained_buffer` are kept, for speed.
#[test]
fn a_large_message_does_not_pin_its_buffers() {
    let mut config = Config::default();
    config.max_retained_buffer = 256 << 10;
    #[cfg(feature = "deflate")]
    {
        config.deflate = Some(wsmachine::deflate::DeflateConfig::default());
    }
    let (mut client, mut server) = pair_with(config.clone(), config);
    let big = vec![0u8; 4 << 20];
    let trickle = client_frame(0x82, b"xyz");
    let fragments = [client_frame(0x02, &big[..2 << 20]), client_frame(0x80, &big[2 << 20..])].concat();
    let cases: [(&str, Vec<u8>); 3] = [
        ("fragmented", fragments),
        ("one frame", client_frame(0x82, &big)),
        ("compressed", {
            client.sender().send_binary(&big).unwrap();
            take_output(&mut client)
        }),
    ];
    for (what, mut wire) in cases {
        // The next message's first byte arrives with it, in the same read.
        wire.push(trickle[0]);
        server.receive(&wire);
        assert!(matches!(events(&mut server).as_slice(), [Ev::Binary(b)] if b.len() == 4 << 20), "{what}");
        // The next message trickles in: once its header shows a small
        // frame, the large buffers are gone.
        server.receive(&trickle[1..6]);
        assert!(events(&mut server).is_empty());
        assert!(server.buffer_capacity() <= 256 << 10, "{what}: {} bytes kept", server.buffer_capacity());
        server.receive(&trickle[6..]);
        assert_eq!(events(&mut server), [Ev::Binary(b"xyz".to_vec())], "{what}");
    }
}
