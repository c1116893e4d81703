//! Benchmarks of next-fire computation: a placeholder until the criterion
//! benchmarks are written, so `cargo clippy --all-targets` builds it.

fn main() {}
