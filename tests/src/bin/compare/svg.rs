//! The report as an SVG chart: grouped bars, courier beside raw, per backend and workload, on
//! a logarithmic axis (the backends span three orders of magnitude).

use std::path::Path;

use plotters::{coord::ranged1d::SegmentValue, prelude::*};

use crate::{driver::Outcome, report::Report};

const COURIER: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const RAW: RGBColor = RGBColor(0xff, 0x7f, 0x0e);

/// Draws the throughput of every row of `report` into the SVG file `path`.
///
/// # Errors
/// When there is nothing to draw or the file cannot be written.
pub fn render(report: &Report, path: &Path) -> Outcome<()> {
    let rows = &report.rows;
    if rows.is_empty() {
        return Err("no measured rows to chart".into());
    }
    let labels: Vec<String> = rows
        .iter()
        .map(|r| format!("{} {}", r.backend, r.workload))
        .collect();
    let values: Vec<f64> = rows
        .iter()
        .flat_map(|r| [r.courier.median, r.raw.median])
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let top = values.iter().copied().fold(1.0f64, f64::max) * 2.0;
    // The power of ten below the smallest bar, so that every bar shows.
    let smallest = values.iter().copied().fold(top, f64::min);
    let bottom = 10f64.powf((smallest / 1.5).max(1.0).log10().floor());
    let width = (160 * rows.len() as u32).max(640);
    let root = SVGBackend::new(path, (width, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let last = rows.len() as i32 - 1;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "courier vs raw client: messages/s, {} B payloads (median of {} runs)",
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
        .x_labels(rows.len())
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => usize::try_from(*i)
                .ok()
                .and_then(|i| labels.get(i).cloned())
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        })
        .y_desc("messages per second (log scale)")
        .y_label_formatter(&|v| crate::markdown::thousands(*v))
        .draw()?;
    let bar = |i: i32, left: bool, value: f64, color: RGBColor| {
        let (from, to) = if left {
            (SegmentValue::Exact(i), SegmentValue::CenterOf(i))
        } else {
            (SegmentValue::CenterOf(i), SegmentValue::Exact(i + 1))
        };
        let mut rect = Rectangle::new([(from, value), (to, bottom)], color.filled());
        rect.set_margin(0, 0, if left { 10 } else { 2 }, if left { 2 } else { 10 });
        rect
    };
    chart
        .draw_series(
            rows.iter()
                .enumerate()
                .map(|(i, r)| bar(i as i32, true, r.courier.median, COURIER)),
        )?
        .label("courier")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], COURIER.filled()));
    chart
        .draw_series(
            rows.iter()
                .enumerate()
                .map(|(i, r)| bar(i as i32, false, r.raw.median, RAW)),
        )?
        .label("raw client")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], RAW.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
