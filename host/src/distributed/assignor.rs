//! The leader's assignment: which worker runs each connector instance and each task. Pure
//! data in, data out, so every rule is tested without a cluster.
//!
//! - **Balanced.** Connectors and tasks are balanced separately: each worker's count of
//!   either differs from any other's by at most one.
//! - **Sticky.** Work stays where it runs; only a worker above its share gives some up, and
//!   only new or freed work is placed, on the least-loaded workers.
//! - **Never twice.** A unit goes to a worker only when no other live worker may still run
//!   it (`held`: its last heartbeat says it runs it, or an assignment it has not applied yet
//!   gives it the unit). A unit taken from one worker is therefore first assigned nowhere,
//!   and placed in a later round, once its old worker reported it stopped.

use std::collections::{BTreeMap, BTreeSet};

/// One unit of work.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unit {
    /// A connector's instance (task id `-1` in Kafka Connect's protocol).
    Connector(String),
    Task(String, u32),
}

impl Unit {
    pub fn connector(&self) -> &str {
        match self {
            Self::Connector(name) | Self::Task(name, _) => name,
        }
    }

    fn is_connector(&self) -> bool {
        matches!(self, Self::Connector(_))
    }
}

/// Units by worker.
pub type Assignment = BTreeMap<String, BTreeSet<Unit>>;

