//! Resource actions, with Chef's names.

use std::fmt;
use std::str::FromStr;

macro_rules! actions {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// An action a resource can take (`:create`, `:restart`, ...), named as in Chef.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $($variant),*
        }

        impl Action {
            /// Chef's name of the action, without the colon.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name),*
                }
            }

            /// Every action skillet knows, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];
        }

        impl FromStr for Action {
            type Err = UnknownAction;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let s = s.strip_prefix(':').unwrap_or(s);
                match s {
                    $($name => Ok(Action::$variant),)*
                    _ => Err(UnknownAction(s.to_string())),
                }
            }
        }
    };
}

actions! {
    Nothing => "nothing",
    Create => "create",
    CreateIfMissing => "create_if_missing",
    Delete => "delete",
    Touch => "touch",
    Run => "run",
    Write => "write",
    Install => "install",
    Upgrade => "upgrade",
    Remove => "remove",
    Purge => "purge",
    Reconfig => "reconfig",
    Lock => "lock",
    Unlock => "unlock",
    Enable => "enable",
    Disable => "disable",
    Start => "start",
    Stop => "stop",
    Restart => "restart",
    Reload => "reload",
    Modify => "modify",
    Manage => "manage",
    Periodic => "periodic",
    Update => "update",
    Apply => "apply",
    Set => "set",
    Mount => "mount",
    Umount => "umount",
    Unmount => "unmount",
    Remount => "remount",
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an action at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAction(pub String);

impl fmt::Display for UnknownAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown action `{}`", self.0)
    }
}

impl std::error::Error for UnknownAction {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(*a));
        }
    }

    #[test]
    fn accepts_symbol_spelling() {
        assert_eq!(":restart".parse::<Action>(), Ok(Action::Restart));
        assert!("explode".parse::<Action>().is_err());
    }
}
