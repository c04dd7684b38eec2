//! The gate in front of `orgwatch query`: SQLite itself says whether a statement is read-only,
//! before anything runs.
//!
//! The statement is compiled (never stepped) with `sqlite3_prepare_v2` while an authorizer
//! (`sqlite3_set_authorizer`) is installed. It is refused when:
//! - SQLite does not report it read-only (`sqlite3_stmt_readonly`): INSERT, UPDATE, DELETE,
//!   DDL, `VACUUM` (and `VACUUM INTO`, which would create a file), `REINDEX`, `ANALYZE`, a
//!   checkpoint, a journal-mode change;
//! - the authorizer denies something that `sqlite3_stmt_readonly` reports read-only by design:
//!   `ATTACH` and `DETACH` (another database file), a `PRAGMA` outside the introspection ones
//!   (an assignment changes the connection), temporary tables, views, indexes and triggers,
//!   virtual tables, and transaction control (`BEGIN`, `SAVEPOINT`, …);
//! - the text holds more than one statement, or a NUL character.
//!
//! Only the text that was checked is handed on to be run. The connection is also opened
//! read-only with `query_only`, so a statement that got past this gate still could not write.
//!
//! The `unsafe` here is the FFI to the SQLite library that sqlx links (`libsqlite3-sys`),
//! called on sqlx's own handle while sqlx's worker is locked out (`lock_handle`). It is kept
//! to [`check`] and [`authorize`]; each block says what it relies on.
#![allow(unsafe_code)]

use libsqlite3_sys as ffi;
use sqlx::SqliteConnection;
use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;

/// Why a statement may not run.
#[derive(Debug)]
pub enum Verdict {
    /// Runs as is: the text of the one statement (without anything after it) and the names of
    /// its result columns.
    Run { statement: String, columns: Vec<String> },
    /// Refused before anything ran; the message says why.
    Refused(String),
    /// SQLite could not compile it (a syntax error, an unknown table).
    Invalid(String),
}

/// Pragmas that only describe the schema or the file; every other pragma is refused, and these
/// only where they take no argument or (for the per-table ones) a table or index name.
const PRAGMAS_WITHOUT_ARGUMENT: &[&str] = &[
    "application_id",
    "collation_list",
    "compile_options",
    "data_version",
    "database_list",
    "encoding",
    "foreign_key_check",
    "foreign_keys",
    "freelist_count",
    "function_list",
    "integrity_check",
    "module_list",
    "page_count",
    "page_size",
    "pragma_list",
    "quick_check",
    "schema_version",
    "table_list",
    "user_version",
];
const PRAGMAS_WITH_ARGUMENT: &[&str] =
    &["foreign_key_check", "foreign_key_list", "index_info", "index_list", "index_xinfo", "integrity_check", "quick_check", "table_info", "table_list", "table_xinfo"];

/// What the authorizer refused first, for the message.
#[derive(Default)]
struct Denials {
    first: Option<String>,
}

