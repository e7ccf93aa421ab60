//! AWS IAM and STS: IAM users and roles are identities; a user's access keys and its console
//! password (login profile) are its credentials.
//!
//! Targets, by the provider's own reference:
//!
//! | target | `native_id` | acts |
//! |---|---|---|
//! | a user (identity) | its name or ARN | disable: every access key, signing certificate and SSH key of *that* user made `Inactive`, its login profile deleted (IAM has no "disabled user"); delete: the full teardown below, then `DeleteUser` |
//! | a role (identity) | `role/NAME` or its ARN | terminate sessions: the `AWSRevokeOlderSessions` inline policy |
//! | a customer-managed policy (identity kind, see below) | `policy/NAME` or its ARN | delete: detached from every user, group and role, its non-default versions deleted, then `DeletePolicy` |
//! | an access key (credential `access_key`) | the key id (`AKIA…`, `ASIA…`) | disable: `UpdateAccessKey Inactive`; delete: `DeleteAccessKey`, only once the key is `Inactive` |
//! | a login profile (credential `password`) | the user's name | delete: `DeleteLoginProfile` |
//!
//! A managed policy is a grant, not an identity; the contract has no target kind for grants,
//! and its ARN (`arn:aws:iam::ACCOUNT:policy/…`) cannot be mistaken for a user's or role's, so
//! an attacker's policy is targeted as an identity by its ARN.
//!
//! Deactivate before delete: evict deletes a key only once it is `Inactive` (the plan
//! disables, watches what breaks, then deletes); only the teardown of a whole attacker-made
//! user deactivates and deletes its keys in one act. An act is on one target: disabling one
//! key never touches the user's other key.
//!
//! The probes read state back, never the act's answer: a key `Inactive` or absent in
//! `ListAccessKeys`, `NoSuchEntity` for a login profile, user or policy, and the role's
//! `AWSRevokeOlderSessions` policy with a cut-off at or after the act. IAM is eventually
//! consistent: a read-back shows what IAM recorded; AWS documents that a change (a deny policy
//! above all) may take seconds to minutes to be enforced everywhere. The declared propagation
//! delay (`propagation_delay_seconds`, default 10 s) suits keys and passwords; raise it where
//! role-session revocation must be enforced before verification counts.

mod policy;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::config::timeout::TimeoutConfig;
use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_iam::primitives::DateTime;
use aws_sdk_iam::types::{AccessKeyMetadata, StatusType};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use evict_model::{
    ActionKind, Credential, CredentialKind, CredentialStatus, Evidence, EvidenceVerdict, Identity,
    IdentityKind, IdentityStatus, Provider as ProviderName, SecretString,
};
use jiff::Timestamp;

use crate::config::AwsConfig;
use crate::provider::{
    Acted, Cascade, ConnectorError, Discovery, NotFound, PastAct, Provider, Semantics, Target,
    TargetKind,
};

pub use policy::REVOKE_OLDER_SESSIONS;

const NAME: &str = "aws";
const IDENTITY: TargetKind = TargetKind::Identity;
const ACCESS_KEY: TargetKind = TargetKind::Credential(CredentialKind::AccessKey);
const PASSWORD: TargetKind = TargetKind::Credential(CredentialKind::Password);

const SUPPORTS: &[(TargetKind, ActionKind)] = &[
    (IDENTITY, ActionKind::Disable),
    (IDENTITY, ActionKind::Delete),
    (IDENTITY, ActionKind::TerminateSessions),
    (ACCESS_KEY, ActionKind::Disable),
    (ACCESS_KEY, ActionKind::Delete),
    (PASSWORD, ActionKind::Delete),
];

const CASCADES: &[Cascade] = &[
    Cascade {
        action: ActionKind::Disable,
        on: IDENTITY,
        ends: "a user's access keys, signing certificates and SSH keys (made Inactive) and its \
               console password (login profile deleted)",
    },
    Cascade {
        action: ActionKind::Delete,
        on: IDENTITY,
        ends: "a user's access keys (deactivated, then deleted), login profile, signing \
               certificates, SSH keys, MFA devices, attached and inline policies and group \
               memberships; a managed policy's attachments and versions",
    },
    Cascade {
        action: ActionKind::TerminateSessions,
        on: IDENTITY,
        ends: "every session of the role issued before the cut-off (AWSRevokeOlderSessions)",
    },
];

const LEAVES_ALIVE: &[&str] = &[
    "deactivating or deleting an access key leaves the temporary credentials already minted \
     with it (GetSessionToken, AssumeRole) working until they expire: terminate the sessions \
     of the roles it could assume",
    "disabling a user leaves its temporary credentials and the sessions of roles it assumed \
     working until they expire, and does not touch its service-specific credentials \
     (CodeCommit, Keyspaces)",
    "AWSRevokeOlderSessions denies sessions issued before its cut-off only: the role can \
     still be assumed again — remove what lets the attacker assume it (a trust policy, a key)",
    "AWS enforces a new deny policy within minutes, not at once: the role-session probe \
     proves the policy is in place, the propagation delay covers its enforcement",
];

/// What role-session evidence cannot show: the read-back proves the policy is in place, while
/// AWS enforces a new deny policy everywhere only eventually, within minutes.
const ROLE_DENY_NOTE: &str = "AWS enforces the policy everywhere within minutes";

/// The AWS connector: an IAM client (and STS for the secret-known probe) signing with the
/// configured credentials.
#[derive(Debug)]
pub struct Aws {
    iam: aws_sdk_iam::Client,
    http: SharedHttpClient,
    region: String,
    endpoint_url: Option<String>,
    timeouts: TimeoutConfig,
    semantics: Semantics,
    /// When the act on each role's sessions was, at the latest: the cut-off this process
    /// wrote, or the start of an earlier act recalled ([`Provider::recall`]), so that verify
    /// can tell that act from an older policy.
    acted_at: Mutex<HashMap<String, Timestamp>>,
}

/// What the secret-known probe ([`Aws::caller_identity_refused`]) concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentityProbe {
    /// Refused: `verified_revoked`; accepted: `still_live`; anything else: `unverified`.
    pub verdict: EvidenceVerdict,
    /// What was asked and what came back (never the secret).
    pub detail: String,
}

/// The secret-known probe alone: `sts:GetCallerIdentity` signed with a leaked key pair. It
/// needs no credentials of Evict's own (the leaked pair signs), only where STS is — which is
/// what `scan --verify` has when no `[aws]` connector is configured.
#[derive(Debug, Clone)]
pub struct SecretProbe {
    http: SharedHttpClient,
    region: String,
    endpoint_url: Option<String>,
    timeouts: TimeoutConfig,
}

impl SecretProbe {
    /// STS in `region`, at `endpoint_url` (checked like `aws.endpoint_url`: `https://`, or
    /// `http://` on a loopback address) or AWS's own endpoint.
    pub fn new(
        region: &str,
        endpoint_url: Option<&str>,
        connect_timeout: Duration,
        operation_timeout: Duration,
    ) -> Result<SecretProbe, ConnectorError> {
        if let Some(url) = endpoint_url {
            crate::config::check_endpoint(url)
                .map_err(|why| ConnectorError::Config(format!("the STS endpoint {url} {why}")))?;
        }
        Ok(SecretProbe {
            http: aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                .build_https(),
            region: region.to_string(),
            endpoint_url: endpoint_url.map(str::to_string),
            timeouts: TimeoutConfig::builder()
                .connect_timeout(connect_timeout)
                .operation_timeout(operation_timeout)
                .build(),
        })
    }

