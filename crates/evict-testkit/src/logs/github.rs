//! GitHub audit-log export records: git traffic, workflow runs and downloads of the members,
//! and the attacker's persistence with the stolen token of a machine user.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::util::{
    COMPROMISED_MS, DAY, HOUR, MINUTE, SECOND, Source, Spec, TimeFmt, date_ms, hash_str, ip_set,
    mix, push_hex, push_u64, scramble48,
};
use super::{
    ATTACKER_IP, ATTACKER_UA, GITHUB_ADMIN, GITHUB_BUSINESS, GITHUB_COMPROMISED_ACTOR, GITHUB_ORG,
    GITHUB_OUTSIDE_COLLABORATOR, GITHUB_TARGET_REPO, NEW_HIRE,
};
use crate::Rng;

const SALT_MEMBER: u64 = 0x617_0000_0001;
const SALT_DOC: u64 = 0x617_0000_0D0C;
const ORG_ID: u64 = 90_000_001;
const BUSINESS_ID: u64 = 4242;

/// The `token_id` of the fine-grained token the attacker creates.
pub(super) const NEW_PAT_ID: u64 = 5_550_001;
/// The `oauth_application_id` of the OAuth app the attacker authorizes.
pub(super) const OAUTH_APP_ID: u64 = 991_177;
const SSH_KEY_SEED: u64 = 0x55_4B;
const DEPLOY_KEY_SEED: u64 = 0xDE_9107;

/// The fingerprint of the SSH key the attacker adds to the stolen account.
pub(super) fn ssh_key_fingerprint() -> String {
    let mut out = String::new();
    push_fingerprint(&mut out, SSH_KEY_SEED);
    out
}

/// The fingerprint of the deploy key the attacker adds to the target repository.
pub(super) fn deploy_key_fingerprint() -> String {
    let mut out = String::new();
    push_fingerprint(&mut out, DEPLOY_KEY_SEED);
    out
}

fn bytes32(h: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&mix(h ^ (i as u64 + 1)).to_le_bytes());
    }
    out
}

/// The `hashed_token` of a member's token: base64 of 32 bytes (the shape of a SHA-256).
pub(super) fn hashed_token(login: &str) -> String {
    STANDARD.encode(bytes32(hash_str(SALT_MEMBER ^ 0x7C, login)))
}

/// The `token_id` of a member's token.
pub(super) fn token_id(login: &str) -> u64 {
    100_000_000 + hash_str(SALT_MEMBER ^ 0x1D, login) % 900_000_000
}

fn actor_id(login: &str) -> u64 {
    1_000_000 + hash_str(SALT_MEMBER ^ 0xAC, login) % 150_000_000
}

const REPOS: [&str; 8] = [
    "example-corp/api",
    "example-corp/web",
    "example-corp/infra",
    "example-corp/mobile",
    "example-corp/data-pipeline",
    "example-corp/docs",
    "example-corp/terraform-modules",
    "example-corp/billing-service",
];

fn repo_id(repo: &str) -> u64 {
    700_000_000 + hash_str(SALT_MEMBER ^ 0x4E, repo) % 100_000_000
}

const GIT_UAS: [&str; 4] = [
    "git/2.43.0",
    "git/2.45.1 (Apple Git-154)",
    "git/2.44.0.windows.1",
    "JGit/6.9.0.202403050737-r",
];
const BROWSER_UAS: [&str; 3] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
];

const FIRST: [&str; 12] = [
    "maria", "james", "wei", "fatima", "lucas", "aisha", "noah", "sofia", "ravi", "emma", "kenji",
    "olga",
];
const LAST: [&str; 12] = [
    "garcia", "smith", "chen", "khan", "muller", "okafor", "rossi", "tanaka", "novak", "silva",
    "kim", "dubois",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// `Personal access token (classic)` over HTTPS.
    Classic,
    /// `OAuth access token` (GitHub CLI / Desktop) over HTTPS.
    OAuth,
    /// SSH key: no token fields.
    Ssh,
    /// `GitHub App server-to-server token` of an installed app (a `[bot]` actor).
    App,
}

