//! Okta System Log records: sign-ins, SSO and policy evaluations of the workforce, and the
//! attacker's administrative actions with the compromised admin.

use super::util::{
    COMPROMISED_MS, DAY, HOUR, MINUTE, Source, Spec, TimeFmt, date_ms, hash_str, ip_set, mix,
    push_base62, push_uuid,
};
use super::{
    ATTACKER_IP, ATTACKER_UA, OKTA_ADMIN, OKTA_BACKDOOR_USER, OKTA_COMPROMISED_ADMIN, OKTA_NEW_HIRE,
};
use crate::Rng;

const SALT_ID: u64 = 0x0C7A_0000_0001;
const SALT_UUID: u64 = 0x0C7A_0000_0E1D;

/// The Okta user id (`00u…`) of a login.
pub(super) fn user_id(login: &str) -> String {
    let mut id = String::from("00u");
    push_base62(&mut id, hash_str(SALT_ID, login), 17);
    id
}

fn prefixed_id(prefix: &str, h: u64) -> String {
    let mut id = String::from(prefix);
    push_base62(&mut id, mix(h), 17);
    id
}

/// The Okta session (`externalSessionId`) the attacker works in with the stolen admin
/// account: one session, opened from the attacker's address, for every planted step.
pub(super) fn attacker_session_id() -> String {
    let mut id = String::from("102");
    push_base62(&mut id, mix(0x0C7A_5E55), 22);
    id
}

/// The id of the API token the attacker creates.
pub(super) fn api_token_id() -> String {
    prefixed_id("00T", 0x0C7A_70CE)
}

/// The id of the OAuth app the attacker consents to.
pub(super) fn oauth_app_id() -> String {
    prefixed_id("0oa", 0x0C7A_0A11)
}

const OAUTH_APP: &str = "Backup Sync Connector";

/// Browsers: raw user agent, OS, browser.
const BROWSERS: [(&str, &str, &str); 4] = [
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
        "Mac OS X",
        "CHROME",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
        "Windows 10",
        "EDGE_CHROMIUM",
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
        "Linux",
        "FIREFOX",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "Mac OS X",
        "SAFARI",
    ),
];

/// Geographical contexts (the JSON object) for public addresses.
const GEOS: [&str; 4] = [
    r#"{"city":"San Francisco","state":"California","country":"United States","postalCode":"94107","geolocation":{"lat":37.7697,"lon":-122.3933}}"#,
    r#"{"city":"New York","state":"New York","country":"United States","postalCode":"10001","geolocation":{"lat":40.7484,"lon":-73.9967}}"#,
    r#"{"city":"Dublin","state":"Leinster","country":"Ireland","postalCode":"D02","geolocation":{"lat":53.3382,"lon":-6.2591}}"#,
    r#"{"city":"Berlin","state":"Land Berlin","country":"Germany","postalCode":"10115","geolocation":{"lat":52.5323,"lon":13.3846}}"#,
];
const ATTACKER_GEO: &str = r#"{"city":"Bucharest","state":"Bucuresti","country":"Romania","postalCode":"010011","geolocation":{"lat":44.4323,"lon":26.1063}}"#;

const FIRST: [&str; 16] = [
    "maria", "james", "wei", "fatima", "lucas", "aisha", "noah", "sofia", "ravi", "emma", "kenji",
    "olga", "diego", "chloe", "omar", "hana",
];
const LAST: [&str; 16] = [
    "garcia", "smith", "chen", "khan", "muller", "okafor", "rossi", "tanaka", "novak", "silva",
    "kim", "dubois", "haddad", "jensen", "patel", "lopez",
];

