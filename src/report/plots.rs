//! SVG plots for the HTML reports, drawn with plotters' SVG backend (text is
//! emitted as SVG `<text>`, so no system fonts are needed).
//!
//! Category charts are horizontal: one row per strategy (or filesystem),
//! labels drawn at the left, values on a (log) x axis, one colour per series.
//! Legends sit below the plotting area, never on the data, and wrap onto
//! as many lines as their entries need (every series has one); row labels
//! get the room they need up to a limit, beyond which they are shortened
//! in the middle with the full text on hover (an SVG `<title>`). Counts get
//! integer ticks, and no tick reads like "10000.0".

use plotters::coord::Shift;
use plotters::prelude::*;

use super::Latency;
use super::Timeline;
use crate::numbers::thousands;
use crate::stats::Estimate;

const WIDTH: u32 = 1100;
/// The room for row labels: at least this much...
const MIN_LEFT: u32 = 120;
/// ...and at most this much; longer labels are shortened.
const MAX_LEFT: u32 = 440;
const FONT: &str = "sans-serif";
/// A generous width of one character of 13 px sans-serif text, so that an
/// estimated width is never short of the drawn one.
const CHAR_PX: f64 = 7.6;

/// One series (a filesystem, say) of values per row.
pub struct Series<T> {
    pub name: String,
    /// (row index, value)
    pub points: Vec<(usize, T)>,
}

fn height(rows: usize, series: usize, legend: u32) -> u32 {
    110 + 34 * rows.max(1) as u32 + 18 * series as u32 + legend
}

/// Height of one line of legend under a chart.
const LEGEND_LINE: u32 = 24;

/// Width of a text of `chars` characters, estimated generously.
fn text_px(chars: usize) -> i32 {
    (chars as f64 * CHAR_PX).ceil() as i32
}

/// Each legend entry's position (x, line), wrapping at `width`.
fn legend_layout(items: &[(String, RGBColor, Mark)], width: u32) -> Vec<(i32, u32)> {
    let (mut x, mut line) = (12, 0);
    items
        .iter()
        .map(|(name, _, _)| {
            let w = 20 + text_px(name.chars().count()) + 24;
            if x > 12 && x + w > width as i32 - 12 {
                x = 12;
                line += 1;
            }
            let at = (x, line);
            x += w;
            at
        })
        .collect()
}

/// Height of the legend of `items` (0 without items).
fn legend_height(items: &[(String, RGBColor, Mark)]) -> u32 {
    legend_layout(items, WIDTH)
        .last()
        .map_or(0, |(_, line)| (line + 1) * LEGEND_LINE + 6)
}

/// Row labels as drawn, and the room they take: a label that would need
/// more than [`MAX_LEFT`] is shortened in the middle (`…`); `titles` pairs
/// each shortened label with its full text, for [`with_titles`].
struct RowLabels {
    shown: Vec<String>,
    left: u32,
    titles: Vec<(String, String)>,
}

impl RowLabels {
    fn new(rows: &[String]) -> Self {
        let max_chars = ((MAX_LEFT as f64 - 24.0) / CHAR_PX) as usize;
        let mut titles = Vec::new();
        let shown: Vec<String> = rows
            .iter()
            .map(|r| {
                let n = r.chars().count();
                if n <= max_chars {
                    return r.clone();
                }
                let head = (max_chars - 1) / 2;
                let tail = max_chars - 1 - head;
                let short: String = r
                    .chars()
                    .take(head)
                    .chain(std::iter::once('…'))
                    .chain(r.chars().skip(n - tail))
                    .collect();
                titles.push((short.clone(), r.clone()));
                short
            })
            .collect();
        let widest = shown.iter().map(|s| s.chars().count()).max().unwrap_or(0);
        let left = (text_px(widest) as u32 + 24).clamp(MIN_LEFT, MAX_LEFT);
        Self { shown, left, titles }
    }
}

/// Gives each shortened label its full text on hover: an SVG `<title>`
/// inside its `<text>` element.
fn with_titles(svg: String, titles: &[(String, String)]) -> String {
    let mut svg = svg;
    for (short, full) in titles {
        let short = super::xml::escape(short);
        // plotters writes a text's content on a line of its own.
        svg = svg.replacen(
            &format!(">\n{short}\n</text>"),
            &format!("><title>{}</title>\n{short}\n</text>", super::xml::escape(full)),
            1,
        );
    }
    svg
}

/// How a series is marked in its legend.
#[derive(Clone, Copy)]
enum Mark {
    Dot,
    Bar,
    Line,
}

