//! Work spread over threads inside one plugin call, for the parts of a fit that are a loop
//! over independent columns (a median, a spread, a skew per column is a pass over every row).
//!
//! Plain scoped threads: a plugin brings no thread pool of its own into the host's process.
//! The count follows the host's: `strata --threads N` sets `RAYON_NUM_THREADS`, which is read
//! here; otherwise one thread per core.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads a plugin call may use: `RAYON_NUM_THREADS` when set to a positive number, else the
/// machine's available parallelism.
pub fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `f` of every item, in the items' order, computed on up to [`threads`] threads, each taking
/// the next item not yet taken: the results of a sequential map whatever the thread count. A
/// panic in `f` is raised again here (and stopped at the plugin boundary like any other).
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = threads().min(items.len());
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return mine;
                        };
                        mine.push((i, f(item)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(mine) => mine,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    done.sort_unstable_by_key(|&(i, _)| i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order() {
        let items: Vec<u64> = (0..1000).collect();
        let out = map(&items, |&x| x * x);
        assert_eq!(out, items.iter().map(|x| x * x).collect::<Vec<_>>());
        assert_eq!(map(&[] as &[u64], |&x| x), Vec::<u64>::new());
    }

    #[test]
    fn a_panic_reaches_the_caller() {
        let items = [1, 2, 3];
        let caught = std::panic::catch_unwind(|| map(&items, |&x| assert!(x != 2, "two")));
        assert!(caught.is_err());
    }
}
