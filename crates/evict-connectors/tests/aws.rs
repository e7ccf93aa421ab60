//! The AWS connector against a real IAM/STS API: `moto_server` on 127.0.0.1, one per test,
//! with authentication switched on. While moto still accepts anything, the test makes an
//! administrator (an inline policy allowing `iam:*` and `sts:*`) and its access key; then
//! `POST /moto-api/reset-auth` with `0` makes moto check every signature and policy, and both
//! the connector and the test's own set-up sign with real keys from then on. The attacker's
//! credentials are real moto credentials, made at test time.
#![allow(clippy::unwrap_used)]

mod compliance;

use std::time::{Duration, Instant};

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iam::types::StatusType;
use evict_connectors::aws::{Aws, REVOKE_OLDER_SESSIONS};
use evict_connectors::{ConnectorError, ConnectorsConfig, PastAct, Provider, Target};
use evict_model::{ActionKind, CredentialKind, CredentialStatus, EvidenceVerdict, SecretString};
use evict_testkit::servers::{
    ServerProcess, free_port, missing, moto_check_signatures, moto_server,
};
use jiff::Timestamp;

const REGION: &str = "us-east-1";

/// A password made at test time: never a literal secret in the tree.
fn generated_password() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("Pw-{hex}!")
}

/// A key pair as moto issued it.
#[derive(Clone)]
struct Key {
    id: String,
    secret: String,
}

fn http_client() -> aws_sdk_iam::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// The test's own IAM client (the attacker's hands and the responder's eyes), signing with
/// `id`/`secret`.
fn iam_client(url: &str, id: &str, secret: &str) -> aws_sdk_iam::Client {
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(Credentials::new(id, secret, None, None, "test"))
        .http_client(http_client())
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

fn sts_client(url: &str, key: &Key) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            &key.id,
            &key.secret,
            None,
            None,
            "test",
        ))
        .http_client(http_client())
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

/// A moto server with authentication on, its administrator's key, and the test's IAM client
/// signing with it.
struct Moto {
    server: ServerProcess,
    url: String,
    admin: Key,
    iam: aws_sdk_iam::Client,
    secrets: tempfile::TempDir,
}

async fn create_user_with_policy(iam: &aws_sdk_iam::Client, user: &str, actions: &[&str]) -> Key {
    iam.create_user().user_name(user).send().await.unwrap();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": actions, "Resource": "*" }]
    });
    iam.put_user_policy()
        .user_name(user)
        .policy_name("evict-test-permissions")
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap();
    create_key(iam, user).await
}

async fn create_key(iam: &aws_sdk_iam::Client, user: &str) -> Key {
    let key = iam
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    Key {
        id: key.access_key_id,
        secret: key.secret_access_key,
    }
}

/// Starts moto; `None` (and a notice) when it is not installed outside CI.
async fn moto() -> Option<Moto> {
    // Its access log goes to a file (kept open by moto after the folder goes).
    let logs = tempfile::tempdir().unwrap();
    let server = match moto_server(&logs.path().join("moto_server.log")) {
        Ok(server) => server,
        Err(why) => {
            missing("moto_server", why);
            return None;
        }
    };
    let port = server.port;
    let url = server.base_url();
    // Before authentication is on, moto takes any signature.
    let anyone = iam_client(&url, "bootstrap", "bootstrap");
    let admin = create_user_with_policy(&anyone, "evict-admin", &["iam:*", "sts:*"]).await;
    moto_check_signatures(port).unwrap();
    let iam = iam_client(&url, &admin.id, &admin.secret);
    Some(Moto {
        server,
        url,
        admin,
        iam,
        secrets: tempfile::tempdir().unwrap(),
    })
}

