//! `codeassist-benches`: criterion benchmarks of codeassist.
//!
//! The benchmarks live in `benches/` beside this file: the envelope parser and
//! classifier, the retry policy, whole flows driven in memory, and the drivers over
//! loopback against the emulator. This library is empty on purpose.
#![forbid(unsafe_code)]
