fn main() {
    restore_default_sigpipe();
    std::process::exit(evoquant::cli::run());
}

/// Rust ignores SIGPIPE, so `evoquant list | head` would make `println!`
/// panic once `head` exits. A command-line tool should end quietly instead,
/// as C tools do: restore the default action.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists;
    // setting a signal's disposition to SIG_DFL has no other preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
