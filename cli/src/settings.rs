//! Where each setting of `ochat run` and `ochat directory run` comes from: a flag, an
//! environment variable, the TOML settings file, or the default — in that order.
//!
//! The clap definitions (`args`, `settings_args`, `network`, `directory`) are the one list of
//! settings: a setting's file key is its argument id (`api_listen`, `trusted_proxies`), its
//! variable is declared next to it (`OCHAT_API_LISTEN`), and its parser checks the value. The
//! file is read after a first parse has told the data folder and `--config`; each of its keys
//! that no flag or variable set is then given to clap as if it were a flag, checked alone
//! first so that a bad value is reported with its key, and the whole command line is parsed
//! again. Unknown keys stop the start. [`Effective`] remembers where each value came from for
//! `ochat config show`. Used by `lib::main` before any command runs.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};
use thiserror::Error;

use crate::args::Cli;

/// The settings file's name in the data folder.
pub const FILE_NAME: &str = "ochat.toml";
/// Arguments of a settings command that are not settings.
const NOT_SETTINGS: [&str; 5] = ["help", "version", "verbose", "config", "json"];
/// Settings whose value `ochat config show` never prints.
pub const SECRETS: [&str; 2] = ["webhook_secret", "smtp_password"];

/// Why the settings cannot be used.
#[derive(Debug, Error)]
pub enum SettingsError {
    /// The command line or a variable is wrong (clap prints it and exits 2).
    #[error(transparent)]
    Clap(#[from] clap::Error),
    /// An environment variable's value is refused.
    #[error("environment variable {var}: {reason}")]
    BadEnv {
        /// The variable.
        var: String,
        /// Why.
        reason: String,
    },
    /// The file cannot be read.
    #[error("cannot read the settings file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("the settings file {} is not valid TOML: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The file names a setting that does not exist.
    #[error("unknown key `{key}` in {}{hint}", path.display())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// ": did you mean `…`?" or nothing.
        hint: String,
    },
    /// A key's value is refused.
    #[error("key `{key}` in {}: {reason}", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// Why.
        reason: BadSetting,
    },
}

/// Why a value in the settings file is refused.
#[derive(Debug, Error)]
pub enum BadSetting {
    /// A table at the top level.
    #[error("a table; settings are top-level keys (see `ochat config show`)")]
    Table,
    /// The setting cannot be given as a flag.
    #[error("this setting has no flag")]
    NoFlag,
    /// A switch given something else than a boolean.
    #[error("expected true or false")]
    NotBool,
    /// A list for a setting that takes one value.
    #[error("expected one value, not a list")]
    List,
    /// A TOML date.
    #[error("a date is not a value of any setting")]
    Date,
    /// A list inside a list.
    #[error("expected a value, not a nested list")]
    NestedList,
    /// A table inside a value.
    #[error("expected a value, not a table (settings are top-level keys)")]
    NestedTable,
    /// The flag's own check refused it (clap's message).
    #[error("{0}")]
    Refused(String),
}

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The command line.
    Flag,
    /// An environment variable.
    Env,
    /// The settings file.
    File,
    /// The built-in default (or unset when there is none).
    Default,
}

impl Source {
    /// "flag", "env", "file" or "default".
    pub fn name(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Env => "env",
            Source::File => "file",
            Source::Default => "default",
        }
    }
}

/// One setting's effective value.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The file key (the argument id).
    pub key: String,
    /// `--flag`.
    pub flag: Option<String>,
    /// The environment variable.
    pub env: Option<String>,
    /// The values (several for a repeatable flag; none when unset).
    pub values: Vec<String>,
    /// Whether the flag is repeatable (a list in the file).
    pub list: bool,
    /// Whether it is an on/off switch (a boolean in the file).
    pub switch: bool,
    /// Where the value came from.
    pub source: Source,
}

/// The settings a command runs with, and where each came from.
#[derive(Debug, Clone)]
pub struct Effective {
    /// "run" or "directory run".
    pub command: &'static str,
    /// The settings file read, if any.
    pub file: Option<PathBuf>,
    /// Every setting, in the command's order.
    pub settings: Vec<Setting>,
}

