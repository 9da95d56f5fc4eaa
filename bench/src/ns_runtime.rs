//! A tokio runtime whose threads live in a network namespace of the test internet
//! (`ochat_tests::netns`), so that real nodes and baselines run in-process on either side of a
//! NAT and can be timed precisely. Used by the `reach` group ([`crate::reach`]).
//!
//! A thread moves itself into the namespace (`setns` on `/var/run/netns/<name>`), then builds
//! the runtime: every worker and blocking thread is spawned from there and inherits the
//! namespace, so every socket a task on this runtime opens (listeners, dials, HTTP clients of
//! the node's API on 127.0.0.1) is opened inside it. The process's main thread never moves.
//! Work is handed over with [`NsRuntime::run`]: anything that opens sockets must run there,
//! never on the caller's runtime.

use std::fs::File;
use std::future::Future;
use std::os::fd::AsFd;
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
use thiserror::Error;
use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// Why a runtime could not start in a namespace.
#[derive(Debug, Error)]
pub enum NsRuntimeError {
    /// `/var/run/netns/<name>` could not be opened.
    #[error("cannot open the namespace {ns}: {source}")]
    Open {
        /// The namespace.
        ns: String,
        /// Why.
        source: std::io::Error,
    },
    /// `setns` failed (not root?).
    #[error("cannot enter the namespace {ns} (setns needs root): {source}")]
    Enter {
        /// The namespace.
        ns: String,
        /// Why.
        source: rustix::io::Errno,
    },
    /// The thread or the runtime could not be made.
    #[error("cannot start a runtime in the namespace {ns}: {source}")]
    Start {
        /// The namespace.
        ns: String,
        /// Why.
        source: std::io::Error,
    },
    /// The thread ended before it handed its runtime over.
    #[error("the runtime thread of the namespace {0} ended early")]
    Gone(String),
    /// A task handed over with [`NsRuntime::run`] panicked or was cancelled.
    #[error("a task in the namespace {ns} did not finish: {source}")]
    Task {
        /// The namespace.
        ns: String,
        /// Why.
        source: tokio::task::JoinError,
    },
}

/// A multi-thread runtime in the network namespace `ns`; stops when dropped.
#[derive(Debug)]
pub struct NsRuntime {
    ns: String,
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl NsRuntime {
    /// Starts a runtime with two workers inside the namespace `ns` (made by `ip netns add`).
    pub fn start(ns: &str) -> Result<Self, NsRuntimeError> {
        let path = format!("/var/run/netns/{ns}");
        let file = File::open(&path).map_err(|source| NsRuntimeError::Open {
            ns: ns.to_string(),
            source,
        })?;
        let (handed, handle) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let name = ns.to_string();
        let thread = std::thread::Builder::new()
            .name(format!("ns {ns}"))
            .spawn(move || {
                let runtime = enter_and_build(&name, &file);
                drop(file);
                match runtime {
                    Ok(runtime) => {
                        if handed.send(Ok(runtime.handle().clone())).is_ok() {
                            runtime.block_on(async {
                                let _ = stopped.await;
                            });
                        }
                        runtime.shutdown_timeout(Duration::from_secs(5));
                    }
                    Err(e) => {
                        let _ = handed.send(Err(e));
                    }
                }
            })
            .map_err(|source| NsRuntimeError::Start {
                ns: ns.to_string(),
                source,
            })?;
        let handle = handle
            .recv()
            .map_err(|_| NsRuntimeError::Gone(ns.to_string()))??;
        Ok(NsRuntime {
            ns: ns.to_string(),
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Runs `work` on this runtime (inside the namespace) and waits for its answer.
    pub async fn run<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        F: Future<Output = anyhow::Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.handle
            .spawn(work)
            .await
            .map_err(|source| NsRuntimeError::Task {
                ns: self.ns.clone(),
                source,
            })?
    }

    /// Starts `work` on this runtime without waiting for it.
    pub fn spawn<T, F>(&self, work: F) -> tokio::task::JoinHandle<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.handle.spawn(work)
    }
}

/// Moves the calling thread into `ns` and builds the runtime there.
fn enter_and_build(ns: &str, file: &File) -> Result<tokio::runtime::Runtime, NsRuntimeError> {
    move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network)).map_err(
        |source| NsRuntimeError::Enter {
            ns: ns.to_string(),
            source,
        },
    )?;
    Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(format!("ns {ns}"))
        // Blocking threads are made by this runtime's own threads (inside the namespace);
        // keeping them long avoids nothing but churn.
        .thread_keep_alive(Duration::from_secs(600))
        .enable_all()
        .build()
        .map_err(|source| NsRuntimeError::Start {
            ns: ns.to_string(),
            source,
        })
}

impl Drop for NsRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::net::{IpAddr, SocketAddr};

    use ochat_tests::netns::Internet;

    use super::*;

    /// Needs root, `ip` and `nft`, like the `reach` group.
    #[tokio::test]
    async fn tasks_on_a_namespace_runtime_listen_and_dial_inside_that_namespace() {
        let mut net = Internet::new().unwrap();
        let a = net.public_host("a").unwrap();
        let b = net.public_host("b").unwrap();
        let in_a = NsRuntime::start(&a.ns).unwrap();
        let in_b = NsRuntime::start(&b.ns).unwrap();

        // A's address exists only inside A's namespace: the test's own thread cannot bind it,
        // a task on A's runtime can.
        assert!(std::net::TcpListener::bind((a.addr, 0)).is_err());
        let listener =
            in_a.run(async move {
                Ok(tokio::net::TcpListener::bind(SocketAddr::from((a.addr, 0))).await?)
            })
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = in_a.spawn(async move { listener.accept().await.map(|(_, from)| from) });

        // B's task dials across the test internet and is seen coming from B's address.
        let to = a.addr;
        in_b.run(async move {
            let stream = tokio::net::TcpStream::connect((to, port)).await?;
            Ok(stream.local_addr()?)
        })
        .await
        .unwrap();
        let from = tokio::time::timeout(Duration::from_secs(10), accepted)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(from.ip(), IpAddr::V4(b.addr));
    }

    #[test]
    fn a_namespace_that_does_not_exist_is_a_clear_error() {
        let err = NsRuntime::start("ochat-no-such-namespace").unwrap_err();
        assert!(
            err.to_string().contains("cannot open the namespace"),
            "{err}"
        );
    }
}
