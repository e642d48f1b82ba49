//! Memory held per connection: the fixed state and the buffers of an idle
//! OPEN connection. The figures are written in the crate docs and README.

mod common;
use common::*;

#[test]
fn idle_open_connection_is_small() {
    let fixed = std::mem::size_of::<wsmachine::Connection>();
    println!("size_of::<Connection>() = {fixed} bytes");
    assert!(fixed <= 696, "Connection grew to {fixed} bytes");

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