/// Apps of the org: name, SAML or OIDC, the SSO request path.
const APPS: [(&str, &str, &str); 6] = [
    (
        "AWS Account Federation",
        "SAML_2_0",
        "/app/amazon_aws/exk1fcia6d6EMsf331d8/sso/saml",
    ),
    (
        "GitHub Enterprise Cloud - Organization",
        "SAML_2_0",
        "/app/githubcloud/exk2gb7q5dSVn8vQK1d8/sso/saml",
    ),
    (
        "Slack",
        "SAML_2_0",
        "/app/slack/exk3hx4a2yFZc9wLm1d8/sso/saml",
    ),
    (
        "Google Workspace",
        "SAML_2_0",
        "/app/google/exk4jd8b1pQRt5uNo1d8/sso/saml",
    ),
    (
        "Jira Software Cloud",
        "OPENID_CONNECT",
        "/oauth2/v1/authorize",
    ),
    (
        "Okta Admin Console",
        "OPENID_CONNECT",
        "/oauth2/v1/authorize",
    ),
];

/// An Okta user of the background.
#[derive(Debug)]
struct User {
    id: String,
    login: String,
    display: String,
    ips: Vec<String>,
    browser: usize,
    salt: u64,
    admin: bool,
}

impl User {
    fn new(login: String, display: String, salt: u64, admin: bool) -> Self {
        User {
            id: user_id(&login),
            ips: ip_set(salt),
            browser: (mix(salt ^ 0xB40) % BROWSERS.len() as u64) as usize,
            login,
            display,
            salt,
            admin,
        }
    }

    fn named(login: &str, display: &str) -> Self {
        User::new(
            login.to_string(),
            display.to_string(),
            hash_str(SALT_ID, login),
            true,
        )
    }
}

/// The fields of one record.
#[derive(Debug, Default)]
struct Rec<'a> {
    t: i64,
    actor_id: &'a str,
    actor_login: &'a str,
    actor_display: &'a str,
    ua: (&'a str, &'a str, &'a str),
    ip: &'a str,
    /// Geographical context JSON, or `null`.
    geo: &'a str,
    auth_provider: Option<&'a str>,
    credential_provider: Option<&'a str>,
    credential_type: Option<&'a str>,
    session: &'a str,
    display_message: &'a str,
    event_type: &'a str,
    result: &'a str,
    reason: Option<&'a str>,
    severity: &'a str,
    /// Extra `debugData` members (JSON text without braces, each ending with a comma).
    debug: &'a str,
    request_uri: &'a str,
    legacy: Option<&'a str>,
    security: &'a str,
    /// The target array JSON, or `null`.
    target: &'a str,
}

const NO_SECURITY: &str =
    r#"{"asNumber":null,"asOrg":null,"isp":null,"domain":null,"isProxy":null}"#;
const ATTACKER_SECURITY: &str = r#"{"asNumber":9009,"asOrg":"hosting provider","isp":"hosting provider","domain":"example.net","isProxy":true}"#;

fn push_opt(buf: &mut String, v: Option<&str>) {
    match v {
        Some(v) => {
            buf.push('"');
            buf.push_str(v);
            buf.push('"');
        }
        None => buf.push_str("null"),
    }
}

