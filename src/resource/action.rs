//! Resource actions, with Chef's names.

use std::fmt;
use std::str::FromStr;

macro_rules! actions {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// An action a resource can take (`:create`, `:restart`, ...), named as in Chef.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $($variant,)*
            /// An action a custom resource or LWRP defines (`action :deploy do ... end`).
            Custom(&'static str),
        }

        impl Action {
            /// Chef's name of the action, without the colon.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                    Action::Custom(name) => name,
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

impl Action {
    /// The action called `name`: a built-in one, or one a custom resource defines. `None` when
    /// the name is not a Ruby method name (`:deploy`, `create_if_missing`).
    pub fn named(name: &str) -> Option<Action> {
        let name = name.strip_prefix(':').unwrap_or(name);
        if let Ok(action) = name.parse() {
            return Some(action);
        }
        let word = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        word.then(|| Action::Custom(intern(name)))
    }

    /// Whether a custom resource defines this action (it is none of Chef's built-in ones).
    pub fn is_custom(self) -> bool {
        matches!(self, Action::Custom(_))
    }
}

/// One copy of each custom action name for the life of the process, so `Action` stays `Copy`;
/// the names come from cookbook files, so there are few of them.
fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<&'static str>>> =
        std::sync::OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    let mut names = match names.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    leaked
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
    fn custom_actions_are_named_once_and_compare_by_name() {
        assert_eq!(Action::named(":start"), Some(Action::Start));
        let deploy = Action::named("deploy").unwrap();
        assert!(deploy.is_custom());
        assert_eq!(deploy, Action::named(":deploy").unwrap());
        assert_eq!(deploy.to_string(), "deploy");
        assert_eq!(Action::named("Not An Action"), None);
        assert!("deploy".parse::<Action>().is_err());
    }

    #[test]
    fn accepts_symbol_spelling() {
        assert_eq!(":restart".parse::<Action>(), Ok(Action::Restart));
        assert!("explode".parse::<Action>().is_err());
    }
}
