use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::CredentialId;

/// Just-in-time access: time-boxed, task-bound, revoked (and verified) at expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Grant id.
    pub id: String,
    /// Who asked.
    pub requester: String,
    /// The role or scope granted.
    pub target: String,
    /// The change, incident or ticket it serves.
    pub reason: String,
    /// Who approved; never the requester.
    pub approver: Option<String>,
    /// When it was issued.
    pub issued_at: Option<Timestamp>,
    /// When it expires; a grant always has one.
    pub expires_at: Timestamp,
    /// The credential issued for it.
    pub credential: Option<CredentialId>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// When the revocation was verified.
    pub verified_at: Option<Timestamp>,
}
