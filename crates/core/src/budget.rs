//! The render budget: how many pixels this process decodes at once.

use tokio::sync::{Semaphore, SemaphorePermit};

/// Renders in flight, weighted by the pixels of their originals.
///
/// Decoding takes memory in proportion to pixel count (about 4.5 bytes a
/// pixel for a PNG: 0.45 GB for 10000 x 10000), whatever the file's size.
/// Each render takes as many megapixels of the budget as its original has
/// before it decodes, and gives them back when done: with the default 150
/// megapixels, two 100-megapixel images render one after the other, while
/// dozens of camera JPEGs render side by side. An image larger than the
/// whole budget takes all of it and runs alone; it never waits forever.
#[derive(Debug)]
pub struct RenderBudget {
    megapixels: u32,
    permits: Semaphore,
}

impl RenderBudget {
    /// A budget of `pixels` (at least one megapixel).
    pub fn new(pixels: u64) -> Self {
        let megapixels = u32::try_from(pixels.div_ceil(1_000_000)).unwrap_or(u32::MAX >> 4).clamp(1, u32::MAX >> 4);
        RenderBudget { megapixels, permits: Semaphore::new(megapixels as usize) }
    }

    /// The whole budget, in megapixels.
    pub fn megapixels(&self) -> u32 {
        self.megapixels
    }

    /// What is free now, in megapixels.
    pub fn available(&self) -> u32 {
        self.permits.available_permits() as u32
    }

    /// Waits until an image of `pixels` fits, and holds its share until
    /// the returned guard is dropped.
    pub async fn acquire(&self, pixels: u64) -> SemaphorePermit<'_> {
        let weight = u32::try_from(pixels.div_ceil(1_000_000)).unwrap_or(u32::MAX).clamp(1, self.megapixels);
        self.permits.acquire_many(weight).await.expect("the budget's semaphore is never closed")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn large_images_wait_for_each_other_and_small_ones_share() {
        let budget = RenderBudget::new(150_000_000);
        let big = budget.acquire(100_000_000).await;
        assert_eq!(budget.available(), 50);
        // A second 100 MP image must wait; a 24 MP one fits beside it.
        let waiting = tokio::time::timeout(Duration::from_millis(50), budget.acquire(100_000_000)).await;
        assert!(waiting.is_err(), "two 100 MP renders at once exceed 150 MP");
        let small = budget.acquire(24_000_000).await;
        assert_eq!(budget.available(), 26);
        drop((big, small));
        // Larger than the whole budget: it takes everything and still runs.
        let huge = budget.acquire(400_000_000).await;
        assert_eq!(budget.available(), 0);
        drop(huge);
        assert_eq!(budget.available(), 150);
        // A tiny or unknown size still counts as one megapixel.
        let _tiny = budget.acquire(0).await;
        assert_eq!(budget.available(), 149);
    }
}