impl Moto {
    /// The connector, configured as a deployment would be: a TOML naming files that hold
    /// the key, with `extra` settings.
    fn connector_with(&self, key: &Key, endpoint: &str, extra: &str) -> Aws {
        let dir = self.secrets.path();
        let id_file = dir.join(format!("{}-id", key.id));
        let secret_file = dir.join(format!("{}-secret", key.id));
        std::fs::write(&id_file, format!("{}\n", key.id)).unwrap();
        std::fs::write(&secret_file, format!("{}\n", key.secret)).unwrap();
        let text = format!(
            "[aws]\nregion = \"{REGION}\"\nendpoint_url = \"{endpoint}\"\n\
             access_key_id = {{ file = \"{}\" }}\n\
             secret_access_key = {{ file = \"{}\" }}\n\
             propagation_delay_seconds = 0\n{extra}",
            id_file.display(),
            secret_file.display()
        );
        let config = ConnectorsConfig::parse(&text, "test.toml").unwrap();
        Aws::from_config(config.aws.as_ref().unwrap()).unwrap()
    }

    fn connector(&self) -> Aws {
        self.connector_with(&self.admin, &self.url, "")
    }

    async fn user_arn(&self, user: &str) -> String {
        self.iam
            .get_user()
            .user_name(user)
            .send()
            .await
            .unwrap()
            .user
            .unwrap()
            .arn
    }

    async fn create_role(&self, role: &str) {
        self.iam
            .create_role()
            .role_name(role)
            .assume_role_policy_document(trust_policy())
            .send()
            .await
            .unwrap();
    }

    async fn role_arn(&self, role: &str) -> String {
        self.iam
            .get_role()
            .role_name(role)
            .send()
            .await
            .unwrap()
            .role
            .unwrap()
            .arn
    }

    /// The cut-off of the role's `AWSRevokeOlderSessions` policy, as moto holds it.
    async fn written_cut_off(&self, role: &str) -> Timestamp {
        let written = self
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(REVOKE_OLDER_SESSIONS)
            .send()
            .await
            .unwrap();
        first_cut_off(written.policy_document())
    }

