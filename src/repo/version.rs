//! Cookbook versions (`1.2.3`) and constraints (`~> 2.0`, `>= 1.0`), as Chef compares them.

use std::fmt;

/// A cookbook version: two or three non-negative integers (`1.2` means `1.2.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    /// `0.0.0`, the version of a cookbook that does not say.
    pub fn zero() -> Self {
        Version {
            major: 0,
            minor: 0,
            patch: 0,
        }
    }

    /// Parses `x.y` or `x.y.z`.
    pub fn parse(s: &str) -> Result<Version, String> {
        let parts: Vec<&str> = s.trim().split('.').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(format!("`{s}` is not a version (expected x.y or x.y.z)"));
        }
        let mut nums = [0u64; 3];
        for (i, part) in parts.iter().enumerate() {
            nums[i] = part
                .parse()
                .map_err(|_| format!("`{s}` is not a version (expected x.y or x.y.z)"))?;
        }
        Ok(Version {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The comparison of a constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
    /// `~>`: at least this version, below the next release of the second-to-last part given.
    Pessimistic,
}

/// A version constraint: an operator and a version, as in `depends 'apt', '~> 2.0'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    pub op: Op,
    pub version: Version,
    /// How many parts were written (`~> 2.0` differs from `~> 2.0.0`).
    parts: usize,
}

impl Constraint {
    /// Anything goes (`>= 0.0.0`).
    pub fn any() -> Self {
        Constraint {
            op: Op::Ge,
            version: Version::zero(),
            parts: 3,
        }
    }

    /// Parses `= 1.0`, `> 1.0`, `>= 1.0`, `< 1.0`, `<= 1.0`, `~> 1.0`, or a bare version (`=`).
    pub fn parse(s: &str) -> Result<Constraint, String> {
        let s = s.trim();
        let (op, rest) = [
            ("~>", Op::Pessimistic),
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("=", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
        ]
        .iter()
        .find_map(|(prefix, op)| s.strip_prefix(prefix).map(|r| (*op, r)))
        .unwrap_or((Op::Eq, s));
        let rest = rest.trim();
        let version = Version::parse(rest).map_err(|_| {
            format!("`{s}` is not a version constraint (like `>= 1.0` or `~> 2.1`)")
        })?;
        Ok(Constraint {
            op,
            version,
            parts: rest.split('.').count(),
        })
    }

    /// Whether `v` satisfies the constraint.
    pub fn matches(&self, v: &Version) -> bool {
        let c = &self.version;
        match self.op {
            Op::Eq => v == c,
            Op::Gt => v > c,
            Op::Ge => v >= c,
            Op::Lt => v < c,
            Op::Le => v <= c,
            Op::Pessimistic => {
                let upper = if self.parts >= 3 {
                    Version {
                        major: c.major,
                        minor: c.minor + 1,
                        patch: 0,
                    }
                } else {
                    Version {
                        major: c.major + 1,
                        minor: 0,
                        patch: 0,
                    }
                };
                v >= c && *v < upper
            }
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Eq => "=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Pessimistic => "~>",
        };
        write!(f, "{op} {}", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn two_part_versions_have_patch_zero() {
        assert_eq!(v("1.2"), v("1.2.0"));
        assert!(Version::parse("1").is_err());
        assert!(Version::parse("1.a").is_err());
    }

    #[test]
    fn pessimistic_constraints() {
        let c = Constraint::parse("~> 2.0").unwrap();
        assert!(c.matches(&v("2.9.9")));
        assert!(!c.matches(&v("3.0.0")));
        let c = Constraint::parse("~> 2.1.3").unwrap();
        assert!(c.matches(&v("2.1.9")));
        assert!(!c.matches(&v("2.2.0")));
        assert!(!c.matches(&v("2.1.2")));
    }

    #[test]
    fn comparison_constraints() {
        assert!(Constraint::parse(">= 1.0").unwrap().matches(&v("1.0.0")));
        assert!(!Constraint::parse("> 1.0").unwrap().matches(&v("1.0.0")));
        assert!(Constraint::parse("< 1.0").unwrap().matches(&v("0.9.9")));
        assert!(Constraint::parse("1.0.0").unwrap().matches(&v("1.0")));
        assert!(Constraint::parse("=> 1").is_err());
    }
}