/// Draws `items` in a row along the bottom of `root` and returns the area
/// above it for the chart: the legend never covers data.
fn with_legend<'a>(
    root: &Area<'a>,
    items: &[(String, RGBColor, Mark)],
) -> Result<Area<'a>, Box<dyn std::error::Error>> {
    if items.is_empty() {
        return Ok(root.clone());
    }
    let (w, h) = root.dim_in_pixel();
    let (chart, strip) = root.split_vertically(h - legend_height(items));
    for ((name, c, mark), (x, line)) in items.iter().zip(legend_layout(items, w)) {
        let y = (line * LEGEND_LINE + LEGEND_LINE / 2) as i32;
        match mark {
            Mark::Dot => strip.draw(&Circle::new((x + 6, y), 5, c.filled()))?,
            Mark::Bar => strip.draw(&Rectangle::new([(x, y - 3), (x + 12, y + 3)], c.filled()))?,
            Mark::Line => strip.draw(&PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2)))?,
        }
        let style = TextStyle::from((FONT, 13).into_font()).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Left,
            plotters::style::text_anchor::VPos::Center,
        ));
        strip.draw(&Text::new(name.clone(), (x + 20, y), style))?;
    }
    Ok(chart)
}

/// A tick label: whole numbers with thousands separators ("10,000", never
/// "10000.0"), others with three significant digits at most.
fn tick(v: &f64) -> String {
    let v = *v;
    if v >= 0.0 && ((v - v.round()).abs() < 1e-9 * v.max(1.0) || v >= 1000.0) {
        return thousands(v.round() as u64);
    }
    let decimals = (2 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn color(i: usize) -> RGBColor {
    const C: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    C[i % C.len()]
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Draws one SVG of `size` with `draw`; a plot that fails to draw becomes
/// a line of text saying why, never a broken page.
fn render_svg(size: (u32, u32), draw: impl FnOnce(&Area<'_>) -> DrawResult) -> String {
    let mut svg = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error>)
            .and_then(|()| draw(&root))
            .and_then(|()| {
                root.present()
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error>)
            })
    };
    match result {
        Ok(()) => svg,
        Err(e) => error_svg(&e.to_string()),
    }
}

/// A chart with one row per category: caption, margins, room for row labels.
fn row_chart<'a, 'b>(root: &'a Area<'b>, title: &str, left: u32) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(root);
    b.caption(title, (FONT, 18))
        .margin(12)
        .margin_left(left)
        // Room for half of the last tick's label ("1,000,000") past the axis.
        .margin_right(36)
        .x_label_area_size(36);
    b
}

/// Vertical offset of series `s` of `n` within a row (in row units).
fn offset(s: usize, n: usize) -> f64 {
    if n <= 1 {
        0.0
    } else {
        // The first series on top, as in the legend.
        (0.5 - s as f64 / (n - 1) as f64) * 0.6
    }
}

fn row_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    labels: &RowLabels,
    y_of: impl Fn(usize) -> i32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    for (i, name) in labels.shown.iter().enumerate() {
        let style = TextStyle::from((FONT, 13).into_font()).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Right,
            plotters::style::text_anchor::VPos::Center,
        ));
        root.draw(&Text::new(
            name.clone(),
            (labels.left as i32 - 12, y_of(i)),
            style,
        ))?;
    }
    Ok(())
}

/// Anomaly probability per read, rows × series, on a log axis: a dot with
/// its exact 95% interval for non-zero counts, and for a zero count a bar
/// from the axis up to its 95% upper bound ending in a "≤" tick.
pub fn anomaly_rates(title: &str, rows: &[String], series: &[Series<Estimate>]) -> String {
    let mut lowest: f64 = 1.0;
    for s in series {
        for (_, e) in &s.points {
            lowest = lowest.min(if e.count == 0 {
                e.high
            } else {
                e.low.max(e.rate / 10.0)
            });
        }
    }
    let floor = (lowest / 5.0).clamp(1e-12, 1e-3);
    let legend: Vec<_> = series
        .iter()
        .enumerate()
        .filter(|(_, s)| series.len() > 1 || !s.name.is_empty())
        .map(|(i, s)| (s.name.clone(), color(i), Mark::Dot))
        .collect();
    let labels = RowLabels::new(rows);
    let size = (WIDTH, height(rows.len(), series.len(), legend_height(&legend)));
    let svg = render_svg(size, |root| {
        let n = rows.len().max(1) as f64;
        let area = with_legend(root, &legend)?;
        let mut chart = row_chart(&area, title, labels.left)
            .build_cartesian_2d((floor..1.0).log_scale(), -0.5..n - 0.5)?;
        chart
            .configure_mesh()
            .y_labels(0)
            .disable_y_mesh()
            .x_desc("probability per exposed read (log); ≤ marks the 95% bound of a zero count")
            .x_label_formatter(&|v| if *v >= 1.0 { tick(v) } else { format!("{v:.0e}") })
            .draw()?;
        for (si, s) in series.iter().enumerate() {
            let c = color(si);
            for (row, e) in &s.points {
                let y = n - 1.0 - *row as f64 + offset(si, series.len());
                if e.count == 0 {
                    let bar = PathElement::new(
                        vec![(floor, y), (e.high.max(floor), y)],
                        c.mix(0.45).stroke_width(3),
                    );
                    chart.draw_series(std::iter::once(bar))?;
                    let tick = Text::new("≤", (e.high.max(floor), y), (FONT, 15).into_font().color(&c));
                    chart.draw_series(std::iter::once(tick))?;
                } else {
                    let interval = PathElement::new(
                        vec![(e.low.max(floor), y), (e.high.max(floor), y)],
                        c.stroke_width(1),
                    );
                    chart.draw_series(std::iter::once(interval))?;
                    chart.draw_series(std::iter::once(Circle::new(
                        (e.rate.max(floor), y),
                        5,
                        c.filled(),
                    )))?;
                }
            }
        }
        row_labels(&area, &labels, |i| {
            chart.backend_coord(&(floor, n - 1.0 - i as f64)).1
        })?;
        Ok(())
    });
    with_titles(svg, &labels.titles)
}

