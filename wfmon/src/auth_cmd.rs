//! `wfmon token create|list|revoke` and `wfmon user add|list|remove|passwd`: the API tokens
//! and dashboard users. A token is printed once, when it is created; passwords are read from
//! standard input or a prompt that does not echo. Only hashes reach the database.

use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand};
use wfmon_engine::config::Config;
use wfmon_model::{ApiToken, Role, Timestamp};
use wfmon_store::{OpenMode, Revocation, Store, check_name, check_password};

use crate::cli::Cli;
use crate::exit::{EXIT_INVALID, Failure};

/// `wfmon token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print it (the only time it is shown).
    Create(TokenCreateArgs),
    /// List the tokens (never the tokens themselves).
    List,
    /// Revoke a token by its id or name: it is refused from now on.
    Revoke(TokenRevokeArgs),
}

/// `wfmon token create` arguments.
#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// A unique name; actions taken with the token are recorded under it.
    #[arg(long)]
    pub name: String,
    /// read (GET requests) or admin (everything).
    #[arg(long)]
    pub role: String,
    /// Valid for this long, e.g. 90d, 12h [default: until revoked].
    #[arg(long, value_name = "DURATION")]
    pub expires: Option<String>,
}

/// `wfmon token revoke` arguments.
#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token's id (as `wfmon token list` shows it) or name.
    pub token: String,
}

/// `wfmon user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a dashboard user.
    Add(UserAddArgs),
    /// List the dashboard users.
    List,
    /// Remove a dashboard user and end their sessions.
    Remove(UserNameArgs),
    /// Set a user's password and end their sessions.
    Passwd(UserPasswordArgs),
}

/// `wfmon user add` arguments.
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// The login name.
    pub username: String,
    /// read (look) or admin (also act: pause, run now, acknowledge).
    #[arg(long)]
    pub role: String,
    /// Read the password from the first line of standard input instead of a prompt.
    #[arg(long)]
    pub password_stdin: bool,
}

/// `wfmon user remove` arguments.
#[derive(Debug, Args)]
pub struct UserNameArgs {
    /// The login name.
    pub username: String,
}

/// `wfmon user passwd` arguments.
#[derive(Debug, Args)]
pub struct UserPasswordArgs {
    /// The login name.
    pub username: String,
    /// Read the password from the first line of standard input instead of a prompt.
    #[arg(long)]
    pub password_stdin: bool,
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure::with_code(message, EXIT_INVALID)
}

fn parse_role(text: &str) -> Result<Role, Failure> {
    text.parse::<Role>()
        .map_err(|_| invalid(format!("--role `{text}` is not a role: use read or admin")))
}

async fn open(cli: &Cli) -> Result<Store, Failure> {
    let config = Config::load_or_default(cli.config.as_deref())?;
    let url = crate::db::database_url(cli, Some(&config))?;
    Ok(Store::open(&url, OpenMode::Create).await?)
}

/// Runs one `wfmon token` command.
pub async fn token(cli: &Cli, command: &TokenCommand) -> Result<(), Failure> {
    // Check the arguments before touching the database.
    let create = match command {
        TokenCommand::Create(args) => {
            let role = parse_role(&args.role)?;
            check_name("token name", &args.name).map_err(|e| invalid(e.to_string()))?;
            let expires = match &args.expires {
                Some(text) => {
                    let length = wfmon_model::parse_duration(text)
                        .map_err(|e| invalid(format!("--expires: {e}")))?;
                    if length <= chrono::TimeDelta::zero() {
                        return Err(invalid(format!("--expires `{text}` must be positive")));
                    }
                    Some(Timestamp::now().plus(length))
                }
                None => None,
            };
            Some((args, role, expires))
        }
        _ => None,
    };
    let store = open(cli).await?;
    let outcome = match (command, create) {
        (_, Some((args, role, expires))) => {
            match store.create_token(&args.name, role, expires).await {
                Ok(created) => {
                    let record = &created.record;
                    eprintln!(
                        "created token `{}` ({}), role {}, {}; it is shown only this once:",
                        record.name,
                        record.token_id,
                        record.role,
                        match record.expires_at {
                            Some(at) => format!("expires {at}"),
                            None => "valid until revoked".to_owned(),
                        }
                    );
                    println!("{}", created.token);
                    eprintln!("send it as `Authorization: Bearer <token>`");
                    Ok(())
                }
                Err(e) => Err(e.into()),
            }
        }
        (TokenCommand::List, _) => list_tokens(&store).await,
        (TokenCommand::Revoke(args), _) => match store.revoke_token(&args.token).await? {
            Revocation::Revoked(t) => {
                println!("revoked token `{}` ({})", t.name, t.token_id);
                Ok(())
            }
            Revocation::AlreadyRevoked(t) => {
                println!("token `{}` ({}) was already revoked", t.name, t.token_id);
                Ok(())
            }
            Revocation::NotFound => Err(invalid(format!(
                "no token with id or name `{}` (see `wfmon token list`)",
                args.token
            ))),
        },
        (TokenCommand::Create(_), None) => unreachable!("create arguments are checked above"),
    };
    store.close().await;
    outcome
}