    /// Signs `sts:GetCallerIdentity` with `key_id` and `secret`: refused with
    /// `InvalidClientTokenId`, the key is dead; answered, it authenticates; any other refusal
    /// proves nothing (see [`Aws::caller_identity_refused`]).
    pub async fn caller_identity(
        &self,
        key_id: &str,
        secret: &SecretString,
    ) -> Result<CallerIdentityProbe, ConnectorError> {
        let mut sts = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new(self.region.clone()))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                key_id,
                secret.expose(),
                None,
                None,
                "evict-secret-probe",
            ))
            .http_client(self.http.clone())
            .timeout_config(self.timeouts.clone())
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::standard().with_max_attempts(2));
        if let Some(url) = &self.endpoint_url {
            sts = sts.endpoint_url(url);
        }
        let client = aws_sdk_sts::Client::from_conf(sts.build());
        match client.get_caller_identity().send().await {
            Ok(answer) => Ok(CallerIdentityProbe {
                verdict: EvidenceVerdict::StillLive,
                detail: format!(
                    "sts:GetCallerIdentity signed with {key_id} was answered: it authenticates \
                     as {}",
                    answer.arn().unwrap_or("an unnamed principal")
                ),
            }),
            Err(err) => {
                let (code, message) = error_code(&err);
                match code.as_str() {
                    "InvalidClientTokenId" => Ok(CallerIdentityProbe {
                        verdict: EvidenceVerdict::VerifiedRevoked,
                        detail: format!(
                            "sts:GetCallerIdentity signed with {key_id} was refused: {code}: \
                             {message}"
                        ),
                    }),
                    "" => Err(failure("sts:GetCallerIdentity", "access key", key_id)(err)),
                    _ => Ok(CallerIdentityProbe {
                        verdict: EvidenceVerdict::Unverified,
                        detail: format!(
                            "sts:GetCallerIdentity signed with {key_id} was refused with {code} \
                             ({message}), which does not show the key is dead (a \
                             SignatureDoesNotMatch means the key exists but this is not its \
                             secret)"
                        ),
                    }),
                }
            }
        }
    }
}

/// What a user, role or policy reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entity {
    User(String),
    Role(String),
    /// A customer-managed policy, by ARN, or by name when given as `policy/NAME`.
    Policy {
        arn: Option<String>,
        name: String,
    },
    /// An ARN of something else (a group, an assumed-role session, another service's
    /// resource): never guessed to be a user.
    Other,
}

impl Entity {
    fn parse(native_id: &str) -> Entity {
        let last = |resource: &str| resource.rsplit('/').next().unwrap_or(resource).to_string();
        if let Some(rest) = native_id.strip_prefix("arn:") {
            // arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let (service, resource) = match parts.as_slice() {
                [_, service, _, _, resource] => (*service, *resource),
                _ => return Entity::Other,
            };
            if service != "iam" {
                return Entity::Other;
            }
            return match resource.split_once('/') {
                Some(("user", _)) => Entity::User(last(resource)),
                Some(("role", _)) => Entity::Role(last(resource)),
                Some(("policy", _)) => Entity::Policy {
                    arn: Some(native_id.to_string()),
                    name: last(resource),
                },
                _ => Entity::Other,
            };
        }
        if let Some(role) = native_id.strip_prefix("role/") {
            return Entity::Role(last(role));
        }
        if let Some(policy) = native_id.strip_prefix("policy/") {
            return Entity::Policy {
                arn: None,
                name: last(policy),
            };
        }
        Entity::User(native_id.to_string())
    }

    fn what(&self) -> &'static str {
        match self {
            Entity::User(_) => "IAM user",
            Entity::Role(_) => "IAM role",
            Entity::Policy { .. } => "customer-managed IAM policy",
            Entity::Other => "resource that is not an IAM user, role or customer-managed policy",
        }
    }
}

/// Maps an SDK failure of IAM/STS action `action` (e.g. `iam:DeleteAccessKey`) to what a
/// responder does next; `what` and `id` name the target when AWS says it does not exist.
fn failure<E>(
    action: &'static str,
    what: &'static str,
    id: &str,
) -> impl FnOnce(SdkError<E>) -> ConnectorError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let id = id.to_string();
    move |err| {
        let reason = DisplayErrorContext(&err).to_string();
        match &err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
                return ConnectorError::Unreachable {
                    provider: NAME,
                    reason: format!("{action}: {reason}"),
                };
            }
            SdkError::ConstructionFailure(_) => {
                return ConnectorError::Config(format!("{action}: {reason}"));
            }
            _ => {}
        }
        let status = err.raw_response().map(|r| r.status().as_u16());
        let (code, message) = error_code(&err);
        let words = match (code.is_empty(), message.is_empty()) {
            (false, false) => format!("{code}: {message}"),
            (false, true) => code.clone(),
            (true, _) => match status {
                Some(status) => format!("HTTP {status}: {}", body_excerpt(&err)),
                None => reason,
            },
        };
        match code.as_str() {
            "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
                ConnectorError::Forbidden {
                    provider: NAME,
                    permission: action.to_string(),
                    reason: words,
                }
            }
            "NoSuchEntity" | "NoSuchEntityException" => ConnectorError::NotFound {
                provider: NAME,
                what,
                native_id: id,
            },
            "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "InvalidAccessKeyId"
            | "IncompleteSignature"
            | "MissingAuthenticationToken" => ConnectorError::Config(format!(
                "AWS refused the credentials evict signs with ({words}) while calling \
                 {action}: check [aws] access_key_id, secret_access_key and session_token"
            )),
            "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "ServiceFailure"
            | "ServiceUnavailable"
            | "InternalFailure" => ConnectorError::Throttled {
                provider: NAME,
                reason: format!("{action}: {words}"),
                retry_after: None,
            },
            _ if status.is_some_and(|s| s >= 500) => ConnectorError::Throttled {
                provider: NAME,
                reason: format!("{action}: {words}"),
                retry_after: None,
            },
            _ => ConnectorError::Provider {
                provider: NAME,
                what: action,
                reason: words,
            },
        }
    }
}

/// The error's code and message. The SDK parses them from AWS's `<ErrorResponse><Error>`;
/// some servers (moto's authorisation errors) wrap them once more, so when the SDK found no
/// code the body is read for the first `<Code>` and `<Message>`.
fn error_code<E: ProvideErrorMetadata>(err: &SdkError<E>) -> (String, String) {
    if let Some(code) = err.code() {
        return (
            code.to_string(),
            err.message().unwrap_or_default().to_string(),
        );
    }
    let body = err
        .raw_response()
        .and_then(|r| r.body().bytes())
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let element = |name: &str| {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        body.split_once(open.as_str())
            .and_then(|(_, rest)| rest.split_once(close.as_str()))
            .map(|(inside, _)| inside.trim().to_string())
            .unwrap_or_default()
    };
    (element("Code"), element("Message"))
}

