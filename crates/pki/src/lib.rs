//! PKI (helper writes).