/// Parses the command line, reading the settings file of `run`, `directory run` and
/// `config show[-directory]`; other commands are parsed as they are.
pub fn parse(argv: Vec<OsString>) -> Result<(Cli, Option<Effective>), SettingsError> {
    let mut cmd = Cli::command();
    cmd.build();
    let first = cmd
        .clone()
        .try_get_matches_from(&argv)
        .map_err(|e| blame_env(&cmd, &argv, e))?;
    let Some((path, command)) = settings_command(&first) else {
        return Ok((Cli::from_arg_matches(&first)?, None));
    };
    let mut sub = &cmd;
    for name in &path {
        match sub.find_subcommand(name) {
            Some(s) => sub = s,
            None => return Ok((Cli::from_arg_matches(&first)?, None)),
        }
    }
    let mut sub_matches = &first;
    for name in &path {
        match sub_matches.subcommand_matches(name) {
            Some(m) => sub_matches = m,
            None => return Ok((Cli::from_arg_matches(&first)?, None)),
        }
    }
    let args: Vec<&clap::Arg> = sub
        .get_arguments()
        .filter(|a| !a.is_positional() && !NOT_SETTINGS.contains(&a.get_id().as_str()))
        .collect();
    let file = settings_file(sub_matches)?;
    let mut injected: Vec<OsString> = Vec::new();
    let mut from_file: BTreeSet<String> = BTreeSet::new();
    if let Some(file) = &file {
        let table = read_table(file)?;
        for (key, value) in &table {
            if value.is_table() {
                return Err(SettingsError::BadValue {
                    path: file.clone(),
                    key: key.clone(),
                    reason: BadSetting::Table,
                });
            }
            let Some(arg) = args.iter().find(|a| a.get_id().as_str() == key) else {
                return Err(SettingsError::UnknownKey {
                    path: file.clone(),
                    key: key.clone(),
                    hint: hint(key, &args),
                });
            };
            let given = matches!(
                sub_matches.value_source(key),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
            let flags = as_flags(arg, value).map_err(|reason| SettingsError::BadValue {
                path: file.clone(),
                key: key.clone(),
                reason,
            })?;
            if given {
                continue;
            }
            check_alone(&cmd, &argv, &path, &flags).map_err(|reason| SettingsError::BadValue {
                path: file.clone(),
                key: key.clone(),
                reason,
            })?;
            injected.extend(flags);
            from_file.insert(key.clone());
        }
    }
    let mut full = argv.clone();
    full.extend(injected);
    let matches = cmd.clone().try_get_matches_from(&full)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let mut sub_matches = &matches;
    for name in &path {
        if let Some(m) = sub_matches.subcommand_matches(name) {
            sub_matches = m;
        }
    }
    let settings = args
        .iter()
        .map(|arg| describe(arg, sub_matches, &from_file))
        .collect();
    Ok((
        cli,
        Some(Effective {
            command,
            file,
            settings,
        }),
    ))
}

/// The subcommand path of a settings command, and which settings it has.
fn settings_command(m: &ArgMatches) -> Option<(Vec<&'static str>, &'static str)> {
    match m.subcommand()? {
        ("run", _) => Some((vec!["run"], "run")),
        ("directory", d) => match d.subcommand()? {
            ("run", _) => Some((vec!["directory", "run"], "directory run")),
            _ => None,
        },
        ("config", c) => match c.subcommand()? {
            ("show", _) => Some((vec!["config", "show"], "run")),
            ("show-directory", _) => Some((vec!["config", "show-directory"], "directory run")),
            _ => None,
        },
        _ => None,
    }
}

/// `--config FILE`, else `ochat.toml` in the data folder when it exists.
fn settings_file(m: &ArgMatches) -> Result<Option<PathBuf>, SettingsError> {
    if let Some(path) = m.get_one::<PathBuf>("config") {
        return Ok(Some(path.clone()));
    }
    let default = m
        .get_one::<PathBuf>("data_dir")
        .map(|d| d.join(FILE_NAME))
        .filter(|p| p.exists());
    Ok(default)
}

fn read_table(path: &Path) -> Result<toml::Table, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    text.parse::<toml::Table>()
        .map_err(|e| SettingsError::Syntax {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })
}

/// The command-line words that say what the file says for `arg`.
fn as_flags(arg: &clap::Arg, value: &toml::Value) -> Result<Vec<OsString>, BadSetting> {
    let long = arg.get_long().ok_or(BadSetting::NoFlag)?;
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        return match value {
            toml::Value::Boolean(true) => Ok(vec![format!("--{long}").into()]),
            toml::Value::Boolean(false) => Ok(Vec::new()),
            _ => Err(BadSetting::NotBool),
        };
    }
    let items: Vec<&toml::Value> = match value {
        toml::Value::Array(items) if matches!(arg.get_action(), ArgAction::Append) => {
            items.iter().collect()
        }
        toml::Value::Array(_) => return Err(BadSetting::List),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|item| scalar(item).map(|v| format!("--{long}={v}").into()))
        .collect()
}

fn scalar(value: &toml::Value) -> Result<String, BadSetting> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Datetime(_) => Err(BadSetting::Date),
        toml::Value::Array(_) => Err(BadSetting::NestedList),
        toml::Value::Table(_) => Err(BadSetting::NestedTable),
    }
}

