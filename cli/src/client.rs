//! Commands that read the data folder or talk to a running node's API.

use anyhow::Context;
use ochat_node::data_dir::read_instance;

use crate::args::DataDirArg;

/// `ochat uuid`: prints the Instance UUID as Settings shows it.
pub fn uuid(args: &DataDirArg) -> anyhow::Result<()> {
    let info = read_instance(&args.data_dir).context("cannot read the instance")?;
    println!("{}", info.uuid);
    Ok(())
}