/// The next assignment: `workers` (live, sorted) share `configured`, starting from
/// `previous`; `held(unit)` names the live workers that may still run a unit, and
/// `eligible(worker, unit)` says whether a worker can run it (has its plugin loaded).
pub fn assign(
    workers: &[String],
    configured: &BTreeSet<Unit>,
    previous: &Assignment,
    held: &dyn Fn(&Unit) -> BTreeSet<String>,
    eligible: &dyn Fn(&str, &Unit) -> bool,
) -> Assignment {
    let mut next: Assignment = workers
        .iter()
        .map(|worker| (worker.clone(), BTreeSet::new()))
        .collect();
    if workers.is_empty() {
        return next;
    }
    for connectors in [true, false] {
        let kind: BTreeSet<&Unit> = configured
            .iter()
            .filter(|unit| unit.is_connector() == connectors)
            .collect();
        // What each live worker keeps of its previous work.
        let mut current: BTreeMap<&String, Vec<&Unit>> = workers
            .iter()
            .map(|worker| {
                let kept = previous
                    .get(worker)
                    .into_iter()
                    .flatten()
                    .filter(|unit| kind.contains(unit))
                    .collect();
                (worker, kept)
            })
            .collect();
        // Shares: the most loaded workers keep the larger shares, so little moves.
        let (base, extra) = (kind.len() / workers.len(), kind.len() % workers.len());
        let mut order: Vec<&String> = workers.iter().collect();
        order.sort_by(|a, b| current[b].len().cmp(&current[a].len()).then(a.cmp(b)));
        let share: BTreeMap<&String, usize> = order
            .iter()
            .enumerate()
            .map(|(rank, worker)| (*worker, base + usize::from(rank < extra)))
            .collect();
        // Workers above their share give up their last units.
        for (worker, units) in current.iter_mut() {
            units.truncate(share[worker]);
        }
        let placed: BTreeSet<&Unit> = current.values().flatten().copied().collect();
        for unit in kind.iter().filter(|unit| !placed.contains(*unit)) {
            let holders = held(unit);
            let candidate = workers
                .iter()
                .filter(|worker| current[worker].len() < share[worker])
                .filter(|worker| holders.iter().all(|holder| holder == *worker))
                .filter(|worker| eligible(worker, unit))
                // The worker that holds it first, then the least loaded.
                .min_by_key(|worker| {
                    (
                        !holders.contains(*worker),
                        current[worker].len(),
                        (*worker).clone(),
                    )
                });
            if let Some(worker) = candidate {
                current.get_mut(worker).expect("a live worker").push(unit);
            }
        }
        for (worker, units) in current {
            next.get_mut(worker)
                .expect("a live worker")
                .extend(units.into_iter().cloned());
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(connectors: &[(&str, u32)]) -> BTreeSet<Unit> {
        connectors
            .iter()
            .flat_map(|(name, tasks)| {
                std::iter::once(Unit::Connector((*name).into()))
                    .chain((0..*tasks).map(|task| Unit::Task((*name).into(), task)))
            })
            .collect()
    }

    fn workers(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    fn counts(assignment: &Assignment) -> Vec<(usize, usize)> {
        assignment
            .values()
            .map(|units| {
                let connectors = units.iter().filter(|u| u.is_connector()).count();
                (connectors, units.len() - connectors)
            })
            .collect()
    }

    fn balanced(assignment: &Assignment) -> bool {
        let counts = counts(assignment);
        let spread = |pick: fn(&(usize, usize)) -> usize| {
            let values: Vec<usize> = counts.iter().map(pick).collect();
            values.iter().max().unwrap() - values.iter().min().unwrap()
        };
        spread(|c| c.0) <= 1 && spread(|c| c.1) <= 1
    }

    fn nobody(_: &Unit) -> BTreeSet<String> {
        BTreeSet::new()
    }

    fn anywhere(_: &str, _: &Unit) -> bool {
        true
    }

    #[test]
    fn work_goes_only_to_workers_that_have_its_plugin() {
        let configured = units(&[("a", 2), ("b", 2)]);
        // Only w2 has a's plugin.
        let eligible = |worker: &str, unit: &Unit| unit.connector() != "a" || worker == "w2";
        let next = assign(
            &workers(&["w1", "w2", "w3"]),
            &configured,
            &Assignment::new(),
            &nobody,
            &eligible,
        );
        for (worker, units) in &next {
            if worker != "w2" {
                assert!(
                    units.iter().all(|unit| unit.connector() != "a"),
                    "{worker}: {units:?}"
                );
            }
        }
        assert!(next["w2"].contains(&Unit::Connector("a".into())));
    }

    /// What a worker runs after applying `assignment` (holders are exactly its owners).
    fn holders(assignment: &Assignment) -> impl Fn(&Unit) -> BTreeSet<String> + '_ {
        move |unit| {
            assignment
                .iter()
                .filter(|(_, units)| units.contains(unit))
                .map(|(worker, _)| worker.clone())
                .collect()
        }
    }

    #[test]
    fn six_connectors_of_three_tasks_spread_evenly_over_three_workers() {
        let configured = units(&[("a", 3), ("b", 3), ("c", 3), ("d", 3), ("e", 3), ("f", 3)]);
        let next = assign(
            &workers(&["w1", "w2", "w3"]),
            &configured,
            &Assignment::new(),
            &nobody,
            &anywhere,
        );
        assert_eq!(counts(&next), [(2, 6), (2, 6), (2, 6)]);
        let all: BTreeSet<Unit> = next.values().flatten().cloned().collect();
        assert_eq!(all, configured);
    }

    #[test]
    fn uneven_work_differs_by_at_most_one_per_kind() {
        let configured = units(&[("a", 5), ("b", 1), ("c", 0), ("d", 2)]);
        let next = assign(
            &workers(&["w1", "w2", "w3"]),
            &configured,
            &Assignment::new(),
            &nobody,
            &anywhere,
        );
        assert!(balanced(&next), "{:?}", counts(&next));
        assert_eq!(
            next.values().map(BTreeSet::len).sum::<usize>(),
            configured.len()
        );
    }

    #[test]
    fn a_joining_worker_gets_its_share_in_two_rounds_and_nothing_else_moves() {
        let configured = units(&[("a", 3), ("b", 3), ("c", 3)]);
        let three = workers(&["w1", "w2", "w3"]);
        let before = assign(&three, &configured, &Assignment::new(), &nobody, &anywhere);
        let four = workers(&["w1", "w2", "w3", "w4"]);
        // Round 1: what w4 will get is taken from the others but is still running there.
        let revoked = assign(&four, &configured, &before, &holders(&before), &anywhere);
        assert!(revoked["w4"].is_empty());
        for worker in &three {
            assert!(
                revoked[worker].is_subset(&before[worker]),
                "{worker} only gives up"
            );
        }
        // Round 2: its old workers stopped it; w4 takes it.
        let after = assign(&four, &configured, &revoked, &holders(&revoked), &anywhere);
        assert!(balanced(&after), "{:?}", counts(&after));
        let moved: usize = three
            .iter()
            .map(|worker| before[worker].difference(&after[worker]).count())
            .sum();
        assert_eq!(moved, after["w4"].len(), "only what w4 took moved");
        // And it is stable.
        assert_eq!(
            assign(&four, &configured, &after, &holders(&after), &anywhere),
            after
        );
    }

    #[test]
    fn a_dead_workers_units_go_to_the_survivors_at_once() {
        let configured = units(&[("a", 3), ("b", 3), ("c", 3)]);
        let before = assign(
            &workers(&["w1", "w2", "w3"]),
            &configured,
            &Assignment::new(),
            &nobody,
            &anywhere,
        );
        let survivors = workers(&["w1", "w3"]);
        // w2 is dead: it holds nothing any more.
        let live_holders = |unit: &Unit| {
            holders(&before)(unit)
                .into_iter()
                .filter(|worker| worker != "w2")
                .collect()
        };
        let after = assign(&survivors, &configured, &before, &live_holders, &anywhere);
        assert!(balanced(&after));
        assert_eq!(
            after.values().map(BTreeSet::len).sum::<usize>(),
            configured.len()
        );
        for worker in &survivors {
            assert!(
                before[worker].is_subset(&after[worker]),
                "{worker} keeps its work"
            );
        }
    }

    #[test]
    fn a_unit_another_worker_may_still_run_is_not_placed() {
        let configured = units(&[("a", 1)]);
        let held = |unit: &Unit| {
            if *unit == Unit::Task("a".into(), 0) {
                BTreeSet::from(["w9".to_owned()])
            } else {
                BTreeSet::new()
            }
        };
        let next = assign(
            &workers(&["w1", "w2"]),
            &configured,
            &Assignment::new(),
            &held,
            &anywhere,
        );
        assert!(
            !next
                .values()
                .flatten()
                .any(|unit| *unit == Unit::Task("a".into(), 0))
        );
        assert!(
            next.values()
                .flatten()
                .any(|unit| *unit == Unit::Connector("a".into()))
        );
    }

    #[test]
    fn deleted_work_is_dropped_and_a_restarted_worker_keeps_its_own() {
        let configured = units(&[("a", 2), ("b", 2)]);
        let ws = workers(&["w1", "w2"]);
        let before = assign(&ws, &configured, &Assignment::new(), &nobody, &anywhere);
        // w2 restarted: it runs nothing yet, but its assignment stands.
        let after = assign(&ws, &configured, &before, &|_| BTreeSet::new(), &anywhere);
        assert_eq!(after, before);
        let fewer = units(&[("a", 2)]);
        let after = assign(&ws, &fewer, &before, &holders(&before), &anywhere);
        assert_eq!(
            after.values().flatten().cloned().collect::<BTreeSet<_>>(),
            fewer
        );
    }
}
