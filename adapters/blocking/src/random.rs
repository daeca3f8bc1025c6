//! The operating system's random numbers, as the core flows take them.

use rand_core::UnwrapErr;

/// The OS random source (`getrandom`), infallible as core's APIs want it.
///
/// The OS source does not fail on any supported platform once the process runs; if
/// it ever did, drawing from it panics rather than handing out predictable secrets.
pub fn os_random() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}