/// The start of an error response's body, for an answer that is not AWS's error format.
fn body_excerpt<E>(err: &SdkError<E>) -> String {
    let body = err
        .raw_response()
        .and_then(|r| r.body().bytes())
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let excerpt: String = body.chars().take(300).collect();
    if excerpt.trim().is_empty() {
        "(no body)".into()
    } else {
        excerpt
    }
}

/// `Ok(None)` for a target AWS says does not exist.
fn present<T>(result: Result<T, ConnectorError>) -> Result<Option<T>, ConnectorError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(ConnectorError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn timestamp(t: &DateTime) -> Option<Timestamp> {
    Timestamp::new(t.secs(), i32::try_from(t.subsec_nanos()).ok()?).ok()
}

fn unsupported(action: ActionKind, what: impl Into<String>) -> ConnectorError {
    ConnectorError::Unsupported {
        provider: NAME,
        action,
        what: what.into(),
    }
}

/// One access key as `ListAccessKeys` shows it.
#[derive(Debug, Clone)]
struct KeyState {
    user: String,
    id: String,
    active: bool,
    created: Option<Timestamp>,
}

impl KeyState {
    fn from_metadata(user: &str, key: &AccessKeyMetadata) -> Option<KeyState> {
        Some(KeyState {
            user: key.user_name().unwrap_or(user).to_string(),
            id: key.access_key_id()?.to_string(),
            active: key.status() == Some(&StatusType::Active),
            created: key.create_date().and_then(timestamp),
        })
    }
}

impl Aws {
    /// Builds the connector from its configuration, reading the credentials from where it
    /// says. Nothing is sent until the first call.
    pub fn from_config(config: &AwsConfig) -> Result<Aws, ConnectorError> {
        let access_key_id = config.access_key_id.read()?;
        let secret_access_key = config.secret_access_key.read()?;
        let session_token = config
            .session_token
            .as_ref()
            .map(|reference| reference.read())
            .transpose()?;
        let credentials = Credentials::new(
            access_key_id.expose(),
            secret_access_key.expose(),
            session_token.as_ref().map(|t| t.expose().to_string()),
            None,
            "evict-connectors-config",
        );
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(
                config.connect_timeout_seconds.unwrap_or(5),
            ))
            .operation_timeout(Duration::from_secs(
                config.operation_timeout_seconds.unwrap_or(30),
            ))
            .build();
        // One HTTP client (hyper + rustls on ring, the provider reqwest also uses) for IAM
        // and STS; it speaks plain http:// too, which the configuration allows on loopback.
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut iam = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .credentials_provider(credentials)
            .http_client(http.clone())
            .timeout_config(timeouts.clone())
            .retry_config(
                RetryConfig::standard().with_max_attempts(config.max_attempts.unwrap_or(3)),
            );
        if let Some(url) = &config.endpoint_url {
            iam = iam.endpoint_url(url);
        }
        let delay = config
            .propagation_delay_seconds
            .unwrap_or(AwsConfig::DEFAULT_PROPAGATION_DELAY_SECONDS);
        Ok(Aws {
            iam: aws_sdk_iam::Client::from_conf(iam.build()),
            http,
            region: config.region.clone(),
            endpoint_url: config.endpoint_url.clone(),
            timeouts,
            semantics: Semantics {
                supports: SUPPORTS,
                cascades: CASCADES,
                leaves_alive: LEAVES_ALIVE,
                propagation_delay: Duration::from_secs(delay),
                irrevocable: &[],
                idempotent: true,
                not_found: NotFound::Error,
                follow_ups: &[],
            },
            acted_at: Mutex::new(HashMap::new()),
        })
    }

    /// The secret-known probe: signs `sts:GetCallerIdentity` with `key_id` and `secret` (a
    /// copy found in a leak). AWS refusing the key (`InvalidClientTokenId`) is evidence that
    /// it is dead; an answer means it still authenticates. A wrong secret for a real key id
    /// proves nothing either way, and neither does any other refusal.
    ///
    /// Not the only probe a revocation gets: [`Provider::verify`] reads the key's state back
    /// with `ListAccessKeys` (a local IAM emulator, for one, accepts `Inactive` keys). And it
    /// proves authentication only: `GetCallerIdentity` needs no permission and is answered
    /// even under an explicit deny, so a role session cut off by `AWSRevokeOlderSessions`
    /// still answers it — this is no probe for sessions.
    pub async fn caller_identity_refused(
        &self,
        key_id: &str,
        secret: &SecretString,
    ) -> Result<CallerIdentityProbe, ConnectorError> {
        self.secret_probe().caller_identity(key_id, secret).await
    }

    /// The secret-known probe on this connector's endpoint, region and timeouts.
    fn secret_probe(&self) -> SecretProbe {
        SecretProbe {
            http: self.http.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            timeouts: self.timeouts.clone(),
        }
    }

    /// Checks the role's `AWSRevokeOlderSessions` policy against an act at `acted_at`: in
    /// place, denying everything to sessions issued before a cut-off at or after it.
    pub async fn verify_role_sessions_since(
        &self,
        target: &Target,
        acted_at: Timestamp,
    ) -> Result<Evidence, ConnectorError> {
        let Entity::Role(role) = Entity::parse(&target.native_id) else {
            return Err(unsupported(
                ActionKind::TerminateSessions,
                "IAM user or policy",
            ));
        };
        Ok(match self.role_cut_off(&role).await? {
            RoleCutOff::RoleGone => target.evidence(
                NAME,
                EvidenceVerdict::Unverified,
                format!(
                    "iam:GetRole: role '{role}' no longer exists; AWS evaluates a session \
                     against its role, but no read-back shows its sessions refused"
                ),
            ),
            RoleCutOff::NoPolicy => target.evidence(
                NAME,
                EvidenceVerdict::StillLive,
                format!(
                    "iam:GetRolePolicy: role '{role}' has no {REVOKE_OLDER_SESSIONS} policy: \
                     every unexpired session of it works"
                ),
            ),
            RoleCutOff::NotDenying(why) => target.evidence(
                NAME,
                EvidenceVerdict::StillLive,
                format!(
                    "iam:GetRolePolicy: role '{role}' has a {REVOKE_OLDER_SESSIONS} policy that \
                     does not deny older sessions: {why}"
                ),
            ),
            RoleCutOff::At(cut_off) if cut_off < acted_at => target.evidence(
                NAME,
                EvidenceVerdict::StillLive,
                format!(
                    "iam:GetRolePolicy: role '{role}' denies sessions issued before {cut_off}, \
                     earlier than the act at {acted_at}: sessions issued in between still work"
                ),
            ),
            RoleCutOff::At(cut_off) => target.evidence(
                NAME,
                EvidenceVerdict::VerifiedRevoked,
                format!(
                    "iam:GetRolePolicy: role '{role}' has {REVOKE_OLDER_SESSIONS} denying every \
                     action to sessions issued before {cut_off} (aws:TokenIssueTime), at or \
                     after the act at {acted_at}; {ROLE_DENY_NOTE}"
                ),
            ),
        })
    }

    async fn user_exists(&self, user: &str) -> Result<bool, ConnectorError> {
        let got = self
            .iam
            .get_user()
            .user_name(user)
            .send()
            .await
            .map_err(failure("iam:GetUser", "IAM user", user));
        Ok(present(got)?.is_some())
    }

    async fn keys_of(&self, user: &str) -> Result<Vec<KeyState>, ConnectorError> {
        let keys = self
            .iam
            .list_access_keys()
            .user_name(user)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(failure("iam:ListAccessKeys", "IAM user", user))?;
        Ok(keys
            .iter()
            .filter_map(|k| KeyState::from_metadata(user, k))
            .collect())
    }

    /// Finds an access key and its user: `GetAccessKeyLastUsed` names the user, and
    /// `ListAccessKeys` of that user gives its status. `None` when no user lists it.
    ///
    /// When IAM names no user — `NoSuchEntity`, or `AccessDenied`, which AWS may answer for a
    /// key id that is not in the account — every user's keys are read, so that "absent" is a
    /// read-back and not a guess (one `ListAccessKeys` per user: slow in a large account, and
    /// only for a key that is gone).
    async fn find_key(&self, key_id: &str) -> Result<Option<KeyState>, ConnectorError> {
        let owner = match self
            .iam
            .get_access_key_last_used()
            .access_key_id(key_id)
            .send()
            .await
            .map_err(failure("iam:GetAccessKeyLastUsed", "access key", key_id))
        {
            Ok(answer) => answer.user_name().map(str::to_string),
            Err(ConnectorError::NotFound { .. } | ConnectorError::Forbidden { .. }) => None,
            Err(e) => return Err(e),
        };
        if let Some(user) = owner
            && let Some(key) = self.key_of(&user, key_id).await?
        {
            return Ok(Some(key));
        }
        for user in self.user_names().await? {
            if let Some(key) = self.key_of(&user, key_id).await? {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// The key `key_id` of `user`, if that user (still) exists and lists it.
    async fn key_of(&self, user: &str, key_id: &str) -> Result<Option<KeyState>, ConnectorError> {
        Ok(present(self.keys_of(user).await)?
            .and_then(|keys| keys.into_iter().find(|k| k.id == key_id)))
    }

    async fn user_names(&self) -> Result<Vec<String>, ConnectorError> {
        let users = self
            .iam
            .list_users()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(failure("iam:ListUsers", "IAM user", "*"))?;
        Ok(users.iter().map(|u| u.user_name().to_string()).collect())
    }

    async fn has_login_profile(&self, user: &str) -> Result<bool, ConnectorError> {
        Ok(self.login_profile(user).await?.is_some())
    }

    /// The user's login profile (console password), with its creation time; `None` when the
    /// user has none.
    async fn login_profile(&self, user: &str) -> Result<Option<Option<Timestamp>>, ConnectorError> {
        let got = self
            .iam
            .get_login_profile()
            .user_name(user)
            .send()
            .await
            .map_err(failure("iam:GetLoginProfile", "login profile", user));
        Ok(present(got)?.map(|answer| {
            answer
                .login_profile()
                .map(|p| p.create_date())
                .and_then(timestamp)
        }))
    }

    async fn set_key_status(
        &self,
        user: &str,
        key_id: &str,
        status: StatusType,
    ) -> Result<(), ConnectorError> {
        self.iam
            .update_access_key()
            .user_name(user)
            .access_key_id(key_id)
            .status(status)
            .send()
            .await
            .map_err(failure("iam:UpdateAccessKey", "access key", key_id))?;
        Ok(())
    }

    async fn delete_key(&self, user: &str, key_id: &str) -> Result<(), ConnectorError> {
        self.iam
            .delete_access_key()
            .user_name(user)
            .access_key_id(key_id)
            .send()
            .await
            .map_err(failure("iam:DeleteAccessKey", "access key", key_id))?;
        Ok(())
    }

    /// Deletes the user's login profile; false when it had none.
    async fn delete_login_profile(&self, user: &str) -> Result<bool, ConnectorError> {
        let deleted = self
            .iam
            .delete_login_profile()
            .user_name(user)
            .send()
            .await
            .map_err(failure("iam:DeleteLoginProfile", "login profile", user));
        Ok(present(deleted)?.is_some())
    }

    async fn signing_certificates(
        &self,
        user: &str,
    ) -> Result<Vec<(String, bool)>, ConnectorError> {
        let certificates = self
            .iam
            .list_signing_certificates()
            .user_name(user)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(failure("iam:ListSigningCertificates", "IAM user", user))?;
        Ok(certificates
            .iter()
            .map(|c| {
                (
                    c.certificate_id().to_string(),
                    c.status() == &StatusType::Active,
                )
            })
            .collect())
    }

    async fn ssh_keys(&self, user: &str) -> Result<Vec<(String, bool)>, ConnectorError> {
        let keys = self
            .iam
            .list_ssh_public_keys()
            .user_name(user)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(failure("iam:ListSSHPublicKeys", "IAM user", user))?;
        Ok(keys
            .iter()
            .map(|k| {
                (
                    k.ssh_public_key_id().to_string(),
                    k.status() == &StatusType::Active,
                )
            })
            .collect())
    }

    /// Every long-term credential of `user` that still works, named for the evidence.
    async fn live_credentials_of(&self, user: &str) -> Result<Vec<String>, ConnectorError> {
        let mut live: Vec<String> = self
            .keys_of(user)
            .await?
            .into_iter()
            .filter(|k| k.active)
            .map(|k| format!("access key {} Active", k.id))
            .collect();
        if self.has_login_profile(user).await? {
            live.push("a login profile (console password)".into());
        }
        for (id, active) in self.signing_certificates(user).await? {
            if active {
                live.push(format!("signing certificate {id} Active"));
            }
        }
        for (id, active) in self.ssh_keys(user).await? {
            if active {
                live.push(format!("SSH public key {id} Active"));
            }
        }
        Ok(live)
    }

    /// IAM's way to disable a user: every access key, signing certificate and SSH key of
    /// that one user made `Inactive`, and its console password deleted.
    async fn disable_user(&self, user: &str) -> Result<Acted, ConnectorError> {
        if !self.user_exists(user).await? {
            return Err(not_found("IAM user", user));
        }
        let mut done = Vec::new();
        for key in self.keys_of(user).await? {
            if key.active {
                self.set_key_status(user, &key.id, StatusType::Inactive)
                    .await?;
                done.push(format!("iam:UpdateAccessKey {} Inactive", key.id));
            }
        }
        if self.delete_login_profile(user).await? {
            done.push("iam:DeleteLoginProfile".into());
        }
        for (id, active) in self.signing_certificates(user).await? {
            if active {
                self.iam
                    .update_signing_certificate()
                    .user_name(user)
                    .certificate_id(&id)
                    .status(StatusType::Inactive)
                    .send()
                    .await
                    .map_err(failure(
                        "iam:UpdateSigningCertificate",
                        "signing certificate",
                        &id,
                    ))?;
                done.push(format!("iam:UpdateSigningCertificate {id} Inactive"));
            }
        }
        for (id, active) in self.ssh_keys(user).await? {
            if active {
                self.iam
                    .update_ssh_public_key()
                    .user_name(user)
                    .ssh_public_key_id(&id)
                    .status(StatusType::Inactive)
                    .send()
                    .await
                    .map_err(failure("iam:UpdateSSHPublicKey", "SSH public key", &id))?;
                done.push(format!("iam:UpdateSSHPublicKey {id} Inactive"));
            }
        }
        Ok(Acted {
            changed: !done.is_empty(),
            detail: if done.is_empty() {
                format!("user '{user}' had no active credential and no login profile")
            } else {
                format!("user '{user}': {}", done.join("; "))
            },
        })
    }

    /// The teardown of an attacker-made user, in the order IAM requires before `DeleteUser`.
    async fn delete_user(&self, user: &str) -> Result<Acted, ConnectorError> {
        if !self.user_exists(user).await? {
            return Err(not_found("IAM user", user));
        }
        let iam = &self.iam;
        let mut done = Vec::new();
        // A key deleted meanwhile (by its own deletion step, or by hand) is not a failure of
        // the teardown: it is gone, as asked.
        for key in self.keys_of(user).await? {
            if key.active
                && present(
                    self.set_key_status(user, &key.id, StatusType::Inactive)
                        .await,
                )?
                .is_none()
            {
                continue;
            }
            if present(self.delete_key(user, &key.id).await)?.is_some() {
                done.push(format!("access key {} deactivated and deleted", key.id));
            }
        }
        if self.delete_login_profile(user).await? {
            done.push("login profile deleted".into());
        }
        for (id, _) in self.signing_certificates(user).await? {
            iam.delete_signing_certificate()
                .user_name(user)
                .certificate_id(&id)
                .send()
                .await
                .map_err(failure(
                    "iam:DeleteSigningCertificate",
                    "signing certificate",
                    &id,
                ))?;
            done.push(format!("signing certificate {id} deleted"));
        }
        for (id, _) in self.ssh_keys(user).await? {
            iam.delete_ssh_public_key()
                .user_name(user)
                .ssh_public_key_id(&id)
                .send()
                .await
                .map_err(failure("iam:DeleteSSHPublicKey", "SSH public key", &id))?;
            done.push(format!("SSH public key {id} deleted"));
        }
        let devices = iam
            .list_mfa_devices()
            .user_name(user)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(failure("iam:ListMFADevices", "IAM user", user))?;
        for device in &devices {
            let serial = device.serial_number();
            iam.deactivate_mfa_device()
                .user_name(user)
                .serial_number(serial)
                .send()
                .await
                .map_err(failure("iam:DeactivateMFADevice", "MFA device", serial))?;
            // A virtual device outlives its user unless deleted; a hardware one is only
            // unassigned.
            if serial.starts_with("arn:") {
                iam.delete_virtual_mfa_device()
                    .serial_number(serial)
                    .send()
                    .await
                    .map_err(failure("iam:DeleteVirtualMFADevice", "MFA device", serial))?;
            }
            done.push(format!("MFA device {serial} removed"));
        }
        let attached = iam
            .list_attached_user_policies()
            .user_name(user)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(failure("iam:ListAttachedUserPolicies", "IAM user", user))?;
        for policy in &attached {
            let Some(arn) = policy.policy_arn() else {
                continue;
            };
            iam.detach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map_err(failure("iam:DetachUserPolicy", "policy attachment", arn))?;
            done.push(format!("policy {arn} detached"));
        }
        let inline = iam
            .list_user_policies()
            .user_name(user)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(failure("iam:ListUserPolicies", "IAM user", user))?;
        for name in &inline {
            iam.delete_user_policy()
                .user_name(user)
                .policy_name(name)
                .send()
                .await
                .map_err(failure("iam:DeleteUserPolicy", "inline policy", name))?;
            done.push(format!("inline policy {name} deleted"));
        }
        let groups = iam
            .list_groups_for_user()
            .user_name(user)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(failure("iam:ListGroupsForUser", "IAM user", user))?;
        for group in &groups {
            let name = group.group_name();
            iam.remove_user_from_group()
                .user_name(user)
                .group_name(name)
                .send()
                .await
                .map_err(failure("iam:RemoveUserFromGroup", "group membership", name))?;
            done.push(format!("removed from group {name}"));
        }
        iam.delete_user()
            .user_name(user)
            .send()
            .await
            .map_err(failure("iam:DeleteUser", "IAM user", user))?;
        done.push("iam:DeleteUser".into());
        Ok(Acted {
            changed: true,
            detail: format!("user '{user}': {}", done.join("; ")),
        })
    }

    /// Writes `AWSRevokeOlderSessions` with a cut-off of now (rounded up to the second, so
    /// that no session issued before the act survives rounding). Acting again moves the
    /// cut-off to the new now, as the console's "Revoke active sessions" does.
    async fn revoke_role_sessions(&self, role: &str) -> Result<Acted, ConnectorError> {
        let before = match self.role_cut_off(role).await? {
            RoleCutOff::RoleGone => return Err(not_found("IAM role", role)),
            RoleCutOff::At(t) => Some(t),
            RoleCutOff::NoPolicy | RoleCutOff::NotDenying(_) => None,
        };
        let cut_off = policy::cut_off_now();
        if before.is_some_and(|b| b >= cut_off) {
            self.remember_act(role, cut_off);
            return Ok(Acted {
                changed: false,
                detail: format!(
                    "role '{role}' already denies sessions issued before {}",
                    before.unwrap_or(cut_off)
                ),
            });
        }
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(REVOKE_OLDER_SESSIONS)
            .policy_document(policy::revoke_older_sessions(cut_off))
            .send()
            .await
            .map_err(failure("iam:PutRolePolicy", "IAM role", role))?;
        self.remember_act(role, cut_off);
        Ok(Acted {
            changed: true,
            detail: format!(
                "iam:PutRolePolicy {REVOKE_OLDER_SESSIONS} on role '{role}': deny * on * when \
                 aws:TokenIssueTime < {cut_off}{}",
                before.map(|b| format!(" (was {b})")).unwrap_or_default()
            ),
        })
    }

    fn remember_act(&self, role: &str, at: Timestamp) {
        if let Ok(mut acted_at) = self.acted_at.lock() {
            acted_at.insert(role.to_string(), at);
        }
    }

    fn remembered_act(&self, role: &str) -> Option<Timestamp> {
        self.acted_at.lock().ok()?.get(role).copied()
    }

    async fn role_cut_off(&self, role: &str) -> Result<RoleCutOff, ConnectorError> {
        let got = self
            .iam
            .get_role()
            .role_name(role)
            .send()
            .await
            .map_err(failure("iam:GetRole", "IAM role", role));
        if present(got)?.is_none() {
            return Ok(RoleCutOff::RoleGone);
        }
        let document = self
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(REVOKE_OLDER_SESSIONS)
            .send()
            .await
            .map_err(failure(
                "iam:GetRolePolicy",
                "role policy",
                REVOKE_OLDER_SESSIONS,
            ));
        Ok(match present(document)? {
            None => RoleCutOff::NoPolicy,
            Some(answer) => match policy::denied_before(answer.policy_document()) {
                Ok(cut_off) => RoleCutOff::At(cut_off),
                Err(why) => RoleCutOff::NotDenying(why),
            },
        })
    }

    async fn policy_arn(&self, arn: Option<&str>, name: &str) -> Result<String, ConnectorError> {
        if let Some(arn) = arn {
            return Ok(arn.to_string());
        }
        let policies = self
            .iam
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(failure(
                "iam:ListPolicies",
                "customer-managed IAM policy",
                name,
            ))?;
        policies
            .iter()
            .find(|p| p.policy_name() == Some(name))
            .and_then(|p| p.arn())
            .map(str::to_string)
            .ok_or_else(|| not_found("customer-managed IAM policy", name))
    }

    /// Detaches the policy from every user, group and role, deletes its non-default versions
    /// (IAM refuses to delete a policy that has them), then the policy.
    async fn delete_policy(&self, arn: &str) -> Result<Acted, ConnectorError> {
        let iam = &self.iam;
        let what = "customer-managed IAM policy";
        if present(
            iam.get_policy()
                .policy_arn(arn)
                .send()
                .await
                .map_err(failure("iam:GetPolicy", what, arn)),
        )?
        .is_none()
        {
            return Err(not_found(what, arn));
        }
        let mut done = Vec::new();
        let mut pages = iam
            .list_entities_for_policy()
            .policy_arn(arn)
            .into_paginator()
            .send();
        let mut users = Vec::new();
        let mut groups = Vec::new();
        let mut roles = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(failure("iam:ListEntitiesForPolicy", what, arn))?;
            users.extend(
                page.policy_users()
                    .iter()
                    .filter_map(|u| u.user_name().map(str::to_string)),
            );
            groups.extend(
                page.policy_groups()
                    .iter()
                    .filter_map(|g| g.group_name().map(str::to_string)),
            );
            roles.extend(
                page.policy_roles()
                    .iter()
                    .filter_map(|r| r.role_name().map(str::to_string)),
            );
        }
        for user in &users {
            iam.detach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map_err(failure("iam:DetachUserPolicy", "policy attachment", user))?;
            done.push(format!("detached from user {user}"));
        }
        for group in &groups {
            iam.detach_group_policy()
                .group_name(group)
                .policy_arn(arn)
                .send()
                .await
                .map_err(failure("iam:DetachGroupPolicy", "policy attachment", group))?;
            done.push(format!("detached from group {group}"));
        }
        for role in &roles {
            iam.detach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
                .await
                .map_err(failure("iam:DetachRolePolicy", "policy attachment", role))?;
            done.push(format!("detached from role {role}"));
        }
        let versions = iam
            .list_policy_versions()
            .policy_arn(arn)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(failure("iam:ListPolicyVersions", what, arn))?;
        for version in versions.iter().filter(|v| !v.is_default_version()) {
            let Some(id) = version.version_id() else {
                continue;
            };
            iam.delete_policy_version()
                .policy_arn(arn)
                .version_id(id)
                .send()
                .await
                .map_err(failure("iam:DeletePolicyVersion", "policy version", id))?;
            done.push(format!("version {id} deleted"));
        }
        iam.delete_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(failure("iam:DeletePolicy", what, arn))?;
        done.push("iam:DeletePolicy".into());
        Ok(Acted {
            changed: true,
            detail: format!("policy {arn}: {}", done.join("; ")),
        })
    }

    async fn act_on_identity(
        &self,
        target: &Target,
        action: ActionKind,
    ) -> Result<Acted, ConnectorError> {
        let entity = Entity::parse(&target.native_id);
        match (&entity, action) {
            (Entity::User(user), ActionKind::Disable) => self.disable_user(user).await,
            (Entity::User(user), ActionKind::Delete) => self.delete_user(user).await,
            (Entity::Role(role), ActionKind::TerminateSessions) => {
                self.revoke_role_sessions(role).await
            }
            (Entity::Policy { arn, name }, ActionKind::Delete) => {
                let arn = self.policy_arn(arn.as_deref(), name).await?;
                self.delete_policy(&arn).await
            }
            _ => Err(unsupported(action, entity.what())),
        }
    }

    async fn act_on_key(&self, key_id: &str, action: ActionKind) -> Result<Acted, ConnectorError> {
        let Some(key) = self.find_key(key_id).await? else {
            return Err(not_found("access key", key_id));
        };
        match action {
            ActionKind::Disable if !key.active => Ok(Acted {
                changed: false,
                detail: format!(
                    "access key {key_id} of user '{}' is already Inactive",
                    key.user
                ),
            }),
            ActionKind::Disable => {
                self.set_key_status(&key.user, key_id, StatusType::Inactive)
                    .await?;
                Ok(Acted {
                    changed: true,
                    detail: format!(
                        "iam:UpdateAccessKey {key_id} of user '{}' Inactive",
                        key.user
                    ),
                })
            }
            ActionKind::Delete if key.active => Err(unsupported(
                action,
                "still-Active access key (deactivate before delete: disable it first, then \
                 delete)",
            )),
            ActionKind::Delete => {
                self.delete_key(&key.user, key_id).await?;
                Ok(Acted {
                    changed: true,
                    detail: format!("iam:DeleteAccessKey {key_id} of user '{}'", key.user),
                })
            }
            _ => Err(unsupported(action, "access key")),
        }
    }

    async fn verify_identity(
        &self,
        target: &Target,
        action: ActionKind,
    ) -> Result<Evidence, ConnectorError> {
        let entity = Entity::parse(&target.native_id);
        match (&entity, action) {
            (Entity::User(user), ActionKind::Disable | ActionKind::Delete) => {
                if !self.user_exists(user).await? {
                    return Ok(target.evidence(
                        NAME,
                        EvidenceVerdict::VerifiedRevoked,
                        format!("iam:GetUser: no user '{user}' (NoSuchEntity)"),
                    ));
                }
                if action == ActionKind::Delete {
                    return Ok(target.evidence(
                        NAME,
                        EvidenceVerdict::StillLive,
                        format!("iam:GetUser: user '{user}' still exists"),
                    ));
                }
                let live = self.live_credentials_of(user).await?;
                Ok(if live.is_empty() {
                    target.evidence(
                        NAME,
                        EvidenceVerdict::VerifiedRevoked,
                        format!(
                            "user '{user}': ListAccessKeys shows no Active key, GetLoginProfile \
                             NoSuchEntity, no Active signing certificate or SSH key"
                        ),
                    )
                } else {
                    target.evidence(
                        NAME,
                        EvidenceVerdict::StillLive,
                        format!("user '{user}' still has {}", live.join(", ")),
                    )
                })
            }
            (Entity::Role(role), ActionKind::TerminateSessions) => {
                match self.remembered_act(role) {
                    Some(acted_at) => self.verify_role_sessions_since(target, acted_at).await,
                    None => Ok(match self.role_cut_off(role).await? {
                        RoleCutOff::NoPolicy => target.evidence(
                            NAME,
                            EvidenceVerdict::StillLive,
                            format!(
                                "iam:GetRolePolicy: role '{role}' has no \
                                 {REVOKE_OLDER_SESSIONS} policy: every unexpired session of \
                                 it works"
                            ),
                        ),
                        other => target.evidence(
                            NAME,
                            EvidenceVerdict::Unverified,
                            format!(
                                "role '{role}': {other}; when the act on its sessions was is \
                                 not known here, so whether that cut-off is after it cannot be \
                                 told (verify through `evict incident verify`, which recalls \
                                 the act, or act again)"
                            ),
                        ),
                    }),
                }
            }
            (Entity::Policy { arn, name }, ActionKind::Delete) => {
                let arn = match present(self.policy_arn(arn.as_deref(), name).await)? {
                    Some(arn) => arn,
                    None => {
                        return Ok(target.evidence(
                            NAME,
                            EvidenceVerdict::VerifiedRevoked,
                            format!("iam:ListPolicies: no customer-managed policy '{name}'"),
                        ));
                    }
                };
                let got = self
                    .iam
                    .get_policy()
                    .policy_arn(&arn)
                    .send()
                    .await
                    .map_err(failure(
                        "iam:GetPolicy",
                        "customer-managed IAM policy",
                        &arn,
                    ));
                Ok(match present(got)? {
                    None => target.evidence(
                        NAME,
                        EvidenceVerdict::VerifiedRevoked,
                        format!("iam:GetPolicy: no policy {arn} (NoSuchEntity)"),
                    ),
                    Some(answer) => target.evidence(
                        NAME,
                        EvidenceVerdict::StillLive,
                        format!(
                            "iam:GetPolicy: policy {arn} still exists, attached to {} \
                             entities",
                            answer
                                .policy()
                                .and_then(|p| p.attachment_count())
                                .unwrap_or_default()
                        ),
                    ),
                })
            }
            _ => Err(unsupported(action, entity.what())),
        }
    }
}

/// What a role's `AWSRevokeOlderSessions` policy says.
#[derive(Debug)]
enum RoleCutOff {
    RoleGone,
    NoPolicy,
    NotDenying(String),
    At(Timestamp),
}

impl std::fmt::Display for RoleCutOff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoleCutOff::RoleGone => write!(f, "the role no longer exists"),
            RoleCutOff::NoPolicy => write!(f, "no {REVOKE_OLDER_SESSIONS} policy"),
            RoleCutOff::NotDenying(why) => {
                write!(
                    f,
                    "a {REVOKE_OLDER_SESSIONS} policy that denies nothing: {why}"
                )
            }
            RoleCutOff::At(t) => write!(
                f,
                "{REVOKE_OLDER_SESSIONS} denies sessions issued before {t}"
            ),
        }
    }
}

