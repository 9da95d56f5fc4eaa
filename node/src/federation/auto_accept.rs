//! Which incoming connection requests the node accepts by itself, without waiting for an
//! administrator: none (the default), those of listed Instance UUIDs (known partners), or any.
//!
//! An automatic acceptance is the same transition as Accept in the API, with the requester's
//! name as the contact; it is stored in the same commit as the request, and the signed answer
//! goes back in the response to the request, so the requester is Accepted one round trip
//! after it sent the request. The channel starts with no members: nobody reads or writes in
//! it until an administrator adds members.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use ochat_protocol::identity::InstanceId;
use thiserror::Error;

/// The automatic-accept policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AutoAccept {
    /// Every request waits for Accept or Reject by an administrator.
    #[default]
    Off,
    /// Requests from these instances are accepted at once; others wait.
    Listed(BTreeSet<InstanceId>),
    /// Every authenticated request is accepted at once.
    Any,
}

/// Why an `--auto-accept` value was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AutoAcceptError {
    /// Neither `any`, `off` nor an Instance UUID.
    #[error("'{0}' is not an Instance UUID, 'any' or 'off'")]
    Invalid(String),
    /// `any` or `off` given together with other values.
    #[error("'{0}' cannot be combined with other --auto-accept values")]
    Exclusive(String),
}

impl AutoAccept {
    /// Builds the policy from the command line's values (repeatable `--auto-accept`).
    pub fn from_values<S: AsRef<str>>(values: &[S]) -> Result<Self, AutoAcceptError> {
        let mut listed = BTreeSet::new();
        let mut keyword = None;
        for value in values {
            let value = value.as_ref().trim();
            match value.to_ascii_lowercase().as_str() {
                "any" => keyword = Some((value.to_string(), AutoAccept::Any)),
                "off" | "none" => keyword = Some((value.to_string(), AutoAccept::Off)),
                _ => {
                    let uuid = InstanceId::from_str(value)
                        .map_err(|_| AutoAcceptError::Invalid(value.to_string()))?;
                    listed.insert(uuid);
                }
            }
        }
        match keyword {
            Some((word, _)) if values.len() > 1 => Err(AutoAcceptError::Exclusive(word)),
            Some((_, policy)) => Ok(policy),
            None if listed.is_empty() => Ok(AutoAccept::Off),
            None => Ok(AutoAccept::Listed(listed)),
        }
    }

    /// Whether a request from `requester` is accepted without an administrator.
    pub fn accepts(&self, requester: &InstanceId) -> bool {
        match self {
            AutoAccept::Off => false,
            AutoAccept::Listed(listed) => listed.contains(requester),
            AutoAccept::Any => true,
        }
    }
}

impl fmt::Display for AutoAccept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutoAccept::Off => f.write_str("off"),
            AutoAccept::Any => f.write_str("any"),
            AutoAccept::Listed(listed) => {
                let uuids: Vec<String> = listed.iter().map(ToString::to_string).collect();
                f.write_str(&uuids.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "6f1c2a4e-8d3b-4c7a-9e2f-1a2b3c4d5e6f";
    const B: &str = "0b7e9f3a-2c4d-4e5f-8a9b-0c1d2e3f4a5b";

    #[test]
    fn nothing_given_means_every_request_waits_for_an_administrator() {
        let policy = AutoAccept::from_values::<&str>(&[]).expect("empty is valid");
        assert_eq!(policy, AutoAccept::Off);
        assert!(!policy.accepts(&A.parse().expect("uuid")));
    }

    #[test]
    fn listed_partners_are_accepted_and_others_wait() {
        let policy = AutoAccept::from_values(&[A]).expect("a uuid is valid");
        assert!(policy.accepts(&A.parse().expect("uuid")));
        assert!(!policy.accepts(&B.parse().expect("uuid")));
        assert_eq!(policy.to_string(), A);
    }

    #[test]
    fn any_accepts_everyone_and_is_not_combined_with_uuids() {
        let policy = AutoAccept::from_values(&["ANY"]).expect("any is valid");
        assert!(policy.accepts(&B.parse().expect("uuid")));
        assert_eq!(
            AutoAccept::from_values(&["any", A]),
            Err(AutoAcceptError::Exclusive("any".into()))
        );
    }

    #[test]
    fn a_value_that_is_no_uuid_is_refused_with_the_value() {
        let err = AutoAccept::from_values(&["acme"]).expect_err("not a uuid");
        assert_eq!(
            err.to_string(),
            "'acme' is not an Instance UUID, 'any' or 'off'"
        );
    }
}
