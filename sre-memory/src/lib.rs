//! sre-memory: skeleton, see README.md.
