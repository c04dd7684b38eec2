//! The `orgwatch` binary: a thin shell around [`orgwatch::cli::run`].
#![forbid(unsafe_code)]

/// jemalloc rather than the system allocator: a scan of many accounts allocates and frees small
/// objects on every worker thread at once (requests, answers, evidence), which glibc's malloc
/// serves with locks and consolidation (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    orgwatch::cli::run()
}
