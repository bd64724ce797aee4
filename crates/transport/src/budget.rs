//! A process-wide budget for message data held in memory: SMTP `DATA` and
//! `BDAT` being received, IMAP literals being read. However many clients
//! send at once, the bytes they make Ward hold stay under one ceiling.
//!
//! Each connection takes a [`Reservation`] and grows it as message bytes
//! arrive (or all at once when the size is announced: an IMAP literal, SMTP
//! `SIZE=`). When the budget is spent the connection waits before reading
//! more (back-pressure: the client's TCP window fills), for at most its
//! patience; then the message is refused with a temporary error and the
//! reservation released, so that waiting connections cannot hold each
//! other up for ever. The reservation is released when the message is
//! finished or abandoned (dropped).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The unit of accounting: bytes are counted in 4 KiB pages, so that a
/// budget of terabytes fits the semaphore's permit counts.
const PAGE: u64 = 4096;

fn pages(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE)
}

/// The shared budget. Cloning is cheap; clones share it.
#[derive(Debug, Clone)]
pub struct Budget {
    pages: Arc<Semaphore>,
    total: u64,
}

/// Why a reservation could not grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Exhausted {
    /// More than the whole budget: it can never fit.
    #[error("the message is larger than the memory budget for mail in flight")]
    LargerThanBudget,
    /// Others hold the budget and did not free enough in time.
    #[error("too much mail is in flight; try again later")]
    Busy,
}

impl Budget {
    /// A budget of `bytes` (rounded up to whole 4 KiB pages).
    pub fn new(bytes: u64) -> Self {
        let total = pages(bytes).max(1);
        let permits = usize::try_from(total)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Self {
            pages: Arc::new(Semaphore::new(permits)),
            total: permits as u64,
        }
    }

    /// An empty reservation against this budget.
    pub fn reservation(&self) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: None,
            pages: 0,
        }
    }

    /// The budget in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.total * PAGE
    }

    /// Bytes reserved now, by every connection.
    pub fn in_use_bytes(&self) -> u64 {
        (self.total - self.pages.available_permits() as u64) * PAGE
    }
}

/// One connection's share of the budget. Dropping it gives the share back.
#[derive(Debug)]
pub struct Reservation {
    budget: Budget,
    held: Option<OwnedSemaphorePermit>,
    pages: u64,
}

impl Reservation {
    /// Grows the reservation to cover `bytes` held in all (it never shrinks
    /// here), waiting up to `patience` for others to free their share.
    ///
    /// # Errors
    ///
    /// [`Exhausted::LargerThanBudget`] at once when `bytes` exceeds the
    /// whole budget; [`Exhausted::Busy`] when the wait ran out. Either way
    /// the reservation is released, so the connection holds nothing while
    /// it refuses the message.
    pub async fn grow_to(&mut self, bytes: u64, patience: Duration) -> Result<(), Exhausted> {
        let wanted = pages(bytes);
        if wanted <= self.pages {
            return Ok(());
        }
        if wanted > self.budget.total {
            self.release();
            return Err(Exhausted::LargerThanBudget);
        }
        let more = u32::try_from(wanted - self.pages).unwrap_or(u32::MAX);
        let acquire = Arc::clone(&self.budget.pages).acquire_many_owned(more);
        match tokio::time::timeout(patience, acquire).await {
            Ok(Ok(permit)) => {
                match self.held.as_mut() {
                    Some(held) => held.merge(permit),
                    None => self.held = Some(permit),
                }
                self.pages = wanted;
                Ok(())
            }
            // The semaphore is never closed; a timeout is the only failure.
            _ => {
                self.release();
                Err(Exhausted::Busy)
            }
        }
    }

    /// Gives the whole share back (the message was stored or refused).
    pub fn release(&mut self) {
        self.held = None;
        self.pages = 0;
    }

    /// Bytes this reservation holds.
    pub fn bytes(&self) -> u64 {
        self.pages * PAGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_share_the_budget_and_give_it_back() {
        let budget = Budget::new(10 * PAGE);
        let patience = Duration::from_millis(50);
        let mut a = budget.reservation();
        let mut b = budget.reservation();
        a.grow_to(6 * PAGE, patience).await.unwrap();
        a.grow_to(5 * PAGE, patience).await.unwrap();
        assert_eq!(a.bytes(), 6 * PAGE);
        assert_eq!(budget.in_use_bytes(), 6 * PAGE);
        assert_eq!(b.grow_to(5 * PAGE, patience).await, Err(Exhausted::Busy));
        assert_eq!(b.bytes(), 0);
        assert_eq!(
            b.grow_to(11 * PAGE, patience).await,
            Err(Exhausted::LargerThanBudget)
        );
        // A waiting reservation gets its share as soon as it is freed.
        let waiter = tokio::spawn(async move {
            b.grow_to(8 * PAGE, Duration::from_secs(5))
                .await
                .map(|()| b)
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(a);
        let b = waiter.await.unwrap().unwrap();
        assert_eq!(budget.in_use_bytes(), 8 * PAGE);
        drop(b);
        assert_eq!(budget.in_use_bytes(), 0);
    }
}
