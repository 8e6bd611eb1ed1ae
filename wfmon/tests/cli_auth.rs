//! `wfmon token ...` and `wfmon user ...`: the real binary on a real SQLite file. Tokens are
//! printed once and never again; the database holds only hashes; bad input is refused with
//! exit code 2 and changes nothing.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{text, wfmon};
use sqlx::Row;
use wfmon_model::*;
use wfmon_store::{DatabaseUrl, OpenMode, Store};

fn db_args(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("wfmon.db").display())
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let database = db_args(dir);
    let mut all = vec!["--database", database.as_str()];
    all.extend_from_slice(args);
    wfmon(dir, &all)
}

/// Runs with `input` on standard input.
fn run_with_input(dir: &Path, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wfmon"))
        .arg("--database")
        .arg(db_args(dir))
        .args(args)
        .current_dir(dir)
        .env_remove("WFMON_DATABASE_URL")
        .env_remove("WFMON_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

async fn store(dir: &Path) -> Store {
    Store::open(
        &DatabaseUrl::parse(&db_args(dir)).unwrap(),
        OpenMode::Existing,
    )
    .await
    .unwrap()
}

/// Every text value of every row of `table`, read with plain SQL (not through the records).
fn raw_rows(dir: &Path, table: &str) -> Vec<String> {
    let path = dir.join("wfmon.db");
    let table = table.to_owned();
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                use sqlx::Connection;
                let mut conn =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                let mut values = Vec::new();
                for row in rows {
                    for i in 0..row.len() {
                        if let Ok(Some(v)) = row.try_get::<Option<String>, _>(i) {
                            values.push(v);
                        }
                    }
                }
                values
            })
    })
    .join()
    .unwrap()
}

