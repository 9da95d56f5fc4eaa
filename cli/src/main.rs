//! The `ochat` binary: see the `ochat_cli` library for the commands.

fn main() -> std::process::ExitCode {
    ochat_cli::main()
}
