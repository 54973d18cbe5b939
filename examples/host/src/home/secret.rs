//! What counts as a credential written in a file: header and variable names that carry one,
//! and the user information of URLs. Credentials must come from the environment (`${NAME}`).

/// Words that name a credential (`DD_API_KEY`, `X-Auth-Token`, `CLIENT_SECRET`...).
const CREDENTIAL_WORDS: &[&str] = &[
    "authorization",
    "auth",
    "key",
    "apikey",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "cookie",
    "credential",
    "credentials",
    "pat",
];

/// Last words that name where a credential is or what kind it is, not the credential
/// (`SSH_KEY_PATH`, `TOKEN_URL`, `SECRET_NAME`, `AUTH_TYPE`).
const POINTER_WORDS: &[&str] = &[
    "url", "uri", "path", "file", "dir", "id", "name", "type", "header", "endpoint", "host",
    "realm", "scope", "scopes",
];

/// Whether a header or environment variable named `name` carries a credential: one of its
/// words (split at `_`, `-`, `.` and lower-to-upper case changes) is a credential word, and
/// its last word does not point elsewhere.
pub fn names_a_credential(name: &str) -> bool {
    let words = words_of(name);
    // Whole words, or run-together ones (`PGPASSWORD`, `APITOKEN`).
    let credential = |w: &String| {
        CREDENTIAL_WORDS.contains(&w.as_str())
            || ["password", "passwd", "token", "secret", "apikey"]
                .iter()
                .any(|end| w.ends_with(end))
    };
    words.iter().any(credential)
        && !words
            .last()
            .is_some_and(|w| POINTER_WORDS.contains(&w.as_str()))
}

fn words_of(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if matches!(c, '_' | '-' | '.' | ' ') {
            words.push(std::mem::take(&mut word));
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            words.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    words.push(word);
    words.retain(|w| !w.is_empty());
    words
}

/// The user information of a `scheme://user[:password]@host/...` URL.
pub fn url_userinfo(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    authority
        .rsplit_once('@')
        .map(|(user, _)| user)
        .filter(|u| !u.is_empty())
}

/// Whether `url`'s user information holds a credential written literally: a password, or
/// anything at all over HTTP(S) (where a lone user name is how tokens are passed). A user
/// name alone is fine for SSH (`ssh://git@host/...`), whose keys are not in the URL.
pub fn literal_url_credential(url: &str) -> Option<&str> {
    let userinfo = url_userinfo(url)?;
    if userinfo.contains("${") {
        return None;
    }
    let http = url.starts_with("http://") || url.starts_with("https://");
    (http || userinfo.contains(':')).then_some(userinfo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names_are_told_from_names_that_point_at_one() {
        for name in [
            "Authorization",
            "DD-API-KEY",
            "DD_APPLICATION_KEY",
            "X-Api-Key",
            "apiKey",
            "X-Auth-Token",
            "GITHUB_PERSONAL_ACCESS_TOKEN",
            "GITHUB_PAT",
            "CLIENT_SECRET",
            "DB_PASSWORD",
            "Cookie",
            "AWS_CREDENTIALS",
            "X-Auth",
            "PGPASSWORD",
            "SLACK_APITOKEN",
        ] {
            assert!(names_a_credential(name), "{name}");
        }
        for name in [
            "MAX_TOKENS",
            "TOKEN_URL",
            "SSH_KEY_PATH",
            "KEYCLOAK_REALM",
            "SECRET_NAME",
            "AUTH_TYPE",
            "CLIENT_ID",
            "Accept",
            "X-Trace",
            "LOG_LEVEL",
        ] {
            assert!(!names_a_credential(name), "{name}");
        }
    }

    #[test]
    fn url_credentials_are_found_where_they_are_written() {
        assert_eq!(
            literal_url_credential("https://bot:pw@h/a.git"),
            Some("bot:pw")
        );
        assert_eq!(
            literal_url_credential("https://ghp_abc@github.com/o/r.git"),
            Some("ghp_abc")
        );
        assert_eq!(
            literal_url_credential("https://${GIT_TOKEN}@github.com/o/r.git"),
            None
        );
        assert_eq!(literal_url_credential("ssh://git@host/r.git"), None);
        assert_eq!(
            literal_url_credential("ssh://git:pw@host/r.git"),
            Some("git:pw")
        );
        assert_eq!(literal_url_credential("https://h/a/@b.git"), None);
        assert_eq!(literal_url_credential("postgres://u:pw@db/x"), Some("u:pw"));
    }
}
