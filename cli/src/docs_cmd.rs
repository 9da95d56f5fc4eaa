//! `ochat completions SHELL` and `ochat man`: shell completions and manual pages generated
//! from the same clap definition the binary parses with, so they never drift from `--help`.
//!
//! Packagers run `ochat completions bash > /usr/share/bash-completion/completions/ochat` and
//! `ochat man --out-dir /usr/share/man/man1` (one page per command: `ochat.1`,
//! `ochat-run.1`, `ochat-directory-run.1`, …).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::args::Cli;

/// `ochat completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// `ochat man`.
#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write one page per command into this folder instead of printing `ochat(1)`.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Prints the completion script for a shell.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "ochat", &mut std::io::stdout());
    Ok(())
}

/// Prints `ochat(1)`, or writes every command's page into a folder.
pub fn man(args: &ManArgs) -> anyhow::Result<()> {
    let cmd = Cli::command();
    match &args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("cannot write the pages into {}", dir.display()))?;
            println!("Wrote the manual pages into {}", dir.display());
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .context("cannot render the manual page")?;
            use std::io::Write;
            std::io::stdout()
                .write_all(&out)
                .context("cannot print the manual page")?;
        }
    }
    Ok(())
}
