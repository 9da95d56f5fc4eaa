//! The `ochat` binary: see the `ochat_cli` library for the commands.

/// mimalloc instead of glibc's malloc: the node allocates and frees many short-lived buffers
/// (sled's pages and IO buffers, CBOR frames), and glibc's arenas spent a seventh of the
/// federation path's CPU in `malloc`/`free` and handed pages back to the kernel only to fault
/// them in again (docs/benchmarks.md, "What the benchmarks changed in the node").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ochat_cli::main()
}
