//! The report as an SVG chart, written by hand (a few rectangles and labels need no crate):
//! one panel per benchmark metric, a bar per case and implementation at the median, a
//! whisker from p10 to p90. Panels whose medians span more than 20× use a log scale.
use std::fmt::Write as _;

use super::report::{Report, Row, number};

const WIDTH: f64 = 960.0;
const PANEL_HEIGHT: f64 = 230.0;
const PLOT_TOP: f64 = 34.0;
const PLOT_HEIGHT: f64 = 140.0;
const LEFT: f64 = 70.0;

fn color(implementation: &str) -> &'static str {
    match implementation {
        "xvrrpd" => "#1f77b4",
        "keepalived" => "#ff7f0e",
        "xvrrpd xdp=off" => "#2ca02c",
        _ => "#7f7f7f",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Rows grouped by (bench, metric, unit), in report order.
fn panels(report: &Report) -> Vec<Vec<&Row>> {
    let mut panels: Vec<Vec<&Row>> = Vec::new();
    for row in report.rows.iter().filter(|row| row.summary.is_some()) {
        let key = |r: &Row| (r.bench.clone(), r.metric.clone(), r.unit.clone());
        match panels.iter_mut().find(|panel| key(panel[0]) == key(row)) {
            Some(panel) => panel.push(row),
            None => panels.push(vec![row]),
        }
    }
    panels
}

pub fn chart(report: &Report) -> String {
    let panels = panels(report);
    let height = 40.0 + PANEL_HEIGHT * panels.len() as f64;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"22\" font-size=\"14\">xvrrpd vs keepalived, {} — {}{}</text>",
        escape(&report.date),
        escape(&report.machine),
        if report.quick { " (quick)" } else { "" }
    );
    for (index, rows) in panels.iter().enumerate() {
        panel(&mut svg, rows, 40.0 + PANEL_HEIGHT * index as f64);
    }
    svg.push_str("</svg>\n");
    svg
}

fn panel(svg: &mut String, rows: &[&Row], top: f64) {
    let first = rows[0];
    let summaries: Vec<_> = rows.iter().filter_map(|row| row.summary).collect();
    let high = summaries
        .iter()
        .map(|s| s.p90.max(s.median))
        .fold(0.0, f64::max);
    let low_positive = summaries
        .iter()
        .map(|s| s.median)
        .filter(|&v| v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let log = high > 0.0 && low_positive.is_finite() && high / low_positive > 20.0;
    let (floor, ceiling) = if log {
        (
            10f64.powf(low_positive.log10().floor()),
            10f64.powf(high.log10().ceil()),
        )
    } else {
        (0.0, if high > 0.0 { high * 1.1 } else { 1.0 })
    };
    let y = |value: f64| -> f64 {
        let fraction = if log {
            (value.max(floor).log10() - floor.log10()) / (ceiling.log10() - floor.log10())
        } else {
            value / ceiling
        };
        top + PLOT_TOP + PLOT_HEIGHT * (1.0 - fraction.clamp(0.0, 1.0))
    };
    let _ = writeln!(
        svg,
        "<text x=\"10\" y=\"{}\" font-size=\"13\" font-weight=\"bold\">{}: {} ({}{})</text>",
        top + 18.0,
        escape(&first.bench),
        escape(&first.metric),
        escape(&first.unit),
        if log { ", log scale" } else { "" }
    );
    let base = top + PLOT_TOP + PLOT_HEIGHT;
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"black\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
        WIDTH - 10.0,
        LEFT - 4.0,
        y(ceiling) + 4.0,
        number(ceiling),
        LEFT - 4.0,
        base,
        number(floor)
    );
    let slot = ((WIDTH - LEFT - 20.0) / rows.len() as f64).min(140.0);
    let mut previous_case = "";
    for (index, row) in rows.iter().enumerate() {
        let Some(summary) = row.summary else { continue };
        let x = LEFT + 10.0 + slot * index as f64;
        let bar = slot * 0.7;
        let top_of_bar = y(summary.median);
        let _ = writeln!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{top_of_bar:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{}\">\
             <title>{} {} {}: median {} {}, p10 {} p90 {}, n {}</title></rect>",
            (base - top_of_bar).max(0.5),
            color(&row.implementation),
            escape(&row.case),
            escape(&row.implementation),
            escape(&row.metric),
            number(summary.median),
            escape(&row.unit),
            number(summary.p10),
            number(summary.p90),
            summary.count
        );
        let middle = x + bar / 2.0;
        let _ = writeln!(
            svg,
            "<line x1=\"{middle:.1}\" y1=\"{:.1}\" x2=\"{middle:.1}\" y2=\"{:.1}\" stroke=\"black\"/>\n\
             <text x=\"{middle:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\">{}</text>\n\
             <text x=\"{middle:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"9\" fill=\"{}\">{}</text>",
            y(summary.p10),
            y(summary.p90),
            y(summary.p90).min(top_of_bar) - 4.0,
            number(summary.median),
            base + 12.0,
            color(&row.implementation),
            escape(&row.implementation)
        );
        if row.case != previous_case {
            // Long case names ("ARP request -> reply (single)") go on two lines.
            let (first, second) = row
                .case
                .split_once(" (")
                .map_or((row.case.as_str(), ""), |(a, b)| (a, b));
            let _ = writeln!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\">{}</text>",
                base + 26.0,
                escape(first)
            );
            if !second.is_empty() {
                let _ = writeln!(
                    svg,
                    "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\">({}</text>",
                    base + 38.0,
                    escape(second)
                );
            }
            previous_case = &row.case;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_has_a_bar_per_row_with_figures() {
        let mut report = Report::new(false);
        report.add(
            "cpu",
            "10 instances",
            "xvrrpd",
            "backup CPU",
            "% of a core",
            vec![0.5, 0.6],
            "",
        );
        report.add(
            "cpu",
            "10 instances",
            "keepalived",
            "backup CPU",
            "% of a core",
            vec![2.0],
            "",
        );
        report.add(
            "failover",
            "v3 10ms",
            "xvrrpd",
            "outage",
            "ms",
            vec![30.0],
            "",
        );
        report.add(
            "failover",
            "v3 1s",
            "xvrrpd",
            "outage",
            "ms",
            vec![3500.0],
            "",
        );
        report.add("failover", "none", "xvrrpd", "outage", "ms", vec![], "");
        let svg = chart(&report);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<rect x=").count(), 4, "{svg}");
        assert!(
            svg.contains("log scale"),
            "failover spans two decades: {svg}"
        );
        assert!(svg.contains("% of a core)"));
    }
}
