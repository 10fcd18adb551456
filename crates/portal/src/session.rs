//! Signing in to an owner's portal: the portal secret, session cookies and CSRF tokens.
//!
//! The secret is created at the broker's first start with `--portal`, kept in
//! `portal.secret` (mode 0600) in the broker's data directory, printed once and shown again by
//! `sealroom portal secret`. Signing in exchanges it for a session: a random token in an
//! `HttpOnly`, `SameSite=Strict` cookie (`Secure` when the portal is reached over TLS) whose name
//! carries the owner's fingerprint, so two owners' portals on one machine never overwrite each
//! other's session (browsers still send a host name's cookies to every port).
//! Each session has its own CSRF token, which every form carries. Sessions live in memory: a
//! restarted broker signs everyone out.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use sha2::{Digest, Sha256};

/// The file, in the broker's data directory, that holds the portal secret.
pub const SECRET_FILE: &str = "portal.secret";

/// How long a session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Sessions kept at most; starting one more ends the oldest.
const MAX_SESSIONS: usize = 64;

/// Wrong secrets accepted per minute before sign-in waits.
const MAX_FAILURES_PER_MINUTE: usize = 10;

/// The portal secret could not be read or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Reading or writing the file failed.
    #[error("portal secret {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file does not hold a secret this portal wrote.
    #[error("portal secret {}: not a secret sealroom wrote (64 hex digits)", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
    },
    /// Others may read the file.
    #[error(
        "portal secret {}: readable by others (mode {mode:o}); `chmod 600` it, or delete it to get a new one",
        path.display()
    )]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// The secret an owner signs in with.
pub struct PortalSecret {
    secret: String,
}

impl std::fmt::Debug for PortalSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PortalSecret(..)")
    }
}

