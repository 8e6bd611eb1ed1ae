//! Exit codes and the one-line error a user sees.
//!
//! 0: success. 1: the command failed. 2: the database schema does not match this wfmon
//! (drift, pending migrations, or a newer schema), or input a command refuses. 64: bad command-line usage.

use std::process::ExitCode;

use wfmon_store::StoreError;

/// A command's failure: the message to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    message: String,
    code: u8,
}

/// Exit code for a schema that does not match this binary.
pub const EXIT_SCHEMA: u8 = 2;

/// Exit code for input a command refuses (unknown role, taken name, short password): the
/// same as a schema mismatch, "the command cannot go on as asked".
pub const EXIT_INVALID: u8 = 2;

/// Exit code for bad command-line usage (BSD's EX_USAGE), distinct from `EXIT_SCHEMA`.
pub const EXIT_USAGE: u8 = 64;

/// Prints clap's message (help and version go to stdout with exit code 0).
pub fn usage(error: clap::Error) -> ExitCode {
    let code = if error.use_stderr() { EXIT_USAGE } else { 0 };
    let _ = error.print();
    ExitCode::from(code)
}

impl Failure {
    /// A failure with exit code 1.
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 1,
        }
    }

    /// A failure with an explicit exit code.
    pub fn with_code(message: impl Into<String>, code: u8) -> Failure {
        Failure {
            message: message.into(),
            code,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The exit code.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// Prints the message on stderr and returns the exit code.
    pub fn report(self) -> ExitCode {
        if !self.message.is_empty() {
            eprintln!("error: {}", self.message);
        }
        ExitCode::from(self.code)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        let code = match &error {
            StoreError::Drift(_) | StoreError::SchemaTooNew { .. } => EXIT_SCHEMA,
            StoreError::Duplicate { .. } | StoreError::Invalid(_) => EXIT_INVALID,
            _ => 1,
        };
        // Append each underlying cause that the message does not already spell out.
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(&format!(": {text}"));
            }
            source = cause.source();
        }
        Failure { message, code }
    }
}

impl From<wfmon_engine::config::ConfigError> for Failure {
    fn from(error: wfmon_engine::config::ConfigError) -> Failure {
        Failure::new(error.to_string())
    }
}
