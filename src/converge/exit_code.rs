//! Chef's process exit codes (RFC 062, `Chef::Application::ExitCode`).
//!
//! Tools around Chef (Test Kitchen, Vagrant, CI) read these: 2 and 3 mean a signal stopped the
//! run, 35/37/41 are reboot outcomes, anything unknown is normalised to 1.

use crate::error::{Error, Result};

/// The run succeeded.
pub const SUCCESS: i32 = 0;
/// Any failure without a more specific code.
pub const GENERIC_FAILURE: i32 = 1;
/// The run was stopped by SIGINT.
pub const SIGINT_RECEIVED: i32 = 2;
/// The run was stopped by SIGTERM.
pub const SIGTERM_RECEIVED: i32 = 3;
/// A `reboot` resource asked for a reboot, which was started.
pub const REBOOT_SCHEDULED: i32 = 35;
/// A reboot is needed but was not performed.
pub const REBOOT_NEEDED: i32 = 37;
/// A reboot was attempted and failed.
pub const REBOOT_FAILED: i32 = 41;
/// The configuration could not be used.
pub const CONFIG_FAILURE: i32 = 43;
/// The client upgraded itself.
pub const CLIENT_UPGRADED: i32 = 213;
/// The license does not entitle this use (Chef 19).
pub const LICENSE_NOT_ENTITLED: i32 = 173;
/// No license was set (Chef 19).
pub const LICENSE_NOT_SET: i32 = 174;

/// Every code RFC 062 allows.
pub const VALID: &[i32] = &[
    SUCCESS,
    GENERIC_FAILURE,
    SIGINT_RECEIVED,
    SIGTERM_RECEIVED,
    REBOOT_SCHEDULED,
    REBOOT_NEEDED,
    REBOOT_FAILED,
    CONFIG_FAILURE,
    CLIENT_UPGRADED,
    LICENSE_NOT_ENTITLED,
    LICENSE_NOT_SET,
];

/// Chef exception classes with their own exit code, in the order Chef tests them.
const BY_CLASS: &[(&str, i32)] = &[
    ("Chef::Exceptions::SigInt", SIGINT_RECEIVED),
    ("Chef::Exceptions::SigTerm", SIGTERM_RECEIVED),
    ("Chef::Exceptions::Reboot", REBOOT_SCHEDULED),
    ("Chef::Exceptions::RebootPending", REBOOT_NEEDED),
    ("Chef::Exceptions::RebootFailed", REBOOT_FAILED),
    ("Chef::Exceptions::ConfigurationError", CONFIG_FAILURE),
    ("Chef::Exceptions::ClientUpgraded", CLIENT_UPGRADED),
];

/// The exit code of a finished run.
pub fn for_result(result: &Result<()>) -> i32 {
    match result {
        Ok(()) => SUCCESS,
        Err(error) => for_error(error),
    }
}

/// The exit code for the error that ended a run. A `MultipleFailures` is searched through
/// its wrapped errors too, as Chef does.
pub fn for_error(error: &Error) -> i32 {
    let mut classes = vec![error.class()];
    if let Error::Multiple(errors) = error {
        classes.extend(errors.iter().map(Error::class));
    }
    BY_CLASS
        .iter()
        .find(|(class, _)| classes.contains(class))
        .map_or(GENERIC_FAILURE, |&(_, code)| code)
}

/// Chef's `normalize_exit_code`: codes outside RFC 062 become 1.
pub fn normalize(code: i32) -> i32 {
    if VALID.contains(&code) {
        code
    } else {
        GENERIC_FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(class: &'static str) -> Error {
        Error::resource(class, "boom")
    }

    #[test]
    fn success_is_zero_and_ordinary_failures_are_one() {
        assert_eq!(for_result(&Ok(())), 0);
        assert_eq!(for_result(&Err(failure("RuntimeError"))), 1);
        assert_eq!(for_error(&failure("Chef::Exceptions::RunLockTimeout")), 1);
    }

    #[test]
    fn signals_and_reboots_have_their_rfc_062_codes() {
        assert_eq!(for_error(&failure("Chef::Exceptions::SigInt")), 2);
        assert_eq!(for_error(&failure("Chef::Exceptions::SigTerm")), 3);
        assert_eq!(for_error(&failure("Chef::Exceptions::Reboot")), 35);
        assert_eq!(for_error(&failure("Chef::Exceptions::RebootPending")), 37);
        assert_eq!(for_error(&failure("Chef::Exceptions::RebootFailed")), 41);
        assert_eq!(
            for_error(&failure("Chef::Exceptions::ConfigurationError")),
            43
        );
    }

    #[test]
    fn multiple_failures_are_searched_for_a_specific_code() {
        let multiple = Error::Multiple(vec![
            failure("RuntimeError"),
            failure("Chef::Exceptions::Reboot"),
        ]);
        assert_eq!(for_error(&multiple), REBOOT_SCHEDULED);
    }

    #[test]
    fn unknown_codes_normalise_to_generic_failure() {
        assert_eq!(normalize(35), 35);
        assert_eq!(normalize(7), 1);
        assert_eq!(normalize(-1), 1);
    }
}