impl PortalSecret {
    /// Reads the secret kept in `data_dir`, or creates one; says whether it was created.
    pub fn open_or_create(data_dir: &Path) -> Result<(Self, bool), SecretError> {
        let path = data_dir.join(SECRET_FILE);
        if path.exists() {
            return Ok((Self::read(data_dir)?, false));
        }
        let secret = hex::encode(sealroom_crypto::random::array::<32>());
        let io = |source| SecretError::Io {
            path: path.clone(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(io)?;
        file.write_all(format!("{secret}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io)?;
        Ok((Self { secret }, true))
    }

    /// Reads the secret kept in `data_dir`.
    pub fn read(data_dir: &Path) -> Result<Self, SecretError> {
        let path = data_dir.join(SECRET_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| SecretError::Io {
            path: path.clone(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .map_err(|source| SecretError::Io {
                    path: path.clone(),
                    source,
                })?
                .permissions()
                .mode()
                & 0o777;
            if mode & 0o077 != 0 {
                return Err(SecretError::Exposed { path, mode });
            }
        }
        let secret = text.trim();
        if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SecretError::Malformed { path });
        }
        Ok(Self {
            secret: secret.to_string(),
        })
    }

    /// The secret, to show its owner.
    pub fn reveal(&self) -> &str {
        &self.secret
    }

    /// Whether `offered` is the secret. Compares SHA-256 digests, so the time taken says
    /// nothing about how much of a guess was right.
    pub fn matches(&self, offered: &str) -> bool {
        Sha256::digest(offered.trim().as_bytes()) == Sha256::digest(self.secret.as_bytes())
    }
}

/// A signed-in session, as a request presents it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token every form of this session must carry.
    pub csrf: String,
}

struct Entry {
    csrf: String,
    started: Instant,
}

/// The portal's sessions and sign-in attempts.
pub struct Sessions {
    cookie_name: String,
    secure: bool,
    live: Mutex<HashMap<[u8; 32], Entry>>,
    failures: Mutex<VecDeque<Instant>>,
}

impl Sessions {
    /// Sessions whose cookie is named after `owner_tag` (a short form of the owner's
    /// fingerprint); `secure` marks cookies `Secure` (the portal is reached over TLS).
    pub fn new(owner_tag: &str, secure: bool) -> Self {
        Self {
            cookie_name: format!("sealroom-portal-{owner_tag}"),
            secure,
            live: Mutex::new(HashMap::new()),
            failures: Mutex::new(VecDeque::new()),
        }
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// Starts a session; returns the `Set-Cookie` value.
    pub fn start(&self) -> String {
        let token = hex::encode(sealroom_crypto::random::array::<32>());
        let csrf = hex::encode(sealroom_crypto::random::array::<32>());
        let mut live = lock(&self.live);
        live.retain(|_, e| e.started.elapsed() < SESSION_LIFETIME);
        if live.len() >= MAX_SESSIONS
            && let Some(oldest) = live.iter().min_by_key(|(_, e)| e.started).map(|(k, _)| *k)
        {
            live.remove(&oldest);
        }
        live.insert(
            token_key(&token),
            Entry {
                csrf,
                started: Instant::now(),
            },
        );
        self.cookie(&token, SESSION_LIFETIME.as_secs())
    }

    /// The session the request's cookie names, if it is live.
    pub fn find(&self, headers: &HeaderMap) -> Option<Session> {
        let token = self.token(headers)?;
        let mut live = lock(&self.live);
        let key = token_key(&token);
        match live.get(&key) {
            Some(e) if e.started.elapsed() < SESSION_LIFETIME => Some(Session {
                csrf: e.csrf.clone(),
            }),
            Some(_) => {
                live.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the request's session; returns the `Set-Cookie` value that clears the cookie.
    pub fn end(&self, headers: &HeaderMap) -> String {
        if let Some(token) = self.token(headers) {
            lock(&self.live).remove(&token_key(&token));
        }
        self.cookie("", 0)
    }

    /// Whether a sign-in may be tried now: after 10 wrong secrets in
    /// a minute, not until the oldest of them is a minute old.
    pub fn may_try(&self) -> bool {
        let mut failures = lock(&self.failures);
        while failures
            .front()
            .is_some_and(|t| t.elapsed() >= Duration::from_secs(60))
        {
            failures.pop_front();
        }
        failures.len() < MAX_FAILURES_PER_MINUTE
    }

    /// Counts a wrong secret.
    pub fn failed(&self) {
        lock(&self.failures).push_back(Instant::now());
    }

    fn token(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == self.cookie_name)
            .map(|(_, value)| value.to_string())
    }

    fn cookie(&self, token: &str, max_age: u64) -> String {
        format!(
            "{}={token}; Path=/portal; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
            self.cookie_name,
            if self.secure { "; Secure" } else { "" }
        )
    }
}

/// Sessions are found by the digest of their token, so the map holds no usable token.
fn token_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether `offered` is the session's CSRF token (compared by digest, as the secret is).
pub fn csrf_matches(session: &Session, offered: &str) -> bool {
    Sha256::digest(offered.as_bytes()) == Sha256::digest(session.csrf.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_created_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (first, created) = PortalSecret::open_or_create(dir.path()).unwrap();
        assert!(created);
        let (again, created) = PortalSecret::open_or_create(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(first.reveal(), again.reveal());
        assert!(again.matches(first.reveal()));
        assert!(!again.matches(&"0".repeat(64)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.path().join(SECRET_FILE);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                PortalSecret::read(dir.path()),
                Err(SecretError::Exposed { .. })
            ));
        }
    }

    #[test]
    fn a_session_is_found_by_its_own_cookie_only() {
        let a = Sessions::new("aaaa", false);
        let b = Sessions::new("bbbb", true);
        let set = a.start();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        assert!(!set.contains("Secure"));
        assert!(b.start().ends_with("; Secure"));
        let cookie = set.split(';').next().unwrap().to_string();
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, cookie.parse().unwrap());
        let session = a.find(&headers).expect("a knows its session");
        assert!(csrf_matches(&session, &session.csrf));
        assert!(!csrf_matches(&session, ""));
        assert!(b.find(&headers).is_none(), "b's cookie has another name");
        // The same token under b's cookie name is still unknown to b.
        let (_, token) = cookie.split_once('=').unwrap();
        let mut forged = HeaderMap::new();
        forged.insert(
            COOKIE,
            format!("{}={token}", b.cookie_name()).parse().unwrap(),
        );
        assert!(b.find(&forged).is_none());
        a.end(&headers);
        assert!(a.find(&headers).is_none(), "signed out");
    }

    #[test]
    fn sign_in_waits_after_ten_wrong_secrets_a_minute() {
        let s = Sessions::new("aaaa", false);
        for _ in 0..MAX_FAILURES_PER_MINUTE {
            assert!(s.may_try());
            s.failed();
        }
        assert!(!s.may_try());
    }
}
