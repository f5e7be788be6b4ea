//! Errors with the place they are about.
//!
//! Every error that comes from user input names the file and, where there is one, the line and
//! column, so an operator can jump straight to the mistake. Errors that come from the host (a
//! failed command, a permission problem) name the resource and the path.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a file: 1-based line and column; 0 means "unknown".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceLocation {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
}

impl SourceLocation {
    /// A location with a line and column.
    pub fn new(file: impl Into<PathBuf>, line: u32, column: u32) -> Self {
        Self {
            file: file.into(),
            line,
            column,
        }
    }

    /// A location that names only the file.
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Self::new(file, 0, 0)
    }

    /// The file this location is in.
    pub fn path(&self) -> &Path {
        &self.file
    }
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if self.column > 0 {
                write!(f, ":{}", self.column)?;
            }
        }
        Ok(())
    }
}

/// Everything that can stop a run.
///
/// `class` names the Chef exception a Chef user would know the failure by
/// (`Chef::Exceptions::MissingRole`), so output and the acceptance cases speak Chef's language.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input found while reading or compiling: the host has not been touched.
    #[error("{location}: {message}")]
    Compile {
        location: SourceLocation,
        message: String,
        class: &'static str,
    },
    /// Bad input with no file to point at (a flag, a run list given on the command line).
    #[error("{message}")]
    Input {
        message: String,
        class: &'static str,
    },
    /// A resource action failed while converging.
    #[error("{message}")]
    Resource {
        message: String,
        class: &'static str,
    },
    /// The operating system refused something; `path` says what.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// More than one failure, as Chef's `MultipleFailures`.
    #[error("Multiple failures occurred:\n{}", .0.iter().map(|e| format!("* {} occurred in delayed notification: {e}", e.class())).collect::<Vec<_>>().join("\n"))]
    Multiple(Vec<Error>),
}

impl Error {
    /// A compile error at a location.
    pub fn compile(location: SourceLocation, message: impl Into<String>) -> Self {
        Error::Compile {
            location,
            message: message.into(),
            class: "Chef::Exceptions::ValidationFailed",
        }
    }

    /// A compile error at a location with the Chef exception class it corresponds to.
    pub fn compile_as(
        class: &'static str,
        location: SourceLocation,
        message: impl Into<String>,
    ) -> Self {
        Error::Compile {
            location,
            message: message.into(),
            class,
        }
    }

    /// An error at `location` when the input was written in a file, else one without a place
    /// (a command-line argument, a value from the server).
    pub fn located(
        class: &'static str,
        location: Option<&SourceLocation>,
        message: impl Into<String>,
    ) -> Self {
        match location {
            Some(at) => Error::compile_as(class, at.clone(), message),
            None => Error::input(class, message),
        }
    }

    /// The same compile error, about `location` instead (other errors are unchanged): for
    /// readers that find where a value was written only once they know it is wrong.
    pub fn at(self, location: SourceLocation) -> Self {
        match self {
            Error::Compile { message, class, .. } => Error::Compile {
                location,
                message,
                class,
            },
            other => other,
        }
    }

    /// Bad input that has no file.
    pub fn input(class: &'static str, message: impl Into<String>) -> Self {
        Error::Input {
            message: message.into(),
            class,
        }
    }

    /// A failed resource action.
    pub fn resource(class: &'static str, message: impl Into<String>) -> Self {
        Error::Resource {
            message: message.into(),
            class,
        }
    }

    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The message without the place it is about (Chef prints the two apart).
    pub fn bare_message(&self) -> String {
        match self {
            Error::Compile { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    /// The Chef exception class this error corresponds to.
    pub fn class(&self) -> &'static str {
        match self {
            Error::Compile { class, .. } | Error::Input { class, .. } => class,
            Error::Resource { class, .. } => class,
            Error::Io { .. } => "Errno",
            Error::Multiple(_) => "Chef::Exceptions::MultipleFailures",
        }
    }
}

/// The result type of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds the path to an I/O result.
pub trait IoContext<T> {
    /// Turns an `io::Error` into an [`Error::Io`] naming `path`.
    fn with_path(self, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn with_path(self, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
