//! sre-tools: skeleton, see README.md.
