use std::collections::{HashMap, HashSet};
use std::io::Read;

use serde_json::Value;

use super::util::{NOW_MS, PATCHED_MS, START_MS};
use super::*;

fn lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn array(bytes: &[u8]) -> Vec<Value> {
    match serde_json::from_slice(bytes).unwrap() {
        Value::Array(items) => items,
        other => panic!("not an array: {other}"),
    }
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} missing in {v}"))
}

fn ms(text: &str) -> i64 {
    text.parse::<Timestamp>().unwrap().as_millisecond()
}

fn cloudtrail(seed: u64, events: u64, logstash: bool) -> (Vec<u8>, LogTruth) {
    let mut out = Vec::new();
    let options = CloudTrailOptions {
        shape: CloudTrailShape::JsonLines,
        logstash_timestamps: logstash,
    };
    let truth = write_cloudtrail_to(seed, events, &options, &mut out).unwrap();
    (out, truth)
}

fn okta(seed: u64, events: u64, shape: ExportShape) -> (Vec<u8>, LogTruth) {
    let mut out = Vec::new();
    let truth = write_okta(seed, events, shape, &mut out).unwrap();
    (out, truth)
}

fn github(seed: u64, events: u64, shape: ExportShape) -> (Vec<u8>, LogTruth) {
    let mut out = Vec::new();
    let truth = write_github(seed, events, shape, &mut out).unwrap();
    (out, truth)
}

fn ct_time(record: &Value) -> i64 {
    record
        .get("eventTime")
        .or_else(|| record.get("@timestamp"))
        .and_then(Value::as_str)
        .map(ms)
        .unwrap_or_else(|| panic!("no time in {record}"))
}

fn check_planted(records: &[Value], truth: &LogTruth, id_field: &str, action_field: &str) {
    let by_id: HashMap<&str, Vec<&Value>> = records.iter().fold(HashMap::new(), |mut map, r| {
        map.entry(s(r, id_field)).or_default().push(r);
        map
    });
    assert_eq!(by_id.len(), records.len(), "ids are unique");
    for planted in &truth.planted {
        let found = by_id
            .get(planted.event_id.as_str())
            .unwrap_or_else(|| panic!("planted {planted:?} not found"));
        assert_eq!(found.len(), 1);
        assert_eq!(s(found[0], action_field), planted.action, "{planted:?}");
    }
}

fn planted_ids(truth: &LogTruth) -> HashSet<String> {
    truth.planted.iter().map(|p| p.event_id.clone()).collect()
}

