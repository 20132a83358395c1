//! Authentication: who is calling. Authorization is a separate step ([`crate::authz`]).

use std::collections::HashMap;

/// An authenticated user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

impl User {
    /// The identity of in-process callers (controllers running inside the server).
    pub fn loopback() -> Self {
        Self {
            name: "system:apiserver".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        }
    }
}

/// What the TLS layer learned about a connection; inserted into every request it carries.
/// Requests without it come from inside the process (the router used as a client).
#[derive(Clone, Debug)]
pub struct ConnectionIdentity(pub Option<User>);

/// Static bearer tokens (e.g. the cluster token) and the users they stand for.
#[derive(Clone, Debug, Default)]
pub struct TokenAuthenticator {
    tokens: HashMap<String, User>,
}

impl TokenAuthenticator {
    pub fn new(tokens: impl IntoIterator<Item = (String, User)>) -> Self {
        Self {
            tokens: tokens.into_iter().collect(),
        }
    }

    /// The user of an `Authorization: Bearer …` header value, if valid.
    pub fn authenticate(&self, header: &str) -> Option<User> {
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))?
            .trim();
        self.tokens.get(token).cloned()
    }
}

/// The outcome of authentication for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    User(User),
    Anonymous,
    /// A bearer token was presented but is not valid.
    InvalidToken,
}

/// Decide who is calling: client certificate, then bearer token; in-process callers are trusted.
pub fn authenticate(
    conn: Option<&ConnectionIdentity>,
    authorization: Option<&str>,
    tokens: &TokenAuthenticator,
) -> Caller {
    let Some(conn) = conn else {
        return Caller::User(User::loopback());
    };
    if let Some(user) = &conn.0 {
        return Caller::User(user.clone());
    }
    match authorization {
        Some(h) => match tokens.authenticate(h) {
            Some(u) => Caller::User(u),
            None => Caller::InvalidToken,
        },
        None => Caller::Anonymous,
    }
}