/// Compiles `sql` on `conn` without running it and says whether it may run.
pub async fn check(conn: &mut SqliteConnection, sql: &str) -> Result<Verdict, sqlx::Error> {
    if sql.contains('\0') {
        return Ok(Verdict::Refused("the query contains a NUL character".into()));
    }
    let Ok(length) = c_int::try_from(sql.len()) else {
        return Ok(Verdict::Refused("the query is too long".into()));
    };
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let denials = RefCell::new(Denials::default());
    let start = sql.as_ptr().cast::<c_char>();

    // SAFETY: `db` is sqlx's open connection and, while `handle` lives, sqlx's worker makes no
    // call on it, so this thread is its only user. `denials` outlives the authorizer: it is
    // installed and removed within this block, which does not await, and `authorize` only
    // reaches `denials` through the pointer while SQLite compiles on this thread. Every
    // statement prepared here is finalized here; `sql` outlives each call that reads it,
    // `length` bounds the reads and the tails SQLite returns point into `sql`.
    let verdict = unsafe {
        ffi::sqlite3_set_authorizer(db, Some(authorize), ptr::from_ref(&denials).cast_mut().cast::<c_void>());
        let mut statement: *mut ffi::sqlite3_stmt = ptr::null_mut();
        let mut tail: *const c_char = ptr::null();
        let rc = ffi::sqlite3_prepare_v2(db, start, length, &mut statement, &mut tail);
        let first_end = if tail.is_null() { sql.len() } else { usize::try_from(tail.offset_from(start)).unwrap_or(sql.len()).min(sql.len()) };
        let verdict = if rc != ffi::SQLITE_OK {
            let message = CStr::from_ptr(ffi::sqlite3_errmsg(db)).to_string_lossy().into_owned();
            match denials.borrow_mut().first.take() {
                Some(denied) => Verdict::Refused(denied),
                None => Verdict::Invalid(message),
            }
        } else if statement.is_null() {
            Verdict::Refused("the query is empty".into())
        } else if ffi::sqlite3_stmt_readonly(statement) == 0 {
            Verdict::Refused(format!(
                "SQLite reports that this {} statement can write; the database is read-only here: only statements SQLite reports as read-only run (SELECT, WITH … SELECT, VALUES, EXPLAIN, introspection PRAGMAs)",
                leading_keyword(sql.get(..first_end).unwrap_or(sql))
            ))
        } else {
            match more_statements(db, sql, first_end) {
                Some(offset) => Verdict::Refused(format!("one statement at a time: more follows the first one, at character {}", sql.get(..offset).map_or(offset, |s| s.chars().count()) + 1)),
                None => Verdict::Run { statement: sql.get(..first_end).unwrap_or(sql).to_owned(), columns: column_names(statement) },
            }
        };
        ffi::sqlite3_finalize(statement);
        ffi::sqlite3_set_authorizer(db, None, ptr::null_mut());
        verdict
    };
    Ok(verdict)
}

/// The names of a prepared statement's result columns.
///
/// # Safety
/// `statement` is a prepared, not yet finalized statement used by this thread only.
unsafe fn column_names(statement: *mut ffi::sqlite3_stmt) -> Vec<String> {
    // SAFETY: see the function's contract; SQLite returns null (out of memory) or a
    // NUL-terminated name that lives until the statement is finalized, and it is copied here.
    unsafe {
        (0..ffi::sqlite3_column_count(statement))
            .map(|i| {
                let name = ffi::sqlite3_column_name(statement, i);
                if name.is_null() { format!("column{}", i + 1) } else { CStr::from_ptr(name).to_string_lossy().into_owned() }
            })
            .collect()
    }
}

/// Where a second statement starts in `sql` after `from`, if anything but blanks, comments and
/// semicolons follows.
///
/// # Safety
/// `db` is an open connection used by this thread only.
unsafe fn more_statements(db: *mut ffi::sqlite3, sql: &str, mut from: usize) -> Option<usize> {
    while from < sql.len() {
        // SQLite's tails fall between tokens; a tail inside a character would be a bug, and the
        // text is then refused rather than split.
        let Some(rest) = sql.get(from..) else { return Some(from) };
        let start = rest.as_ptr().cast::<c_char>();
        let length = c_int::try_from(rest.len()).unwrap_or(c_int::MAX);
        let mut statement: *mut ffi::sqlite3_stmt = ptr::null_mut();
        let mut tail: *const c_char = ptr::null();
        // SAFETY: as in `check`; the statement is finalized before the next iteration.
        let (rc, consumed) = unsafe {
            let rc = ffi::sqlite3_prepare_v2(db, start, length, &mut statement, &mut tail);
            let found = !statement.is_null();
            ffi::sqlite3_finalize(statement);
            let consumed = if tail.is_null() { rest.len() } else { usize::try_from(tail.offset_from(start)).unwrap_or(rest.len()) };
            (if found { ffi::SQLITE_ERROR } else { rc }, consumed)
        };
        if rc != ffi::SQLITE_OK || consumed == 0 {
            // A statement, or text that is not one: either way not blanks and comments.
            return Some(from + rest.len() - rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';').len());
        }
        from += consumed;
    }
    None
}

