//! sre-py: skeleton, see README.md.
