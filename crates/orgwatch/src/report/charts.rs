//! The report's charts, drawn as SVG by plotters: the accounts by status per control now, the
//! passing share per scan and control, and the regressions and recoveries per scan. Every label
//! they draw is orgwatch's own (control ids, dates, numbers), never a text an account wrote.

use orgwatch_store::{ControlPosture, DriftCount, ScanPosture};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;

/// The colours of the statuses, as the page's styles name them too.
pub const PASS: RGBColor = RGBColor(0x2e, 0x7d, 0x32);
pub const FAIL: RGBColor = RGBColor(0xc6, 0x28, 0x28);
pub const ERROR: RGBColor = RGBColor(0xef, 0x6c, 0x00);
pub const NOT_APPLICABLE: RGBColor = RGBColor(0x9e, 0x9e, 0x9e);

const WIDTH: u32 = 820;

/// A chart that could not be drawn: the page says so in its place.
pub type Drawn = Result<String, String>;

fn failed<E: std::fmt::Display>(e: E) -> String {
    format!("the chart could not be drawn: {e}")
}

/// The colour of the `n`th control's line, as `#rrggbb` too for the legend.
pub fn series_colour(n: usize) -> (RGBColor, String) {
    let c = Palette99::pick(n).to_rgba();
    (
        RGBColor(c.0, c.1, c.2),
        format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2),
    )
}

// A segmented axis over the integers `0..=n` has a segment for each of them: `0..(len - 1)`
// gives `len` segments.

/// Where the `i`th of `len` segments ends: the next one's start, or the axis's end.
fn segment_end(i: usize, len: usize) -> SegmentValue<usize> {
    if i + 1 < len { SegmentValue::Exact(i + 1) } else { SegmentValue::Last }
}

/// Accounts by status per control: one stacked bar a control, the first on top, each labelled
/// with its control's id on the left.
pub fn posture_now(posture: &[ControlPosture]) -> Drawn {
    let mut svg = String::new();
    let height = 70 + 28 * posture.len() as u32;
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let max = posture.iter().map(ControlPosture::total).max().unwrap_or(1).max(1);
        let rows = posture.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(230)
            .build_cartesian_2d(0..max, 0.0..rows)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 14))
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("accounts")
            .draw()
            .map_err(failed)?;
        for (i, p) in posture.iter().enumerate() {
            // Row `i` from the top.
            let (top, bottom) = (rows - i as f64 - 0.2, rows - i as f64 - 0.8);
            let mut from = 0;
            for (n, colour) in [(p.pass, PASS), (p.fail, FAIL), (p.error, ERROR), (p.not_applicable, NOT_APPLICABLE)] {
                if n > 0 {
                    chart.draw_series(std::iter::once(Rectangle::new([(from, bottom), (from + n, top)], colour.filled()))).map_err(failed)?;
                }
                from += n;
            }
            let (x, y) = chart.backend_coord(&(0, rows - i as f64 - 0.5));
            let style = TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(p.control_id.clone(), (x - 8, y), style)).map_err(failed)?;
        }
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// The scans of the history, oldest first: (scan id, started at).
pub fn scans_of(history: &[ScanPosture]) -> Vec<(i64, String)> {
    let mut scans: Vec<(i64, String)> = history
        .iter()
        .map(|h| (h.scan_id, h.started_at.clone()))
        .collect();
    scans.dedup();
    scans
}

/// A scan's start as an axis shows it: `2026-12-03 08:20`.
fn short_time(started_at: &str) -> String {
    started_at.get(..16).unwrap_or(started_at).replace('T', " ")
}

/// The passing share (percent) per scan and control: one line a control, in the order of
/// `controls`, coloured by [`series_colour`] of its place.
pub fn posture_over_time(history: &[ScanPosture], controls: &[String]) -> Drawn {
    let scans = scans_of(history);
    let place: BTreeMap<i64, usize> = scans
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let last = scans.len().saturating_sub(1).max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.05 * last..last * 1.05, 0.0..100.0)
            .map_err(failed)?;
        let label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            scans
                .get(i as usize)
                .map(|(_, at)| short_time(at))
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .x_labels(scans.len().clamp(2, 6))
            .x_label_formatter(&label)
            .y_desc("% of accounts passing")
            .draw()
            .map_err(failed)?;
        for (n, control) in controls.iter().enumerate() {
            let points: Vec<(f64, f64)> = history
                .iter()
                .filter(|h| &h.control_id == control && h.total > 0)
                .filter_map(|h| {
                    Some((
                        *place.get(&h.scan_id)? as f64,
                        100.0 * h.pass as f64 / h.total as f64,
                    ))
                })
                .collect();
            let (colour, _) = series_colour(n);
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    colour.stroke_width(2),
                ))
                .map_err(failed)?;
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 3, colour.filled())))
                .map_err(failed)?;
        }
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// Regressions (down, red) and recoveries (up, green) per scan, oldest scan on the left.
pub fn drift(by_scan: &[DriftCount]) -> Drawn {
    let oldest_first: Vec<&DriftCount> = by_scan.iter().rev().collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 260)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let up = oldest_first
            .iter()
            .map(|d| d.recoveries)
            .max()
            .unwrap_or(0)
            .max(1);
        let down = oldest_first
            .iter()
            .map(|d| d.regressions)
            .max()
            .unwrap_or(0)
            .max(1);
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d((0..oldest_first.len().saturating_sub(1)).into_segmented(), -down..up)
            .map_err(failed)?;
        let label = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) => oldest_first
                .get(*i)
                .map(|d| short_time(&d.detected_at))
                .unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .disable_x_mesh()
            .x_labels(oldest_first.len().clamp(1, 6))
            .x_label_formatter(&label)
            .y_label_formatter(&|v: &i64| v.abs().to_string())
            .y_desc("regressions ↓  recoveries ↑")
            .draw()
            .map_err(failed)?;
        // Bars at most 48 pixels wide, however few the scans.
        let side = ((700 / oldest_first.len().max(1) as u32).saturating_sub(48) / 2).max(3);
        for (i, d) in oldest_first.iter().enumerate() {
            for (from, to, colour) in [(0, d.recoveries, PASS), (-d.regressions, 0, FAIL)] {
                if from != to {
                    let mut bar = Rectangle::new(
                        [
                            (SegmentValue::Exact(i), from),
                            (segment_end(i, oldest_first.len()), to),
                        ],
                        colour.filled(),
                    );
                    bar.set_margin(0, 0, side, side);
                    chart.draw_series(std::iter::once(bar)).map_err(failed)?;
                }
            }
        }
        root.present().map_err(failed)?;
    }
    Ok(svg)
}
