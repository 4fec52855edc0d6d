//! The engine's threads.
//!
//! By default the engine runs on rayon's global pool, which has one thread per CPU
//! the process may use: `std::thread::available_parallelism` counts the CPUs of
//! the process's affinity mask and its cgroup's CPU quota, so a container or a
//! Lambda function (one vCPU per 1,769 MB) gets the threads it can run.
//! [`configure`] sets another number once, before any work; with 1 the work runs
//! on the calling thread and **no thread is started** (the pool's only thread is
//! the caller), which is what a 1-vCPU Lambda needs and what lets the aarch64
//! binaries run under qemu-user, where starting a thread hangs.

use crate::{Error, Result};

/// The environment variable the Lambda functions read ([`from_env`]).
pub const THREADS_ENV: &str = "SUMMA_AGG_THREADS";

/// Sets the engine's number of threads (`None`: one per usable CPU), once per
/// process and before any work. Returns the number in use.
pub fn configure(threads: Option<usize>) -> Result<usize> {
    let builder = match threads {
        None => return Ok(rayon::current_num_threads()),
        Some(0) => return Err(Error::Invalid("--threads must be at least 1".into())),
        Some(1) => rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .use_current_thread(),
        Some(n) => rayon::ThreadPoolBuilder::new().num_threads(n),
    };
    builder.build_global().map_err(|e| {
        Error::Invalid(format!(
            "the engine's threads are already set ({e}): set them once, before any work"
        ))
    })?;
    Ok(threads.unwrap_or(1))
}

/// As [`configure`], but the pool's threads are always started, also for 1: for
/// callers whose engine work runs on threads of their own (tokio's blocking
/// pool in the Lambda functions), which a pool made of the calling thread would
/// never serve.
pub fn configure_pool(threads: Option<usize>) -> Result<usize> {
    match threads {
        None => Ok(rayon::current_num_threads()),
        Some(0) => Err(Error::Invalid("--threads must be at least 1".into())),
        Some(n) => {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build_global()
                .map_err(|e| {
                    Error::Invalid(format!("the engine's threads are already set ({e})"))
                })?;
            Ok(n)
        }
    }
}

/// The number of threads [`THREADS_ENV`] asks for, if it is set.
pub fn from_env() -> Result<Option<usize>> {
    match std::env::var(THREADS_ENV) {
        Err(_) => Ok(None),
        Ok(v) => {
            v.trim().parse::<usize>().map(Some).map_err(|_| {
                Error::Invalid(format!("{THREADS_ENV}={v:?} is not a number of threads"))
            })
        }
    }
}