/// The authorizer: denies what `sqlite3_stmt_readonly` reports read-only but a read-only
/// query must not do, and records the first denial's reason.
///
/// # Safety
/// Called by SQLite while `check` compiles; `context` is `check`'s `RefCell<Denials>`, and the
/// strings are null or NUL-terminated.
unsafe extern "C" fn authorize(context: *mut c_void, action: c_int, arg1: *const c_char, arg2: *const c_char, _database: *const c_char, _trigger: *const c_char) -> c_int {
    // SAFETY: see the function's contract.
    let text = |p: *const c_char| if p.is_null() { None } else { Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()) };
    let reason = match action {
        ffi::SQLITE_ATTACH => Some(format!("ATTACH opens another database file ({}); only orgwatch's own database is read here", text(arg1).unwrap_or_default())),
        ffi::SQLITE_DETACH => Some("DETACH changes the connection's databases; only orgwatch's own database is read here".to_owned()),
        ffi::SQLITE_PRAGMA => {
            let name = text(arg1).unwrap_or_default().to_ascii_lowercase();
            match text(arg2) {
                None if PRAGMAS_WITHOUT_ARGUMENT.contains(&name.as_str()) => None,
                Some(_) if PRAGMAS_WITH_ARGUMENT.contains(&name.as_str()) => None,
                Some(value) => Some(format!("PRAGMA {name} with a value ({value}) changes the connection or the file; the database is read-only here: only introspection pragmas (table_info, index_list, integrity_check, …) run")),
                None => Some(format!("PRAGMA {name} is not an introspection pragma; the database is read-only here: only table_info, index_list, integrity_check and the like run")),
            }
        }
        ffi::SQLITE_CREATE_TEMP_TABLE
        | ffi::SQLITE_CREATE_TEMP_VIEW
        | ffi::SQLITE_CREATE_TEMP_INDEX
        | ffi::SQLITE_CREATE_TEMP_TRIGGER
        | ffi::SQLITE_DROP_TEMP_TABLE
        | ffi::SQLITE_DROP_TEMP_VIEW
        | ffi::SQLITE_DROP_TEMP_INDEX
        | ffi::SQLITE_DROP_TEMP_TRIGGER => Some(format!("temporary objects ({}) are not created or dropped; the database is read-only here", text(arg1).unwrap_or_default())),
        ffi::SQLITE_CREATE_VTABLE | ffi::SQLITE_DROP_VTABLE => Some("virtual tables are not created or dropped; the database is read-only here".to_owned()),
        ffi::SQLITE_TRANSACTION | ffi::SQLITE_SAVEPOINT => {
            Some(format!("transaction control ({}) is not needed: each query runs on its own, read-only", text(arg1).unwrap_or_default()))
        }
        _ => None,
    };
    match reason {
        None => ffi::SQLITE_OK,
        Some(reason) => {
            // SAFETY: see the function's contract; no other borrow of the cell is alive while
            // SQLite compiles.
            let denials = unsafe { &*context.cast_const().cast::<RefCell<Denials>>() };
            if let Ok(mut denials) = denials.try_borrow_mut() {
                denials.first.get_or_insert(reason);
            }
            ffi::SQLITE_DENY
        }
    }
}

/// The statement's first keyword (after comments), upper-cased, for messages.
fn leading_keyword(sql: &str) -> String {
    let mut rest = sql.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            break;
        }
    }
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    if word.is_empty() { "SQL".to_owned() } else { word.to_ascii_uppercase() }
}
