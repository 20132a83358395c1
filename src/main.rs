//! k3rs: a lightweight Kubernetes distribution in one binary.
//! This file is the binary's edge: parse the command line, set up logging, run a command.

mod cli;
mod commands;

use std::process::ExitCode;

use cli::Command;

fn main() -> ExitCode {
    // `k3rs pause` is a pod sandbox's PID 1: it starts nothing else (no logging, no runtime).
    if std::env::args_os().nth(1).is_some_and(|a| a == "pause") {
        return k3rs_cri::pause::run();
    }
    // `k3rs kubectl …` passes every argument through untouched.
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == "kubectl") {
        eprintln!("k3rs: {:#}", commands::kubectl::exec(args.collect()));
        return ExitCode::FAILURE;
    }
    limit_malloc_arenas();
    let command = cli::run_cli();
    let level = match &command {
        Command::Server(c) => c.log_level,
        Command::Agent(c) => c.log_level,
        Command::Images(_) => cli::LogLevel::Info,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("K3RS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level.as_filter())),
        )
        .with_ansi(false)
        .init();
    // One crypto provider for every TLS user in the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("k3rs: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Server(cfg) => commands::server::run(cfg).await,
            Command::Agent(cfg) => commands::agent::run(cfg).await,
            Command::Images(cmd) => commands::images::run(cmd).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("k3rs: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// glibc gives each thread that allocates concurrently an arena of its own (up to 8 per core),
/// and memory freed in one is not reused by another: an idle server kept tens of MiB in them.
/// Two arenas keep allocation concurrent enough for two cores' worth of work.
fn limit_malloc_arenas() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes allocator tuning; it is called before any thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