/// Write latency per row × series: a bar from p50 to p99, ticks at p90 and max.
pub fn latencies(title: &str, rows: &[String], series: &[Series<Latency>]) -> String {
    let (mut lo, mut hi) = (f64::MAX, 1.0f64);
    for s in series {
        for (_, l) in &s.points {
            lo = lo.min(l.p50.max(0.1));
            hi = hi.max(l.max);
        }
    }
    if lo > hi {
        lo = 1.0;
    }
    let left = lo / 2.0;
    let legend: Vec<_> = series
        .iter()
        .enumerate()
        .filter(|_| series.len() > 1)
        .map(|(i, s)| (s.name.clone(), color(i), Mark::Bar))
        .collect();
    let labels = RowLabels::new(rows);
    let size = (WIDTH, height(rows.len(), series.len(), legend_height(&legend)));
    let svg = render_svg(size, |root| {
        let n = rows.len().max(1) as f64;
        let area = with_legend(root, &legend)?;
        let mut chart = row_chart(&area, title, labels.left)
            .build_cartesian_2d((left..hi * 2.0).log_scale(), -0.5..n - 0.5)?;
        chart
            .configure_mesh()
            .y_labels(0)
            .disable_y_mesh()
            .x_desc("write latency, µs (log): bar p50–p99, | p90, × max")
            .x_label_formatter(&tick)
            .draw()?;
        for (si, s) in series.iter().enumerate() {
            let c = color(si);
            for (row, l) in &s.points {
                let y = n - 1.0 - *row as f64 + offset(si, series.len());
                let bar = PathElement::new(
                    vec![(l.p50.max(left), y), (l.p99.max(left), y)],
                    c.stroke_width(6),
                );
                chart.draw_series(std::iter::once(bar))?;
                chart.draw_series(std::iter::once(Text::new(
                    "|",
                    (l.p90.max(left), y),
                    (FONT, 14).into_font(),
                )))?;
                chart.draw_series(std::iter::once(Cross::new((l.max.max(left), y), 4, c)))?;
            }
        }
        row_labels(&area, &labels, |i| {
            chart.backend_coord(&(lo, n - 1.0 - i as f64)).1
        })?;
        Ok(())
    });
    with_titles(svg, &labels.titles)
}

/// One horizontal bar per row.
pub fn bars(title: &str, x_desc: &str, rows: &[String], values: &[f64]) -> String {
    let hi = values.iter().copied().fold(1.0f64, f64::max) * 1.1;
    let labels = RowLabels::new(rows);
    let svg = render_svg((WIDTH, height(rows.len(), 0, 0)), |root| {
        let n = rows.len().max(1) as f64;
        let mut chart = row_chart(root, title, labels.left).build_cartesian_2d(0.0..hi, -0.5..n - 0.5)?;
        chart
            .configure_mesh()
            .y_labels(0)
            .disable_y_mesh()
            .x_desc(x_desc)
            .x_label_formatter(&tick)
            .draw()?;
        for (i, v) in values.iter().enumerate() {
            let y = n - 1.0 - i as f64;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y - 0.3), (*v, y + 0.3)],
                color(i).filled(),
            )))?;
        }
        row_labels(root, &labels, |i| {
            chart.backend_coord(&(0.0, n - 1.0 - i as f64)).1
        })?;
        Ok(())
    });
    with_titles(svg, &labels.titles)
}