/// Parses the subcommand with only these flags, to tell a bad file value by its key.
fn check_alone(
    cmd: &clap::Command,
    argv: &[OsString],
    path: &[&'static str],
    flags: &[OsString],
) -> Result<(), BadSetting> {
    let mut words: Vec<OsString> = argv.iter().take(1).cloned().collect();
    words.extend(path.iter().map(OsString::from));
    words.extend(flags.iter().cloned());
    match cmd.clone().try_get_matches_from(words) {
        Ok(_) => Ok(()),
        Err(e) => Err(BadSetting::Refused(reason(&e))),
    }
}

/// A bad value that came from a variable (its flag is not on the command line) is reported
/// with the variable's name; other errors stay clap's.
fn blame_env(cmd: &clap::Command, argv: &[OsString], e: clap::Error) -> SettingsError {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return SettingsError::Clap(e);
    }
    let Some(ContextValue::String(shown)) = e.get(ContextKind::InvalidArg) else {
        return SettingsError::Clap(e);
    };
    let Some(long) = shown
        .split_whitespace()
        .next()
        .and_then(|f| f.strip_prefix("--"))
    else {
        return SettingsError::Clap(e);
    };
    let on_line = argv.iter().any(|w| {
        let w = w.to_string_lossy();
        w == format!("--{long}") || w.starts_with(&format!("--{long}="))
    });
    let var = all_args(cmd)
        .into_iter()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())
        .map(|v| v.to_string_lossy().into_owned());
    match var {
        Some(var) if !on_line && std::env::var_os(&var).is_some() => SettingsError::BadEnv {
            var,
            reason: reason(&e),
        },
        _ => SettingsError::Clap(e),
    }
}

/// Every argument of a command and its subcommands.
fn all_args(cmd: &clap::Command) -> Vec<&clap::Arg> {
    let mut args: Vec<&clap::Arg> = cmd.get_arguments().collect();
    for sub in cmd.get_subcommands() {
        args.extend(all_args(sub));
    }
    args
}

/// clap's message without its "error: " and its usage footer.
fn reason(e: &clap::Error) -> String {
    let text = e.render().to_string();
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("error: "))
        .collect::<Vec<_>>()
        .join(" ")
}

/// ": did you mean `x`?" for the closest key, when one is close.
fn hint(key: &str, args: &[&clap::Arg]) -> String {
    args.iter()
        .map(|a| a.get_id().as_str())
        .map(|k| (distance(key, k), k))
        .filter(|(d, k)| *d <= 3.max(k.len() / 4))
        .min()
        .map(|(_, k)| format!(": did you mean `{k}`?"))
        .unwrap_or_default()
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

fn describe(arg: &clap::Arg, m: &ArgMatches, from_file: &BTreeSet<String>) -> Setting {
    let key = arg.get_id().as_str().to_string();
    let values: Vec<String> = m
        .get_raw(&key)
        .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let source = if from_file.contains(&key) {
        Source::File
    } else {
        match m.value_source(&key) {
            Some(ValueSource::CommandLine) => Source::Flag,
            Some(ValueSource::EnvVariable) => Source::Env,
            _ => Source::Default,
        }
    };
    Setting {
        flag: arg.get_long().map(|l| format!("--{l}")),
        env: arg.get_env().map(|e| e.to_string_lossy().into_owned()),
        list: matches!(arg.get_action(), ArgAction::Append),
        switch: matches!(arg.get_action(), ArgAction::SetTrue),
        values,
        source,
        key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule the docs give: a setting's variable is OCHAT_ and its key in capitals (the
    /// directory's own folder and address keep their OCHAT_DIRECTORY_ names).
    #[test]
    fn every_setting_has_a_flag_and_the_variable_named_after_its_key() {
        let mut cmd = Cli::command();
        cmd.build();
        let exceptions = [
            ("data_dir", "OCHAT_DIRECTORY_DATA_DIR"),
            ("listen", "OCHAT_DIRECTORY_LISTEN"),
        ];
        for (path, directory) in [(vec!["run"], false), (vec!["directory", "run"], true)] {
            let mut sub = &cmd;
            for name in &path {
                sub = sub
                    .find_subcommand(name)
                    .unwrap_or_else(|| panic!("{name}"));
            }
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if NOT_SETTINGS.contains(&id) {
                    continue;
                }
                assert!(arg.get_long().is_some(), "{id} has a flag");
                let expected = exceptions
                    .iter()
                    .find(|(k, _)| directory && *k == id)
                    .map(|(_, e)| e.to_string())
                    .unwrap_or_else(|| format!("OCHAT_{}", id.to_uppercase()));
                let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
                assert_eq!(env.as_deref(), Some(expected.as_str()), "variable of {id}");
                assert!(arg.get_help().is_some(), "{id} is documented");
            }
        }
    }

    #[test]
    fn a_misspelt_key_gets_the_closest_one() {
        assert_eq!(distance("webhok_url", "webhook_url"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
    }
}
