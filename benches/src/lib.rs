//! Benchmarks of sre-harness: see `benches/` and the README.
