//! AWS CloudTrail records: a population of IAM users and roles doing routine work, and the
//! attack's management events.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::util::{
    COMPROMISED_MS, Counting, DAY, HOUR, MINUTE, PATCHED_MS, SECOND, Source, Spec, TimeFmt,
    aws_key_id, aws_unique_id, civil_from_days, hash_str, ip_set, iso_secs, mix, pick, push_2,
    push_hex, push_hex_upper, push_sts_expiration, push_u64, push_uuid,
};
use super::{
    ATTACKER_IP, ATTACKER_UA, AWS_ADMIN, BACKDOOR_USER, COMPROMISED_IAM_USER, KEY_TARGET_USER,
    LogTruth, NEW_HIRE, NEW_KEY_IP, OUTSIDE_ACCOUNT, PRE_PATCH_SESSION_IP, TRUSTED_ROLE,
    ZERO_PADDED_IP, ZERO_PADDED_IP_USER,
};
use crate::{ACCOUNT, Rng};

pub(super) const REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"];

/// When the pre-patch session of the trusted role is issued.
pub(super) const PRE_PATCH_SESSION_MS: i64 = PATCHED_MS - 3 * HOUR;

const SALT_USER: u64 = 0xA3_5EED_0001;
const SALT_ROLE: u64 = 0xA3_5EED_0002;
const SALT_EVENT: u64 = 0xC7_0000_E1D0;
const SALT_REQUEST: u64 = 0xC7_0000_0BE0;

/// The stable long-term access key id of a named IAM user.
pub(super) fn named_user_key(name: &str) -> String {
    aws_key_id("AKIA", hash_str(SALT_USER, name))
}

/// The access key ids created by planted events (1: the attacker's key for billing-admin,
/// 2: the admin's key for the new hire).
pub(super) fn planted_key(n: u64) -> String {
    aws_key_id("AKIA", mix(0xA77A_C4ED ^ n))
}

/// The role session issued to the outside account before the patch.
pub(super) fn planted_session_key() -> String {
    aws_key_id("ASIA", mix(0x5E55_1011))
}

const CLI_UAS: [&str; 6] = [
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off",
    "aws-cli/2.17.5 Python/3.11.9 Darwin/23.5.0 exe/x86_64 prompt/off",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.79 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64",
    "APN/1.0 HashiCorp/1.0 Terraform/1.8.2 (+https://www.terraform.io) terraform-provider-aws/5.46.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64",
    "aws-sdk-java/2.25.40 Linux/6.1.84 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/legacy",
];
const LAMBDA_UA: &str =
    "aws-sdk-nodejs/2.1600.0 linux/v18.20.2 exec-env/AWS_Lambda_nodejs18.x promise";
const BROWSER_UAS: [&str; 4] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
];

const BUCKETS: [&str; 5] = [
    "example-corp-artifacts",
    "example-corp-logs",
    "example-corp-data-lake",
    "example-corp-backups",
    "example-corp-web-assets",
];
const FUNCTIONS: [&str; 4] = [
    "orders-api",
    "invoice-renderer",
    "thumbnailer",
    "nightly-report",
];
const TABLES: [&str; 4] = ["orders", "sessions", "feature-flags", "audit-index"];
const SECRET_IDS: [&str; 3] = ["prod/orders/db", "prod/web/session", "staging/orders/db"];
const PARAMETERS: [&str; 3] = ["/orders/config", "/web/feature-flags", "/shared/endpoints"];

