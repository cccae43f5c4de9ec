//! keepalived's rise/fall counting of one check script, shared by every instance tracking it.
//!
//! keepalived keeps one counter per `vrrp_script` (not per instance) and tells the instances only
//! when the script's verdict flips. Before the first result the verdict is [`CheckStatus::Pending`]
//! and, as in keepalived 2.2 without `init_fail`, the first result decides at once: one success
//! makes it pass, one failure makes it fail, whatever `rise` and `fall` say. After that a passing
//! script fails after `fall` failures in a row and a failing one passes after `rise` successes in
//! a row; a result of the other kind restarts the count.

/// What the instances tracking a check script see of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckStatus {
    /// No result yet (keepalived's "init" state).
    Pending,
    Passing,
    Failing,
}

impl CheckStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pending => "pending",
            CheckStatus::Passing => "passing",
            CheckStatus::Failing => "failing",
        }
    }
}

/// The rise/fall counter of one script, fed every run's result.
///
/// `score` is keepalived's `result`: `0..rise` while failing, `rise..rise + fall` while passing;
/// it starts at `rise - 1`, one success short of passing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckCounter {
    rise: u32,
    fall: u32,
    score: u32,
    status: CheckStatus,
}

impl CheckCounter {
    /// `rise` and `fall` below 1 are taken as 1 (the configuration never gives 0).
    pub fn new(rise: u32, fall: u32) -> CheckCounter {
        let rise = rise.max(1);
        CheckCounter {
            rise,
            fall: fall.max(1),
            score: rise - 1,
            status: CheckStatus::Pending,
        }
    }

    pub fn status(&self) -> CheckStatus {
        self.status
    }

    /// Counts one run; returns the new status when it changed.
    pub fn record(&mut self, passed: bool) -> Option<CheckStatus> {
        let before = self.status;
        let top = self.rise + self.fall - 1;
        if passed {
            if self.score < self.rise - 1 {
                self.score += 1;
            } else {
                self.score = top;
                self.status = CheckStatus::Passing;
            }
        } else if self.score > self.rise {
            self.score -= 1;
        } else {
            // score == rise: the last allowed failure of a passing script; below it the
            // script was failing already (or pending, whose first failure decides).
            self.score = 0;
            self.status = CheckStatus::Failing;
        }
        (self.status != before).then_some(self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(counter: &mut CheckCounter, results: &str) -> Vec<Option<CheckStatus>> {
        results.chars().map(|c| counter.record(c == '+')).collect()
    }

    use CheckStatus::*;

    #[test]
    fn first_result_decides_whatever_rise_and_fall() {
        for (rise, fall) in [(1, 1), (3, 1), (1, 4), (5, 5)] {
            let mut counter = CheckCounter::new(rise, fall);
            assert_eq!(counter.status(), Pending);
            assert_eq!(
                counter.record(true),
                Some(Passing),
                "rise {rise} fall {fall}"
            );
            let mut counter = CheckCounter::new(rise, fall);
            assert_eq!(
                counter.record(false),
                Some(Failing),
                "rise {rise} fall {fall}"
            );
        }
    }

    #[test]
    fn passing_script_fails_after_fall_failures_in_a_row() {
        let mut counter = CheckCounter::new(2, 3);
        counter.record(true);
        assert_eq!(run(&mut counter, "--"), [None, None]);
        assert_eq!(counter.status(), Passing);
        assert_eq!(counter.record(false), Some(Failing));
    }

    #[test]
    fn a_success_restarts_the_fall_count() {
        let mut counter = CheckCounter::new(1, 3);
        counter.record(true);
        assert_eq!(run(&mut counter, "--+--+--"), [None; 8]);
        assert_eq!(counter.status(), Passing);
        assert_eq!(counter.record(false), Some(Failing));
    }

    #[test]
    fn failing_script_passes_after_rise_successes_in_a_row() {
        let mut counter = CheckCounter::new(3, 1);
        counter.record(false);
        assert_eq!(run(&mut counter, "++"), [None, None]);
        assert_eq!(counter.record(true), Some(Passing));
    }

    #[test]
    fn a_failure_restarts_the_rise_count() {
        let mut counter = CheckCounter::new(3, 2);
        counter.record(false);
        assert_eq!(run(&mut counter, "++-++-++"), [None; 8]);
        assert_eq!(counter.status(), Failing);
        assert_eq!(counter.record(true), Some(Passing));
    }

    #[test]
    fn rise_and_fall_of_one_follow_every_result() {
        let mut counter = CheckCounter::new(1, 1);
        assert_eq!(
            run(&mut counter, "+-+--++"),
            [
                Some(Passing),
                Some(Failing),
                Some(Passing),
                Some(Failing),
                None,
                Some(Passing),
                None
            ]
        );
    }

    #[test]
    fn zero_rise_or_fall_behaves_as_one() {
        let mut zero = CheckCounter::new(0, 0);
        let mut one = CheckCounter::new(1, 1);
        for result in [true, false, false, true, true, false] {
            assert_eq!(zero.record(result), one.record(result));
        }
    }
}
