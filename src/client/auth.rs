//! Authentication: basic credentials, the Docker bearer-token flow (one token per scope set,
//! cached, renewed early, never handed out again once refused), and what a 401 or 403 means
//! for the run (refused access is marked on the exchange, see runner).

use super::request::{Body, Read};
use super::response::{cancelled, herr, ErrorKind, HttpError, Response};
use super::scopes::{merge_scopes, scope_note};
use super::Client;
use crate::headers::{self, Challenge};
use crate::trace::{redact_url, register_secret, Exchange, TraceSink};
use reqwest::Method;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use url::Url;

/// A bearer token and what it was asked for.
#[derive(Clone)]
pub(super) struct Token {
    value: String,
    scopes: Vec<String>,
    expires: Instant,
}

#[derive(Default)]
pub(super) struct AuthState {
    /// The registry's last challenge: decides what later requests send up front.
    pub(super) challenge: Option<Challenge>,
    /// Bearer tokens by scope key (see `scopes::scope_key`).
    pub(super) tokens: HashMap<String, Token>,
}

/// What to do with a 401.
enum AuthStep {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    GiveUp(String),
}

impl Client {
    /// Answers a 401 from the registry's origin: with basic credentials, or a token fetched for
    /// the request's scopes (and any the challenge names). True: send again. False: the 401
    /// stands (no credentials, refused ones, a challenge the harness cannot answer); the
    /// exchange says why and is marked refused. The exchange goes to the trace either way.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn answer_401(
        &self,
        resp: &Response,
        mut ex: Exchange,
        sent: Option<&str>,
        answered: &mut bool,
        scopes: &[String],
        key: &str,
        describe: &str,
        trace: &TraceSink,
    ) -> Result<bool, HttpError> {
        match self.auth_step(resp, sent, *answered) {
            AuthStep::GiveUp(why) => {
                ex.refused = Some(format!("{describe} answered 401{}: {why}", scope_note(scopes)));
                ex.notes.push(why);
                trace.push(ex);
                Ok(false)
            }
            AuthStep::Basic => {
                *answered = true;
                let user = self.opts.username.clone().unwrap_or_default();
                ex.notes.push(format!("401 with a Basic challenge: retrying with the credentials of user {user:?}"));
                trace.push(ex);
                self.auth.lock().unwrap().challenge = Some(Challenge::Basic { realm: None });
                Ok(true)
            }
            AuthStep::Bearer { realm, service, scope } => {
                *answered = true;
                let previous = self.auth.lock().unwrap().tokens.get(key).map(|t| t.scopes.clone()).unwrap_or_default();
                let wanted = merge_scopes(
                    scopes
                        .iter()
                        .chain(previous.iter())
                        .map(String::as_str)
                        .chain(scope.iter().flat_map(|s| s.split_whitespace())),
                );
                ex.notes.push(format!("401 with a Bearer challenge: asking {} for a token{}", redact_url(&realm), scope_note(&wanted)));
                trace.push(ex);
                self.auth.lock().unwrap().challenge =
                    Some(Challenge::Bearer { realm: realm.clone(), service: service.clone(), scope: None });
                let rejected = sent.and_then(|a| a.strip_prefix("Bearer "));
                self.fetch_token(&realm, service.as_deref(), &wanted, key, rejected, describe, trace).await?;
                Ok(true)
            }
        }
    }

    /// Why a 403 from the registry's origin is a refusal of the run's access.
    pub(super) fn forbidden(&self, describe: &str, scopes: &[String]) -> String {
        let who = match &self.opts.username {
            Some(u) => format!("user {u:?}"),
            None => "anonymous access".to_string(),
        };
        format!("{describe} answered 403 Forbidden{}: the registry denies this to {who}", scope_note(scopes))
    }

    /// How to answer a 401 from the registry's origin.
    fn auth_step(&self, resp: &Response, sent: Option<&str>, answered: bool) -> AuthStep {
        let challenges: Vec<Challenge> = resp
            .header_all("www-authenticate")
            .iter()
            .flat_map(|v| headers::parse_challenges(v))
            .collect();
        let user = self.opts.username.as_deref().unwrap_or("");
        let sent_basic = sent.map(|a| a.starts_with("Basic ")).unwrap_or(false);
        let no_creds = "the registry requires authentication and no credentials were given";
        if answered {
            return AuthStep::GiveUp(match sent {
                Some(a) if a.starts_with("Basic ") => format!("the registry refused the credentials of user {user:?}"),
                Some(_) if self.basic.is_none() => format!("401 again with an anonymous token: {no_creds}"),
                Some(_) => format!("401 again with the token just issued for user {user:?}: the token service granted less than this request needs"),
                None => no_creds.to_string(),
            });
        }
        let bearer = challenges.iter().find_map(|c| match c {
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => Some(AuthStep::Bearer {
                realm: realm.clone(),
                service: service.clone(),
                scope: scope.clone(),
            }),
            _ => None,
        });
        if let Some(b) = bearer {
            return b;
        }
        if challenges
            .iter()
            .any(|c| matches!(c, Challenge::Basic { .. }))
        {
            return match (&self.basic, sent_basic) {
                (None, _) => AuthStep::GiveUp(no_creds.to_string()),
                (Some(_), true) => AuthStep::GiveUp(format!(
                    "the registry refused the credentials of user {user:?}"
                )),
                (Some(_), false) => AuthStep::Basic,
            };
        }
        AuthStep::GiveUp(if challenges.is_empty() {
            "401 without a WWW-Authenticate challenge the harness can answer (Basic or Bearer)"
                .to_string()
        } else {
            "401 with a challenge the harness cannot answer".to_string()
        })
    }

    /// The Authorization value for a request to the registry's origin, from what earlier
    /// challenges taught: basic credentials, or a bearer token for the request's scopes
    /// (fetched now if there is none yet: this saves a 401 per repository).
    pub(super) async fn authorization(
        &self,
        scopes: &[String],
        key: &str,
        trace: &TraceSink,
    ) -> Result<Option<String>, HttpError> {
        let (challenge, cached) = {
            let st = self.auth.lock().unwrap();
            (
                st.challenge.clone(),
                st.tokens
                    .get(key)
                    .filter(|t| t.expires > Instant::now())
                    .map(|t| t.value.clone()),
            )
        };
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic { .. }) => Ok(self.basic.clone()),
            Some(Challenge::Bearer { realm, service, .. }) => {
                if let Some(t) = cached {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let t = self
                    .fetch_token(&realm, service.as_deref(), scopes, key, None, "", trace)
                    .await?;
                Ok(Some(format!("Bearer {t}")))
            }
        }
    }

    /// Docker token flow: `GET realm?service=…&scope=…` (with basic credentials if any);
    /// the token is cached under `key` and registered as a secret. `rejected` is a token the
    /// registry just refused: never handed out again.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        key: &str,
        rejected: Option<&str>,
        describe: &str,
        trace: &TraceSink,
    ) -> Result<String, HttpError> {
        let _one = tokio::select! {
            g = self.token_fetch.lock() => g,
            _ = self.cancel.cancelled() => return Err(cancelled()),
        };
        // Another check may have fetched it while this one waited.
        if let Some(t) = self.auth.lock().unwrap().tokens.get(key) {
            if t.expires > Instant::now()
                && Some(t.value.as_str()) != rejected
                && scopes.iter().all(|s| t.scopes.contains(s))
            {
                return Ok(t.value.clone());
            }
        }
        let prefix = if describe.is_empty() {
            String::new()
        } else {
            format!("{describe}: ")
        };
        let fail = |m: String| {
            herr(
                ErrorKind::Auth,
                format!("{prefix}authentication failed: {m}"),
            )
        };
        let mut url = match Url::parse(realm).or_else(|_| self.base.join(realm)) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => {
                return Err(fail(format!(
                    "the Bearer challenge's realm {:?} is not an http(s) URL",
                    redact_url(realm)
                )))
            }
        };
        if self.basic.is_some() && self.base.scheme() == "https" && url.scheme() == "http" {
            return Err(fail(format!("the token service {} is plain http while the registry is https: credentials are not sent in the clear", redact_url(url.as_str()))));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in scopes {
                q.append_pair("scope", s);
            }
        }
        let hint = if self.basic.is_some() {
            format!(
                ": it refused the credentials of user {:?}",
                self.opts.username.as_deref().unwrap_or("")
            )
        } else {
            ": no credentials were given".to_string()
        };
        let (resp, mut ex) = self
            .exchange(
                &Method::GET,
                &url,
                &[],
                Read::Buffer,
                &Body::Empty,
                self.basic.as_deref(),
                describe,
                trace,
            )
            .await?;
        let token = if resp.status == 200 {
            serde_json::from_slice::<serde_json::Value>(&resp.body)
                .ok()
                .and_then(|v| {
                    let t = v
                        .get("token")
                        .or_else(|| v.get("access_token"))
                        .and_then(|t| t.as_str())
                        .filter(|t| !t.is_empty())?
                        .to_string();
                    // Docker token spec: expires_in defaults to 60 s.
                    let life = v
                        .get("expires_in")
                        .and_then(|e| e.as_u64())
                        .unwrap_or(60)
                        .clamp(1, 24 * 3600);
                    Some((t, life))
                })
        } else {
            None
        };
        let Some((token, life)) = token else {
            let m = if resp.status == 200 {
                format!(
                    "the token service {} answered 200 without a token in a JSON body",
                    redact_url(url.as_str())
                )
            } else {
                format!(
                    "the token service {} answered {}{}{hint}",
                    redact_url(url.as_str()),
                    resp.status,
                    scope_note(scopes)
                )
            };
            ex.notes.push(m.clone());
            if matches!(resp.status, 401 | 403) {
                ex.refused = Some(format!("{prefix}{m}"));
            }
            trace.push(ex);
            return Err(fail(m));
        };
        // Registered before the exchange is stored: a trace must never hold it.
        register_secret(&token);
        ex.notes.push(format!(
            "bearer token issued{}, valid {life} s",
            scope_note(scopes)
        ));
        trace.push(ex);
        // Renew a little early, so a token does not expire between the check and the use.
        let life = Duration::from_secs(life);
        let expires = Instant::now() + life - (life / 10).min(Duration::from_secs(10));
        self.auth.lock().unwrap().tokens.insert(
            key.to_string(),
            Token {
                value: token.clone(),
                scopes: scopes.to_vec(),
                expires,
            },
        );
        Ok(token)
    }
}
