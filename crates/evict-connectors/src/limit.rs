//! How hard Evict presses one provider: a token bucket for the request rate, shared by the
//! containment executor, its probes and the liveness probes of `scan --verify`.

use std::time::Duration;

use tokio::sync::Mutex;

use crate::config::Limits;

/// A token bucket: at most `requests_per_second` requests a second, `concurrency` at once
/// in a burst.
#[derive(Debug)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, tokio::time::Instant)>,
}

impl Bucket {
    /// A bucket for `limits`, holding one token at the start.
    pub fn new(limits: Limits) -> Bucket {
        let burst = (limits.concurrency as f64).max(1.0);
        Bucket {
            rate: limits.requests_per_second,
            burst,
            state: Mutex::new((1.0, tokio::time::Instant::now())),
        }
    }

    /// Waits until a request may be sent, and takes its token.
    pub async fn take(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().await;
                let now = tokio::time::Instant::now();
                let refill = now.duration_since(s.1).as_secs_f64() * self.rate;
                s.0 = (s.0 + refill).min(self.burst);
                s.1 = now;
                if s.0 >= 1.0 {
                    s.0 -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - s.0) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_bucket_holds_requests_to_the_rate() {
        let bucket = Bucket::new(Limits {
            requests_per_second: 2.0,
            concurrency: 1,
        });
        let start = tokio::time::Instant::now();
        for _ in 0..5 {
            bucket.take().await;
        }
        // One token at the start, then one every half second.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }
}
