//! Prints a connection target's input as the script it decodes to:
//!
//!     cargo run --manifest-path fuzz/tools/Cargo.toml --bin show_script -- fuzz/artifacts/connection_server/crash-...

fn main() {
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).expect("readable input");
        println!("{path}:\n{:#?}", wsmachine_fuzz::Script::read(&data));
    }
}
