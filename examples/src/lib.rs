//! Reference agents for sre-harness. The `investigate` binary is the main one; this library
//! holds what the binaries share, such as the sample service they investigate.

pub mod investigate;
pub mod sample_service;

/// The README's code blocks, compiled as doc tests of this crate (it depends on every
/// library crate the README uses).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
