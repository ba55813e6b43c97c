//! Progress on stderr: bars on a terminal, one plain line per finished trial
//! otherwise (logs, CI), nothing with `--quiet`.

use crate::studies::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// Live bars: overall progress and one line per running trial.
    Bars,
    /// A plain line per finished trial.
    Lines,
    /// Only failures.
    Quiet,
}

/// Decide how to show progress. Pure so it can be tested.
pub fn progress_mode(stderr_is_terminal: bool, quiet: bool) -> ProgressMode {
    match (quiet, stderr_is_terminal) {
        (true, _) => ProgressMode::Quiet,
        (false, true) => ProgressMode::Bars,
        (false, false) => ProgressMode::Lines,
    }
}

/// Counts and display for one run.
pub struct Reporter {
    mode: ProgressMode,
    multi: MultiProgress,
    main: ProgressBar,
    total: usize,
    done: AtomicUsize,
    failed: AtomicUsize,
    cached: usize,
}

impl Reporter {
    pub fn new(mode: ProgressMode, total: usize, cached: usize) -> Reporter {
        let multi = MultiProgress::with_draw_target(match mode {
            ProgressMode::Bars => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        });
        let main = multi.add(ProgressBar::new(total as u64));
        main.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} trials {msg} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        main.set_position(cached as u64);
        let reporter = Reporter {
            mode,
            multi,
            main,
            total,
            done: AtomicUsize::new(cached),
            failed: AtomicUsize::new(0),
            cached,
        };
        reporter.refresh_message();
        reporter
    }

    fn refresh_message(&self) {
        self.main.set_message(format!(
            "({} failed, {} cached)",
            self.failed.load(Ordering::Relaxed),
            self.cached
        ));
    }

    /// A per-trial line that the study updates while it runs.
    pub fn trial_started(&self, label: String) -> TrialProgress {
        let bar = (self.mode == ProgressMode::Bars).then(|| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("  {spinner} {prefix} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(label);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        TrialProgress { bar }
    }

    /// A trial is done; `secs` is its own wall time (not the run's).
    pub fn trial_finished(
        &self,
        progress: TrialProgress,
        label: &str,
        error: Option<&str>,
        secs: f64,
    ) {
        if let Some(bar) = progress.bar {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(err) = error {
            self.failed.fetch_add(1, Ordering::Relaxed);
            self.print(&format!("trial {label} failed: {err}"));
        } else if self.mode == ProgressMode::Lines {
            // Best effort: a full stderr must not panic a worker mid-run.
            let _ = writeln!(
                std::io::stderr(),
                "[{done}/{}] ok {label} ({secs:.1}s)",
                self.total
            );
        }
        self.main.inc(1);
        self.refresh_message();
    }

    /// A message that must be seen in every mode.
    pub fn print(&self, message: &str) {
        if self.mode == ProgressMode::Bars {
            let _ = self.multi.println(message);
        } else {
            let _ = writeln!(std::io::stderr(), "{message}");
        }
    }

    pub fn finish(&self) {
        self.main.finish_and_clear();
    }
}

/// The [`Progress`] handed to a study for one trial.
pub struct TrialProgress {
    bar: Option<ProgressBar>,
}

impl Progress for TrialProgress {
    fn update(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_only_on_a_terminal_and_never_when_quiet() {
        assert_eq!(progress_mode(true, false), ProgressMode::Bars);
        assert_eq!(progress_mode(false, false), ProgressMode::Lines);
        assert_eq!(progress_mode(true, true), ProgressMode::Quiet);
        assert_eq!(progress_mode(false, true), ProgressMode::Quiet);
    }
}
