//! Console progress: one line per check without a TTY; summary at the end.

use super::RunRecord;
use crate::events::Event;
use std::path::PathBuf;

#[derive(Clone, Debug, Default)]
pub struct ConsoleSettings {
    pub quiet: bool,
    pub verbose: bool,
    pub json: bool,
}

pub struct Console {
    s: ConsoleSettings,
}

impl Console {
    pub fn new(s: ConsoleSettings) -> Console {
        Console { s }
    }
    pub fn event(&mut self, e: &Event) {
        if self.s.quiet {
            return;
        }
        match e {
            Event::CheckFinished(r) => println!("{:<12} {:<55} {}", r.outcome.as_str(), r.id, first_line(&r.message)),
            Event::Note(n) => println!("note: {n}"),
            _ => {}
        }
    }
    pub fn finished(&mut self, r: &RunRecord, written: &[PathBuf]) {
        let c = r.counts();
        println!(
            "summary: {} passed, {} failed, {} warned, {} unsupported, {} skipped, {} not run",
            c.passed, c.failed, c.warned, c.unsupported, c.skipped, c.not_run
        );
        for p in written {
            println!("report: {}", p.display());
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