/// A member of the organisation.
#[derive(Debug)]
struct Member {
    login: String,
    id: u64,
    ips: Vec<String>,
    git_ua: &'static str,
    browser_ua: &'static str,
    access: Access,
    hashed_token: String,
    token_id: u64,
    scopes: &'static str,
    bot: bool,
}

impl Member {
    fn new(login: String, salt: u64, access: Access, bot: bool) -> Self {
        Member {
            id: actor_id(&login),
            ips: ip_set(salt),
            git_ua: GIT_UAS[(mix(salt ^ 0x617) % GIT_UAS.len() as u64) as usize],
            browser_ua: BROWSER_UAS[(mix(salt ^ 0xB40) % BROWSER_UAS.len() as u64) as usize],
            hashed_token: hashed_token(&login),
            token_id: token_id(&login),
            scopes: if access == Access::Classic {
                "admin:public_key,admin:repo_hook,repo,workflow"
            } else if access == Access::OAuth {
                "gist,read:org,repo,workflow"
            } else {
                ""
            },
            login,
            access,
            bot,
        }
    }
}

/// The fields common to every record.
#[derive(Debug)]
struct Head<'a> {
    t: i64,
    action: &'a str,
    actor: &'a str,
    actor_id: u64,
    /// Source address; absent from workflow events.
    ip: Option<&'a str>,
    country: &'a str,
    bot: bool,
}

