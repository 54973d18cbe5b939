//! Reference agents for sre-harness. The `investigate` binary is the main one; this library
//! holds what the binaries share, such as the sample service they investigate.

pub mod sample_service;
