//! The real `ochat` command, built as a binary of the tests crate so integration tests can run
//! it as a process (`env!("CARGO_BIN_EXE_ochat-under-test")`).

fn main() -> std::process::ExitCode {
    ochat_cli::main()
}