fn push_record(buf: &mut String, tf: &mut TimeFmt, rec: &Rec<'_>, index: u64, r: u64) {
    buf.push_str(r#"{"actor":{"id":""#);
    buf.push_str(rec.actor_id);
    buf.push_str(r#"","type":"User","alternateId":""#);
    buf.push_str(rec.actor_login);
    buf.push_str(r#"","displayName":""#);
    buf.push_str(rec.actor_display);
    buf.push_str(r#"","detailEntry":null},"client":{"userAgent":{"rawUserAgent":""#);
    buf.push_str(rec.ua.0);
    buf.push_str(r#"","os":""#);
    buf.push_str(rec.ua.1);
    buf.push_str(r#"","browser":""#);
    buf.push_str(rec.ua.2);
    buf.push_str(r#""},"zone":"null","device":"Computer","id":null,"ipAddress":""#);
    buf.push_str(rec.ip);
    buf.push_str(r#"","geographicalContext":"#);
    buf.push_str(rec.geo);
    buf.push_str(r#"},"device":null,"authenticationContext":{"authenticationProvider":"#);
    push_opt(buf, rec.auth_provider);
    buf.push_str(r#","credentialProvider":"#);
    push_opt(buf, rec.credential_provider);
    buf.push_str(r#","credentialType":"#);
    push_opt(buf, rec.credential_type);
    buf.push_str(r#","issuer":null,"interface":null,"authenticationStep":0,"externalSessionId":""#);
    buf.push_str(rec.session);
    buf.push_str(r#""},"displayMessage":""#);
    buf.push_str(rec.display_message);
    buf.push_str(r#"","eventType":""#);
    buf.push_str(rec.event_type);
    buf.push_str(r#"","outcome":{"result":""#);
    buf.push_str(rec.result);
    buf.push_str(r#"","reason":"#);
    push_opt(buf, rec.reason);
    buf.push_str(r#"},"published":""#);
    tf.push_millis(buf, rec.t);
    buf.push_str(r#"","securityContext":"#);
    buf.push_str(rec.security);
    buf.push_str(r#","severity":""#);
    buf.push_str(rec.severity);
    buf.push_str(r#"","debugContext":{"debugData":{"#);
    buf.push_str(rec.debug);
    buf.push_str(r#""requestId":""#);
    push_base62(buf, mix(r ^ 0x4E9), 27);
    buf.push_str(r#"","requestUri":""#);
    buf.push_str(rec.request_uri);
    buf.push_str(r#"","url":""#);
    buf.push_str(rec.request_uri);
    buf.push_str(r#"?"}},"legacyEventType":"#);
    push_opt(buf, rec.legacy);
    buf.push_str(r#","transaction":{"type":"WEB","id":""#);
    push_base62(buf, mix(r ^ 0x7A), 27);
    buf.push_str(r#"","detail":{}},"uuid":""#);
    push_uuid(buf, SALT_UUID, index, r, 1);
    buf.push_str(r#"","version":"0","request":{"ipChain":[{"ip":""#);
    buf.push_str(rec.ip);
    buf.push_str(r#"","geographicalContext":"#);
    buf.push_str(rec.geo);
    buf.push_str(r#","version":"V4","source":null}]},"target":"#);
    buf.push_str(rec.target);
    buf.push('}');
}

/// The Okta generator.
#[derive(Debug)]
pub(super) struct Okta {
    rng: Rng,
    tf: TimeFmt,
    users: Vec<User>,
    app_ids: Vec<String>,
    app_user_salt: u64,
    specs: Vec<Spec>,
    target: String,
    session: String,
    seed: u64,
}

const OPS_ADMIN: usize = 0;
const OKTA_ADMIN_USER: usize = 1;

impl Okta {
    pub(super) fn new(seed: u64, events: u64) -> Self {
        let mut users = vec![
            User::named(OKTA_COMPROMISED_ADMIN, "Ops Admin"),
            User::named(OKTA_ADMIN, "Okta Admin"),
        ];
        let extra = (events / 2000).clamp(10, 5000);
        for i in 0..extra {
            let salt = mix(seed ^ SALT_ID ^ i.wrapping_mul(0x500_0011));
            let first = FIRST[(i % 16) as usize];
            let last = LAST[((i / 16) % 16) as usize];
            let n = i / 256;
            let (login, display) = if n == 0 {
                (
                    format!("{first}.{last}@example.com"),
                    format!("{first} {last}"),
                )
            } else {
                (
                    format!("{first}.{last}{n}@example.com"),
                    format!("{first} {last} {n}"),
                )
            };
            users.push(User::new(login, display, salt, false));
        }
        let app_ids = (0..APPS.len() as u64)
            .map(|i| prefixed_id("0oa", 0x0C7A_A000 + i))
            .collect();
        Okta {
            rng: Rng::new(seed ^ 0x0C7A_5EED),
            tf: TimeFmt::default(),
            users,
            app_ids,
            app_user_salt: mix(seed ^ 0xA99),
            specs: specs(),
            target: String::with_capacity(512),
            session: String::with_capacity(32),
            seed,
        }
    }

    fn geo(ip: &str) -> &'static str {
        if ip.starts_with("10.") {
            "null"
        } else {
            GEOS[(ip.len() + usize::from(ip.as_bytes()[ip.len() - 1])) % GEOS.len()]
        }
    }
}

fn specs() -> Vec<Spec> {
    let c = COMPROMISED_MS;
    let lookalike = date_ms(2026, 5, 12) + 13 * HOUR + 30 * MINUTE;
    let spec = |t, step, action, malicious| Spec {
        t,
        step,
        action,
        malicious,
    };
    vec![
        spec(
            lookalike,
            "benign_okta_backdoor_user",
            "user.lifecycle.create",
            false,
        ),
        spec(
            c + HOUR + 55 * MINUTE,
            "okta_session_from_attacker",
            "user.session.start",
            true,
        ),
        spec(
            c + DAY + HOUR + 30 * MINUTE,
            "okta_backdoor_user",
            "user.lifecycle.create",
            true,
        ),
        spec(
            c + DAY + HOUR + 31 * MINUTE,
            "okta_admin_role",
            "user.account.privilege.grant",
            true,
        ),
        spec(
            c + DAY + HOUR + 35 * MINUTE,
            "okta_api_token",
            "system.api_token.create",
            true,
        ),
        spec(
            c + 2 * DAY + 4 * HOUR,
            "okta_oauth_grant",
            "app.oauth2.as.consent.grant",
            true,
        ),
    ]
}

fn push_user_target(buf: &mut String, id: &str, login: &str, display: &str) {
    buf.push_str(r#"{"id":""#);
    buf.push_str(id);
    buf.push_str(r#"","type":"User","alternateId":""#);
    buf.push_str(login);
    buf.push_str(r#"","displayName":""#);
    buf.push_str(display);
    buf.push_str(r#"","detailEntry":null}"#);
}

impl Source for Okta {
    fn specs(&self) -> &[Spec] {
        &self.specs
    }

    fn background(&mut self, index: u64, t: i64, buf: &mut String) -> usize {
        let n = self.users.len() as u64;
        let u = self.rng.below(n).min(self.rng.below(n)) as usize;
        let user = &self.users[u];
        let ip = &user.ips[self.rng.below(user.ips.len() as u64) as usize];
        self.session.clear();
        self.session.push_str("102");
        push_base62(
            &mut self.session,
            mix(user.salt ^ t.div_euclid(DAY) as u64),
            22,
        );
        self.target.clear();
        let r = self.rng.next_u64();
        let mut rec = Rec {
            t,
            actor_id: &user.id,
            actor_login: &user.login,
            actor_display: &user.display,
            ua: BROWSERS[user.browser],
            ip,
            geo: Self::geo(ip),
            session: &self.session,
            result: "SUCCESS",
            severity: "INFO",
            security: NO_SECURITY,
            target: "null",
            ..Rec::default()
        };
        match self.rng.below(100) {
            0..25 => {
                let failed = self.rng.chance(0.04);
                rec.display_message = "User login to Okta";
                rec.event_type = "user.session.start";
                rec.auth_provider = Some("OKTA_AUTHENTICATION_PROVIDER");
                rec.credential_type = Some("PASSWORD");
                rec.request_uri = "/idp/idx/identify";
                if failed {
                    rec.result = "FAILURE";
                    rec.reason = Some("INVALID_CREDENTIALS");
                    rec.severity = "WARN";
                    rec.legacy = Some("core.user_auth.login_failed");
                } else {
                    rec.legacy = Some("core.user_auth.login_success");
                }
            }
            25..45 => {
                let app = self.rng.below(if user.admin { 6 } else { 5 }) as usize;
                rec.display_message = "Evaluation of sign-on policy";
                rec.event_type = "policy.evaluate_sign_on";
                rec.result = "ALLOW";
                rec.reason = Some("Sign-on policy evaluation resulted in ALLOW");
                rec.debug = r#""behaviors":"{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP=NEGATIVE, New State=NEGATIVE, New Country=NEGATIVE, Velocity=NEGATIVE, New City=NEGATIVE}","risk":"{level=LOW}","#;
                rec.request_uri = "/idp/idx/introspect";
                self.target.push_str(r#"[{"id":"00p"#);
                push_base62(&mut self.target, mix(0x9017 ^ app as u64), 17);
                self.target.push_str(r#"","type":"PolicyEntity","alternateId":"unknown","displayName":"Default Policy","detailEntry":null},{"id":"0pr"#);
                push_base62(&mut self.target, mix(0x9018 ^ app as u64), 17);
                self.target.push_str(r#"","type":"PolicyRule","alternateId":"unknown","displayName":"Catch-all Rule","detailEntry":null},{"id":""#);
                self.target.push_str(&self.app_ids[app]);
                self.target
                    .push_str(r#"","type":"AppInstance","alternateId":""#);
                self.target.push_str(APPS[app].0);
                self.target.push_str(r#"","displayName":""#);
                self.target.push_str(APPS[app].0);
                self.target.push_str(r#"","detailEntry":null}]"#);
                rec.target = &self.target;
            }
            45..60 => {
                rec.display_message = "Authentication of user via MFA";
                rec.event_type = "user.authentication.auth_via_mfa";
                rec.credential_provider = Some("OKTA_CREDENTIAL_PROVIDER");
                rec.credential_type = Some("OTP");
                rec.debug = r#""factor":"OKTA_VERIFY_PUSH","factorIntent":"AUTHENTICATION","#;
                rec.request_uri = "/idp/idx/authenticators/poll";
                rec.legacy = Some("core.user.factor.attempt_success");
                self.target.push_str(r#"[{"id":"pfd"#);
                push_base62(&mut self.target, mix(user.salt ^ 0xFAC), 17);
                self.target.push_str(r#"","type":"AuthenticatorEnrollment","alternateId":"unknown","displayName":"Okta Verify","detailEntry":null}]"#);
                rec.target = &self.target;
            }
            60..95 => {
                let app = self.rng.below(if user.admin { 6 } else { 5 }) as usize;
                let (name, mode, uri) = APPS[app];
                rec.display_message = "User single sign on to app";
                rec.event_type = "user.authentication.sso";
                rec.request_uri = uri;
                rec.legacy = Some("app.auth.sso");
                self.target.push_str(r#"[{"id":""#);
                self.target.push_str(&self.app_ids[app]);
                self.target
                    .push_str(r#"","type":"AppInstance","alternateId":""#);
                self.target.push_str(name);
                self.target.push_str(r#"","displayName":""#);
                self.target.push_str(name);
                self.target
                    .push_str(r#"","detailEntry":{"signOnModeType":""#);
                self.target.push_str(mode);
                self.target.push_str(r#""}},{"id":"0ua"#);
                push_base62(
                    &mut self.target,
                    mix(user.salt ^ self.app_user_salt ^ app as u64),
                    17,
                );
                self.target
                    .push_str(r#"","type":"AppUser","alternateId":""#);
                self.target.push_str(&user.login);
                self.target.push_str(r#"","displayName":""#);
                self.target.push_str(&user.display);
                self.target.push_str(r#"","detailEntry":null}]"#);
                rec.target = &self.target;
            }
            _ => {
                rec.display_message = "User logout from Okta";
                rec.event_type = "user.session.end";
                rec.request_uri = "/login/signout";
                rec.legacy = Some("core.user_auth.logout_success");
            }
        }
        push_record(buf, &mut self.tf, &rec, index, r);
        0
    }

    fn planted(&mut self, spec: usize, index: u64, buf: &mut String) -> (usize, String) {
        let sp = self.specs[spec];
        let admin = if sp.malicious {
            &self.users[OPS_ADMIN]
        } else {
            &self.users[OKTA_ADMIN_USER]
        };
        let r = mix(self.seed ^ 0x0C7A_B1A7 ^ index);
        let session = if sp.malicious {
            attacker_session_id()
        } else {
            let mut session = String::from("102");
            push_base62(&mut session, mix(r ^ 0x5E5), 22);
            session
        };
        let mut target = String::new();
        let (ip, ua, geo, security) = if sp.malicious {
            (
                ATTACKER_IP,
                (ATTACKER_UA, "Unknown", "UNKNOWN"),
                ATTACKER_GEO,
                ATTACKER_SECURITY,
            )
        } else {
            let ip = admin.ips[0].as_str();
            (ip, BROWSERS[admin.browser], Self::geo(ip), NO_SECURITY)
        };
        let mut rec = Rec {
            t: sp.t,
            actor_id: &admin.id,
            actor_login: &admin.login,
            actor_display: &admin.display,
            ua,
            ip,
            geo,
            session: &session,
            event_type: sp.action,
            result: "SUCCESS",
            severity: "INFO",
            security,
            target: "null",
            ..Rec::default()
        };
        let debug;
        match sp.action {
            "user.session.start" => {
                rec.display_message = "User login to Okta";
                rec.auth_provider = Some("OKTA_AUTHENTICATION_PROVIDER");
                rec.credential_type = Some("PASSWORD");
                rec.request_uri = "/idp/idx/identify";
                rec.legacy = Some("core.user_auth.login_success");
            }
            "user.lifecycle.create" => {
                let (login, display) = if sp.malicious {
                    (OKTA_BACKDOOR_USER, "svc backup-sync")
                } else {
                    (OKTA_NEW_HIRE, "New Hire")
                };
                rec.display_message = "Create Okta user";
                rec.request_uri = "/api/v1/users";
                rec.legacy = Some("core.user.config.user_creation.success");
                target.push('[');
                push_user_target(&mut target, &user_id(login), login, display);
                target.push(']');
                rec.target = &target;
            }
            "user.account.privilege.grant" => {
                rec.display_message = "Grant user privilege";
                rec.request_uri = "/api/v1/users/roles";
                rec.debug = r#""privilegeGranted":"Super administrator","#;
                target.push('[');
                push_user_target(
                    &mut target,
                    &user_id(OKTA_BACKDOOR_USER),
                    OKTA_BACKDOOR_USER,
                    "svc backup-sync",
                );
                target.push(']');
                rec.target = &target;
            }
            "system.api_token.create" => {
                rec.display_message = "Create API token";
                rec.request_uri = "/api/internal/tokens";
                target.push_str(r#"[{"id":""#);
                target.push_str(&api_token_id());
                target.push_str(r#"","type":"Token","alternateId":"unknown","displayName":"backup-sync","detailEntry":null}]"#);
                rec.target = &target;
            }
            _ => {
                rec.display_message = "User granted consent to app";
                rec.request_uri = "/oauth2/v1/authorize";
                debug = format!(
                    r#""grantedScopes":"okta.users.manage, okta.apps.manage, okta.groups.manage, offline_access","clientId":"{}","#,
                    oauth_app_id()
                );
                rec.debug = &debug;
                target.push_str(r#"[{"id":""#);
                target.push_str(&oauth_app_id());
                target.push_str(r#"","type":"PublicClientApp","alternateId":""#);
                target.push_str(OAUTH_APP);
                target.push_str(r#"","displayName":""#);
                target.push_str(OAUTH_APP);
                target.push_str(r#"","detailEntry":null},"#);
                push_user_target(&mut target, &admin.id, &admin.login, &admin.display);
                target.push(']');
                rec.target = &target;
            }
        }
        let before = buf.len();
        push_record(buf, &mut self.tf, &rec, index, r);
        let key = r#""uuid":""#;
        let record = &buf[before..];
        let id = record
            .find(key)
            .map(|at| record[at + key.len()..at + key.len() + 36].to_string())
            .unwrap_or_default();
        (0, id)
    }
}