fn not_found(what: &'static str, id: &str) -> ConnectorError {
    ConnectorError::NotFound {
        provider: NAME,
        what,
        native_id: id.to_string(),
    }
}

impl Provider for Aws {
    fn name(&self) -> &'static str {
        NAME
    }

    fn semantics(&self) -> &Semantics {
        &self.semantics
    }

    /// A role's sessions are verified against the start of the act that cut them off; the
    /// cut-off this process wrote itself, when it did, is kept (it is the later bound).
    fn recall(&self, target: &Target, action: ActionKind, act: &PastAct) {
        if action != ActionKind::TerminateSessions {
            return;
        }
        if let Entity::Role(role) = Entity::parse(&target.native_id)
            && let Ok(mut acted_at) = self.acted_at.lock()
        {
            acted_at.entry(role).or_insert(act.began_at);
        }
    }

    /// Users (by ARN, as the credential report names them), roles, access keys and login
    /// profiles.
    ///
    /// An access key's `external_key` is `<user arn>#access_key_N`, N being its slot (1 or
    /// 2) in creation order among the user's current keys — the slots the credential report
    /// (`evict import aws-credential-report`) can only name. Discovery gives each slot its
    /// real key id (`native_id`), which is how an imported slot learns which key it is.
    async fn discover(&self) -> Result<Discovery, ConnectorError> {
        let aws = ProviderName::new(NAME).map_err(|e| ConnectorError::Config(e.to_string()))?;
        let mut found = Discovery::default();
        let users = self
            .iam
            .list_users()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(failure("iam:ListUsers", "IAM user", "*"))?;
        for user in &users {
            let name = user.user_name();
            let arn = user.arn();
            let login_profile = self.login_profile(name).await?;
            let has_password = login_profile.is_some();
            let mut identity = Identity::new(
                aws.clone(),
                arn,
                if has_password {
                    IdentityKind::Human
                } else {
                    IdentityKind::Service
                },
            );
            identity.name = name.to_string();
            identity.created_at = timestamp(user.create_date());
            identity.last_used_at = user.password_last_used().and_then(timestamp);

            let mut keys = self.keys_of(name).await?;
            keys.sort_by_key(|k| k.created);
            for (slot, key) in keys.iter().enumerate() {
                let mut credential = Credential::new(
                    aws.clone(),
                    format!("{arn}#access_key_{}", slot + 1),
                    CredentialKind::AccessKey,
                );
                credential.native_id = Some(key.id.clone());
                credential.identity = Some(identity.id.clone());
                credential.status = if key.active {
                    CredentialStatus::Active
                } else {
                    CredentialStatus::Inactive
                };
                credential.issued_at = key.created;
                let used = self
                    .iam
                    .get_access_key_last_used()
                    .access_key_id(&key.id)
                    .send()
                    .await
                    .map_err(failure("iam:GetAccessKeyLastUsed", "access key", &key.id))?;
                if let Some(last) = used.access_key_last_used() {
                    credential.last_used_at = last.last_used_date().and_then(timestamp);
                    let from: Vec<&str> = [last.region(), last.service_name()]
                        .into_iter()
                        .filter(|v| !v.is_empty() && *v != "N/A")
                        .collect();
                    credential.last_used_from = (!from.is_empty()).then(|| from.join(" "));
                }
                identity.last_used_at = identity.last_used_at.max(credential.last_used_at);
                found.credentials.push(credential);
            }
            if let Some(created) = login_profile {
                let mut password = Credential::new(
                    aws.clone(),
                    format!("{arn}#password"),
                    CredentialKind::Password,
                );
                password.native_id = Some(name.to_string());
                password.identity = Some(identity.id.clone());
                password.issued_at = created;
                password.last_used_at = user.password_last_used().and_then(timestamp);
                found.credentials.push(password);
            }
            if keys.iter().all(|k| !k.active) && !has_password {
                identity.status = IdentityStatus::Disabled;
            }
            found.identities.push(identity);
        }
        let roles = self
            .iam
            .list_roles()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(failure("iam:ListRoles", "IAM role", "*"))?;
        for role in &roles {
            // A role is assumed by software and by people alike; "service" assumes least.
            let mut identity = Identity::new(aws.clone(), role.arn(), IdentityKind::Service);
            identity.name = role.role_name().to_string();
            identity.created_at = timestamp(role.create_date());
            identity.last_used_at = role
                .role_last_used()
                .and_then(|u| u.last_used_date())
                .and_then(timestamp);
            found.identities.push(identity);
        }
        Ok(found)
    }

    async fn act(&self, target: &Target, action: ActionKind) -> Result<Acted, ConnectorError> {
        if !self.semantics.supports(target.kind, action) {
            return Err(unsupported(action, target.kind.to_string()));
        }
        match target.kind {
            IDENTITY => self.act_on_identity(target, action).await,
            ACCESS_KEY => self.act_on_key(&target.native_id, action).await,
            PASSWORD => {
                let Entity::User(user) = Entity::parse(&target.native_id) else {
                    return Err(unsupported(
                        action,
                        "login profile of something other than an IAM user",
                    ));
                };
                if !self.user_exists(&user).await? {
                    return Err(not_found("IAM user", &user));
                }
                if !self.delete_login_profile(&user).await? {
                    return Err(not_found("login profile", &user));
                }
                Ok(Acted {
                    changed: true,
                    detail: format!("iam:DeleteLoginProfile of user '{user}'"),
                })
            }
            _ => Err(unsupported(action, target.kind.to_string())),
        }
    }

    async fn verify(
        &self,
        target: &Target,
        action: ActionKind,
    ) -> Result<Evidence, ConnectorError> {
        if !self.semantics.supports(target.kind, action) {
            return Err(unsupported(action, target.kind.to_string()));
        }
        match target.kind {
            IDENTITY => self.verify_identity(target, action).await,
            ACCESS_KEY => {
                let key_id = target.native_id.as_str();
                // Read back from ListAccessKeys, never from STS alone: a key IAM lists as
                // Active works; Inactive or absent, it does not (on AWS; an emulator may
                // still accept it, which is why the state, not a call, is the evidence).
                Ok(match self.find_key(key_id).await? {
                    None => target.evidence(
                        NAME,
                        EvidenceVerdict::VerifiedRevoked,
                        format!("iam:ListAccessKeys: no user has access key {key_id}"),
                    ),
                    Some(key) if key.active => target.evidence(
                        NAME,
                        EvidenceVerdict::StillLive,
                        format!(
                            "iam:ListAccessKeys: access key {key_id} of user '{}' is Active",
                            key.user
                        ),
                    ),
                    Some(key) => target.evidence(
                        NAME,
                        EvidenceVerdict::VerifiedRevoked,
                        format!(
                            "iam:ListAccessKeys: access key {key_id} of user '{}' is Inactive{}",
                            key.user,
                            if action == ActionKind::Delete {
                                " (not yet deleted)"
                            } else {
                                ""
                            }
                        ),
                    ),
                })
            }
            PASSWORD => {
                let Entity::User(user) = Entity::parse(&target.native_id) else {
                    return Err(unsupported(
                        action,
                        "login profile of something other than an IAM user",
                    ));
                };
                Ok(if self.has_login_profile(&user).await? {
                    target.evidence(
                        NAME,
                        EvidenceVerdict::StillLive,
                        format!("iam:GetLoginProfile: user '{user}' still has a console password"),
                    )
                } else {
                    target.evidence(
                        NAME,
                        EvidenceVerdict::VerifiedRevoked,
                        format!(
                            "iam:GetLoginProfile: user '{user}' has no login profile \
                             (NoSuchEntity): no console password"
                        ),
                    )
                })
            }
            _ => Err(unsupported(action, target.kind.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_users_roles_and_policies_by_name_or_arn() {
        assert_eq!(Entity::parse("mallory"), Entity::User("mallory".into()));
        assert_eq!(
            Entity::parse("arn:aws:iam::123456789012:user/ops/mallory"),
            Entity::User("mallory".into())
        );
        assert_eq!(Entity::parse("role/deploy"), Entity::Role("deploy".into()));
        assert_eq!(
            Entity::parse("arn:aws:iam::123456789012:role/service/deploy"),
            Entity::Role("deploy".into())
        );
        assert_eq!(
            Entity::parse("arn:aws:iam::123456789012:policy/backdoor"),
            Entity::Policy {
                arn: Some("arn:aws:iam::123456789012:policy/backdoor".into()),
                name: "backdoor".into()
            }
        );
        for other in [
            "arn:aws:iam::123456789012:group/admins",
            "arn:aws:sts::123456789012:assumed-role/deploy/session",
            "arn:aws:s3:::bucket",
            "arn:nonsense",
        ] {
            assert_eq!(Entity::parse(other), Entity::Other, "{other}");
        }
        assert_eq!(
            Entity::parse("policy/backdoor"),
            Entity::Policy {
                arn: None,
                name: "backdoor".into()
            }
        );
    }

    fn answered(code: Option<&str>, status: u16, body: &str) -> ConnectorError {
        use aws_sdk_iam::config::http::HttpResponse;
        use aws_sdk_iam::error::ErrorMetadata;
        use aws_sdk_iam::operation::get_user::GetUserError;
        let mut meta = ErrorMetadata::builder();
        if let Some(code) = code {
            meta = meta.code(code).message("the provider's words");
        }
        let raw = HttpResponse::new(status.try_into().unwrap(), body.to_string().into());
        let err = SdkError::service_error(GetUserError::generic(meta.build()), raw);
        failure("iam:GetUser", "IAM user", "mallory")(err)
    }

    #[test]
    fn answers_map_to_what_a_responder_does_next() {
        match answered(Some("AccessDenied"), 403, "") {
            ConnectorError::Forbidden { permission, .. } => assert_eq!(permission, "iam:GetUser"),
            other => panic!("{other:?}"),
        }
        match answered(Some("NoSuchEntity"), 404, "") {
            ConnectorError::NotFound {
                what, native_id, ..
            } => {
                assert_eq!((what, native_id.as_str()), ("IAM user", "mallory"))
            }
            other => panic!("{other:?}"),
        }
        for (code, status) in [(Some("Throttling"), 400), (None, 503), (Some("Odd"), 500)] {
            let e = answered(code, status, "");
            assert!(
                matches!(e, ConnectorError::Throttled { .. }) && e.retryable(),
                "{code:?} {status}: {e:?}"
            );
        }
        let refused = answered(Some("ValidationError"), 400, "");
        assert!(
            matches!(refused, ConnectorError::Provider { .. }) && !refused.retryable(),
            "{refused:?}"
        );
        assert!(
            refused
                .to_string()
                .contains("ValidationError: the provider's words")
        );
        assert!(matches!(
            answered(Some("InvalidClientTokenId"), 403, ""),
            ConnectorError::Config(_)
        ));
        // moto wraps authorisation errors one element deeper than AWS; the code is found.
        let wrapped = "<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>not \
                       authorized</Message></Error></Errors></ErrorResponse>";
        match answered(None, 403, wrapped) {
            ConnectorError::Forbidden { reason, .. } => {
                assert_eq!(reason, "AccessDenied: not authorized")
            }
            other => panic!("{other:?}"),
        }
        let html = answered(None, 400, "<html>proxy says no</html>").to_string();
        assert!(html.contains("HTTP 400: <html>proxy says no"), "{html}");
    }

    #[test]
    fn the_semantics_say_what_a_key_deactivation_leaves_alive() {
        assert!(SUPPORTS.contains(&(ACCESS_KEY, ActionKind::Disable)));
        assert!(!SUPPORTS.contains(&(PASSWORD, ActionKind::Disable)));
        assert!(
            LEAVES_ALIVE
                .iter()
                .any(|n| n.contains("access key") && n.contains("temporary credentials"))
        );
    }
}
