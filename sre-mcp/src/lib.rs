//! sre-mcp: skeleton, see README.md.
