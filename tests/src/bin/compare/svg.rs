//! The report as an SVG chart: grouped bars per backend and workload (courier, the raw client
//! doing the same work, the bare raw client) on a logarithmic axis (the backends span three
//! orders of magnitude).

use std::path::Path;

use plotters::{coord::ranged1d::SegmentValue, prelude::*};

use crate::{driver::Outcome, report::Report};

const COURIER: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const RAW: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const BARE: RGBColor = RGBColor(0xbb, 0xbb, 0xbb);
const PEER: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);

/// Draws the throughput of every row of `report` into the SVG file `path`.
///
/// # Errors
/// When there is nothing to draw or the file cannot be written.
pub fn render(report: &Report, path: &Path) -> Outcome<()> {
    let rows = &report.rows;
    if rows.is_empty() {
        return Err("no measured rows to chart".into());
    }
    // Segments of the x axis per row: one bar per side, then a gap.
    // The legend names the other library's line by its title where every backend measured the
    // same crate, and by the library alone (the title before its bracket) where they differ,
    // as ruststream-lapin and ruststream-zeromq do.
    let mut titles = rows.iter().filter_map(|r| r.peer.as_ref()).map(|p| p.title);
    let peer = titles.next().map(|first| {
        if titles.all(|title| title == first) {
            first
        } else {
            first.split(" (").next().unwrap_or(first)
        }
    });
    let stride: i32 = if peer.is_some() { 5 } else { 4 };
    let labels: Vec<String> = rows
        .iter()
        .map(|r| format!("{} {}", r.backend, r.workload))
        .collect();
    let values: Vec<f64> = rows
        .iter()
        .flat_map(|r| {
            [
                Some(r.courier.throughput.median),
                Some(r.raw.throughput.median),
                Some(r.bare.throughput.median),
                r.peer.as_ref().map(|p| p.figures.throughput.median),
            ]
        })
        .flatten()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let top = values.iter().copied().fold(1.0f64, f64::max) * 2.0;
    // The power of ten below the smallest bar, so that every bar shows.
    let smallest = values.iter().copied().fold(top, f64::min);
    let bottom = 10f64.powf((smallest / 1.5).max(1.0).log10().floor());
    let width = (160 * rows.len() as u32).max(640);
    let root = SVGBackend::new(path, (width, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let last = stride * rows.len() as i32 - 2;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "courier vs raw client (same work) and bare client: messages/s, {} B payloads \
                 (median of {} runs)",
                report.size, report.runs
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(72)
        .build_cartesian_2d((0..last).into_segmented(), (bottom..top).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(stride as usize * rows.len())
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) if i % stride == 1 => usize::try_from(i / stride)
                .ok()
                .and_then(|i| labels.get(i).cloned())
                .unwrap_or_default(),
            _ => String::new(),
        })
        .y_desc("messages per second (log scale)")
        .y_label_formatter(&|v| crate::markdown::thousands(*v))
        .draw()?;
    // Side `side` (0 courier, 1 raw, 2 bare, 3 the other library) of row `row`.
    let bar = |row: usize, side: i32, value: f64, color: RGBColor| {
        let at = stride * row as i32 + side;
        let mut rect = Rectangle::new(
            [
                (SegmentValue::Exact(at), value),
                (SegmentValue::Exact(at + 1), bottom),
            ],
            color.filled(),
        );
        rect.set_margin(0, 0, 2, 2);
        rect
    };
    let mut series = vec![
        ("courier", COURIER),
        ("raw client, same work", RAW),
        ("bare client", BARE),
    ];
    series.extend(peer.map(|title| (title, PEER)));
    for (side, (label, color)) in series.into_iter().enumerate() {
        chart
            .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
                let figures = [
                    Some(&r.courier),
                    Some(&r.raw),
                    Some(&r.bare),
                    r.peer.as_ref().map(|p| &p.figures),
                ][side]?;
                Some(bar(i, side as i32, figures.throughput.median, color))
            }))?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
