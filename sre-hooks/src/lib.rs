//! sre-hooks: skeleton, see README.md.
