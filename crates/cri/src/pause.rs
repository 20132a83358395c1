//! `k3rs pause`: the process that holds a pod sandbox's namespaces. It runs as the sandbox's PID 1,
//! so it also reaps the zombies of processes re-parented to it, and it exits 0 on SIGTERM or SIGINT
//! (as PID 1, signals without a handler would be ignored, so it waits for them explicitly).

use std::mem::MaybeUninit;
use std::process::ExitCode;

/// Sleeps until SIGTERM or SIGINT, reaping children on SIGCHLD.
pub fn run() -> ExitCode {
    let mut signals = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset and sigprocmask take a valid set.
    let signals = unsafe {
        libc::sigemptyset(signals.as_mut_ptr());
        let mut signals = signals.assume_init();
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGCHLD] {
            libc::sigaddset(&mut signals, signal);
        }
        // Blocked signals stay pending until sigwait takes them: none can be missed.
        if libc::sigprocmask(libc::SIG_BLOCK, &signals, std::ptr::null_mut()) != 0 {
            return ExitCode::FAILURE;
        }
        signals
    };
    loop {
        let mut signal = 0;
        // SAFETY: a valid, initialised set and a place for the signal number.
        if unsafe { libc::sigwait(&signals, &mut signal) } != 0 {
            return ExitCode::FAILURE;
        }
        if signal != libc::SIGCHLD {
            return ExitCode::SUCCESS;
        }
        reap_children();
    }
}

/// Collects every exited child (several may exit per SIGCHLD).
fn reap_children() {
    // SAFETY: waitpid with a null status pointer only collects children.
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
}
