//! The real `ochat` command, built as a binary of the tests crate so integration tests can run
//! it as a process (`env!("CARGO_BIN_EXE_ochat-under-test")`).
//!
//! With `OCHAT_SEAL_LOG=FILE` it appends every (message key, nonce) pair it seals to FILE, as
//! the test hook `ochat_protocol::ratchet::seal_log` hands them out (SHA-256 of the key, then
//! the nonce: 56 bytes each), written before the message can leave, so a test that kills the
//! process with `kill -9` still sees every pair it used (`ochat_tests::sender_crash`).

use std::io::Write;

fn main() -> std::process::ExitCode {
    if let Some(path) = std::env::var_os("OCHAT_SEAL_LOG") {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            Ok(file) => ochat_protocol::ratchet::seal_log::start_sink(move |(key, nonce)| {
                let mut record = Vec::with_capacity(key.len() + nonce.len());
                record.extend_from_slice(key);
                record.extend_from_slice(nonce);
                // One write of the whole record: a kill cannot leave half of it.
                if let Err(e) = (&file).write_all(&record) {
                    eprintln!("cannot write the seal log: {e}");
                }
            }),
            Err(e) => {
                eprintln!("cannot open the seal log {}: {e}", path.to_string_lossy());
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    ochat_cli::main()
}
