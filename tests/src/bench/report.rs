//! The report every benchmark adds to: rows of samples (one per case, implementation and
//! metric), target verdicts, notes; printed as a table and written as JSON and SVG.
use std::{fmt::Write as _, path::Path};

use serde::Serialize;

use super::stats::Summary;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub bench: String,
    /// e.g. "v3 10ms", "255 instances".
    pub case: String,
    /// "xvrrpd", "keepalived", "xvrrpd xdp=off", …
    pub implementation: String,
    pub metric: String,
    pub unit: String,
    pub samples: Vec<f64>,
    pub summary: Option<Summary>,
    /// Context for the figure, e.g. the Master_Down_Interval of the case.
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub bench: String,
    pub target: String,
    pub met: bool,
    /// The figures the verdict was drawn from.
    pub detail: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub date: String,
    pub machine: String,
    pub quick: bool,
    pub rows: Vec<Row>,
    pub verdicts: Vec<Verdict>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(quick: bool) -> Report {
        Report {
            date: command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            machine: machine(),
            quick,
            ..Report::default()
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        bench: &str,
        case: &str,
        implementation: &str,
        metric: &str,
        unit: &str,
        samples: Vec<f64>,
        note: impl Into<String>,
    ) -> Option<Summary> {
        let summary = Summary::of(&samples);
        self.rows.push(Row {
            bench: bench.into(),
            case: case.into(),
            implementation: implementation.into(),
            metric: metric.into(),
            unit: unit.into(),
            samples,
            summary,
            note: note.into(),
        });
        summary
    }

    pub fn verdict(&mut self, bench: &str, target: &str, met: bool, detail: impl Into<String>) {
        self.verdicts.push(Verdict {
            bench: bench.into(),
            target: target.into(),
            met,
            detail: detail.into(),
        });
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The median of a row already added, if it had samples.
    pub fn median(
        &self,
        bench: &str,
        case: &str,
        implementation: &str,
        metric: &str,
    ) -> Option<f64> {
        self.rows
            .iter()
            .find(|row| {
                row.bench == bench
                    && row.case == case
                    && row.implementation == implementation
                    && row.metric == metric
            })
            .and_then(|row| row.summary)
            .map(|summary| summary.median)
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "xvrrpd benchmarks, {} on {}{}",
            self.date,
            self.machine,
            if self.quick {
                " (QUICK: few repeats)"
            } else {
                ""
            }
        );
        let cells: Vec<[String; 9]> = self
            .rows
            .iter()
            .map(|row| {
                let (median, p, range, n) = match row.summary {
                    Some(s) => (
                        format!("{} {}", number(s.median), row.unit),
                        format!("{}..{}", number(s.p10), number(s.p90)),
                        format!("{}..{}", number(s.min), number(s.max)),
                        s.count.to_string(),
                    ),
                    None => ("-".into(), "-".into(), "-".into(), "0".into()),
                };
                [
                    row.bench.clone(),
                    row.case.clone(),
                    row.implementation.clone(),
                    row.metric.clone(),
                    median,
                    p,
                    range,
                    n,
                    row.note.clone(),
                ]
            })
            .collect();
        let header = [
            "bench",
            "case",
            "implementation",
            "metric",
            "median",
            "p10..p90",
            "min..max",
            "n",
            "note",
        ]
        .map(String::from);
        let mut widths = [0usize; 9];
        for line in std::iter::once(&header).chain(&cells) {
            for (width, cell) in widths.iter_mut().zip(line) {
                *width = (*width).max(cell.chars().count());
            }
        }
        for line in std::iter::once(&header).chain(&cells) {
            let mut text = String::new();
            for (index, (cell, width)) in line.iter().zip(widths).enumerate() {
                // Words left, figures right; the note last, unpadded.
                let pad = width.saturating_sub(cell.chars().count());
                match index {
                    8 => text.push_str(cell),
                    4..=7 => text.push_str(&format!("{}{cell}  ", " ".repeat(pad))),
                    _ => text.push_str(&format!("{cell}{}  ", " ".repeat(pad))),
                }
            }
            let _ = writeln!(out, "{}", text.trim_end());
        }
        if !self.verdicts.is_empty() {
            let _ = writeln!(out, "\ntargets:");
            for verdict in &self.verdicts {
                let _ = writeln!(
                    out,
                    "  [{}] {:<11} {}: {}",
                    if verdict.met { "met" } else { "MISSED" },
                    verdict.bench,
                    verdict.target,
                    verdict.detail
                );
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\nnotes:");
            for note in &self.notes {
                let _ = writeln!(out, "  - {note}");
            }
        }
        out
    }

    /// Writes `<stem>.json` and `<stem>.svg` into `dir`; their paths.
    pub fn write(&self, dir: &Path, stem: &str) -> Vec<std::path::PathBuf> {
        std::fs::create_dir_all(dir).expect("create the report directory");
        let json = dir.join(format!("{stem}.json"));
        std::fs::write(&json, serde_json::to_string_pretty(self).expect("JSON"))
            .expect("write JSON");
        let svg = dir.join(format!("{stem}.svg"));
        std::fs::write(&svg, super::svg::chart(self)).expect("write SVG");
        vec![json, svg]
    }
}

/// Three significant digits, no exponent: what a table cell needs.
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 || value == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

fn command_line(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default()
}

/// CPU model, core count, kernel: what the figures were measured on.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{model}, {cores} cores, Linux {}",
        command_line("uname", &["-r"])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_medians_spreads_and_verdicts() {
        let mut report = Report::new(true);
        report.add(
            "failover",
            "v3 10ms",
            "xvrrpd",
            "outage",
            "ms",
            vec![30.0, 35.0, 40.0],
            "MDI 36.1 ms",
        );
        report.add(
            "failover",
            "v3 10ms",
            "keepalived",
            "outage",
            "ms",
            vec![],
            "",
        );
        report.verdict("failover", "median within MDI + 5 ms", true, "35 ≤ 41.1");
        let table = report.table();
        assert!(table.contains("35.0 ms"), "{table}");
        assert!(table.contains("30.0..40.0"), "{table}");
        assert!(table.contains("[met] failover"), "{table}");
        assert_eq!(
            report.median("failover", "v3 10ms", "xvrrpd", "outage"),
            Some(35.0)
        );
        assert_eq!(
            report.median("failover", "v3 10ms", "keepalived", "outage"),
            None
        );
        assert_eq!(number(0.04321), "0.043");
        assert_eq!(number(1234.5), "1234");
    }
}