#[test]
fn cloudtrail_records_are_realistic_and_hold_the_attack() {
    let (bytes, truth) = cloudtrail(7, 20_000, false);
    let records = lines(&bytes);
    assert_eq!(records.len() as u64, truth.events);
    assert_eq!(truth.events, 20_000);
    assert_eq!(truth.bytes, bytes.len() as u64);
    check_planted(&records, &truth, "/eventID", "/eventName");
    let plan = attack_plan();
    let planted = planted_ids(&truth);
    let mut last = i64::MIN;
    let mut failures = 0;
    let mut sources_of_key: HashMap<String, HashSet<String>> = HashMap::new();
    for r in &records {
        for field in [
            "/eventVersion",
            "/userIdentity/type",
            "/eventTime",
            "/eventSource",
            "/eventName",
            "/awsRegion",
            "/sourceIPAddress",
            "/userAgent",
            "/eventID",
            "/eventType",
            "/recipientAccountId",
        ] {
            s(r, field);
        }
        assert!(r.get("requestParameters").is_some());
        assert!(r.get("responseElements").is_some());
        assert!(r["readOnly"].is_boolean());
        assert!(r["managementEvent"].is_boolean());
        assert_eq!(s(r, "/recipientAccountId"), crate::ACCOUNT);
        let t = ct_time(r);
        assert!(t >= last, "time order");
        assert!((START_MS..NOW_MS).contains(&t));
        last = t;
        let time = s(r, "/eventTime");
        assert_eq!(time.len(), 20, "{time}");
        if let Some(code) = r.get("errorCode") {
            assert!(code.is_string());
            assert!(r["responseElements"].is_null());
            failures += 1;
        }
        let id = s(r, "/eventID");
        if planted.contains(id) {
            continue;
        }
        // Background.
        let ip = s(r, "/sourceIPAddress");
        assert_ne!(ip, ATTACKER_IP);
        assert!(!ip.starts_with("203.0.113."));
        assert_ne!(s(r, "/userAgent"), ATTACKER_UA);
        assert!(!r.to_string().contains(OUTSIDE_ACCOUNT));
        assert!(!ATTACK_ONLY_ACTIONS.contains(&s(r, "/eventName")));
        if let Some(octets) = ip.strip_prefix("198.51.100.") {
            assert!(octets.parse::<u32>().unwrap() < 128, "{ip}");
        }
        let ty = s(r, "/userIdentity/type");
        if let Some(key) = r
            .pointer("/userIdentity/accessKeyId")
            .and_then(Value::as_str)
        {
            if key.starts_with("AKIA") {
                assert_eq!(key.len(), 20);
                sources_of_key
                    .entry(key.to_string())
                    .or_default()
                    .insert(ip.to_string());
            } else {
                assert!(key.starts_with("ASIA"), "{key}");
                let created = ms(s(r, "/userIdentity/sessionContext/attributes/creationDate"));
                assert!(
                    (60_000..55 * 60_000).contains(&(t - created)),
                    "session used {} ms after issue",
                    t - created
                );
                assert!(
                    !(created < PATCHED_MS && t >= PATCHED_MS),
                    "straddles the patch"
                );
            }
        }
        if ty == "AssumedRole" {
            s(r, "/userIdentity/sessionContext/sessionIssuer/arn");
        }
        if s(r, "/eventName") == "ConsoleLogin" {
            assert_eq!(s(r, "/eventType"), "AwsConsoleSignIn");
            assert_eq!(s(r, "/additionalEventData/MFAUsed"), "Yes");
        }
    }
    assert!(failures > 0, "some background failures");
    for (key, ips) in &sources_of_key {
        assert!(ips.len() <= 4, "{key} used from {ips:?}");
    }
    assert!(sources_of_key[&plan.compromised_key_id].len() <= 3);
    let all = String::from_utf8(bytes).unwrap();
    assert!(all.contains(ZERO_PADDED_IP));
    assert!(all.contains(r#""sourceIPAddress":"AWS Internal""#));
    assert!(all.contains(r#""sourceIPAddress":"ec2.amazonaws.com""#));
}

#[test]
fn the_cloudtrail_attack_has_the_planned_shape() {
    let (bytes, truth) = cloudtrail(3, 0, false);
    let records = lines(&bytes);
    assert_eq!(records.len(), truth.planted.len());
    let plan = attack_plan();
    let by_step = |step: &str| -> Vec<&Value> {
        let ids: HashSet<&str> = truth
            .planted
            .iter()
            .filter(|p| p.step == step)
            .map(|p| p.event_id.as_str())
            .collect();
        records
            .iter()
            .filter(|r| ids.contains(s(r, "/eventID")))
            .collect()
    };
    let compromised = ms(COMPROMISED_AT);
    for p in truth.attack() {
        let t = p.time.as_millisecond();
        if p.step.ends_with("after_patch") {
            assert!(t >= PATCHED_MS);
        } else {
            assert!((compromised..PATCHED_MS).contains(&t), "{p:?}");
        }
    }
    for p in truth.planted.iter().filter(|p| !p.malicious) {
        assert!(p.step.starts_with("benign_"));
        assert!(p.time.as_millisecond() < compromised);
    }
    let initial = by_step("initial_access");
    assert_eq!(initial.len(), 3);
    for r in &initial {
        assert_eq!(s(r, "/userIdentity/accessKeyId"), plan.compromised_key_id);
        assert_eq!(s(r, "/sourceIPAddress"), ATTACKER_IP);
        assert_eq!(s(r, "/userAgent"), ATTACKER_UA);
    }
    let key = by_step("access_key_for_other_user")[0];
    assert_eq!(s(key, "/requestParameters/userName"), KEY_TARGET_USER);
    assert_eq!(
        s(key, "/responseElements/accessKey/accessKeyId"),
        plan.new_key_id
    );
    assert_eq!(s(key, "/responseElements/accessKey/status"), "Active");
    let profile = by_step("backdoor_login_profile")[0];
    assert_eq!(s(profile, "/requestParameters/userName"), BACKDOOR_USER);
    assert_eq!(
        profile.pointer("/requestParameters/passwordResetRequired"),
        Some(&Value::Bool(false))
    );
    assert!(profile.pointer("/requestParameters/password").is_none());
    let policy = by_step("backdoor_admin_policy")[0];
    assert_eq!(
        s(policy, "/requestParameters/policyArn"),
        "arn:aws:iam::aws:policy/AdministratorAccess"
    );
    let trust = by_step("role_trust_change")[0];
    assert_eq!(s(trust, "/requestParameters/roleName"), TRUSTED_ROLE);
    let document: Value =
        serde_json::from_str(s(trust, "/requestParameters/policyDocument")).unwrap();
    assert!(document["Statement"].as_array().unwrap().iter().any(
        |st| st.pointer("/Principal/AWS")
            == Some(&Value::String(format!(
                "arn:aws:iam::{OUTSIDE_ACCOUNT}:root"
            )))
    ));
    let login = by_step("console_login_no_mfa")[0];
    assert_eq!(s(login, "/eventSource"), "signin.amazonaws.com");
    assert_eq!(s(login, "/eventType"), "AwsConsoleSignIn");
    assert_eq!(s(login, "/userIdentity/userName"), BACKDOOR_USER);
    assert_eq!(s(login, "/additionalEventData/MFAUsed"), "No");
    assert_eq!(s(login, "/responseElements/ConsoleLogin"), "Success");
    assert!(login.get("errorCode").is_none());
    let session = by_step("pre_patch_session_used_after_patch");
    assert_eq!(session.len(), 2);
    for r in &session {
        assert_eq!(
            s(r, "/userIdentity/accessKeyId"),
            plan.pre_patch_session_key_id
        );
        assert_eq!(
            ms(s(r, "/userIdentity/sessionContext/attributes/creationDate")),
            PATCHED_MS - 3 * 3_600_000
        );
        assert_eq!(s(r, "/sourceIPAddress"), PRE_PATCH_SESSION_IP);
        assert_ne!(s(r, "/userAgent"), ATTACKER_UA);
    }
    let assumed = by_step("role_assumed_from_outside")[0];
    assert_eq!(
        s(assumed, "/responseElements/credentials/accessKeyId"),
        plan.pre_patch_session_key_id
    );
    let used = by_step("new_key_used_after_patch");
    assert_eq!(used.len(), 2);
    for r in &used {
        assert_eq!(s(r, "/userIdentity/accessKeyId"), plan.new_key_id);
        assert_eq!(s(r, "/sourceIPAddress"), NEW_KEY_IP);
        assert!(ms(s(r, "/eventTime")) >= PATCHED_MS + 2 * 86_400_000);
    }
    let benign_policy = by_step("benign_backdoor_admin_policy")[0];
    assert_eq!(
        s(benign_policy, "/requestParameters/policyArn"),
        "arn:aws:iam::aws:policy/ReadOnlyAccess"
    );
    let benign_login = by_step("benign_console_login_no_mfa")[0];
    assert_eq!(s(benign_login, "/additionalEventData/MFAUsed"), "Yes");
    assert_eq!(
        s(
            by_step("benign_access_key_for_other_user")[0],
            "/requestParameters/userName"
        ),
        NEW_HIRE
    );
    for r in by_step("benign_backdoor_user") {
        assert_ne!(s(r, "/sourceIPAddress"), ATTACKER_IP);
        assert!(s(r, "/userIdentity/arn").ends_with(AWS_ADMIN));
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let (a, ta) = cloudtrail(11, 3000, true);
    let (b, tb) = cloudtrail(11, 3000, true);
    let (c, _) = cloudtrail(12, 3000, true);
    assert_eq!(a, b);
    assert_eq!(ta, tb);
    assert_ne!(a, c);
    assert_eq!(
        okta(5, 2000, ExportShape::JsonLines).0,
        okta(5, 2000, ExportShape::JsonLines).0
    );
    assert_eq!(
        github(5, 2000, ExportShape::JsonArray).0,
        github(5, 2000, ExportShape::JsonArray).0
    );
    assert_ne!(
        okta(5, 2000, ExportShape::JsonLines).0,
        okta(6, 2000, ExportShape::JsonLines).0
    );
}

#[test]
fn logstash_timestamps_replace_event_time_in_every_seventh_record() {
    let (bytes, truth) = cloudtrail(1, 700, true);
    let records = lines(&bytes);
    let logstash = records
        .iter()
        .filter(|r| r.get("@timestamp").is_some())
        .count();
    assert_eq!(logstash, 100);
    for r in &records {
        assert!(r.get("eventTime").is_some() != r.get("@timestamp").is_some());
    }
    check_planted(&records, &truth, "/eventID", "/eventName");
    let (plain, _) = cloudtrail(1, 700, false);
    assert!(!String::from_utf8(plain).unwrap().contains("@timestamp"));
}

#[test]
fn tiny_sizes_still_hold_the_whole_attack() {
    for events in [0, 1, 10, 50] {
        let (bytes, truth) = cloudtrail(9, events, false);
        let records = lines(&bytes);
        assert_eq!(records.len() as u64, events.max(truth.planted.len() as u64));
        check_planted(&records, &truth, "/eventID", "/eventName");
        let (bytes, truth) = okta(9, events, ExportShape::JsonArray);
        let records = array(&bytes);
        assert_eq!(records.len() as u64, events.max(truth.planted.len() as u64));
        check_planted(&records, &truth, "/uuid", "/eventType");
        let (bytes, truth) = github(9, events, ExportShape::JsonLines);
        let records = lines(&bytes);
        assert_eq!(records.len() as u64, events.max(truth.planted.len() as u64));
        check_planted(&records, &truth, "/_document_id", "/action");
    }
    let (_, truth) = cloudtrail(9, 0, false);
    let steps: HashSet<&str> = truth.planted.iter().map(|p| p.step).collect();
    for step in [
        "initial_access",
        "access_key_for_other_user",
        "backdoor_user",
        "backdoor_login_profile",
        "backdoor_admin_policy",
        "role_trust_change",
        "console_login_no_mfa",
        "ioc_activity",
        "pre_patch_session_used_after_patch",
        "new_key_used_after_patch",
        "benign_backdoor_user",
        "benign_backdoor_login_profile",
        "benign_access_key_for_other_user",
        "benign_backdoor_admin_policy",
        "benign_console_login_no_mfa",
    ] {
        assert!(steps.contains(step), "{step}");
    }
}

#[test]
fn okta_records_are_realistic_and_hold_the_attack() {
    let (bytes, truth) = okta(4, 10_000, ExportShape::JsonLines);
    let records = lines(&bytes);
    assert_eq!(records.len(), 10_000);
    check_planted(&records, &truth, "/uuid", "/eventType");
    let planted = planted_ids(&truth);
    let plan = attack_plan();
    let mut last = i64::MIN;
    for r in &records {
        for field in [
            "/uuid",
            "/published",
            "/eventType",
            "/displayMessage",
            "/severity",
            "/actor/id",
            "/actor/type",
            "/actor/alternateId",
            "/actor/displayName",
            "/client/userAgent/rawUserAgent",
            "/client/userAgent/os",
            "/client/userAgent/browser",
            "/client/ipAddress",
            "/authenticationContext/externalSessionId",
            "/outcome/result",
            "/transaction/type",
            "/transaction/id",
            "/debugContext/debugData/requestUri",
        ] {
            s(r, field);
        }
        let t = ms(s(r, "/published"));
        assert!(t >= last);
        last = t;
        if planted.contains(s(r, "/uuid")) {
            continue;
        }
        assert_ne!(s(r, "/client/ipAddress"), ATTACKER_IP);
        assert_ne!(s(r, "/client/userAgent/rawUserAgent"), ATTACKER_UA);
        assert!(!ATTACK_ONLY_ACTIONS.contains(&s(r, "/eventType")));
    }
    let find = |step: &str| {
        let id = &truth
            .planted
            .iter()
            .find(|p| p.step == step)
            .unwrap()
            .event_id;
        records.iter().find(|r| s(r, "/uuid") == id).unwrap()
    };
    let created = find("okta_backdoor_user");
    assert_eq!(s(created, "/actor/alternateId"), OKTA_COMPROMISED_ADMIN);
    assert_eq!(s(created, "/actor/id"), plan.okta_admin_id);
    assert_eq!(s(created, "/client/ipAddress"), ATTACKER_IP);
    assert_eq!(s(created, "/target/0/alternateId"), OKTA_BACKDOOR_USER);
    assert_eq!(s(created, "/target/0/id"), plan.okta_backdoor_user_id);
    let grant = find("okta_admin_role");
    assert_eq!(
        s(grant, "/debugContext/debugData/privilegeGranted"),
        "Super administrator"
    );
    assert_eq!(
        s(find("okta_api_token"), "/target/0/id"),
        plan.okta_api_token_id
    );
    assert_eq!(
        s(find("okta_oauth_grant"), "/target/0/id"),
        plan.okta_oauth_app_id
    );
    let benign = find("benign_okta_backdoor_user");
    assert_eq!(s(benign, "/actor/alternateId"), OKTA_ADMIN);
    assert_eq!(s(benign, "/target/0/alternateId"), OKTA_NEW_HIRE);
    // The compromised admin also works normally, from its usual addresses.
    assert!(records.iter().any(|r| !planted.contains(s(r, "/uuid"))
        && s(r, "/actor/alternateId") == OKTA_COMPROMISED_ADMIN));
}

#[test]
fn github_records_are_realistic_and_hold_the_attack() {
    let (bytes, truth) = github(4, 10_000, ExportShape::JsonArray);
    let records = array(&bytes);
    assert_eq!(records.len(), 10_000);
    check_planted(&records, &truth, "/_document_id", "/action");
    let planted = planted_ids(&truth);
    let plan = attack_plan();
    let mut last = i64::MIN;
    let mut ci_bot_ips = HashSet::new();
    for r in &records {
        let t = r["@timestamp"].as_i64().unwrap();
        assert_eq!(r["created_at"].as_i64(), Some(t));
        assert!(t >= last);
        last = t;
        for field in [
            "/_document_id",
            "/action",
            "/actor",
            "/org",
            "/business",
            "/operation_type",
        ] {
            s(r, field);
        }
        assert!(r["actor_id"].is_u64());
        assert_eq!(s(r, "/_document_id").len(), 22);
        if let Some(token) = r.get("hashed_token") {
            assert_eq!(token.as_str().unwrap().len(), 44);
            let kind = s(r, "/programmatic_access_type");
            assert!(r["token_id"].is_u64());
            if kind != "GitHub App server-to-server token" {
                s(r, "/token_scopes");
            }
        }
        if planted.contains(s(r, "/_document_id")) {
            continue;
        }
        if let Some(ip) = r.get("actor_ip").and_then(Value::as_str) {
            assert_ne!(ip, ATTACKER_IP);
            if s(r, "/actor") == GITHUB_COMPROMISED_ACTOR {
                ci_bot_ips.insert(ip.to_string());
            }
        }
        assert_ne!(
            r.get("user_agent").and_then(Value::as_str),
            Some(ATTACKER_UA)
        );
        assert!(!ATTACK_ONLY_ACTIONS.contains(&s(r, "/action")));
    }
    assert!((1..=3).contains(&ci_bot_ips.len()));
    for p in truth.attack() {
        let r = records
            .iter()
            .find(|r| s(r, "/_document_id") == p.event_id)
            .unwrap();
        assert_eq!(s(r, "/actor"), GITHUB_COMPROMISED_ACTOR);
        assert_eq!(s(r, "/actor_ip"), ATTACKER_IP);
        assert_eq!(s(r, "/hashed_token"), plan.github_hashed_token);
        assert_eq!(r["token_id"].as_u64(), Some(plan.github_token_id));
        assert_eq!(
            s(r, "/programmatic_access_type"),
            "Personal access token (classic)"
        );
        if p.step == "github_outside_collaborator" {
            assert_eq!(s(r, "/user"), GITHUB_OUTSIDE_COLLABORATOR);
            assert_eq!(s(r, "/permission"), "admin");
        }
        if p.step == "github_deploy_key" {
            assert_eq!(s(r, "/repo"), GITHUB_TARGET_REPO);
        }
    }
    let actions: HashSet<&str> = truth.planted.iter().map(|p| p.action).collect();
    for action in [
        "repo.add_member",
        "public_key.create",
        "oauth_authorization.create",
        "personal_access_token.request_created",
        "org.add_member",
    ] {
        assert!(actions.contains(action), "{action}");
    }
}

#[test]
fn s3_objects_gunzip_to_records_by_region_and_hour() {
    let dir = std::env::temp_dir().join(format!("evict-testkit-s3-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = CloudTrailOptions {
        shape: CloudTrailShape::S3Objects {
            records_per_file: 50,
        },
        logstash_timestamps: false,
    };
    let truth = write_cloudtrail(5, 5000, &options, &dir).unwrap();
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    assert_eq!(files.len() as u64, truth.files);
    let mut total = 0;
    let mut ids = HashSet::new();
    let mut on_disk = 0;
    let mut json = 0;
    for path in &files {
        let relative = path
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let parts: Vec<&str> = relative.split('/').collect();
        assert_eq!(parts.len(), 8, "{relative}");
        assert_eq!(&parts[..3], ["AWSLogs", crate::ACCOUNT, "CloudTrail"]);
        let region = parts[3];
        let name = parts[7];
        assert!(name.starts_with(&format!("{}_CloudTrail_{region}_", crate::ACCOUNT)));
        assert!(name.ends_with(".json.gz"));
        let stamp = &name[name.len() - 8 - 17 - 14..name.len() - 8 - 17];
        assert_eq!(stamp.len(), 14, "{name}");
        assert_eq!(&stamp[..4], parts[4]);
        let suffix = &name[name.len() - 8 - 16..name.len() - 8];
        assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()));
        let raw = std::fs::read(path).unwrap();
        on_disk += raw.len() as u64;
        let mut text = String::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .unwrap();
        json += text.len() as u64;
        let object: Value = serde_json::from_str(&text).unwrap();
        let records = object["Records"].as_array().unwrap();
        assert!(!records.is_empty() && records.len() <= 50);
        let mut last = i64::MIN;
        let hour = ct_time(&records[0]) / 3_600_000;
        for r in records {
            assert_eq!(s(r, "/awsRegion"), region);
            let t = ct_time(r);
            assert!(t >= last);
            assert_eq!(t / 3_600_000, hour);
            last = t;
            assert!(ids.insert(s(r, "/eventID").to_string()));
        }
        total += records.len();
    }
    assert_eq!(total as u64, truth.events);
    assert_eq!(on_disk, truth.bytes);
    assert_eq!(json, truth.json_bytes);
    for p in &truth.planted {
        assert!(ids.contains(&p.event_id));
        let location = p.location.as_ref().unwrap();
        assert!(dir.join(location).is_file());
    }
    // Same seed, same tree.
    let again = dir.with_extension("again");
    let _ = std::fs::remove_dir_all(&again);
    let truth2 = write_cloudtrail(5, 5000, &options, &again).unwrap();
    assert_eq!(truth, truth2);
    for path in &files {
        let relative = path.strip_prefix(&dir).unwrap();
        assert_eq!(
            std::fs::read(path).unwrap(),
            std::fs::read(again.join(relative)).unwrap()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&again).unwrap();
}

#[test]
fn org_logs_write_every_source() {
    let dir = std::env::temp_dir().join(format!("evict-testkit-org-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let truth = write_org_logs(2, 300, &OrgLogsOptions::default(), &dir).unwrap();
    assert_eq!(
        truth.paths,
        ["cloudtrail.jsonl", "okta.jsonl", "github.jsonl"]
    );
    for (path, log) in truth
        .paths
        .iter()
        .zip([&truth.cloudtrail, &truth.okta, &truth.github])
    {
        let bytes = std::fs::read(dir.join(path)).unwrap();
        assert_eq!(bytes.len() as u64, log.bytes);
        assert_eq!(lines(&bytes).len() as u64, log.events);
        assert_eq!(log.events, 300);
    }
    let json = truth.to_json();
    assert_eq!(json["plan"]["attacker_ip"], ATTACKER_IP);
    assert_eq!(
        json["cloudtrail"]["planted"].as_array().unwrap().len(),
        truth.cloudtrail.planted.len()
    );
    assert!(truth.planted().count() > 30);
    std::fs::remove_dir_all(&dir).unwrap();
    let array = OrgLogsOptions {
        cloudtrail: CloudTrailOptions {
            shape: CloudTrailShape::JsonArray,
            logstash_timestamps: false,
        },
        export: ExportShape::JsonArray,
    };
    let truth = write_org_logs(2, 100, &array, &dir).unwrap();
    assert_eq!(truth.paths, ["cloudtrail.json", "okta.json", "github.json"]);
    for path in &truth.paths {
        assert_eq!(array_len(&std::fs::read(dir.join(path)).unwrap()), 100);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn array_len(bytes: &[u8]) -> usize {
    array(bytes).len()
}

#[test]
fn the_plan_is_well_formed() {
    let plan = attack_plan();
    for key in [
        &plan.compromised_key_id,
        &plan.new_key_id,
        &plan.lookalike_key_id,
    ] {
        assert!(key.starts_with("AKIA"));
        assert_eq!(key.len(), 20);
        assert!(
            key[4..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
    }
    assert!(plan.pre_patch_session_key_id.starts_with("ASIA"));
    assert_eq!(plan.github_hashed_token.len(), 44);
    assert_eq!(plan.okta_admin_id.len(), 20);
    assert_eq!(plan.compromised_at.to_string(), COMPROMISED_AT);
    assert_eq!(plan.patched_at.to_string(), PATCHED_AT);
    assert_eq!(
        LOGS_START.parse::<Timestamp>().unwrap().as_millisecond(),
        START_MS
    );
    assert_eq!(crate::reference_now().as_millisecond(), NOW_MS);
    assert_eq!(attack_plan(), plan);
}

/// `cargo test --release -p evict-testkit logs::tests::generation_speed -- --ignored --nocapture`
#[test]
#[ignore]
#[allow(clippy::print_stdout)]
fn generation_speed() {
    let n = 1_000_000;
    let options = CloudTrailOptions::default();
    let mut sink = std::io::sink();
    let started = std::time::Instant::now();
    let truth = write_cloudtrail_to(1, n, &options, &mut sink).unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "cloudtrail: {} records, {:.0} MB in {secs:.2} s = {:.0} MB/s",
        truth.events,
        truth.bytes as f64 / 1e6,
        truth.bytes as f64 / 1e6 / secs
    );
    let started = std::time::Instant::now();
    let truth = write_okta(1, n, ExportShape::JsonLines, &mut sink).unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "okta: {} records, {:.0} MB in {secs:.2} s = {:.0} MB/s",
        truth.events,
        truth.bytes as f64 / 1e6,
        truth.bytes as f64 / 1e6 / secs
    );
    let started = std::time::Instant::now();
    let truth = write_github(1, n, ExportShape::JsonLines, &mut sink).unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "github: {} records, {:.0} MB in {secs:.2} s = {:.0} MB/s",
        truth.events,
        truth.bytes as f64 / 1e6,
        truth.bytes as f64 / 1e6 / secs
    );
    let dir = std::env::temp_dir().join(format!("evict-testkit-speed-{}", std::process::id()));
    let started = std::time::Instant::now();
    let options = CloudTrailOptions {
        shape: CloudTrailShape::S3Objects {
            records_per_file: DEFAULT_RECORDS_PER_FILE,
        },
        logstash_timestamps: false,
    };
    let truth = write_cloudtrail(1, n, &options, &dir).unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "cloudtrail s3: {} records in {} files, {:.0} MB JSON -> {:.0} MB gz in {secs:.2} s = {:.0} MB/s of JSON",
        truth.events,
        truth.files,
        truth.json_bytes as f64 / 1e6,
        truth.bytes as f64 / 1e6,
        truth.json_bytes as f64 / 1e6 / secs
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
