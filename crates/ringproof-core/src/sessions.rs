//! Placeholder: login sessions (access tokens) and the login lockout rule (being written).
