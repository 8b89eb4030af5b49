//! Test modes for authentication: HTTP basic, or bearer tokens from this registry's own
//! `/token` endpoint (the Docker token flow, simplified).

use super::http::{error, Req, R};
use super::route::Route;
use super::state::State;
use base64::Engine;
use hyper::Method;

#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// Every request needs `Authorization: Basic` with these credentials.
    Basic { user: String, password: String },
    /// Every request needs a bearer token; `/token` hands them out for these basic credentials.
    Token { user: String, password: String },
}

pub const SERVICE: &str = "oci-conformance";

/// Passwords never appear in Debug output (Options is Debug).
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Basic { user, .. } => {
                write!(f, "Basic {{ user: {user:?}, password: [REDACTED] }}")
            }
            Auth::Token { user, .. } => {
                write!(f, "Token {{ user: {user:?}, password: [REDACTED] }}")
            }
        }
    }
}

fn creds(a: &Auth) -> (&str, &str) {
    match a {
        Auth::Basic { user, password } | Auth::Token { user, password } => (user, password),
    }
}

fn basic_ok(req: &Req, user: &str, password: &str) -> bool {
    let Some(v) = req.h("authorization") else {
        return false;
    };
    let Some(b64) = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    raw == format!("{user}:{password}").as_bytes()
}

fn unauthorized(challenge: String) -> R {
    error(401, "UNAUTHORIZED", "authentication required").header("www-authenticate", challenge)
}

/// None: the request may go on. Some: the 401 (or 403 for a refused scope) to answer.
pub fn check(st: &State, req: &Req, route: &Route) -> Option<R> {
    let auth = st.opts.auth.as_ref()?;
    let name = route.name();
    let action = if matches!(req.method, Method::GET | Method::HEAD) {
        "pull"
    } else {
        "push"
    };
    if st.opts.anonymous_pull && action == "pull" {
        return None;
    }
    match auth {
        Auth::Basic { user, password } => {
            if !basic_ok(req, user, password) {
                Some(unauthorized(format!("Basic realm=\"{SERVICE}\"")))
            } else if name.is_some_and(|n| refused(st, n, action)) {
                Some(error(403, "DENIED", "requested access to the resource is denied"))
            } else {
                None
            }
        }
        Auth::Token { .. } => {
            let granted = req
                .h("authorization")
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .and_then(|t| st.tokens.lock().ok().and_then(|m| m.get(t.trim()).cloned()));
            let ok = match (&granted, name) {
                (None, _) => false,
                // /v2/ only needs a valid token.
                (Some(_), None) => true,
                (Some(scopes), Some(n)) => scopes.iter().any(|s| scope_allows(s, n, action)),
            };
            if ok {
                return None;
            }
            let base = st.self_base.lock().map(|b| b.clone()).unwrap_or_default();
            let mut ch = format!("Bearer realm=\"{base}/token\",service=\"{SERVICE}\"");
            if let Some(n) = name {
                ch.push_str(&format!(",scope=\"repository:{n}:pull,push\""));
            }
            if granted.is_some() {
                ch.push_str(",error=\"insufficient_scope\"");
            }
            Some(unauthorized(ch))
        }
    }
}

/// True when `Options::refuse_scopes` withholds `action` on repository `name`.
fn refused(st: &State, name: &str, action: &str) -> bool {
    st.opts
        .refuse_scopes
        .iter()
        .any(|s| scope_allows(s, name, action))
}

/// A requested scope less the actions `Options::refuse_scopes` withholds (None: nothing left).
fn grantable(st: &State, scope: &str) -> Option<String> {
    let Some((head, actions)) = scope.rsplit_once(':') else {
        return Some(scope.to_string());
    };
    let Some(name) = head.strip_prefix("repository:") else {
        return Some(scope.to_string());
    };
    let kept: Vec<&str> = actions
        .split(',')
        .filter(|a| !refused(st, name, a))
        .collect();
    (!kept.is_empty()).then(|| format!("{head}:{}", kept.join(",")))
}

/// `repository:<name>:<action>[,<action>…]` grants `action` on `name` (`*` grants all;
/// `delete` also allows the non-GET methods).
fn scope_allows(scope: &str, name: &str, action: &str) -> bool {
    let mut parts = scope.rsplitn(2, ':');
    let (Some(actions), Some(head)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Some(n) = head.strip_prefix("repository:") else {
        return false;
    };
    n == name
        && actions
            .split(',')
            .any(|a| a == action || a == "*" || (action == "push" && a == "delete"))
}

/// `GET /token?service=…&scope=…` with basic credentials → `{"token": …}`.
pub fn token_endpoint(st: &State, req: &Req) -> R {
    let Some(auth @ Auth::Token { .. }) = &st.opts.auth else {
        return error(404, "UNSUPPORTED", "no token service here");
    };
    let (user, password) = creds(auth);
    if !basic_ok(req, user, password) {
        return unauthorized(format!("Basic realm=\"{SERVICE}\""));
    }
    let scopes: Vec<String> = req
        .q_all("scope")
        .iter()
        .flat_map(|s| s.split(' '))
        .filter(|s| !s.is_empty())
        .filter_map(|s| grantable(st, s))
        .collect();
    use rand::RngCore;
    let mut b = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut b);
    let token = hex::encode(b);
    if let Ok(mut m) = st.tokens.lock() {
        m.insert(token.clone(), scopes);
    }
    R::new(200)
        .json(&serde_json::json!({ "token": token, "access_token": token, "expires_in": 3600 }))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn scopes() {
        assert!(scope_allows("repository:a/b:pull,push", "a/b", "push"));
        assert!(scope_allows("repository:a/b:pull", "a/b", "pull"));
        assert!(!scope_allows("repository:a/b:pull", "a/b", "push"));
        assert!(!scope_allows("repository:a:pull", "a/b", "pull"));
        assert!(scope_allows("repository:a:*", "a", "push"));
        assert!(!scope_allows("registry:catalog:*", "a", "pull"));
    }
}
