//! `ochat livechat identity-secret CHANNEL [--rotate | --remove]`: the channel's visitor
//! identity secret, which the website's backend signs its logged-in visitors with (see
//! `docs/livechat-identity.md`). Without a flag it prints the current secret; `--rotate` makes
//! a new one (the first one, or a replacement: signatures made with the old one stop
//! verifying at once); `--remove` turns verification off. Called by [`crate::livechat`].

use clap::Args;
use reqwest::Method;
use serde_json::json;

use crate::livechat::{CHANNELS, CHANNELS_PATH, Ctx, find, print_json, text};

/// `ochat livechat identity-secret`.
#[derive(Debug, Args)]
pub struct IdentitySecretArgs {
    /// The channel (id, first characters of its id, or name).
    pub channel: String,
    /// Make a new secret (the first one, or a replacement that invalidates the old one).
    #[arg(long, conflicts_with = "remove")]
    pub rotate: bool,
    /// Remove the secret: visitors' identities are no longer verified in this channel.
    #[arg(long)]
    pub remove: bool,
}

/// Runs `ochat livechat identity-secret`.
pub async fn identity_secret(ctx: &Ctx, a: &IdentitySecretArgs) -> anyhow::Result<()> {
    let channel = find(ctx, &CHANNELS, &a.channel).await?;
    let id = text(&channel["id"]);
    let path = format!("{CHANNELS_PATH}/{id}/identity_secret");
    if a.remove {
        ctx.api.call(Method::DELETE, &path, None).await?;
        if ctx.json {
            return print_json(&json!({"removed": id}));
        }
        println!(
            "Removed the identity secret of {}: visitors are no longer verified.",
            text(&channel["name"])
        );
        return Ok(());
    }
    let method = if a.rotate { Method::POST } else { Method::GET };
    let answer = ctx.api.call(method, &path, None).await?;
    if ctx.json {
        return print_json(&answer);
    }
    if a.rotate {
        println!(
            "New identity secret of {} (signatures made with an older one no longer verify):",
            text(&channel["name"])
        );
    }
    println!("{}", text(&answer["secret"]));
    Ok(())
}