fn token_state(token: &ApiToken, now: Timestamp) -> &'static str {
    if token.revoked_at.is_some() {
        "revoked"
    } else if token.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "active"
    }
}

async fn list_tokens(store: &Store) -> Result<(), Failure> {
    let tokens = store.list_tokens().await?;
    if tokens.is_empty() {
        println!("no API tokens (create one with `wfmon token create --name NAME --role admin`)");
        return Ok(());
    }
    let now = Timestamp::now();
    println!(
        "{:<34} {:<20} {:<6} {:<8} {:<24} {:<24} EXPIRES",
        "ID", "NAME", "ROLE", "STATE", "CREATED", "LAST USED"
    );
    for t in &tokens {
        println!(
            "{:<34} {:<20} {:<6} {:<8} {:<24} {:<24} {}",
            t.token_id,
            t.name,
            // As text: the role's Display writes its name without the column's padding.
            t.role.to_string(),
            token_state(t, now),
            t.created_at.to_string(),
            t.last_used_at
                .map_or("never".to_owned(), |at| at.to_string()),
            t.expires_at.map_or("never".to_owned(), |at| at.to_string()),
        );
    }
    Ok(())
}

/// Runs one `wfmon user` command.
pub async fn user(cli: &Cli, command: &UserCommand) -> Result<(), Failure> {
    match command {
        UserCommand::Add(args) => {
            let role = parse_role(&args.role)?;
            check_name("username", &args.username).map_err(|e| invalid(e.to_string()))?;
            let store = open(cli).await?;
            if store
                .get::<wfmon_model::DashboardUser>(&args.username)
                .await?
                .is_some()
            {
                store.close().await;
                return Err(invalid(format!("user `{}` already exists", args.username)));
            }
            let password = read_new_password(args.password_stdin)?;
            let outcome = store.add_user(&args.username, role, &password).await;
            store.close().await;
            let user = outcome?;
            println!("added user `{}` with role {}", user.username, user.role);
            Ok(())
        }
        UserCommand::List => {
            let store = open(cli).await?;
            let users = store.list_users().await;
            store.close().await;
            let users = users?;
            if users.is_empty() {
                println!("no dashboard users (add one with `wfmon user add NAME --role admin`)");
            }
            for u in &users {
                println!(
                    "{:<24} {:<6} created {}, password set {}",
                    u.username, u.role, u.created_at, u.password_changed_at
                );
            }
            Ok(())
        }
        UserCommand::Remove(args) => {
            let store = open(cli).await?;
            let removed = store.remove_user(&args.username).await;
            store.close().await;
            if removed? {
                println!("removed user `{}`", args.username);
                Ok(())
            } else {
                Err(invalid(format!(
                    "no user `{}` (see `wfmon user list`)",
                    args.username
                )))
            }
        }
        UserCommand::Passwd(args) => {
            let store = open(cli).await?;
            if store
                .get::<wfmon_model::DashboardUser>(&args.username)
                .await?
                .is_none()
            {
                store.close().await;
                return Err(invalid(format!(
                    "no user `{}` (see `wfmon user list`)",
                    args.username
                )));
            }
            let password = read_new_password(args.password_stdin)?;
            let changed = store.set_password(&args.username, &password).await;
            store.close().await;
            changed?;
            println!(
                "set the password of `{}`; their sessions are ended",
                args.username
            );
            Ok(())
        }
    }
}

/// Reads a new password: the first line of standard input, or (on a terminal) a prompt
/// without echo, asked twice. Checked for length before anything is written.
fn read_new_password(from_stdin: bool) -> Result<String, Failure> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| invalid(format!("cannot read the password from standard input: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        if !std::io::stdin().is_terminal() {
            return Err(invalid(
                "no terminal to ask for the password on: pass --password-stdin and write it \
                 to standard input",
            ));
        }
        let first = prompt_hidden("Password: ")?;
        check_password(&first).map_err(|e| invalid(e.to_string()))?;
        let second = prompt_hidden("Password again: ")?;
        if first != second {
            return Err(invalid("the two passwords differ; nothing was changed"));
        }
        first
    };
    check_password(&password).map_err(|e| invalid(e.to_string()))?;
    Ok(password)
}

/// Asks on the terminal with echo turned off (restored afterwards).
fn prompt_hidden(prompt: &str) -> Result<String, Failure> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it for a terminal file descriptor.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    let have_terminal = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
    if have_terminal {
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        quiet.c_lflag |= libc::ECHONL;
        // SAFETY: sets the attributes just read, with echo off, on the same descriptor.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if have_terminal {
        // SAFETY: restores the attributes read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    }
    read.map_err(|e| invalid(format!("cannot read the password: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