fn push_head(buf: &mut String, head: &Head<'_>, index: u64, r: u64) {
    buf.push_str(r#"{"@timestamp":"#);
    push_u64(buf, head.t as u64);
    buf.push_str(r#","_document_id":""#);
    let mut doc = [0u8; 16];
    doc[..6].copy_from_slice(&scramble48(index.wrapping_add(SALT_DOC)).to_be_bytes()[2..]);
    doc[6..14].copy_from_slice(&r.to_le_bytes());
    doc[14..].copy_from_slice(&mix(r).to_le_bytes()[..2]);
    URL_SAFE_NO_PAD.encode_string(doc, buf);
    buf.push_str(r#"","action":""#);
    buf.push_str(head.action);
    buf.push_str(r#"","actor":""#);
    buf.push_str(head.actor);
    buf.push_str(r#"","actor_id":"#);
    push_u64(buf, head.actor_id);
    if let Some(ip) = head.ip {
        buf.push_str(r#","actor_ip":""#);
        buf.push_str(ip);
        buf.push('"');
    }
    buf.push_str(r#","actor_is_bot":"#);
    buf.push_str(if head.bot { "true" } else { "false" });
    if head.ip.is_some() {
        buf.push_str(r#","actor_location":{"country_code":""#);
        buf.push_str(head.country);
        buf.push_str(r#""}"#);
    }
    buf.push_str(r#","business":""#);
    buf.push_str(GITHUB_BUSINESS);
    buf.push_str(r#"","business_id":"#);
    push_u64(buf, BUSINESS_ID);
    buf.push_str(r#","created_at":"#);
    push_u64(buf, head.t as u64);
}

/// `,"hashed_token":…,"programmatic_access_type":…,"token_id":…,"token_scopes":…`
fn push_token(buf: &mut String, member: &Member) {
    match member.access {
        Access::Ssh => {}
        Access::App => {
            buf.push_str(r#","hashed_token":""#);
            buf.push_str(&member.hashed_token);
            buf.push_str(r#"","integration":"example-deployer","programmatic_access_type":"GitHub App server-to-server token","token_id":"#);
            push_u64(buf, member.token_id);
        }
        Access::Classic | Access::OAuth => {
            buf.push_str(r#","hashed_token":""#);
            buf.push_str(&member.hashed_token);
            buf.push_str(r#"","programmatic_access_type":""#);
            buf.push_str(if member.access == Access::Classic {
                "Personal access token (classic)"
            } else {
                "OAuth access token"
            });
            buf.push_str(r#"","token_id":"#);
            push_u64(buf, member.token_id);
            buf.push_str(r#","token_scopes":""#);
            buf.push_str(member.scopes);
            buf.push('"');
            if member.access == Access::OAuth {
                buf.push_str(r#","oauth_application_id":178"#);
            }
        }
    }
}

fn push_org(buf: &mut String, operation: &str) {
    buf.push_str(r#","operation_type":""#);
    buf.push_str(operation);
    buf.push_str(r#"","org":""#);
    buf.push_str(GITHUB_ORG);
    buf.push_str(r#"","org_id":"#);
    push_u64(buf, ORG_ID);
}

fn push_repo(buf: &mut String, repo: &str) {
    buf.push_str(r#","repo":""#);
    buf.push_str(repo);
    buf.push_str(r#"","repo_id":"#);
    push_u64(buf, repo_id(repo));
    buf.push_str(r#","repository":""#);
    buf.push_str(repo);
    buf.push_str(r#"","repository_public":false"#);
}

/// The GitHub generator.
#[derive(Debug)]
pub(super) struct GitHub {
    rng: Rng,
    tf: TimeFmt,
    members: Vec<Member>,
    specs: Vec<Spec>,
    seed: u64,
}

const CI_BOT: usize = 0;
const OCTO_ADMIN: usize = 1;

impl GitHub {
    pub(super) fn new(seed: u64, events: u64) -> Self {
        let named = |login: &str, access, bot| {
            Member::new(login.to_string(), hash_str(SALT_MEMBER, login), access, bot)
        };
        let mut members = vec![
            named(GITHUB_COMPROMISED_ACTOR, Access::Classic, false),
            named(GITHUB_ADMIN, Access::OAuth, false),
            named("release-bot", Access::Classic, false),
            named("example-deployer[bot]", Access::App, true),
        ];
        let extra = (events / 2000).clamp(10, 5000);
        for i in 0..extra {
            let salt = mix(seed ^ SALT_MEMBER ^ i.wrapping_mul(0x700_0013));
            let first = FIRST[(i % 12) as usize];
            let last = LAST[((i / 12) % 12) as usize];
            let n = i / 144;
            let login = if n == 0 {
                format!("{first}-{last}")
            } else {
                format!("{first}-{last}{n}")
            };
            let access = match mix(salt ^ 0xACC) % 10 {
                0..5 => Access::Ssh,
                5..8 => Access::OAuth,
                _ => Access::Classic,
            };
            members.push(Member::new(login, salt, access, false));
        }
        GitHub {
            rng: Rng::new(seed ^ 0x617_5EED),
            tf: TimeFmt::default(),
            members,
            specs: specs(),
            seed,
        }
    }
}

fn specs() -> Vec<Spec> {
    let c = COMPROMISED_MS;
    let lookalike = date_ms(2026, 5, 12) + 15 * HOUR;
    let spec = |t, step, action, malicious| Spec {
        t,
        step,
        action,
        malicious,
    };
    vec![
        spec(
            lookalike,
            "benign_github_outside_collaborator",
            "org.add_member",
            false,
        ),
        spec(
            c + 2 * HOUR + 30 * MINUTE,
            "github_ioc_activity",
            "git.clone",
            true,
        ),
        spec(
            c + DAY + 3 * HOUR,
            "github_outside_collaborator",
            "repo.add_member",
            true,
        ),
        spec(
            c + DAY + 3 * HOUR + 5 * MINUTE,
            "github_ssh_key",
            "public_key.create",
            true,
        ),
        spec(
            c + DAY + 3 * HOUR + 8 * MINUTE,
            "github_deploy_key",
            "public_key.create",
            true,
        ),
        spec(
            c + 2 * DAY + 5 * HOUR,
            "github_oauth_grant",
            "oauth_authorization.create",
            true,
        ),
        spec(
            c + 3 * DAY + HOUR,
            "github_pat_created",
            "personal_access_token.request_created",
            true,
        ),
        spec(
            c + 3 * DAY + HOUR + 2 * MINUTE,
            "github_pat_access_granted",
            "personal_access_token.access_granted",
            true,
        ),
    ]
}

fn push_fingerprint(buf: &mut String, h: u64) {
    buf.push_str("SHA256:");
    let encoded = STANDARD.encode(bytes32(h));
    buf.push_str(encoded.trim_end_matches('='));
}

impl Source for GitHub {
    fn specs(&self) -> &[Spec] {
        &self.specs
    }

    fn background(&mut self, index: u64, t: i64, buf: &mut String) -> usize {
        let n = self.members.len() as u64;
        let m = self.rng.below(n).min(self.rng.below(n)) as usize;
        let member = &self.members[m];
        let r = self.rng.next_u64();
        let repo = REPOS[self.rng.below(REPOS.len() as u64) as usize];
        let ip = member.ips[self.rng.below(member.ips.len() as u64) as usize].as_str();
        let country = if ip.starts_with("10.") { "US" } else { "IE" };
        match self.rng.below(100) {
            0..70 => {
                let action = match self.rng.below(10) {
                    0..5 => "git.fetch",
                    5..8 => "git.clone",
                    _ => "git.push",
                };
                let head = Head {
                    t,
                    action,
                    actor: &member.login,
                    actor_id: member.id,
                    ip: Some(ip),
                    country,
                    bot: member.bot,
                };
                push_head(buf, &head, index, r);
                push_token(buf, member);
                push_org(buf, "access");
                push_repo(buf, repo);
                if member.access == Access::Ssh {
                    buf.push_str(r#","transport_protocol":2,"transport_protocol_name":"ssh""#);
                } else {
                    buf.push_str(r#","transport_protocol":1,"transport_protocol_name":"http""#);
                }
                buf.push_str(r#","user_agent":""#);
                buf.push_str(member.git_ua);
                buf.push_str(r#""}"#);
            }
            70..92 => {
                let head = Head {
                    t,
                    action: "workflows.completed_workflow_run",
                    actor: &member.login,
                    actor_id: member.id,
                    ip: None,
                    country,
                    bot: member.bot,
                };
                push_head(buf, &head, index, r);
                let started = t - (self.rng.range(30, 1800) as i64) * SECOND;
                buf.push_str(r#","completed_at":""#);
                self.tf.push_secs(buf, t);
                buf.push_str(r#"","conclusion":""#);
                buf.push_str(if self.rng.chance(0.9) {
                    "success"
                } else {
                    "failure"
                });
                buf.push_str(r#"","event":"push","head_branch":"main","head_sha":""#);
                push_hex(buf, mix(r ^ 1), 16);
                push_hex(buf, mix(r ^ 2), 16);
                push_hex(buf, mix(r ^ 3), 8);
                buf.push_str(r#"","name":"CI""#);
                push_org(buf, "modify");
                buf.push_str(r#","public_repo":false,"repo":""#);
                buf.push_str(repo);
                buf.push_str(r#"","repo_id":"#);
                push_u64(buf, repo_id(repo));
                buf.push_str(r#","run_attempt":1,"run_number":"#);
                push_u64(buf, 1 + mix(r ^ 4) % 9000);
                buf.push_str(r#","started_at":""#);
                self.tf.push_secs(buf, started);
                buf.push_str(r#"","trigger_id":"#);
                push_u64(buf, 9_000_000_000 + mix(r ^ 5) % 999_999_999);
                buf.push_str(r#","workflow_id":"#);
                push_u64(buf, 80_000_000 + repo_id(repo) % 1_000_000);
                buf.push_str(r#","workflow_run_id":"#);
                push_u64(buf, 9_500_000_000 + mix(r ^ 6) % 999_999_999);
                buf.push('}');
            }
            _ => {
                let head = Head {
                    t,
                    action: "repo.download_zip",
                    actor: &member.login,
                    actor_id: member.id,
                    ip: Some(ip),
                    country,
                    bot: member.bot,
                };
                push_head(buf, &head, index, r);
                let machine = member.access == Access::App || member.login.ends_with("-bot");
                if machine {
                    push_token(buf, member);
                }
                push_org(buf, "access");
                push_repo(buf, repo);
                buf.push_str(r#","user_agent":""#);
                buf.push_str(if machine {
                    member.git_ua
                } else {
                    member.browser_ua
                });
                buf.push_str(r#""}"#);
            }
        }
        0
    }

    fn planted(&mut self, spec: usize, index: u64, buf: &mut String) -> (usize, String) {
        let sp = self.specs[spec];
        let r = mix(self.seed ^ 0x617_B1A7 ^ index);
        let before = buf.len();
        let actor = if sp.malicious {
            &self.members[CI_BOT]
        } else {
            &self.members[OCTO_ADMIN]
        };
        let head = Head {
            t: sp.t,
            action: sp.action,
            actor: &actor.login,
            actor_id: actor.id,
            ip: Some(if sp.malicious {
                ATTACKER_IP
            } else {
                actor.ips[0].as_str()
            }),
            country: if sp.malicious { "RO" } else { "US" },
            bot: actor.bot,
        };
        push_head(buf, &head, index, r);
        if sp.malicious {
            push_token(buf, actor);
        }
        let ua = if sp.malicious {
            ATTACKER_UA
        } else {
            actor.browser_ua
        };
        match sp.step {
            "github_ioc_activity" => {
                push_org(buf, "access");
                push_repo(buf, GITHUB_TARGET_REPO);
                buf.push_str(r#","transport_protocol":1,"transport_protocol_name":"http""#);
            }
            "github_outside_collaborator" => {
                push_org(buf, "modify");
                buf.push_str(r#","permission":"admin""#);
                push_repo(buf, GITHUB_TARGET_REPO);
                buf.push_str(r#","user":""#);
                buf.push_str(GITHUB_OUTSIDE_COLLABORATOR);
                buf.push_str(r#"","user_id":"#);
                push_u64(buf, actor_id(GITHUB_OUTSIDE_COLLABORATOR));
            }
            "github_ssh_key" => {
                buf.push_str(r#","fingerprint":""#);
                push_fingerprint(buf, SSH_KEY_SEED);
                buf.push('"');
                push_org(buf, "create");
                buf.push_str(r#","title":"backup-sync","user":""#);
                buf.push_str(&actor.login);
                buf.push_str(r#"","user_id":"#);
                push_u64(buf, actor.id);
            }
            "github_deploy_key" => {
                buf.push_str(r#","fingerprint":""#);
                push_fingerprint(buf, DEPLOY_KEY_SEED);
                buf.push('"');
                push_org(buf, "create");
                buf.push_str(r#","read_only":false"#);
                push_repo(buf, GITHUB_TARGET_REPO);
                buf.push_str(r#","title":"ci-cache""#);
            }
            "github_oauth_grant" => {
                buf.push_str(
                    r#","oauth_application":"Backup Sync Connector","oauth_application_id":"#,
                );
                push_u64(buf, OAUTH_APP_ID);
                push_org(buf, "create");
                buf.push_str(r#","scope":"admin:org,repo,workflow","user":""#);
                buf.push_str(&actor.login);
                buf.push('"');
            }
            "github_pat_created" | "github_pat_access_granted" => {
                push_org(
                    buf,
                    if sp.step == "github_pat_created" {
                        "create"
                    } else {
                        "modify"
                    },
                );
                buf.push_str(r#","permissions":{"administration":"write","contents":"write","members":"write"},"personal_access_token_id":"#);
                push_u64(buf, NEW_PAT_ID);
                buf.push_str(r#","repository_selection":"all","user":""#);
                buf.push_str(&actor.login);
                buf.push('"');
            }
            _ => {
                // The benign look-alike: an owner adds a new employee to the organisation.
                push_org(buf, "modify");
                buf.push_str(r#","permission":"read","user":""#);
                buf.push_str(NEW_HIRE);
                buf.push_str(r#"","user_id":"#);
                push_u64(buf, actor_id(NEW_HIRE));
            }
        }
        buf.push_str(r#","user_agent":""#);
        buf.push_str(ua);
        buf.push_str(r#""}"#);
        let key = r#""_document_id":""#;
        let record = &buf[before..];
        let id = record
            .find(key)
            .map(|at| record[at + key.len()..at + key.len() + 22].to_string())
            .unwrap_or_default();
        (0, id)
    }
}
