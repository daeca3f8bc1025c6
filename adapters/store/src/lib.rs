//! `codeassist-store`: the credential file that never loses a token.
//!
//! It will hold the store trait and its default file implementation: a 0600 JSON file
//! replaced atomically under an exclusive lock, and the cross-process refresh protocol
//! (lock, re-read, refresh only if still needed, write).
#![forbid(unsafe_code)]
