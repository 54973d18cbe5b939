//! sre-context: skeleton, see README.md.