    async fn key_status(&self, user: &str, key_id: &str) -> Option<StatusType> {
        let keys = self
            .iam
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .unwrap();
        keys.access_key_metadata()
            .iter()
            .find(|k| k.access_key_id() == Some(key_id))
            .and_then(|k| k.status().cloned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_key_is_disabled_then_deleted_and_the_probe_reads_its_state_not_sts() {
    let Some(moto) = moto().await else {
        return;
    };
    let aws = moto.connector();
    // An existing service user whose legitimate key production uses; the attacker added a
    // second key to it.
    moto.iam
        .create_user()
        .user_name("ci-deployer")
        .send()
        .await
        .unwrap();
    let production = create_key(&moto.iam, "ci-deployer").await;
    let attacker = create_key(&moto.iam, "ci-deployer").await;
    let target = Target::credential(CredentialKind::AccessKey, &attacker.id);

    let before = aws.verify(&target, ActionKind::Disable).await.unwrap();
    assert_eq!(
        before.verdict,
        EvidenceVerdict::StillLive,
        "{}",
        before.detail
    );

    let acted = aws.act(&target, ActionKind::Disable).await.unwrap();
    assert!(acted.changed, "{}", acted.detail);
    tokio::time::sleep(aws.semantics().propagation_delay).await;
    let after = aws.verify(&target, ActionKind::Disable).await.unwrap();
    assert_eq!(
        after.verdict,
        EvidenceVerdict::VerifiedRevoked,
        "{}",
        after.detail
    );
    assert!(after.detail.contains("ListAccessKeys") && after.detail.contains("Inactive"));
    assert_eq!(
        moto.key_status("ci-deployer", &attacker.id).await,
        Some(StatusType::Inactive)
    );
    assert_eq!(
        moto.key_status("ci-deployer", &production.id).await,
        Some(StatusType::Active),
        "one key acted on, never every key of the user"
    );

    // The probe is not fooled: moto still accepts the Inactive key (AWS would not), so a
    // probe that trusted an STS call would call this key live — or, worse, a key that a
    // server accepted by mistake revoked. The read-back above is what decides.
    let sts_says = aws
        .caller_identity_refused(&attacker.id, &SecretString::new(attacker.secret.clone()))
        .await
        .unwrap();
    assert_eq!(
        sts_says.verdict,
        EvidenceVerdict::StillLive,
        "moto accepts Inactive keys for API calls; if it now refuses them, say so: {}",
        sts_says.detail
    );
    let used = sts_client(&moto.url, &attacker)
        .get_caller_identity()
        .send()
        .await;
    assert!(
        used.is_ok(),
        "the Inactive key still answers on moto: {used:?}"
    );

    // Acting again changes nothing; an Active key is not deleted before it is disabled.
    assert!(!aws.act(&target, ActionKind::Disable).await.unwrap().changed);
    let production_target = Target::credential(CredentialKind::AccessKey, &production.id);
    match aws.act(&production_target, ActionKind::Delete).await {
        Err(ConnectorError::Unsupported { what, .. }) => {
            assert!(what.contains("disable it first"), "{what}")
        }
        other => panic!("deleting an Active key: {other:?}"),
    }
    assert_eq!(
        moto.key_status("ci-deployer", &production.id).await,
        Some(StatusType::Active)
    );

    let deleted = aws.act(&target, ActionKind::Delete).await.unwrap();
    assert!(deleted.changed, "{}", deleted.detail);
    let gone = aws.verify(&target, ActionKind::Delete).await.unwrap();
    assert_eq!(
        gone.verdict,
        EvidenceVerdict::VerifiedRevoked,
        "{}",
        gone.detail
    );
    assert!(
        gone.detail.contains("no user has access key"),
        "{}",
        gone.detail
    );
    assert_eq!(moto.key_status("ci-deployer", &attacker.id).await, None);
    // Deleted, the key is refused by STS too: the secret-known probe now agrees.
    let sts_says = aws
        .caller_identity_refused(&attacker.id, &SecretString::new(attacker.secret.clone()))
        .await
        .unwrap();
    assert_eq!(
        sts_says.verdict,
        EvidenceVerdict::VerifiedRevoked,
        "{}",
        sts_says.detail
    );
    assert!(!sts_says.detail.contains(&attacker.secret));
    match aws.act(&target, ActionKind::Delete).await {
        Err(ConnectorError::NotFound { native_id, .. }) => assert_eq!(native_id, attacker.id),
        other => panic!("deleting a deleted key: {other:?}"),
    }
    drop(moto.server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_profile_is_deleted_and_proven_gone() {
    let Some(moto) = moto().await else {
        return;
    };
    let aws = moto.connector();
    moto.iam
        .create_user()
        .user_name("console-user")
        .send()
        .await
        .unwrap();
    moto.iam
        .create_login_profile()
        .user_name("console-user")
        .password(generated_password())
        .send()
        .await
        .unwrap();
    let target = Target::credential(CredentialKind::Password, "console-user");
    let before = aws.verify(&target, ActionKind::Delete).await.unwrap();
    assert_eq!(
        before.verdict,
        EvidenceVerdict::StillLive,
        "{}",
        before.detail
    );
    let acted = aws.act(&target, ActionKind::Delete).await.unwrap();
    assert!(acted.changed);
    let after = aws.verify(&target, ActionKind::Delete).await.unwrap();
    assert_eq!(
        after.verdict,
        EvidenceVerdict::VerifiedRevoked,
        "{}",
        after.detail
    );
    assert!(after.detail.contains("NoSuchEntity"), "{}", after.detail);
    assert!(
        moto.iam
            .get_login_profile()
            .user_name("console-user")
            .send()
            .await
            .is_err(),
        "moto has no login profile for the user"
    );
    match aws.act(&target, ActionKind::Delete).await {
        Err(ConnectorError::NotFound { what, .. }) => assert_eq!(what, "login profile"),
        other => panic!("deleting it twice: {other:?}"),
    }
    // Disabling a password is not something IAM has: refused, not approximated.
    assert!(matches!(
        aws.act(&target, ActionKind::Disable).await,
        Err(ConnectorError::Unsupported { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_made_user_is_torn_down_and_an_innocent_user_is_untouched() {
    let Some(moto) = moto().await else {
        return;
    };
    let aws = moto.connector();
    let iam = &moto.iam;
    // A group and a managed policy the innocent user shares with the attacker's user.
    iam.create_group()
        .group_name("developers")
        .send()
        .await
        .unwrap();
    let shared_policy = iam
        .create_policy()
        .policy_name("read-only-things")
        .policy_document(
            serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    iam.create_user().user_name("alice").send().await.unwrap();
    let alice_key = create_key(iam, "alice").await;
    iam.add_user_to_group()
        .group_name("developers")
        .user_name("alice")
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("alice")
        .policy_arn(&shared_policy)
        .send()
        .await
        .unwrap();

    // The attacker's user: two keys (one already Inactive), a console password, an MFA
    // device, an attached and an inline policy, a group.
    let backdoor = "svc-backup-agent";
    let backdoor_arn = {
        iam.create_user().user_name(backdoor).send().await.unwrap();
        moto.user_arn(backdoor).await
    };
    let first = create_key(iam, backdoor).await;
    create_key(iam, backdoor).await;
    iam.update_access_key()
        .user_name(backdoor)
        .access_key_id(&first.id)
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    iam.create_login_profile()
        .user_name(backdoor)
        .password(generated_password())
        .send()
        .await
        .unwrap();
    let device = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("backdoor-mfa")
        .send()
        .await
        .unwrap()
        .virtual_mfa_device
        .unwrap()
        .serial_number;
    iam.enable_mfa_device()
        .user_name(backdoor)
        .serial_number(&device)
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name(backdoor)
        .policy_arn(&shared_policy)
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name(backdoor)
        .policy_name("everything")
        .policy_document(
            serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .group_name("developers")
        .user_name(backdoor)
        .send()
        .await
        .unwrap();

    // By ARN, as discovery and the credential report name it.
    let target = Target::identity(&backdoor_arn);
    let before = aws.verify(&target, ActionKind::Delete).await.unwrap();
    assert_eq!(
        before.verdict,
        EvidenceVerdict::StillLive,
        "{}",
        before.detail
    );
    let acted = aws.act(&target, ActionKind::Delete).await.unwrap();
    assert!(acted.changed);
    for done in [
        "deactivated and deleted",
        "login profile deleted",
        "MFA device",
        "detached",
        "inline policy everything deleted",
        "removed from group developers",
        "iam:DeleteUser",
    ] {
        assert!(acted.detail.contains(done), "{done} in {}", acted.detail);
    }
    assert!(!acted.detail.contains(&first.secret));
    let after = aws.verify(&target, ActionKind::Delete).await.unwrap();
    assert_eq!(
        after.verdict,
        EvidenceVerdict::VerifiedRevoked,
        "{}",
        after.detail
    );
    assert!(iam.get_user().user_name(backdoor).send().await.is_err());
    let devices = iam.list_virtual_mfa_devices().send().await.unwrap();
    assert!(
        devices
            .virtual_mfa_devices()
            .iter()
            .all(|d| d.serial_number() != device),
        "the attacker's virtual MFA device is deleted too"
    );

    // Alice keeps her key, her group and her policy; the shared policy still exists.
    assert_eq!(
        moto.key_status("alice", &alice_key.id).await,
        Some(StatusType::Active)
    );
    let groups = iam
        .list_groups_for_user()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    assert_eq!(groups.groups().len(), 1);
    let attached = iam
        .list_attached_user_policies()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    assert_eq!(attached.attached_policies().len(), 1);
    assert!(
        iam.get_policy()
            .policy_arn(&shared_policy)
            .send()
            .await
            .is_ok()
    );

    match aws.act(&target, ActionKind::Delete).await {
        Err(ConnectorError::NotFound { .. }) => {}
        other => panic!("deleting a deleted user: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_managed_policy_is_detached_everywhere_and_deleted() {
    let Some(moto) = moto().await else {
        return;
    };
    let aws = moto.connector();
    let iam = &moto.iam;
    let document = |action: &str| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": action, "Resource": "*"}]})
        .to_string()
    };
    let arn = iam
        .create_policy()
        .policy_name("AdminHelper")
        .policy_document(document("iam:*"))
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    iam.create_policy_version()
        .policy_arn(&arn)
        .policy_document(document("*"))
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    iam.create_user().user_name("bob").send().await.unwrap();
    iam.create_group().group_name("ops").send().await.unwrap();
    iam.create_role()
        .role_name("ops-role")
        .assume_role_policy_document(trust_policy())
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("bob")
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    iam.attach_group_policy()
        .group_name("ops")
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name("ops-role")
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();

    let target = Target::identity(&arn);
    assert_eq!(
        aws.verify(&target, ActionKind::Delete)
            .await
            .unwrap()
            .verdict,
        EvidenceVerdict::StillLive
    );
    let acted = aws.act(&target, ActionKind::Delete).await.unwrap();
    for done in [
        "user bob",
        "group ops",
        "role ops-role",
        "version v1 deleted",
        "iam:DeletePolicy",
    ] {
        assert!(acted.detail.contains(done), "{done} in {}", acted.detail);
    }
    let after = aws.verify(&target, ActionKind::Delete).await.unwrap();
    assert_eq!(
        after.verdict,
        EvidenceVerdict::VerifiedRevoked,
        "{}",
        after.detail
    );
    assert!(iam.get_policy().policy_arn(&arn).send().await.is_err());
    // By name it is gone too, and the user, group and role remain.
    let by_name = Target::identity("policy/AdminHelper");
    assert_eq!(
        aws.verify(&by_name, ActionKind::Delete)
            .await
            .unwrap()
            .verdict,
        EvidenceVerdict::VerifiedRevoked
    );
    assert!(iam.get_user().user_name("bob").send().await.is_ok());
    assert!(iam.get_role().role_name("ops-role").send().await.is_ok());
}

fn trust_policy() -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sts:AssumeRole"}]})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_sessions_are_cut_off_by_aws_revoke_older_sessions_and_read_back() {
    let Some(moto) = moto().await else {
        return;
    };
    let aws = moto.connector();
    moto.create_role("deploy").await;
    let role = Target::identity("role/deploy");
    let before = aws
        .verify(&role, ActionKind::TerminateSessions)
        .await
        .unwrap();
    assert_eq!(
        before.verdict,
        EvidenceVerdict::StillLive,
        "{}",
        before.detail
    );

    let act_time = Timestamp::now();
    let acted = aws.act(&role, ActionKind::TerminateSessions).await.unwrap();
    assert!(acted.changed, "{}", acted.detail);
    let after = aws
        .verify(&role, ActionKind::TerminateSessions)
        .await
        .unwrap();
    assert_eq!(
        after.verdict,
        EvidenceVerdict::VerifiedRevoked,
        "{}",
        after.detail
    );

    // The policy moto holds: deny * on * before a cut-off at or after the act.
    let cut_off = moto.written_cut_off("deploy").await;
    assert!(
        cut_off >= act_time,
        "cut-off {cut_off} is at or after the act {act_time}"
    );

    // Acting again moves the cut-off to the new now (as the console does): changed, later.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = aws.act(&role, ActionKind::TerminateSessions).await.unwrap();
    assert!(again.changed, "{}", again.detail);
    assert!(again.detail.contains("(was "), "{}", again.detail);
    assert!(moto.written_cut_off("deploy").await > cut_off);
    let by_arn = Target::identity(moto.role_arn("deploy").await);
    assert_eq!(
        aws.verify(&by_arn, ActionKind::TerminateSessions)
            .await
            .unwrap()
            .verdict,
        EvidenceVerdict::VerifiedRevoked
    );

    // A cut-off before the act is not evidence: sessions issued in between still work.
    let later = Timestamp::now() + jiff::SignedDuration::from_secs(60);
    let stale = aws.verify_role_sessions_since(&role, later).await.unwrap();
    assert_eq!(
        stale.verdict,
        EvidenceVerdict::StillLive,
        "{}",
        stale.detail
    );
    // A connector that did not write the policy (another process) cannot tell when it was
    // written relative to the act: unverified, never revoked on a guess.
    let other = moto.connector();
    let unknown = other
        .verify(&role, ActionKind::TerminateSessions)
        .await
        .unwrap();
    assert_eq!(
        unknown.verdict,
        EvidenceVerdict::Unverified,
        "{}",
        unknown.detail
    );
    assert_eq!(
        other
            .verify_role_sessions_since(&role, act_time)
            .await
            .unwrap()
            .verdict,
        EvidenceVerdict::VerifiedRevoked
    );
    // The role itself is not disabled by this: that is not an act on a role.
    assert!(matches!(
        aws.act(&role, ActionKind::Disable).await,
        Err(ConnectorError::Unsupported { .. })
    ));
    match aws
        .act(
            &Target::identity("role/no-such-role"),
            ActionKind::TerminateSessions,
        )
        .await
    {
        Err(ConnectorError::NotFound { what, .. }) => assert_eq!(what, "IAM role"),
        other => panic!("{other:?}"),
    }
}

/// `evict incident verify` runs in another process than the `contain` that cut a role's
/// sessions off: its connector never wrote the policy, and is told when the act began
/// ([`Provider::recall`]) from the store. Told, it proves the cut-off; not told, it cannot
/// tell that policy from an older one; told of an act that began after the cut-off, the
/// policy leaves the sessions issued in between working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_session_cut_off_is_verified_by_another_connector_told_when_the_act_began() {
    let Some(moto) = moto().await else {
        return;
    };
    moto.create_role("deploy").await;
    let role = Target::identity("role/deploy");
    let began_at = Timestamp::now();
    let acted = moto
        .connector()
        .act(&role, ActionKind::TerminateSessions)
        .await
        .unwrap();
    assert!(acted.changed, "{}", acted.detail);
    let cut_off = moto.written_cut_off("deploy").await;
    let verify = |aws: Aws| {
        let role = role.clone();
        async move {
            aws.verify(&role, ActionKind::TerminateSessions)
                .await
                .unwrap()
        }
    };

    // Told when the act began, a connector that did not write the policy proves it.
    let told = moto.connector();
    told.recall(
        &role,
        ActionKind::TerminateSessions,
        &PastAct {
            began_at,
            changed: acted.changed,
        },
    );
    let proven = verify(told).await;
    assert_eq!(
        proven.verdict,
        EvidenceVerdict::VerifiedRevoked,
        "{}",
        proven.detail
    );
    assert!(
        proven.detail.contains(&cut_off.to_string()),
        "{}",
        proven.detail
    );

    // Not told (or told of another action on it), it cannot say the policy is the act's.
    let unknown = verify(moto.connector()).await;
    assert_eq!(
        unknown.verdict,
        EvidenceVerdict::Unverified,
        "{}",
        unknown.detail
    );
    let other_action = moto.connector();
    other_action.recall(
        &role,
        ActionKind::Disable,
        &PastAct {
            began_at,
            changed: true,
        },
    );
    assert_eq!(
        verify(other_action).await.verdict,
        EvidenceVerdict::Unverified
    );

    // Told of an act that began after the cut-off: sessions issued in between still work.
    let late = moto.connector();
    late.recall(
        &role,
        ActionKind::TerminateSessions,
        &PastAct {
            began_at: cut_off + jiff::SignedDuration::from_secs(5),
            changed: true,
        },
    );
    let stale = verify(late).await;
    assert_eq!(
        stale.verdict,
        EvidenceVerdict::StillLive,
        "{}",
        stale.detail
    );

    // The role's ARN names the same role: recalled by ARN, verified by name.
    let by_arn = moto.connector();
    by_arn.recall(
        &Target::identity(moto.role_arn("deploy").await),
        ActionKind::TerminateSessions,
        &PastAct {
            began_at,
            changed: true,
        },
    );
    assert_eq!(
        verify(by_arn).await.verdict,
        EvidenceVerdict::VerifiedRevoked
    );
}

/// The cut-off of the (single) statement of an `AWSRevokeOlderSessions` document.
fn first_cut_off(document: &str) -> Timestamp {
    let document = if document.starts_with('%') {
        // URL-encoded, as AWS returns policy documents.
        let mut out = Vec::new();
        let bytes = document.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&document[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    } else {
        document.to_string()
    };
    let policy: serde_json::Value = serde_json::from_str(&document).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(statement["Action"], serde_json::json!(["*"]));
    assert_eq!(statement["Resource"], serde_json::json!(["*"]));
    statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_iam_delete_access_key_is_forbidden_and_the_error_names_the_permission() {
    let Some(moto) = moto().await else {
        return;
    };
    let low = create_user_with_policy(
        &moto.iam,
        "evict-readonly",
        &["iam:Get*", "iam:List*", "iam:UpdateAccessKey"],
    )
    .await;
    moto.iam
        .create_user()
        .user_name("victim")
        .send()
        .await
        .unwrap();
    let attacker = create_key(&moto.iam, "victim").await;
    let aws = moto.connector_with(&low, &moto.url, "");
    assert!(
        !format!("{aws:?}").contains(&low.secret),
        "the connector's Debug does not show the secret it signs with"
    );
    let target = Target::credential(CredentialKind::AccessKey, &attacker.id);
    // Allowed: reading and deactivating.
    assert!(aws.act(&target, ActionKind::Disable).await.unwrap().changed);
    match aws.act(&target, ActionKind::Delete).await {
        Err(e @ ConnectorError::Forbidden { .. }) => {
            let message = e.to_string();
            assert!(message.contains("iam:DeleteAccessKey"), "{message}");
            assert!(!e.retryable());
            assert!(!message.contains(&low.secret) && !message.contains(&attacker.secret));
        }
        other => panic!("deleting without iam:DeleteAccessKey: {other:?}"),
    }
    assert_eq!(
        moto.key_status("victim", &attacker.id).await,
        Some(StatusType::Inactive),
        "the key is still there, Inactive"
    );
    // Credentials AWS does not know are a configuration error, said as such.
    let unknown = Key {
        id: format!("AKIA{}", "EVICTTESTUNKNOWN"),
        secret: generated_password(),
    };
    let stranger = moto.connector_with(&unknown, &moto.url, "");
    match stranger.act(&target, ActionKind::Disable).await {
        Err(ConnectorError::Config(message)) => {
            assert!(message.contains("access_key_id"), "{message}");
            assert!(!message.contains(&unknown.secret));
        }
        other => panic!("unknown credentials: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_unreachable_quickly() {
    // Needs no server: a port nothing listens on.
    let secrets = tempfile::tempdir().unwrap();
    let id_file = secrets.path().join("id");
    let secret_file = secrets.path().join("secret");
    std::fs::write(&id_file, "AKIA-not-used").unwrap();
    std::fs::write(&secret_file, generated_password()).unwrap();
    let text = format!(
        "[aws]\nregion = \"{REGION}\"\nendpoint_url = \"http://127.0.0.1:{}\"\n\
         access_key_id = {{ file = \"{}\" }}\nsecret_access_key = {{ file = \"{}\" }}\n\
         connect_timeout_seconds = 2\noperation_timeout_seconds = 5\nmax_attempts = 1\n",
        free_port(),
        id_file.display(),
        secret_file.display()
    );
    let config = ConnectorsConfig::parse(&text, "test.toml").unwrap();
    let aws = Aws::from_config(config.aws.as_ref().unwrap()).unwrap();
    let started = Instant::now();
    match aws
        .act(&Target::identity("anyone"), ActionKind::Disable)
        .await
    {
        Err(e @ ConnectorError::Unreachable { .. }) => {
            assert!(e.retryable());
            assert!(e.to_string().contains("iam:GetUser"), "{e}");
        }
        other => panic!("a closed port: {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let probe = aws
        .caller_identity_refused("AKIA-not-used", &SecretString::new(generated_password()))
        .await;
    assert!(
        matches!(probe, Err(ConnectorError::Unreachable { .. })),
        "{probe:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_iam_user_passes_the_compliance_check() {
    let Some(moto) = moto().await else {
        return;
    };
    let aws = moto.connector();
    moto.iam
        .create_user()
        .user_name("contractor")
        .send()
        .await
        .unwrap();
    let key = create_key(&moto.iam, "contractor").await;
    moto.iam
        .create_login_profile()
        .user_name("contractor")
        .password(generated_password())
        .send()
        .await
        .unwrap();
    let arn = moto.user_arn("contractor").await;
    compliance::check(&aws, &Target::identity(&arn)).await;
    // Disabling the user made its key Inactive and removed its console password.
    assert_eq!(
        moto.key_status("contractor", &key.id).await,
        Some(StatusType::Inactive)
    );
    assert!(
        moto.iam
            .get_login_profile()
            .user_name("contractor")
            .send()
            .await
            .is_err()
    );
    // The administrator's own key, on another user, is untouched.
    assert_eq!(
        moto.key_status("evict-admin", &moto.admin.id).await,
        Some(StatusType::Active)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_gives_each_credential_report_slot_its_real_key_id_and_last_use() {
    let Some(moto) = moto().await else {
        return;
    };
    let aws = moto.connector();
    moto.iam
        .create_user()
        .user_name("etl")
        .send()
        .await
        .unwrap();
    let first = create_key(&moto.iam, "etl").await;
    // Creation order decides the slot; a second apart so the order is unambiguous.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = create_key(&moto.iam, "etl").await;
    moto.iam
        .create_login_profile()
        .user_name("etl")
        .password(generated_password())
        .send()
        .await
        .unwrap();
    moto.iam
        .create_role()
        .role_name("etl-runner")
        .assume_role_policy_document(trust_policy())
        .send()
        .await
        .unwrap();
    // The first key is used once, through STS.
    let used_at = Timestamp::now();
    sts_client(&moto.url, &first)
        .get_caller_identity()
        .send()
        .await
        .unwrap();

    let found = aws.discover().await.unwrap();
    let arn = moto.user_arn("etl").await;
    let user = found
        .identities
        .iter()
        .find(|i| i.external_id == arn)
        .expect("the user is discovered by ARN");
    assert_eq!(user.name, "etl");
    assert!(user.created_at.is_some());
    let slot = |n: u8| {
        found
            .credentials
            .iter()
            .find(|c| c.external_key == format!("{arn}#access_key_{n}"))
            .unwrap_or_else(|| panic!("slot {n}: {:#?}", found.credentials))
    };
    let one = slot(1);
    assert_eq!(one.kind, CredentialKind::AccessKey);
    assert_eq!(one.native_id.as_deref(), Some(first.id.as_str()));
    assert_eq!(one.identity.as_ref(), Some(&user.id));
    assert_eq!(one.status, CredentialStatus::Active);
    assert!(one.issued_at.is_some());
    let last_used = one.last_used_at.expect("the STS call is its last use");
    assert!(
        last_used >= used_at - jiff::SignedDuration::from_secs(2),
        "{last_used} vs {used_at}"
    );
    assert_eq!(one.last_used_from.as_deref(), Some("us-east-1 sts"));
    let two = slot(2);
    assert_eq!(two.native_id.as_deref(), Some(second.id.as_str()));
    assert_eq!(two.last_used_at, None);
    assert!(one.issued_at <= two.issued_at);
    let password = found
        .credentials
        .iter()
        .find(|c| c.external_key == format!("{arn}#password"))
        .expect("the login profile");
    assert_eq!(password.kind, CredentialKind::Password);
    assert_eq!(password.native_id.as_deref(), Some("etl"));
    assert!(password.issued_at.is_some());
    assert!(
        found
            .identities
            .iter()
            .any(|i| i.name == "etl-runner" && i.external_id.ends_with(":role/etl-runner")),
        "roles are identities by ARN"
    );
    // Nothing secret is in what discovery returns.
    let everything = format!("{found:?}");
    for secret in [&first.secret, &second.secret, &moto.admin.secret] {
        assert!(!everything.contains(secret.as_str()));
    }
}