/// Anomalous reads (left axis, red) against committed writes (right axis,
/// blue) per time bucket of one case. Both are counts: integer axes. The
/// x axis spans the case's real time, `elapsed_ms` (a gate's subject that
/// proved its target in 2 s of a 60 s budget is drawn over 2 s), not the
/// time it was given.
pub fn timeline(title: &str, t: &Timeline, elapsed_ms: f64) -> String {
    let all = t.anomalies.len().max(1);
    let n = if elapsed_ms > 0.0 && t.bucket_ms > 0.0 {
        ((elapsed_ms / t.bucket_ms).ceil() as usize).clamp(1, all)
    } else {
        all
    };
    let t = &Timeline {
        bucket_ms: t.bucket_ms,
        anomalies: t.anomalies.iter().take(n).copied().collect(),
        writes: t.writes.iter().take(n).copied().collect(),
    };
    let x_max = t.bucket_ms * n as f64;
    // 10% headroom, at least 1, so the highest count is not on the frame.
    let top = |v: &[u64]| {
        let m = v.iter().copied().max().unwrap_or(0);
        (m + m / 10).max(m + 1)
    };
    let (a_max, w_max) = (top(&t.anomalies), top(&t.writes));
    let legend = [
        ("writes (right axis)".to_string(), color(0), Mark::Line),
        ("anomalous reads (left axis)".to_string(), color(1), Mark::Line),
    ];
    let bucket = format!("{} ms", tick(&t.bucket_ms));
    render_svg((WIDTH, 260 + legend_height(&legend)), |root| {
        let area = with_legend(root, &legend)?;
        let mut chart = ChartBuilder::on(&area)
            .caption(title, (FONT, 16))
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(70)
            .right_y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max, 0..a_max)?
            .set_secondary_coord(0.0..x_max, 0..w_max);
        chart
            .configure_mesh()
            .x_desc(if n == all {
                format!("ms since start: one point per {bucket} bucket (the last also counts what came after the end)")
            } else {
                format!("ms since start, until the case ended: one point per {bucket} bucket")
            })
            .y_desc(format!("anomalous reads per {bucket}"))
            .x_label_formatter(&tick)
            .y_labels(6)
            .y_label_formatter(&|v| thousands(*v))
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_desc(format!("writes per {bucket}"))
            .y_label_formatter(&|v| thousands(*v))
            .draw()?;
        let at = |i: usize| (i as f64 + 0.5) * t.bucket_ms;
        chart.draw_secondary_series(LineSeries::new(
            t.writes.iter().enumerate().map(|(i, &w)| (at(i), w)),
            color(0).stroke_width(2),
        ))?;
        chart.draw_series(LineSeries::new(
            t.anomalies.iter().enumerate().map(|(i, &a)| (at(i), a)),
            color(1).stroke_width(2),
        ))?;
        Ok(())
    })
}

/// A placeholder that says why a plot could not be drawn.
fn error_svg(message: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"40\"><text x=\"10\" y=\"25\">plot failed: {}</text></svg>",
        super::xml::escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_has_a_legend_entry_and_long_labels_keep_their_full_text() {
        let names = ["tmpfs", "ext4", "xfs", "btrfs", "overlayfs", "fuse-bindfs"];
        let rows = vec![
            "naive-truncate".to_string(),
            "subject: writer-stdio: python3 examples/writers/a_very_long_writer_name.py {path}".to_string(),
        ];
        let series: Vec<Series<Latency>> = names
            .iter()
            .map(|n| Series {
                name: format!("{n} (6.18.44-fc-v1272)"),
                points: vec![(
                    0,
                    Latency {
                        p50: 10.0,
                        p90: 20.0,
                        p99: 30.0,
                        max: 40.0,
                    },
                )],
            })
            .collect();
        let svg = latencies("t", &rows, &series);
        for n in names {
            assert!(
                svg.contains(&format!(">\n{n} (6.18.44-fc-v1272)\n</text>")),
                "{n}: {svg}"
            );
        }
        // Shortened in the middle, the whole label on hover.
        assert!(svg.contains(&format!("<title>{}</title>", super::super::xml::escape(&rows[1]))));
        assert!(svg.contains("subject: writer-stdio: python3"));
        assert!(svg.contains("…"));
    }

    #[test]
    fn a_timeline_spans_the_real_elapsed_time() {
        let t = Timeline {
            bucket_ms: 600.0,
            anomalies: vec![0; 100],
            writes: vec![1; 100],
        };
        let svg = timeline("t", &t, 2_500.0);
        // Five buckets of 600 ms cover 2.5 s: the axis ends at 3,000 ms, not 60,000.
        assert!(svg.contains(">\n3,000\n<"), "{svg}");
        assert!(!svg.contains(">\n60,000\n<"), "{svg}");
    }

    #[test]
    fn ticks_read_like_numbers() {
        assert_eq!(tick(&10000.0), "10,000");
        assert_eq!(tick(&1.0), "1");
        assert_eq!(tick(&0.5), "0.5");
        assert_eq!(tick(&12.5), "12.5");
        assert_eq!(tick(&0.00123), "0.00123");
        assert_eq!(tick(&1234.5678), "1,235");
    }
}
