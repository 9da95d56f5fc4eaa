//! # ochat-bench
//!
//! Measures our node against a bare baseline in the same run, alternating them (A B A B A B)
//! after a warm-up, and prints one table (figure, ours, baseline, ratio, p50/p99, target).
//!
//! ```text
//! cargo run --release -p ochat-bench -- all            # every group
//! cargo run --release -p ochat-bench -- crypto         # one group
//! cargo run --release -p ochat-bench -- all --quick    # short smoke run
//! cargo run --release -p ochat-bench -- all --json bench.json
//! sudo cargo run --release -p ochat-bench -- reach   # namespaces: root, ip, nft; not in `all`
//! ```
//!
//! ## Adding a group
//!
//! 1. Write `bench/src/<group>.rs` with a `//!` doc saying what is measured against what, and
//!    `pub async fn run(opts: &Opts) -> anyhow::Result<Vec<Row>>`. Measure both sides with
//!    `measure::alternate` (one warm-up of each, then rounds in turn); build rows with
//!    `table::Row::new` (add `table::Latency` with `measure::Pair::latency`).
//! 2. Add `pub mod <group>;` to `bench/src/lib.rs`, one arm to [`run_group`] below and the
//!    name to [`GROUPS`].
//!
//! A group must finish within 2 minutes on a 2-core machine (`all` within 8) and shrink its
//! load under `--quick` ([`opts::Opts::scale`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Parser;

use ochat_bench::opts::Opts;
use ochat_bench::table::{self, Row};
use ochat_bench::{
    crypto, directory, federation, history, livechat, memory, partner_host, partners, process,
    reach, reports, storage,
};

/// The node's allocator (the one the `ochat` binary uses), so that the node processes this
/// program starts as `ochat` and the baselines it measures in-process run on the same one.
/// Without it under the `system-alloc` feature (for heaptrack).
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The groups `all` runs, in order.
const GROUPS: &[&str] = &[
    "crypto",
    "federation",
    "livechat",
    "storage",
    "memory",
    "reports",
    "history",
    "partners",
    "directory",
];

/// Benchmarks of ochat against bare baselines.
#[derive(Debug, Parser)]
#[command(name = "ochat-bench")]
struct Args {
    /// `all`, or one group: crypto, federation, livechat, storage, memory, reports, partners,
    /// directory, history; or `load`
    /// (10,000 visitor WebSockets and 2,000 msg/s for 60 s; not part of `all`); or
    /// `federation-profile` (only our side of the 16-in-flight figure, 30,000 messages, to run
    /// under a profiler; not part of `all`); or `livechat-profile` (only our side of the
    /// visitor POST → operator figure, 19,200 messages, likewise); or `reach` (handshake and
    /// message latency across network namespaces: direct, hole punched, relayed; needs root,
    /// `ip` and `nft`; not part of `all`).
    group: String,
    /// Also write the table as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// A short smoke run (smaller loads, one round).
    #[arg(long)]
    quick: bool,
}

async fn run_group(name: &str, opts: &Opts) -> Result<Vec<Row>> {
    match name {
        "crypto" => crypto::run(opts).await,
        "federation" => federation::run(opts).await,
        "livechat" => livechat::run(opts).await,
        "storage" => storage::run(opts).await,
        "memory" => memory::run(opts).await,
        "reports" => reports::run(opts).await,
        "history" => history::run(opts).await,
        "partners" => partners::run(opts).await,
        "directory" => directory::run(opts).await,
        "reach" => reach::run(opts).await,
        "load" => memory::load(opts).await,
        "federation-profile" => federation::profile(opts).await,
        "livechat-profile" => livechat::profile(opts).await,
        other => bail!(
            "unknown group {other:?}; groups: all, {}",
            GROUPS.join(", ")
        ),
    }
}

/// Runs the bench, or — as a child process of the bench — the `ochat` command, the bare
/// WebSocket server (see `process`) or a host of partner nodes (see `partner_host`).
fn main() -> ExitCode {
    if std::env::var_os(process::AS_NODE).is_some() {
        return ochat_cli::main();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match (
        std::env::var(process::AS_BARE_WS),
        std::env::var_os(partner_host::AS_PARTNER_HOST),
    ) {
        (Ok(spec), _) => runtime.block_on(process::serve_bare_ws(&spec)),
        (_, Some(root)) => runtime.block_on(partner_host::serve(std::path::Path::new(&root))),
        _ => runtime.block_on(bench()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn bench() -> Result<()> {
    let args = Args::parse();
    let opts = Opts { quick: args.quick };
    let names: Vec<&str> = if args.group == "all" {
        GROUPS.to_vec()
    } else {
        vec![args.group.as_str()]
    };
    let mut rows = Vec::new();
    for name in names {
        let start = Instant::now();
        let group_rows = run_group(name, &opts).await?;
        eprintln!("{name}: {:.1} s", start.elapsed().as_secs_f64());
        rows.extend(group_rows);
    }
    if rows.is_empty() {
        // `federation-profile` measures without a baseline and reports on stderr.
        return Ok(());
    }
    print!("{}", table::render(&rows));
    if let Some(path) = &args.json {
        table::write_json(&rows, path)?;
    }
    Ok(())
}
