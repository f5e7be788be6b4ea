//! SIGINT and SIGTERM stop a run at once with Chef's exit codes (2 and 3), as chef-client's
//! traps do, and the command running at that moment gets SIGTERM. Managed files and the saved
//! node are written to a temp file and renamed, so stopping anywhere leaves each of them old or
//! new.

use crate::converge::exit_code;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

extern "C" fn stop(signal: nix::libc::c_int) {
    let (message, code): (&[u8], i32) = if signal == nix::libc::SIGINT {
        (
            b"FATAL: SIGINT received, stopping\n",
            exit_code::SIGINT_RECEIVED,
        )
    } else {
        (
            b"FATAL: SIGTERM received, stopping\n",
            exit_code::SIGTERM_RECEIVED,
        )
    };
    crate::platform::command::terminate_running();
    // SAFETY: write(2) and _exit(2) are async-signal-safe; the buffer is a static string.
    unsafe {
        nix::libc::write(2, message.as_ptr().cast(), message.len());
        nix::libc::_exit(code);
    }
}

/// Installs the handlers for the rest of the process.
pub fn install() {
    let action = SigAction::new(SigHandler::Handler(stop), SaFlags::empty(), SigSet::empty());
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only calls async-signal-safe functions.
        let _ = unsafe { sigaction(signal, &action) };
    }
}
