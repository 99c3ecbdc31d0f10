//! The stage ladder: a table's steps, the rules that skip them, and the one loop that walks
//! a table ([`Ladder::walk`]) and decides every skip. `cell.rs` holds the tables.

use std::collections::BTreeMap;

use crate::model::matrix::Check;
use crate::model::outcome::{Stage, StageResult, Status};

/// One stage of the table.
pub(super) struct Step<K> {
    pub stage: Stage,
    /// Read in order: the first that holds skips the stage, with its reason.
    pub rules: &'static [Rule],
    /// Starts on a thread of its own as soon as its rules allow, beside the stages between,
    /// and is recorded in its own turn.
    pub early: bool,
    pub run: fn(&K) -> StageResult,
}

impl<K> Step<K> {
    /// Run the stage on this thread. It times itself across its waits for job tokens; what
    /// it waited is recorded apart, so its duration is the time it ran.
    pub fn timed(&self, k: &K) -> StageResult {
        let (r, queued) = crate::sys::jobs::counting_waits(|| (self.run)(k));
        r.with_queued(queued.as_secs_f64())
    }
}

/// When a stage is skipped, and why.
#[derive(Debug)]
pub(super) enum Rule {
    /// The stage before passed. One it skipped is skipped for the same reason, so a stop
    /// names its first cause ("fetch did not pass" all the way down).
    After(Stage),
    /// The stage ran, whatever it said (kunit reads the console of a failed boot too).
    Ran(Stage),
    /// The stage passed; else skipped with this reason.
    Passed(Stage, &'static str),
    /// `--stage` named a stage before this one.
    Stop(Stage),
    /// The matrix's checks leave it out.
    Checked(Check),
    /// SIGINT or SIGTERM came: no stage starts.
    Interrupted,
}

/// A cell that ends early: every stage from `from` on is skipped with `why`, whatever the
/// rest (no base, a file link, no QEMU profile, a toolchain that cannot serve).
#[derive(Debug, Clone)]
pub(super) struct End {
    pub from: Stage,
    pub why: String,
}

/// How a table is walked: what the rules read, and who is told of each stage that starts.
pub(super) struct Ladder<'a> {
    pub stop_after: Option<Stage>,
    pub checks: &'a [Check],
    pub end: Option<End>,
    pub interrupted: &'a dyn Fn() -> bool,
    pub announce: &'a dyn Fn(Stage),
    /// Told of each stage's result as it is recorded.
    pub recorded: &'a dyn Fn(&StageResult),
}

impl Ladder<'_> {
    /// Why `step` is skipped, given the stages recorded so far; None: it runs.
    pub fn why_skip<K>(&self, step: &Step<K>, done: &[StageResult]) -> Option<String> {
        if let Some(e) = self.end.as_ref().filter(|e| step.stage >= e.from) {
            return Some(e.why.clone());
        }
        step.rules.iter().find_map(|r| self.holds(r, done))
    }

    fn holds(&self, rule: &Rule, done: &[StageResult]) -> Option<String> {
        let recorded = |s: Stage| done.iter().find(|r| r.stage == s);
        match *rule {
            Rule::After(s) | Rule::Ran(s) => match recorded(s) {
                Some(r) if r.status == Status::Skip => Some(r.summary.clone()),
                Some(r) if matches!(rule, Rule::After(_)) && !r.ok() => {
                    Some(format!("{} did not pass", s.name()))
                }
                Some(_) => None,
                None => Some(format!("{} did not run", s.name())),
            },
            Rule::Passed(s, why) => (!recorded(s).is_some_and(|r| r.ok())).then(|| why.into()),
            Rule::Stop(s) => self
                .stop_after
                .filter(|stop| *stop < s)
                .map(|stop| format!("stopped after {} (--stage)", stop.name())),
            Rule::Checked(c) => {
                (!self.checks.contains(&c)).then(|| "not in the matrix's checks".into())
            }
            Rule::Interrupted => (self.interrupted)().then(|| "the run was interrupted".into()),
        }
    }

    /// Every step in order, each recorded once in `done`: skipped with the reason of the
    /// first rule that holds, or announced, run and recorded. An early step starts as soon as
    /// its rules allow; in its turn it is waited for, and what it found stands unless a rule
    /// holds by then (an interrupt).
    pub fn walk<K: Sync>(&self, steps: &[Step<K>], k: &K, done: &mut Vec<StageResult>) {
        std::thread::scope(|s| {
            let mut started = BTreeMap::new();
            for (i, step) in steps.iter().enumerate() {
                for later in steps[i + 1..].iter().filter(|l| l.early) {
                    if !started.contains_key(&later.stage) && self.why_skip(later, done).is_none() {
                        started.insert(later.stage, s.spawn(move || later.timed(k)));
                    }
                }
                let early = started.remove(&step.stage).map(|h| {
                    (self.announce)(step.stage);
                    h.join().unwrap_or_else(|_| {
                        let why = format!("the {} thread panicked", step.stage.name());
                        StageResult::error(step.stage, why)
                    })
                });
                let r = match (self.why_skip(step, done), early) {
                    (Some(why), _) => StageResult::skip(step.stage, why),
                    (None, Some(r)) => r,
                    (None, None) => {
                        (self.announce)(step.stage);
                        step.timed(k)
                    }
                };
                (self.recorded)(&r);
                done.push(r);
            }
        });
    }
}