/// What fills an API call's requestParameters.
#[derive(Debug, Clone, Copy)]
enum Params {
    Null,
    Static(&'static str),
    Bucket(&'static str),
    Function,
    Table,
    Role,
    Secret,
    Parameter,
}

/// A routine read-only API call.
#[derive(Debug)]
struct Api {
    source: &'static str,
    host: &'static str,
    name: &'static str,
    permission: &'static str,
    global: bool,
    params: Params,
    denied: &'static str,
}

const fn api(
    host: &'static str,
    source: &'static str,
    name: &'static str,
    permission: &'static str,
    params: Params,
    denied: &'static str,
) -> Api {
    Api {
        source,
        host,
        name,
        permission,
        global: false,
        params,
        denied,
    }
}

const fn global(mut a: Api) -> Api {
    a.global = true;
    a
}

const EC2_DENIED: &str = "Client.UnauthorizedOperation";
const DENIED: &str = "AccessDenied";
const DENIED_EXC: &str = "AccessDeniedException";

static APIS: [Api; 24] = [
    api(
        "ec2",
        "ec2.amazonaws.com",
        "DescribeInstances",
        "ec2:DescribeInstances",
        Params::Static(r#"{"instancesSet":{},"filterSet":{}}"#),
        EC2_DENIED,
    ),
    api(
        "ec2",
        "ec2.amazonaws.com",
        "DescribeInstances",
        "ec2:DescribeInstances",
        Params::Static(
            r#"{"instancesSet":{},"filterSet":{"items":[{"name":"instance-state-name","valueSet":{"items":[{"value":"running"}]}}]}}"#,
        ),
        EC2_DENIED,
    ),
    api(
        "ec2",
        "ec2.amazonaws.com",
        "DescribeSecurityGroups",
        "ec2:DescribeSecurityGroups",
        Params::Static(r#"{"securityGroupSet":{},"securityGroupIdSet":{},"filterSet":{}}"#),
        EC2_DENIED,
    ),
    api(
        "ec2",
        "ec2.amazonaws.com",
        "DescribeVolumes",
        "ec2:DescribeVolumes",
        Params::Static(r#"{"volumeSet":{},"filterSet":{}}"#),
        EC2_DENIED,
    ),
    api(
        "ec2",
        "ec2.amazonaws.com",
        "DescribeVpcs",
        "ec2:DescribeVpcs",
        Params::Static(r#"{"vpcSet":{},"filterSet":{}}"#),
        EC2_DENIED,
    ),
    api(
        "ec2",
        "ec2.amazonaws.com",
        "DescribeSubnets",
        "ec2:DescribeSubnets",
        Params::Static(r#"{"subnetSet":{},"filterSet":{}}"#),
        EC2_DENIED,
    ),
    global(api(
        "s3",
        "s3.amazonaws.com",
        "ListBuckets",
        "s3:ListAllMyBuckets",
        Params::Static(r#"{"Host":"s3.amazonaws.com"}"#),
        DENIED,
    )),
    api(
        "s3",
        "s3.amazonaws.com",
        "GetBucketPolicy",
        "s3:GetBucketPolicy",
        Params::Bucket("policy"),
        DENIED,
    ),
    api(
        "s3",
        "s3.amazonaws.com",
        "GetBucketAcl",
        "s3:GetBucketAcl",
        Params::Bucket("acl"),
        DENIED,
    ),
    api(
        "s3",
        "s3.amazonaws.com",
        "GetBucketLocation",
        "s3:GetBucketLocation",
        Params::Bucket("location"),
        DENIED,
    ),
    api(
        "lambda",
        "lambda.amazonaws.com",
        "ListFunctions20150331",
        "lambda:ListFunctions",
        Params::Null,
        DENIED_EXC,
    ),
    api(
        "lambda",
        "lambda.amazonaws.com",
        "GetFunction20150331v2",
        "lambda:GetFunction",
        Params::Function,
        DENIED_EXC,
    ),
    api(
        "dynamodb",
        "dynamodb.amazonaws.com",
        "DescribeTable",
        "dynamodb:DescribeTable",
        Params::Table,
        DENIED_EXC,
    ),
    api(
        "dynamodb",
        "dynamodb.amazonaws.com",
        "ListTables",
        "dynamodb:ListTables",
        Params::Null,
        DENIED_EXC,
    ),
    global(api(
        "iam",
        "iam.amazonaws.com",
        "GetRole",
        "iam:GetRole",
        Params::Role,
        DENIED,
    )),
    global(api(
        "iam",
        "iam.amazonaws.com",
        "ListAttachedRolePolicies",
        "iam:ListAttachedRolePolicies",
        Params::Role,
        DENIED,
    )),
    global(api(
        "iam",
        "iam.amazonaws.com",
        "GetAccountSummary",
        "iam:GetAccountSummary",
        Params::Null,
        DENIED,
    )),
    global(api(
        "iam",
        "iam.amazonaws.com",
        "GetUser",
        "iam:GetUser",
        Params::Null,
        DENIED,
    )),
    api(
        "kms",
        "kms.amazonaws.com",
        "DescribeKey",
        "kms:DescribeKey",
        Params::Static(r#"{"keyId":"alias/app-data"}"#),
        DENIED_EXC,
    ),
    api(
        "secretsmanager",
        "secretsmanager.amazonaws.com",
        "GetSecretValue",
        "secretsmanager:GetSecretValue",
        Params::Secret,
        DENIED_EXC,
    ),
    api(
        "ssm",
        "ssm.amazonaws.com",
        "GetParameter",
        "ssm:GetParameter",
        Params::Parameter,
        DENIED_EXC,
    ),
    api(
        "logs",
        "logs.amazonaws.com",
        "DescribeLogGroups",
        "logs:DescribeLogGroups",
        Params::Null,
        DENIED_EXC,
    ),
    api(
        "cloudformation",
        "cloudformation.amazonaws.com",
        "DescribeStacks",
        "cloudformation:DescribeStacks",
        Params::Null,
        DENIED,
    ),
    api(
        "ecr",
        "ecr.amazonaws.com",
        "DescribeRepositories",
        "ecr:DescribeRepositories",
        Params::Null,
        DENIED_EXC,
    ),
];

const API_LIST_BUCKETS: usize = 6;
const API_DESCRIBE_INSTANCES: usize = 0;
const API_GET_USER: usize = 17;

/// An IAM user of the background.
#[derive(Debug)]
struct User {
    name: String,
    human: bool,
    arn: String,
    principal_id: String,
    /// The userIdentity of calls signed with its long-term key.
    key_ident: String,
    ips: Vec<String>,
    /// Round-robin over `ips`, so every address a user has is in use long before the
    /// compromise (the hunt's baseline of "sources this credential used").
    ip_turn: std::cell::Cell<usize>,
    /// Which of `ips` the long-term key has used before the compromise (a bit each): after it,
    /// background calls keep to those, so no background credential turns up at a new source
    /// after the patch, however few events the logs have.
    ips_used_before: std::cell::Cell<u64>,
    cli_ua: &'static str,
    browser_ua: &'static str,
    region: usize,
    salt: u64,
}

impl User {
    fn new(name: String, human: bool, salt: u64, key_id: String, mut ips: Vec<String>) -> Self {
        let arn = format!("arn:aws:iam::{ACCOUNT}:user/{name}");
        let principal_id = aws_unique_id("AIDA", salt);
        let key_ident = format!(
            r#"{{"type":"IAMUser","principalId":"{principal_id}","arn":"{arn}","accountId":"{ACCOUNT}","accessKeyId":"{key_id}","userName":"{name}"}}"#
        );
        if name == ZERO_PADDED_IP_USER {
            ips.push(ZERO_PADDED_IP.to_string());
        }
        User {
            cli_ua: CLI_UAS[(mix(salt ^ 0xC11) % CLI_UAS.len() as u64) as usize],
            browser_ua: BROWSER_UAS[(mix(salt ^ 0xB40) % BROWSER_UAS.len() as u64) as usize],
            region: (mix(salt ^ 0x4E6) % 4) as usize,
            name,
            human,
            arn,
            principal_id,
            key_ident,
            ips,
            ip_turn: std::cell::Cell::new(0),
            ips_used_before: std::cell::Cell::new(0),
            salt,
        }
    }

    /// The address of this user's next call at `t` (epoch milliseconds); `long_term` when the
    /// call is signed with the user's access key, whose sources the hunt's baseline learns.
    fn next_ip(&self, t: i64, long_term: bool) -> String {
        let n = self.ips.len().min(64);
        let mut turn = self.ip_turn.get();
        let used = self.ips_used_before.get();
        if t >= COMPROMISED_MS && used != 0 {
            while used & (1 << (turn % n)) == 0 {
                turn += 1;
            }
        }
        self.ip_turn.set(turn + 1);
        if long_term && t < COMPROMISED_MS {
            self.ips_used_before.set(used | (1 << (turn % n)));
        }
        self.ips[turn % n].clone()
    }

    fn named(name: &str, human: bool) -> Self {
        let salt = hash_str(SALT_USER, name);
        User::new(
            name.to_string(),
            human,
            salt,
            named_user_key(name),
            ip_set(salt),
        )
    }

    fn login_ident(&self) -> String {
        format!(
            r#"{{"type":"IAMUser","principalId":"{}","arn":"{}","accountId":"{ACCOUNT}","userName":"{}"}}"#,
            self.principal_id, self.arn, self.name
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Instance,
    Lambda,
    Ci,
    Sso,
}

/// An IAM role of the background.
#[derive(Debug)]
struct Role {
    name: String,
    arn: String,
    unique_id: String,
    style: Style,
    /// `"sessionIssuer":{…}` of its sessions.
    issuer: String,
    ips: Vec<String>,
    ua: &'static str,
    region: usize,
    salt: u64,
}

impl Role {
    fn new(name: String, style: Style, salt: u64) -> Self {
        let arn = format!("arn:aws:iam::{ACCOUNT}:role/{name}");
        let unique_id = aws_unique_id("AROA", salt);
        let issuer = format!(
            r#""sessionIssuer":{{"type":"Role","principalId":"{unique_id}","arn":"{arn}","accountId":"{ACCOUNT}","userName":"{name}"}}"#
        );
        let ua = match style {
            Style::Lambda => LAMBDA_UA,
            Style::Ci => CLI_UAS[4],
            _ => CLI_UAS[(mix(salt ^ 0xC11) % CLI_UAS.len() as u64) as usize],
        };
        Role {
            region: if style == Style::Ci {
                0
            } else {
                (mix(salt ^ 0x4E6) % 4) as usize
            },
            ips: ip_set(salt),
            name,
            arn,
            unique_id,
            style,
            issuer,
            ua,
            salt,
        }
    }

    fn service(&self) -> &'static str {
        if self.style == Style::Lambda {
            "lambda.amazonaws.com"
        } else {
            "ec2.amazonaws.com"
        }
    }

    /// The session name of session slot `k`.
    fn push_session_name(&self, buf: &mut String, k: u64) {
        match self.style {
            Style::Instance => {
                buf.push_str("i-0");
                push_hex(buf, mix(self.salt ^ 0x1D), 16);
            }
            Style::Lambda => {
                buf.push_str(FUNCTIONS[(self.salt % FUNCTIONS.len() as u64) as usize]);
            }
            Style::Ci => {
                buf.push_str("gha-deploy-");
                push_u64(buf, 9_000_000_000 + mix(self.salt ^ k) % 999_999_999);
            }
            Style::Sso => {
                buf.push_str("user-");
                let n = mix(self.salt ^ k ^ 0x550) % 10_000_000;
                let mut digits = String::new();
                push_u64(&mut digits, n);
                for _ in digits.len()..7 {
                    buf.push('0');
                }
                buf.push_str(&digits);
                buf.push_str("@example.com");
            }
        }
    }
}

/// Length of one session slot: a session is used 1 to 55 minutes after it was issued.
const SLOT: i64 = 54 * MINUTE;

/// The session in use by a principal at `t`: its key id and issue time, chosen so that no
/// session issued before the patch is used after it. `None` in the first minute after the
/// patch (no session old enough exists yet).
fn session_at(salt: u64, t: i64) -> Option<(String, i64, u64)> {
    let base = PATCHED_MS - MINUTE - (mix(salt ^ 0x0FF5) % (SLOT / SECOND) as u64) as i64 * SECOND;
    let k = (t - MINUTE - base).div_euclid(SLOT);
    let created = base + k * SLOT;
    if created < PATCHED_MS && t >= PATCHED_MS {
        if t < PATCHED_MS + MINUTE {
            return None;
        }
        let k = u64::MAX;
        return Some((aws_key_id("ASIA", mix(salt ^ k)), PATCHED_MS, k));
    }
    let k = k as u64;
    Some((
        aws_key_id("ASIA", mix(salt ^ k.wrapping_mul(0x9E37_79B9))),
        created,
        k,
    ))
}

/// The fields of one CloudTrail record.
#[derive(Debug, Default)]
struct Rec<'a> {
    ident: &'a str,
    t: i64,
    source: &'a str,
    name: &'a str,
    region: &'a str,
    ip: &'a str,
    ua: &'a str,
    error_code: Option<&'a str>,
    error_message: Option<&'a str>,
    request: &'a str,
    response: &'a str,
    additional: Option<&'a str>,
    request_id: bool,
    read_only: bool,
    resources: Option<&'a str>,
    sign_in: bool,
    data_event: bool,
    /// `clientProvidedHostHeader` of tlsDetails.
    host: Option<&'a str>,
    from_console: bool,
}

/// Scratch buffers reused across records.
#[derive(Debug, Default)]
struct Scratch {
    ident: String,
    arn: String,
    request: String,
    response: String,
    message: String,
    host: String,
    extra: String,
}

/// The CloudTrail generator.
#[derive(Debug)]
pub(super) struct CloudTrail {
    rng: Rng,
    tf: TimeFmt,
    users: Vec<User>,
    humans: Vec<usize>,
    roles: Vec<Role>,
    assumable: Vec<usize>,
    service_roles: Vec<usize>,
    specs: Vec<Spec>,
    logstash: bool,
    scratch: Scratch,
    seed: u64,
}

const CI_DEPLOY: usize = 0;
const BILLING_ADMIN: usize = 1;
const ALICE: usize = 2;

impl CloudTrail {
    pub(super) fn new(seed: u64, events: u64, logstash: bool) -> Self {
        let mut users = vec![
            User::named(COMPROMISED_IAM_USER, false),
            User::named(KEY_TARGET_USER, true),
            User::named(AWS_ADMIN, true),
            User::named(ZERO_PADDED_IP_USER, false),
            User::named("terraform-ci", false),
        ];
        let extra_users = (events / 4000).clamp(8, 2000);
        for i in 0..extra_users {
            let salt = mix(seed ^ SALT_USER ^ i.wrapping_mul(0x100_0001));
            let human = mix(salt) % 10 < 6;
            let name = if human {
                format!("user-{i:07}")
            } else {
                format!("svc-{i:07}")
            };
            users.push(User::new(
                name,
                human,
                salt,
                aws_key_id("AKIA", salt),
                ip_set(salt),
            ));
        }
        let humans = (0..users.len()).filter(|&i| users[i].human).collect();
        let mut roles = vec![
            Role::new(
                TRUSTED_ROLE.to_string(),
                Style::Ci,
                hash_str(SALT_ROLE, TRUSTED_ROLE),
            ),
            Role::new(
                "staging-deployer".to_string(),
                Style::Ci,
                hash_str(SALT_ROLE, "staging-deployer"),
            ),
        ];
        let extra_roles = (events / 20_000).clamp(6, 300);
        for i in 0..extra_roles {
            let salt = mix(seed ^ SALT_ROLE ^ i.wrapping_mul(0x300_0007));
            let (name, style) = match i % 4 {
                0 => (format!("ec2-app-{i:03}"), Style::Instance),
                1 => (format!("lambda-exec-{i:03}"), Style::Lambda),
                2 => {
                    let mut name = "AWSReservedSSO_ReadOnly_".to_string();
                    push_hex(&mut name, salt, 16);
                    (name, Style::Sso)
                }
                _ => (format!("eks-node-{i:03}"), Style::Instance),
            };
            roles.push(Role::new(name, style, salt));
        }
        let assumable = (0..roles.len())
            .filter(|&i| matches!(roles[i].style, Style::Ci | Style::Sso))
            .collect();
        let service_roles = (0..roles.len())
            .filter(|&i| matches!(roles[i].style, Style::Instance | Style::Lambda))
            .collect();
        CloudTrail {
            rng: Rng::new(seed ^ 0xC10D_7EA1),
            tf: TimeFmt::default(),
            users,
            humans,
            roles,
            assumable,
            service_roles,
            specs: specs(),
            logstash,
            scratch: Scratch::default(),
            seed,
        }
    }

    /// A skewed pick: low indices (the named principals) are chosen more often.
    fn skewed(&mut self, n: usize) -> usize {
        let a = self.rng.below(n as u64);
        let b = self.rng.below(n as u64);
        a.min(b) as usize
    }

    fn push(&mut self, buf: &mut String, index: u64, rec: &Rec<'_>) {
        let r = self.rng.next_u64();
        push_record(buf, &mut self.tf, rec, index, r, self.logstash);
    }

    /// Fills `s.request` for an API call.
    fn params(&mut self, s: &mut Scratch, a: &Api, region: &str) {
        s.request.clear();
        s.host.clear();
        match a.params {
            Params::Null => s.request.push_str("null"),
            Params::Static(p) => s.request.push_str(p),
            Params::Bucket(sub) => {
                let bucket = pick(&mut self.rng, &BUCKETS);
                s.request.push_str(r#"{"bucketName":""#);
                s.request.push_str(bucket);
                s.request.push_str(r#"","Host":""#);
                s.request.push_str(bucket);
                s.request.push_str(r#".s3.amazonaws.com",""#);
                s.request.push_str(sub);
                s.request.push_str(r#"":""}"#);
                s.host.push_str(bucket);
                s.host.push_str(".s3.amazonaws.com");
            }
            Params::Function => {
                s.request.push_str(r#"{"functionName":""#);
                s.request.push_str(pick(&mut self.rng, &FUNCTIONS));
                s.request.push_str(r#""}"#);
            }
            Params::Table => {
                s.request.push_str(r#"{"tableName":""#);
                s.request.push_str(pick(&mut self.rng, &TABLES));
                s.request.push_str(r#""}"#);
            }
            Params::Role => {
                let role = self.rng.below(self.roles.len() as u64) as usize;
                s.request.push_str(r#"{"roleName":""#);
                s.request.push_str(&self.roles[role].name);
                s.request.push_str(r#""}"#);
            }
            Params::Secret => {
                s.request.push_str(r#"{"secretId":""#);
                s.request.push_str(pick(&mut self.rng, &SECRET_IDS));
                s.request.push_str(r#""}"#);
            }
            Params::Parameter => {
                s.request.push_str(r#"{"name":""#);
                s.request.push_str(pick(&mut self.rng, &PARAMETERS));
                s.request.push_str(r#"","withDecryption":true}"#);
            }
        }
        if s.host.is_empty() {
            s.host.push_str(a.host);
            if !a.global {
                s.host.push('.');
                s.host.push_str(region);
            }
            s.host.push_str(".amazonaws.com");
        }
    }

    /// A routine API call by an identity already in `s.ident` / `s.arn`.
    #[allow(clippy::too_many_arguments)]
    fn api_call(
        &mut self,
        s: &mut Scratch,
        buf: &mut String,
        index: u64,
        t: i64,
        ip: &str,
        ua: &str,
        home_region: usize,
        from_console: bool,
    ) -> usize {
        let a = &APIS[self.rng.below(APIS.len() as u64) as usize];
        let region = if a.global {
            0
        } else if self.rng.chance(0.85) {
            home_region
        } else {
            self.rng.below(REGIONS.len() as u64) as usize
        };
        self.params(s, a, REGIONS[region]);
        let failed = self.rng.chance(0.02);
        s.message.clear();
        if failed {
            s.message.push_str("User: ");
            s.message.push_str(&s.arn);
            s.message.push_str(" is not authorized to perform: ");
            s.message.push_str(a.permission);
            s.message
                .push_str(" because no identity-based policy allows the ");
            s.message.push_str(a.permission);
            s.message.push_str(" action");
        }
        let rec = Rec {
            ident: &s.ident,
            t,
            source: a.source,
            name: a.name,
            region: REGIONS[region],
            ip,
            ua,
            error_code: failed.then_some(a.denied),
            error_message: failed.then_some(s.message.as_str()),
            request: &s.request,
            response: "null",
            request_id: true,
            read_only: true,
            host: Some(&s.host),
            from_console,
            ..Rec::default()
        };
        self.push(buf, index, &rec);
        region
    }

    fn key_call(&mut self, s: &mut Scratch, buf: &mut String, index: u64, t: i64) -> usize {
        let u = self.skewed(self.users.len());
        let user = &self.users[u];
        s.ident.clear();
        s.ident.push_str(&user.key_ident);
        s.arn.clear();
        s.arn.push_str(&user.arn);
        let ip = user.next_ip(t, true);
        let (ua, region) = (user.cli_ua, user.region);
        self.api_call(s, buf, index, t, &ip, ua, region, false)
    }

    /// Puts the identity of the session role `r` is using at `t` into `s.ident` / `s.arn`;
    /// `None` when no session may be used at `t` (the first minute after the patch).
    fn role_ident(&mut self, s: &mut Scratch, r: usize, t: i64) -> Option<()> {
        let (key, created, k) = session_at(self.roles[r].salt, t)?;
        let role = &self.roles[r];
        s.extra.clear();
        role.push_session_name(&mut s.extra, k);
        s.arn.clear();
        s.arn.push_str("arn:aws:sts::");
        s.arn.push_str(ACCOUNT);
        s.arn.push_str(":assumed-role/");
        s.arn.push_str(&role.name);
        s.arn.push('/');
        s.arn.push_str(&s.extra);
        s.ident.clear();
        s.ident.push_str(r#"{"type":"AssumedRole","principalId":""#);
        s.ident.push_str(&role.unique_id);
        s.ident.push(':');
        s.ident.push_str(&s.extra);
        s.ident.push_str(r#"","arn":""#);
        s.ident.push_str(&s.arn);
        s.ident.push_str(r#"","accountId":""#);
        s.ident.push_str(ACCOUNT);
        s.ident.push_str(r#"","accessKeyId":""#);
        s.ident.push_str(&key);
        s.ident.push_str(r#"","sessionContext":{"#);
        s.ident.push_str(&role.issuer);
        s.ident
            .push_str(r#","webIdFederationData":{},"attributes":{"creationDate":""#);
        self.tf.push_secs(&mut s.ident, created);
        s.ident.push_str(r#"","mfaAuthenticated":"false"}}}"#);
        Some(())
    }

    fn role_call(&mut self, s: &mut Scratch, buf: &mut String, index: u64, t: i64) -> usize {
        let r = self.skewed(self.roles.len());
        if self.role_ident(s, r, t).is_none() {
            return self.key_call(s, buf, index, t);
        }
        let role = &self.roles[r];
        let internal = self.rng.chance(0.03);
        let (ip, ua) = if internal {
            ("AWS Internal".to_string(), "AWS Internal")
        } else {
            (
                role.ips[self.rng.below(role.ips.len() as u64) as usize].clone(),
                role.ua,
            )
        };
        let region = role.region;
        self.api_call(s, buf, index, t, &ip, ua, region, false)
    }

    fn console_call(&mut self, s: &mut Scratch, buf: &mut String, index: u64, t: i64) -> usize {
        let pick_h = self.skewed(self.humans.len());
        let h = self.humans[pick_h];
        let Some((key, created, _)) = session_at(self.users[h].salt ^ 0xC0, t) else {
            return self.key_call(s, buf, index, t);
        };
        let user = &self.users[h];
        s.arn.clear();
        s.arn.push_str(&user.arn);
        s.ident.clear();
        s.ident.push_str(r#"{"type":"IAMUser","principalId":""#);
        s.ident.push_str(&user.principal_id);
        s.ident.push_str(r#"","arn":""#);
        s.ident.push_str(&user.arn);
        s.ident.push_str(r#"","accountId":""#);
        s.ident.push_str(ACCOUNT);
        s.ident.push_str(r#"","accessKeyId":""#);
        s.ident.push_str(&key);
        s.ident.push_str(r#"","userName":""#);
        s.ident.push_str(&user.name);
        s.ident
            .push_str(r#"","sessionContext":{"attributes":{"creationDate":""#);
        self.tf.push_secs(&mut s.ident, created);
        s.ident.push_str(r#"","mfaAuthenticated":"true"}}}"#);
        let ip = user.next_ip(t, false);
        let (ua, region) = (user.browser_ua, user.region);
        self.api_call(s, buf, index, t, &ip, ua, region, true)
    }

    fn push_assume_response(
        &mut self,
        s: &mut Scratch,
        t: i64,
        role: usize,
        key: &str,
        session: &str,
    ) {
        let role = &self.roles[role];
        s.response.clear();
        s.response.push_str(r#"{"credentials":{"accessKeyId":""#);
        s.response.push_str(key);
        s.response.push_str(r#"","expiration":""#);
        push_sts_expiration(&mut s.response, t + HOUR);
        s.response
            .push_str(r#""},"assumedRoleUser":{"assumedRoleId":""#);
        s.response.push_str(&role.unique_id);
        s.response.push(':');
        s.response.push_str(session);
        s.response.push_str(r#"","arn":"arn:aws:sts::"#);
        s.response.push_str(ACCOUNT);
        s.response.push_str(":assumed-role/");
        s.response.push_str(&role.name);
        s.response.push('/');
        s.response.push_str(session);
        s.response.push_str(r#""}}"#);
        s.request.clear();
        s.request.push_str(r#"{"roleArn":""#);
        s.request.push_str(&role.arn);
        s.request.push_str(r#"","roleSessionName":""#);
        s.request.push_str(session);
        s.request.push_str(r#"","durationSeconds":3600}"#);
        s.extra.clear();
        s.extra.push_str(r#"[{"accountId":""#);
        s.extra.push_str(ACCOUNT);
        s.extra.push_str(r#"","type":"AWS::IAM::Role","ARN":""#);
        s.extra.push_str(&role.arn);
        s.extra.push_str(r#""}]"#);
    }

    fn assume_role(
        &mut self,
        s: &mut Scratch,
        buf: &mut String,
        index: u64,
        t: i64,
        by_service: bool,
    ) -> usize {
        let list = if by_service {
            &self.service_roles
        } else {
            &self.assumable
        };
        let r = list[self.rng.below(list.len() as u64) as usize];
        let key = aws_key_id("ASIA", mix(self.seed ^ 0xA55_0000 ^ index));
        let mut session = String::new();
        self.roles[r].push_session_name(&mut session, self.rng.next_u64());
        self.push_assume_response(s, t, r, &key, &session);
        let role_region = self.roles[r].region;
        let (ip, ua, region);
        s.ident.clear();
        if by_service {
            let service = self.roles[r].service();
            s.ident.push_str(r#"{"type":"AWSService","invokedBy":""#);
            s.ident.push_str(service);
            s.ident.push_str(r#""}"#);
            ip = service.to_string();
            ua = service;
            region = role_region;
        } else {
            let u = if self.roles[r].style == Style::Ci {
                CI_DEPLOY
            } else {
                let pick_h = self.skewed(self.humans.len());
                self.humans[pick_h]
            };
            let user = &self.users[u];
            s.ident.push_str(&user.key_ident);
            ip = user.next_ip(t, false);
            ua = user.cli_ua;
            region = user.region;
        }
        let host = format!("sts.{}.amazonaws.com", REGIONS[region]);
        let rec = Rec {
            ident: &s.ident,
            t,
            source: "sts.amazonaws.com",
            name: "AssumeRole",
            region: REGIONS[region],
            ip: &ip,
            ua,
            request: &s.request,
            response: &s.response,
            request_id: true,
            read_only: true,
            resources: Some(&s.extra),
            host: (!by_service).then_some(host.as_str()),
            ..Rec::default()
        };
        self.push(buf, index, &rec);
        region
    }

    fn console_login(&mut self, s: &mut Scratch, buf: &mut String, index: u64, t: i64) -> usize {
        let pick_h = self.skewed(self.humans.len());
        let h = self.humans[pick_h];
        let user = &self.users[h];
        let failed = self.rng.chance(0.03);
        s.ident.clear();
        s.ident.push_str(&user.login_ident());
        s.extra.clear();
        push_login_data(&mut s.extra, Some(&user.name));
        let ip = user.next_ip(t, false);
        let rec = Rec {
            ident: &s.ident,
            t,
            source: "signin.amazonaws.com",
            name: "ConsoleLogin",
            region: REGIONS[0],
            ip: &ip,
            ua: user.browser_ua,
            error_message: failed.then_some("Failed authentication"),
            request: "null",
            response: if failed {
                r#"{"ConsoleLogin":"Failure"}"#
            } else {
                r#"{"ConsoleLogin":"Success"}"#
            },
            additional: Some(&s.extra),
            sign_in: true,
            host: Some("signin.aws.amazon.com"),
            ..Rec::default()
        };
        self.push(buf, index, &rec);
        0
    }

    fn s3_data(&mut self, s: &mut Scratch, buf: &mut String, index: u64, t: i64) -> usize {
        // Identity: a role session (mostly) or a long-term key.
        let by_role = self.rng.chance(0.7);
        let (ip, ua, home);
        if by_role {
            let r = self.skewed(self.roles.len());
            if self.role_ident(s, r, t).is_none() {
                return self.key_call(s, buf, index, t);
            }
            let role = &self.roles[r];
            ip = role.ips[self.rng.below(role.ips.len() as u64) as usize].clone();
            ua = role.ua;
            home = role.region;
        } else {
            let u = self.skewed(self.users.len());
            let user = &self.users[u];
            s.ident.clear();
            s.ident.push_str(&user.key_ident);
            ip = user.next_ip(t, true);
            ua = user.cli_ua;
            home = user.region;
        }
        let put = self.rng.chance(0.3);
        let bucket = pick(&mut self.rng, &BUCKETS);
        s.extra.clear();
        s.extra.push_str(if put { "uploads/" } else { "data/" });
        let (y, m, d) = civil_from_days(t.div_euclid(DAY));
        push_u64(&mut s.extra, y as u64);
        s.extra.push('/');
        push_2(&mut s.extra, m);
        s.extra.push('/');
        push_2(&mut s.extra, d);
        s.extra.push_str("/part-");
        push_u64(&mut s.extra, self.rng.below(100_000));
        s.extra.push_str(".json.gz");
        let region = REGIONS[home];
        s.host.clear();
        s.host.push_str(bucket);
        s.host.push_str(".s3.");
        s.host.push_str(region);
        s.host.push_str(".amazonaws.com");
        s.request.clear();
        s.request.push_str(r#"{"bucketName":""#);
        s.request.push_str(bucket);
        s.request.push_str(r#"","Host":""#);
        s.request.push_str(&s.host);
        s.request.push_str(r#"","key":""#);
        s.request.push_str(&s.extra);
        s.request.push_str(r#""}"#);
        s.message.clear();
        s.message
            .push_str(r#"[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::"#);
        s.message.push_str(bucket);
        s.message.push('/');
        s.message.push_str(&s.extra);
        s.message.push_str(r#""},{"accountId":""#);
        s.message.push_str(ACCOUNT);
        s.message
            .push_str(r#"","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::"#);
        s.message.push_str(bucket);
        s.message.push_str(r#""}]"#);
        s.response.clear();
        s.response.push_str(r#"{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":"#);
        let size = self.rng.range(200, 5_000_000);
        push_u64(&mut s.response, if put { size } else { 0 });
        s.response
            .push_str(r#","AuthenticationMethod":"AuthHeader","x-amz-id-2":"#);
        s.response.push('"');
        push_hex(&mut s.response, self.rng.next_u64(), 16);
        s.response.push_str(r#"","bytesTransferredOut":"#);
        push_u64(&mut s.response, if put { 0 } else { size });
        s.response.push('}');
        let rec = Rec {
            ident: &s.ident,
            t,
            source: "s3.amazonaws.com",
            name: if put { "PutObject" } else { "GetObject" },
            region,
            ip: &ip,
            ua,
            request: &s.request,
            response: if put {
                r#"{"x-amz-server-side-encryption":"AES256"}"#
            } else {
                "null"
            },
            additional: Some(&s.response),
            request_id: true,
            read_only: !put,
            resources: Some(&s.message),
            data_event: true,
            host: Some(&s.host),
            ..Rec::default()
        };
        self.push(buf, index, &rec);
        home
    }
}

/// `additionalEventData` of a ConsoleLogin; `mfa_user` names the MFA device's user (MFA used).
fn push_login_data(buf: &mut String, mfa_user: Option<&str>) {
    buf.push_str(r#"{"LoginTo":"https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_c2f0a6c94b1e7d35","MobileVersion":"No","#);
    match mfa_user {
        Some(name) => {
            buf.push_str(r#""MFAIdentifier":"arn:aws:iam::"#);
            buf.push_str(ACCOUNT);
            buf.push_str(":mfa/");
            buf.push_str(name);
            buf.push_str(r#"","MFAUsed":"Yes"}"#);
        }
        None => buf.push_str(r#""MFAUsed":"No"}"#),
    }
}

fn push_bool(buf: &mut String, v: bool) {
    buf.push_str(if v { "true" } else { "false" });
}

/// Writes one record in AWS's field order.
fn push_record(
    buf: &mut String,
    tf: &mut TimeFmt,
    rec: &Rec<'_>,
    index: u64,
    r: u64,
    logstash: bool,
) {
    buf.push_str(r#"{"eventVersion":"#);
    buf.push_str(if rec.sign_in {
        r#""1.09","#
    } else {
        r#""1.10","#
    });
    buf.push_str(r#""userIdentity":"#);
    buf.push_str(rec.ident);
    if logstash && index % 7 == 3 {
        buf.push_str(r#","@timestamp":""#);
        tf.push_millis(buf, rec.t);
    } else {
        buf.push_str(r#","eventTime":""#);
        tf.push_secs(buf, rec.t);
    }
    buf.push_str(r#"","eventSource":""#);
    buf.push_str(rec.source);
    buf.push_str(r#"","eventName":""#);
    buf.push_str(rec.name);
    buf.push_str(r#"","awsRegion":""#);
    buf.push_str(rec.region);
    buf.push_str(r#"","sourceIPAddress":""#);
    buf.push_str(rec.ip);
    buf.push_str(r#"","userAgent":""#);
    buf.push_str(rec.ua);
    buf.push('"');
    if let Some(code) = rec.error_code {
        buf.push_str(r#","errorCode":""#);
        buf.push_str(code);
        buf.push('"');
    }
    if let Some(message) = rec.error_message {
        buf.push_str(r#","errorMessage":""#);
        buf.push_str(message);
        buf.push('"');
    }
    buf.push_str(r#","requestParameters":"#);
    buf.push_str(rec.request);
    buf.push_str(r#","responseElements":"#);
    buf.push_str(if rec.error_code.is_some() {
        "null"
    } else {
        rec.response
    });
    if let Some(additional) = rec.additional {
        buf.push_str(r#","additionalEventData":"#);
        buf.push_str(additional);
    }
    if rec.request_id {
        buf.push_str(r#","requestID":""#);
        if rec.data_event {
            push_hex_upper(buf, mix(r ^ 0x005E_C04D), 16);
        } else {
            push_uuid(buf, SALT_REQUEST, index, mix(r ^ 0x4E9), 4);
        }
        buf.push('"');
    }
    buf.push_str(r#","eventID":""#);
    push_uuid(buf, SALT_EVENT, index, r, 4);
    buf.push_str(r#"","readOnly":"#);
    push_bool(buf, rec.read_only);
    if let Some(resources) = rec.resources {
        buf.push_str(r#","resources":"#);
        buf.push_str(resources);
    }
    buf.push_str(r#","eventType":""#);
    buf.push_str(if rec.sign_in {
        "AwsConsoleSignIn"
    } else {
        "AwsApiCall"
    });
    buf.push_str(r#"","managementEvent":"#);
    push_bool(buf, !rec.data_event);
    buf.push_str(r#","recipientAccountId":""#);
    buf.push_str(ACCOUNT);
    buf.push_str(r#"","eventCategory":""#);
    buf.push_str(if rec.data_event { "Data" } else { "Management" });
    buf.push('"');
    if let Some(host) = rec.host {
        buf.push_str(r#","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":""#);
        buf.push_str(host);
        buf.push_str(r#""}"#);
    }
    if rec.from_console {
        buf.push_str(r#","sessionCredentialFromConsole":"true""#);
    }
    buf.push('}');
}

/// The planted events of CloudTrail, in time order.
fn specs() -> Vec<Spec> {
    let c = COMPROMISED_MS;
    let p = PATCHED_MS;
    let lookalike = super::util::date_ms(2026, 5, 12) + 14 * HOUR;
    let mut specs = vec![
        spec(lookalike, "benign_backdoor_user", "CreateUser", false),
        spec(
            lookalike + 2 * MINUTE,
            "benign_backdoor_login_profile",
            "CreateLoginProfile",
            false,
        ),
        spec(
            lookalike + 3 * MINUTE,
            "benign_backdoor_admin_policy",
            "AttachUserPolicy",
            false,
        ),
        spec(
            lookalike + 4 * MINUTE,
            "benign_access_key_for_other_user",
            "CreateAccessKey",
            false,
        ),
        spec(
            lookalike + 19 * HOUR,
            "benign_console_login_no_mfa",
            "ConsoleLogin",
            false,
        ),
        spec(
            c + 2 * HOUR + 5 * SECOND,
            "initial_access",
            "GetCallerIdentity",
            true,
        ),
        spec(
            c + 2 * HOUR + 70 * SECOND,
            "initial_access",
            "ListUsers",
            true,
        ),
        spec(
            c + 2 * HOUR + 100 * SECOND,
            "initial_access",
            "ListRoles",
            true,
        ),
        spec(
            c + 2 * HOUR + 20 * MINUTE,
            "ioc_activity",
            "ListBuckets",
            true,
        ),
        spec(
            c + 2 * HOUR + 24 * MINUTE,
            "ioc_activity",
            "GetObject",
            true,
        ),
        spec(c + DAY + HOUR, "backdoor_user", "CreateUser", true),
        spec(
            c + DAY + HOUR + 2 * MINUTE,
            "backdoor_login_profile",
            "CreateLoginProfile",
            true,
        ),
        spec(
            c + DAY + HOUR + 3 * MINUTE,
            "backdoor_admin_policy",
            "AttachUserPolicy",
            true,
        ),
        spec(
            c + DAY + HOUR + 10 * MINUTE,
            "access_key_for_other_user",
            "CreateAccessKey",
            true,
        ),
        spec(
            c + DAY + 2 * HOUR,
            "console_login_no_mfa",
            "ConsoleLogin",
            true,
        ),
        spec(
            c + 2 * DAY + 3 * HOUR,
            "role_trust_change",
            "UpdateAssumeRolePolicy",
            true,
        ),
        spec(
            PRE_PATCH_SESSION_MS,
            "role_assumed_from_outside",
            "AssumeRole",
            true,
        ),
        spec(
            p + 20 * HOUR,
            "pre_patch_session_used_after_patch",
            "ListBuckets",
            true,
        ),
        spec(
            p + 21 * HOUR,
            "pre_patch_session_used_after_patch",
            "DescribeInstances",
            true,
        ),
        spec(p + 2 * DAY, "new_key_used_after_patch", "ListBuckets", true),
        spec(
            p + 2 * DAY + 5 * MINUTE,
            "new_key_used_after_patch",
            "GetUser",
            true,
        ),
    ];
    specs.sort_by_key(|s| s.t);
    specs
}

fn spec(t: i64, step: &'static str, action: &'static str, malicious: bool) -> Spec {
    Spec {
        t,
        step,
        action,
        malicious,
    }
}

/// The policy document the attacker sets on the trusted role, as CloudTrail records it (a
/// JSON string).
fn trust_policy() -> String {
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringLike":{{"token.actions.githubusercontent.com:sub":"repo:example-corp/infra:ref:refs/heads/main"}}}}}},{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OUTSIDE_ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    serde_json::Value::String(doc).to_string()
}

impl Source for CloudTrail {
    fn specs(&self) -> &[Spec] {
        &self.specs
    }

    fn background(&mut self, index: u64, t: i64, buf: &mut String) -> usize {
        let mut s = std::mem::take(&mut self.scratch);
        let region = match self.rng.below(1000) {
            0..520 => self.key_call(&mut s, buf, index, t),
            520..770 => self.role_call(&mut s, buf, index, t),
            770..840 => self.console_call(&mut s, buf, index, t),
            840..880 => self.assume_role(&mut s, buf, index, t, false),
            880..920 => self.assume_role(&mut s, buf, index, t, true),
            920..945 => self.console_login(&mut s, buf, index, t),
            _ => self.s3_data(&mut s, buf, index, t),
        };
        self.scratch = s;
        region
    }

    fn planted(&mut self, spec: usize, index: u64, buf: &mut String) -> (usize, String) {
        let sp = self.specs[spec];
        let t = sp.t;
        let ci = &self.users[CI_DEPLOY];
        let alice = &self.users[ALICE];
        let billing = &self.users[BILLING_ADMIN];
        let ci_ident = ci.key_ident.clone();
        let alice_ident = alice.key_ident.clone();
        let alice_ip = alice.ips[0].clone();
        let alice_ua = alice.cli_ua;
        let normal_ua = CLI_UAS[2];
        let mut rec = Rec {
            ident: "",
            t,
            source: "iam.amazonaws.com",
            name: sp.action,
            region: REGIONS[0],
            ip: ATTACKER_IP,
            ua: ATTACKER_UA,
            request: "null",
            response: "null",
            request_id: true,
            read_only: true,
            host: Some("iam.amazonaws.com"),
            ..Rec::default()
        };
        let attacker_user = if sp.malicious {
            BACKDOOR_USER
        } else {
            NEW_HIRE
        };
        let backdoor_salt = hash_str(SALT_USER, attacker_user);
        let create_date = {
            let mut d = String::new();
            push_sts_expiration(&mut d, t);
            d
        };
        let request;
        let response;
        let additional;
        let ident;
        let resources;
        let host;
        match (sp.step, sp.action) {
            ("initial_access", "GetCallerIdentity") => {
                rec.ident = &ci_ident;
                rec.source = "sts.amazonaws.com";
                rec.host = Some("sts.amazonaws.com");
            }
            ("initial_access", _) => rec.ident = &ci_ident,
            ("ioc_activity", "ListBuckets") => {
                rec.ident = &ci_ident;
                rec.source = "s3.amazonaws.com";
                rec.request = r#"{"Host":"s3.amazonaws.com"}"#;
                rec.host = Some("s3.amazonaws.com");
            }
            ("ioc_activity", _) => {
                rec.ident = &ci_ident;
                rec.source = "s3.amazonaws.com";
                rec.data_event = true;
                request = r#"{"bucketName":"example-corp-backups","Host":"example-corp-backups.s3.us-east-1.amazonaws.com","key":"db/orders-2026-05-21.sql.gz"}"#.to_string();
                rec.request = &request;
                resources = format!(
                    r#"[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::example-corp-backups/db/orders-2026-05-21.sql.gz"}},{{"accountId":"{ACCOUNT}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::example-corp-backups"}}]"#
                );
                rec.resources = Some(&resources);
                rec.additional = Some(
                    r#"{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","bytesTransferredOut":734003200}"#,
                );
                rec.host = Some("example-corp-backups.s3.us-east-1.amazonaws.com");
            }
            (_, "CreateUser") => {
                rec.ident = if sp.malicious {
                    &ci_ident
                } else {
                    &alice_ident
                };
                rec.read_only = false;
                request = format!(r#"{{"userName":"{attacker_user}"}}"#);
                rec.request = &request;
                response = format!(
                    r#"{{"user":{{"path":"/","userName":"{attacker_user}","userId":"{}","arn":"arn:aws:iam::{ACCOUNT}:user/{attacker_user}","createDate":"{create_date}"}}}}"#,
                    aws_unique_id("AIDA", backdoor_salt)
                );
                rec.response = &response;
            }
            (_, "CreateLoginProfile") => {
                rec.ident = if sp.malicious {
                    &ci_ident
                } else {
                    &alice_ident
                };
                rec.read_only = false;
                let reset = !sp.malicious;
                request =
                    format!(r#"{{"userName":"{attacker_user}","passwordResetRequired":{reset}}}"#);
                rec.request = &request;
                response = format!(
                    r#"{{"loginProfile":{{"userName":"{attacker_user}","createDate":"{create_date}","passwordResetRequired":{reset}}}}}"#
                );
                rec.response = &response;
            }
            (_, "AttachUserPolicy") => {
                rec.ident = if sp.malicious {
                    &ci_ident
                } else {
                    &alice_ident
                };
                rec.read_only = false;
                let policy = if sp.malicious {
                    "AdministratorAccess"
                } else {
                    "ReadOnlyAccess"
                };
                request = format!(
                    r#"{{"userName":"{attacker_user}","policyArn":"arn:aws:iam::aws:policy/{policy}"}}"#
                );
                rec.request = &request;
            }
            (_, "CreateAccessKey") => {
                rec.ident = if sp.malicious {
                    &ci_ident
                } else {
                    &alice_ident
                };
                rec.read_only = false;
                let (target, key) = if sp.malicious {
                    (KEY_TARGET_USER, planted_key(1))
                } else {
                    (NEW_HIRE, planted_key(2))
                };
                request = format!(r#"{{"userName":"{target}"}}"#);
                rec.request = &request;
                response = format!(
                    r#"{{"accessKey":{{"userName":"{target}","accessKeyId":"{key}","status":"Active","createDate":"{create_date}"}}}}"#
                );
                rec.response = &response;
            }
            (_, "ConsoleLogin") => {
                ident = format!(
                    r#"{{"type":"IAMUser","principalId":"{}","arn":"arn:aws:iam::{ACCOUNT}:user/{attacker_user}","accountId":"{ACCOUNT}","userName":"{attacker_user}"}}"#,
                    aws_unique_id("AIDA", backdoor_salt)
                );
                rec.ident = &ident;
                rec.source = "signin.amazonaws.com";
                rec.read_only = false;
                rec.request_id = false;
                rec.sign_in = true;
                rec.response = r#"{"ConsoleLogin":"Success"}"#;
                let mut data = String::new();
                push_login_data(&mut data, (!sp.malicious).then_some(attacker_user));
                additional = data;
                rec.additional = Some(&additional);
                rec.host = Some("signin.aws.amazon.com");
            }
            ("role_trust_change", _) => {
                rec.ident = &ci_ident;
                rec.read_only = false;
                request = format!(
                    r#"{{"roleName":"{TRUSTED_ROLE}","policyDocument":{}}}"#,
                    trust_policy()
                );
                rec.request = &request;
            }
            ("role_assumed_from_outside", _) => {
                ident = format!(
                    r#"{{"type":"AWSAccount","principalId":"{}","accountId":"{OUTSIDE_ACCOUNT}"}}"#,
                    aws_unique_id("AIDA", mix(0x0047_51DE))
                );
                rec.ident = &ident;
                rec.source = "sts.amazonaws.com";
                let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{TRUSTED_ROLE}");
                let role_id = aws_unique_id("AROA", hash_str(SALT_ROLE, TRUSTED_ROLE));
                request = format!(
                    r#"{{"roleArn":"{role_arn}","roleSessionName":"backup-sync","durationSeconds":43200}}"#
                );
                rec.request = &request;
                let mut expiration = String::new();
                push_sts_expiration(&mut expiration, t + 12 * HOUR);
                response = format!(
                    r#"{{"credentials":{{"accessKeyId":"{}","expiration":"{expiration}"}},"assumedRoleUser":{{"assumedRoleId":"{role_id}:backup-sync","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/{TRUSTED_ROLE}/backup-sync"}}}}"#,
                    planted_session_key()
                );
                rec.response = &response;
                resources = format!(
                    r#"[{{"accountId":"{ACCOUNT}","type":"AWS::IAM::Role","ARN":"{role_arn}"}}]"#
                );
                rec.resources = Some(&resources);
                rec.host = Some("sts.us-east-1.amazonaws.com");
            }
            ("pre_patch_session_used_after_patch", action) => {
                let role_id = aws_unique_id("AROA", hash_str(SALT_ROLE, TRUSTED_ROLE));
                ident = format!(
                    r#"{{"type":"AssumedRole","principalId":"{role_id}:backup-sync","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/{TRUSTED_ROLE}/backup-sync","accountId":"{ACCOUNT}","accessKeyId":"{}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"{role_id}","arn":"arn:aws:iam::{ACCOUNT}:role/{TRUSTED_ROLE}","accountId":"{ACCOUNT}","userName":"{TRUSTED_ROLE}"}},"webIdFederationData":{{}},"attributes":{{"creationDate":"{}","mfaAuthenticated":"false"}}}}}}"#,
                    planted_session_key(),
                    iso_secs(PRE_PATCH_SESSION_MS)
                );
                rec.ident = &ident;
                rec.ip = PRE_PATCH_SESSION_IP;
                rec.ua = normal_ua;
                let a = if action == "ListBuckets" {
                    &APIS[API_LIST_BUCKETS]
                } else {
                    &APIS[API_DESCRIBE_INSTANCES]
                };
                rec.source = a.source;
                if let Params::Static(p) = a.params {
                    rec.request = p;
                }
                host = if a.global {
                    "s3.amazonaws.com"
                } else {
                    "ec2.us-east-1.amazonaws.com"
                };
                rec.host = Some(host);
            }
            ("new_key_used_after_patch", action) => {
                ident = format!(
                    r#"{{"type":"IAMUser","principalId":"{}","arn":"{}","accountId":"{ACCOUNT}","accessKeyId":"{}","userName":"{KEY_TARGET_USER}"}}"#,
                    billing.principal_id,
                    billing.arn,
                    planted_key(1)
                );
                rec.ident = &ident;
                rec.ip = NEW_KEY_IP;
                rec.ua = CLI_UAS[0];
                let a = if action == "ListBuckets" {
                    &APIS[API_LIST_BUCKETS]
                } else {
                    &APIS[API_GET_USER]
                };
                rec.source = a.source;
                if let Params::Static(p) = a.params {
                    rec.request = p;
                }
                rec.host = Some(if a.global && a.host == "s3" {
                    "s3.amazonaws.com"
                } else {
                    "iam.amazonaws.com"
                });
            }
            _ => rec.ident = &ci_ident,
        }
        if !sp.malicious {
            rec.ip = &alice_ip;
            rec.ua = alice_ua;
            if sp.action == "ConsoleLogin" {
                // The new hire signs in from a company address with a browser, with MFA.
                rec.ip = "192.0.2.44";
                rec.ua = BROWSER_UAS[0];
            }
        }
        let r = mix(self.seed ^ 0xB1A7 ^ index);
        let before = buf.len();
        push_record(buf, &mut self.tf, &rec, index, r, self.logstash);
        let id = extract(&buf[before..], r#""eventID":""#);
        (0, id)
    }
}

/// The string value following `key` in `record`.
fn extract(record: &str, key: &str) -> String {
    record
        .find(key)
        .map(|at| {
            let rest = &record[at + key.len()..];
            rest[..rest.find('"').unwrap_or(rest.len())].to_string()
        })
        .unwrap_or_default()
}

/// One open S3 object being written.
#[derive(Debug)]
struct Object {
    encoder: GzEncoder<Counting<BufWriter<File>>>,
    hour: i64,
    records: usize,
    path: String,
}

/// Writes CloudTrail as the S3 delivery tree under `dest`.
pub(super) fn write_s3(
    seed: u64,
    events: u64,
    per_file: usize,
    dest: &Path,
) -> io::Result<LogTruth> {
    std::fs::create_dir_all(dest)?;
    let mut generator = CloudTrail::new(seed, events, false);
    let mut open: Vec<Option<Object>> = (0..REGIONS.len()).map(|_| None).collect();
    let mut files = 0u64;
    let mut bytes = 0u64;
    let mut json_bytes = 0u64;
    let mut dirs: Vec<String> = Vec::new();
    let close = |object: Object, bytes: &mut u64, json_bytes: &mut u64| -> io::Result<()> {
        let mut encoder = object.encoder;
        encoder.write_all(b"]}")?;
        *json_bytes += 2;
        let mut counting = encoder.finish()?;
        counting.flush()?;
        *bytes += counting.bytes;
        Ok(())
    };
    let mut tf = TimeFmt::default();
    let (written, planted) = super::util::drive(
        &mut generator,
        "cloudtrail",
        events,
        seed,
        &mut |record, region, t, want| {
            let hour = t.div_euclid(HOUR);
            if let Some(object) = open[region].take() {
                if object.hour != hour || object.records >= per_file {
                    close(object, &mut bytes, &mut json_bytes)?;
                } else {
                    open[region] = Some(object);
                }
            }
            if open[region].is_none() {
                let (y, m, d) = civil_from_days(t.div_euclid(DAY));
                let dir = format!(
                    "AWSLogs/{ACCOUNT}/CloudTrail/{}/{y:04}/{m:02}/{d:02}",
                    REGIONS[region]
                );
                if !dirs.contains(&dir) {
                    std::fs::create_dir_all(dest.join(&dir))?;
                    dirs.push(dir.clone());
                    if dirs.len() > 64 {
                        dirs.remove(0);
                    }
                }
                let mut stamp = String::new();
                tf.push_secs(&mut stamp, t);
                // 2026-05-23T10:15:02Z -> 20260523T1015Z
                let compact: String = stamp[..16]
                    .chars()
                    .filter(|c| *c != '-' && *c != ':')
                    .collect();
                let mut suffix = String::new();
                push_hex(&mut suffix, mix(seed ^ 0x53_0B1E ^ files), 16);
                let path = format!(
                    "{dir}/{ACCOUNT}_CloudTrail_{}_{compact}Z_{suffix}.json.gz",
                    REGIONS[region]
                );
                let file = File::create(dest.join(&path))?;
                let mut encoder = GzEncoder::new(
                    Counting {
                        inner: BufWriter::with_capacity(256 << 10, file),
                        bytes: 0,
                    },
                    Compression::fast(),
                );
                encoder.write_all(br#"{"Records":["#)?;
                json_bytes += 12;
                files += 1;
                open[region] = Some(Object {
                    encoder,
                    hour,
                    records: 0,
                    path,
                });
            }
            let Some(object) = open[region].as_mut() else {
                return Err(io::Error::other("no open object"));
            };
            if object.records > 0 {
                object.encoder.write_all(b",")?;
                json_bytes += 1;
            }
            object.encoder.write_all(record.as_bytes())?;
            json_bytes += record.len() as u64;
            object.records += 1;
            Ok(want.then(|| object.path.clone()))
        },
    )?;
    for object in open.into_iter().flatten() {
        close(object, &mut bytes, &mut json_bytes)?;
    }
    Ok(LogTruth {
        source: "cloudtrail",
        events: written,
        bytes,
        json_bytes,
        files,
        planted,
    })
}