#[tokio::test]
async fn a_token_is_shown_once_and_stored_only_as_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "token",
            "create",
            "--name",
            "ci",
            "--role",
            "admin",
            "--expires",
            "90d",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let token = stdout.trim();
    assert!(token.starts_with("wfm_") && token.len() == 68, "{stdout}");
    assert!(
        text(&out).contains("shown only this once"),
        "{}",
        text(&out)
    );

    let rows = raw_rows(dir.path(), "api_tokens");
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|v| !v.contains(&token[4..])),
        "the plain token is in the database: {rows:?}"
    );
    assert!(rows.contains(&wfmon_store::sha256_hex(token)), "{rows:?}");

    let s = store(dir.path()).await;
    let stored = s.list_tokens().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].name.as_str(), stored[0].role),
        ("ci", Role::Admin)
    );
    let expires = stored[0].expires_at.expect("an expiry");
    let days = (expires.as_datetime() - Timestamp::now().as_datetime()).num_days();
    assert!((89..=90).contains(&days), "{days}");
    let found = s.authenticate_token(token, Timestamp::now()).await.unwrap();
    assert_eq!(found.map(|t| t.name), Some("ci".to_owned()));
    s.close().await;

    let out = run(dir.path(), &["token", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    let listing = text(&out);
    assert!(
        listing.contains("ci") && listing.contains("active"),
        "{listing}"
    );
    assert!(!listing.contains(&token[4..]), "the list shows the token");
    // Columns line up: each value starts where its heading does.
    let lines: Vec<&str> = listing.lines().collect();
    let (head, row) = (lines[0], lines[1]);
    for heading in ["ROLE", "STATE", "CREATED"] {
        let at = head.find(heading).unwrap();
        assert!(
            row[..at].ends_with(' ') && !row[at..].starts_with(' '),
            "{heading} column:\n{listing}"
        );
    }

    let out = run(dir.path(), &["token", "revoke", "ci"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&run(dir.path(), &["token", "list"])).contains("revoked"));
    let s = store(dir.path()).await;
    assert_eq!(
        s.authenticate_token(token, Timestamp::now()).await.unwrap(),
        None
    );
    s.close().await;
}

#[test]
fn bad_token_input_is_refused_with_exit_code_2_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["token", "create", "--name", "ci", "--role", "admin"],
    );
    assert!(out.status.success(), "{}", text(&out));
    for (args, expected) in [
        (vec!["--name", "x", "--role", "owner"], "--role `owner`"),
        (
            vec!["--name", "ci", "--role", "read"],
            "token `ci` already exists",
        ),
        (
            vec!["--name", "bad name", "--role", "read"],
            "token name `bad name`",
        ),
        (
            vec!["--name", "y", "--role", "read", "--expires", "soon"],
            "--expires",
        ),
    ] {
        let mut all = vec!["token", "create"];
        all.extend(args);
        let out = run(dir.path(), &all);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", text(&out));
        assert!(text(&out).contains(expected), "{all:?}: {}", text(&out));
        assert!(out.stdout.is_empty(), "no token printed");
    }
    let out = run(dir.path(), &["token", "revoke", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no token with id or name `nope`"));
    let names: Vec<String> = raw_rows(dir.path(), "api_tokens");
    assert_eq!(
        names.iter().filter(|v| v.starts_with("tok_")).count(),
        2,
        "one token (id and token_id): {names:?}"
    );
}

#[tokio::test]
async fn users_are_added_with_an_argon2id_hash_and_managed() {
    let dir = tempfile::tempdir().unwrap();
    let password = "correct horse battery";
    let out = run_with_input(
        dir.path(),
        &[
            "user",
            "add",
            "alice",
            "--role",
            "admin",
            "--password-stdin",
        ],
        &format!("{password}\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    let rows = raw_rows(dir.path(), "dashboard_users");
    assert!(rows.iter().all(|v| !v.contains(password)), "{rows:?}");
    assert!(rows.iter().any(|v| v.starts_with("$argon2id$")), "{rows:?}");

    let s = store(dir.path()).await;
    assert!(s.verify_login("alice", password).await.unwrap().is_some());
    assert!(
        s.verify_login("alice", "wrong password!")
            .await
            .unwrap()
            .is_none()
    );
    s.close().await;

    let listing = text(&run(dir.path(), &["user", "list"]));
    assert!(
        listing.contains("alice") && listing.contains("ADMIN"),
        "{listing}"
    );
    assert!(!listing.contains("argon2"), "{listing}");

    let out = run_with_input(
        dir.path(),
        &["user", "passwd", "alice", "--password-stdin"],
        "another long password\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    let s = store(dir.path()).await;
    assert!(s.verify_login("alice", password).await.unwrap().is_none());
    assert!(
        s.verify_login("alice", "another long password")
            .await
            .unwrap()
            .is_some()
    );
    s.close().await;

    let out = run(dir.path(), &["user", "remove", "alice"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(raw_rows(dir.path(), "dashboard_users").is_empty());
    let out = run(dir.path(), &["user", "remove", "alice"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn bad_user_input_is_refused_with_exit_code_2_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let add = |args: &[&str], input: &str| {
        let mut all = vec!["user", "add"];
        all.extend_from_slice(args);
        run_with_input(dir.path(), &all, input)
    };
    let out = add(
        &["bob", "--role", "read", "--password-stdin"],
        "long enough pass\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    let before = raw_rows(dir.path(), "dashboard_users");
    for (args, input, expected) in [
        (
            vec!["carol", "--role", "root", "--password-stdin"],
            "long enough pass\n",
            "--role `root`",
        ),
        (
            vec!["carol", "--role", "read", "--password-stdin"],
            "short\n",
            "too short: at least 12",
        ),
        (
            vec!["bob", "--role", "admin", "--password-stdin"],
            "long enough pass\n",
            "user `bob` already exists",
        ),
        // No terminal and no --password-stdin: nothing to ask on.
        (vec!["dave", "--role", "read"], "", "--password-stdin"),
    ] {
        let out = add(&args, input);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(expected), "{args:?}: {}", text(&out));
    }
    let out = run_with_input(
        dir.path(),
        &["user", "passwd", "bob", "--password-stdin"],
        "tiny\n",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        raw_rows(dir.path(), "dashboard_users"),
        before,
        "nothing changed"
    );
}
