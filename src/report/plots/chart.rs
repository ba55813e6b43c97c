//! A declarative chart (series of lines, bands, points and reference lines)
//! and its rendering to SVG with plotters.
//!
//! The study modules describe WHAT to draw; this file alone decides how, so
//! every plot shares one look (palette, fonts, legend panel) and one set of
//! determinism rules: plotters' SVG backend places everything on integer
//! pixels, tick labels go through [`tick`], and the layout uses plotters'
//! built-in text-size estimate rather than system fonts, so the same chart
//! gives the same bytes on every machine.

use crate::error::{Error, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use std::ops::Range;

/// Canvas size in pixels; the legend panel takes the right-hand part.
const WIDTH: u32 = 900;
const HEIGHT: u32 = 500;
const LEGEND_WIDTH: u32 = 270;
const FONT: &str = "sans-serif";
/// Font sizes as plotters takes them (it writes `font-size = size / 1.24`
/// and rounds mesh label sizes to whole pixels first).
const TITLE_SIZE: f64 = 24.8;
const AXIS_SIZE: f64 = 18.0;
const LABEL_SIZE: f64 = 15.0;

/// Tableau 10 (distinguishable, colour-blind-friendlier than the primaries)
/// plus two darker hues, so a dozen strategies still get their own colours.
const PALETTE: [(u8, u8, u8); 12] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (0, 0, 139),
    (128, 0, 0),
];

pub fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// What one series draws.
#[derive(Clone, Debug)]
pub enum Mark {
    /// A polyline through the points in the given order.
    Line(Vec<(f64, f64)>),
    /// A polyline with a dot on every point.
    LinePoints(Vec<(f64, f64)>),
    /// Dots only.
    Points(Vec<(f64, f64)>),
    /// Crosses: reference configurations (baselines) that must not be
    /// mistaken for data dots of the same colour family.
    Crosses(Vec<(f64, f64)>),
    /// Hollow rings drawn around points to single them out (e.g. the chosen
    /// configuration on a front of dots).
    Rings(Vec<(f64, f64)>),
    /// A shaded band: (x, low, high), in x order.
    Band(Vec<(f64, f64, f64)>),
    /// A horizontal reference line across the whole plot.
    HLine(f64),
}

#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text; an empty name draws the series without a legend entry.
    pub name: String,
    /// Index into the palette; `None` draws in dark grey (reference lines).
    pub color: Option<usize>,
    pub mark: Mark,
}

impl Series {
    pub fn new(name: impl Into<String>, color: Option<usize>, mark: Mark) -> Series {
        Series {
            name: name.into(),
            color,
            mark,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Chart {
    pub title: String,
    /// Axis descriptions, with units.
    pub x_label: String,
    pub y_label: String,
    /// Non-empty: x is categorical, category `i` sits at x = i.
    pub x_categories: Vec<String>,
    /// Non-empty: the y axis ticks at these values with these labels
    /// (e.g. log-scaled bit widths labelled in bits).
    pub y_ticks: Vec<(f64, String)>,
    pub series: Vec<Series>,
}

impl Chart {
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Chart {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            ..Chart::default()
        }
    }

    pub fn push(&mut self, series: Series) {
        self.series.push(series);
    }

    /// True when no series has a finite data point: such a chart is not drawn.
    pub fn is_empty(&self) -> bool {
        self.data_points().next().is_none()
    }

    fn data_points(&self) -> impl Iterator<Item = (Option<f64>, f64)> + '_ {
        self.series.iter().flat_map(|s| {
            let pts: Vec<(Option<f64>, f64)> = match &s.mark {
                Mark::Line(p)
                | Mark::LinePoints(p)
                | Mark::Points(p)
                | Mark::Crosses(p)
                | Mark::Rings(p) => p.iter().map(|&(x, y)| (Some(x), y)).collect(),
                Mark::Band(b) => b
                    .iter()
                    .flat_map(|&(x, lo, hi)| [(Some(x), lo), (Some(x), hi)])
                    .collect(),
                Mark::HLine(_) => Vec::new(),
            };
            pts.into_iter()
                .filter(|(x, y)| x.is_none_or(f64::is_finite) && y.is_finite())
        })
    }

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let (mut x0, mut x1, mut y0, mut y1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for (x, y) in self.data_points() {
            if let Some(x) = x {
                x0 = x0.min(x);
                x1 = x1.max(x);
            }
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        for &(y, _) in &self.y_ticks {
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        for s in &self.series {
            if let Mark::HLine(y) = s.mark {
                if y.is_finite() {
                    y0 = y0.min(y);
                    y1 = y1.max(y);
                }
            }
        }
        let x = if self.x_categories.is_empty() {
            pad(x0, x1, 0.02)
        } else {
            (-0.5, self.x_categories.len() as f64 - 0.5)
        };
        (x, pad(y0, y1, 0.06))
    }
}

/// A linear axis whose ticks are chosen here (1-2-5 steps, or one per
/// category) rather than by plotters, so both axes share one tick rule.
struct Axis {
    lo: f64,
    hi: f64,
    keys: Vec<f64>,
}

impl Axis {
    fn numeric(lo: f64, hi: f64) -> Axis {
        Axis {
            lo,
            hi,
            keys: nice_ticks(lo, hi, 8),
        }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = (v - self.lo) / (self.hi - self.lo);
        let px = limit.0 as f64 + t * (limit.1 - limit.0) as f64;
        // Far-off values (clipped data) must not overflow the pixel type.
        px.round().clamp(-1.0e6, 1.0e6) as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Light grid lines ask with weight Any: none are drawn.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.keys.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// Ticks at multiples of 1, 2 or 5 × 10^k, at most about `max` of them.
fn nice_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    let span = hi - lo;
    if span.is_nan() || span <= 0.0 || !span.is_finite() {
        return Vec::new();
    }
    let raw = span / max as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// Widen a range by a fraction of its span (or around a single value).
fn pad(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= f64::EPSILON * hi.abs().max(1.0) {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - d, hi + d);
    }
    (lo - span * frac, hi + span * frac)
}

/// A tick label: at most 4 significant digits, no trailing zeros, so labels
/// stay short and identical across platforms.
pub fn tick(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x.is_finite() {
            "0".into()
        } else {
            x.to_string()
        };
    }
    let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 8) as usize;
    let s = format!("{x:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

fn plot_err<E: std::fmt::Debug>(title: &str) -> impl Fn(E) -> Error + '_ {
    move |e| Error::Internal(format!("plot {title:?}: {e:?}"))
}

fn series_color(s: &Series) -> RGBColor {
    s.color.map_or(RGBColor(60, 60, 60), color)
}

/// Render the chart as an SVG document.
pub fn render(chart: &Chart) -> Result<String> {
    let mut svg = String::new();
    {
        let err = plot_err(&chart.title);
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let root = root
            .titled(&chart.title, (FONT, TITLE_SIZE).into_font())
            .map_err(&err)?;
        let (plot_area, legend_area) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let ((x0, x1), (y0, y1)) = chart.ranges();
        let categorical = !chart.x_categories.is_empty();
        let x_axis = if categorical {
            Axis {
                lo: x0,
                hi: x1,
                keys: (0..chart.x_categories.len()).map(|i| i as f64).collect(),
            }
        } else {
            Axis::numeric(x0, x1)
        };
        let y_axis = if chart.y_ticks.is_empty() {
            Axis::numeric(y0, y1)
        } else {
            Axis {
                lo: y0,
                hi: y1,
                keys: chart.y_ticks.iter().map(|t| t.0).collect(),
            }
        };
        let mut ctx = ChartBuilder::on(&plot_area)
            .margin(12)
            .x_label_area_size(if categorical { 70 } else { 45 })
            .y_label_area_size(70)
            .build_cartesian_2d(x_axis, y_axis)
            .map_err(&err)?;
        let x_fmt = |x: &f64| {
            if categorical {
                let i = x.round();
                if (x - i).abs() < 1e-9 && i >= 0.0 {
                    chart
                        .x_categories
                        .get(i as usize)
                        .cloned()
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            } else {
                tick(*x)
            }
        };
        let y_fmt = |y: &f64| match chart.y_ticks.iter().find(|t| t.0 == *y) {
            Some(t) => t.1.clone(),
            None => tick(*y),
        };
        let mut mesh = ctx.configure_mesh();
        mesh.x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .axis_desc_style((FONT, AXIS_SIZE))
            .label_style((FONT, LABEL_SIZE))
            .bold_line_style(RGBColor(225, 225, 225))
            .x_labels(usize::MAX)
            .y_labels(usize::MAX);
        mesh.draw().map_err(&err)?;

        for s in &chart.series {
            let c = series_color(s);
            match &s.mark {
                Mark::Band(b) => {
                    let mut poly: Vec<(f64, f64)> = b.iter().map(|&(x, lo, _)| (x, lo)).collect();
                    poly.extend(b.iter().rev().map(|&(x, _, hi)| (x, hi)));
                    ctx.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.18).filled())))
                        .map_err(&err)?;
                }
                Mark::HLine(y) => {
                    ctx.draw_series(DashedLineSeries::new(
                        [(x0, *y), (x1, *y)],
                        8,
                        5,
                        c.stroke_width(2),
                    ))
                    .map_err(&err)?;
                }
                Mark::Line(p) => {
                    ctx.draw_series(LineSeries::new(p.iter().copied(), c.stroke_width(2)))
                        .map_err(&err)?;
                }
                Mark::LinePoints(p) => {
                    ctx.draw_series(LineSeries::new(p.iter().copied(), c.stroke_width(2)))
                        .map_err(&err)?;
                    ctx.draw_series(p.iter().map(|&pt| Circle::new(pt, 3, c.filled())))
                        .map_err(&err)?;
                }
                Mark::Points(p) => {
                    ctx.draw_series(p.iter().map(|&pt| Circle::new(pt, 4, c.mix(0.75).filled())))
                        .map_err(&err)?;
                }
                Mark::Crosses(p) => {
                    ctx.draw_series(p.iter().map(|&pt| Cross::new(pt, 6, c.stroke_width(3))))
                        .map_err(&err)?;
                }
                Mark::Rings(p) => {
                    ctx.draw_series(p.iter().map(|&pt| Circle::new(pt, 9, c.stroke_width(3))))
                        .map_err(&err)?;
                }
            }
        }
        draw_legend(&legend_area, chart).map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

/// Characters per legend line before it wraps (12.5 px text in the panel).
const LEGEND_CHARS: usize = 32;

/// Split a legend entry into lines of at most [`LEGEND_CHARS`], breaking
/// after spaces so `key=value, key=value` labels stay readable.
fn wrap(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split_inclusive(' ') {
        if !cur.is_empty() && cur.chars().count() + word.trim_end().chars().count() > LEGEND_CHARS {
            lines.push(cur.trim_end().to_string());
            cur.clear();
        }
        cur.push_str(word);
    }
    if !cur.trim().is_empty() || lines.is_empty() {
        lines.push(cur.trim_end().to_string());
    }
    lines
}

/// The legend in its own panel, so it never hides data.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    chart: &Chart,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let style = (FONT, LABEL_SIZE).into_font().color(&BLACK);
    let mut y = 30;
    for s in chart.series.iter().filter(|s| !s.name.is_empty()) {
        let c = series_color(s);
        let (x0, x1, ym) = (6, 34, y + 8);
        match s.mark {
            Mark::Band(_) => area.draw(&Rectangle::new(
                [(x0, y + 2), (x1, y + 14)],
                c.mix(0.18).filled(),
            ))?,
            Mark::Points(_) => {
                area.draw(&Circle::new(((x0 + x1) / 2, ym), 4, c.mix(0.75).filled()))?
            }
            Mark::Crosses(_) => {
                area.draw(&Cross::new(((x0 + x1) / 2, ym), 6, c.stroke_width(3)))?
            }
            Mark::Rings(_) => area.draw(&Circle::new(((x0 + x1) / 2, ym), 7, c.stroke_width(3)))?,
            Mark::HLine(_) => {
                for (a, b) in [(x0, x0 + 10), (x0 + 16, x1)] {
                    area.draw(&PathElement::new(vec![(a, ym), (b, ym)], c.stroke_width(2)))?;
                }
            }
            _ => area.draw(&PathElement::new(
                vec![(x0, ym), (x1, ym)],
                c.stroke_width(2),
            ))?,
        }
        for line in wrap(&s.name) {
            area.draw(&Text::new(line, (x1 + 8, y + 2), style.clone()))?;
            y += 16;
        }
        y += 6;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(1.0), "1");
        assert_eq!(tick(0.125), "0.125");
        assert_eq!(tick(123.456), "123.5");
        assert_eq!(tick(1.0e-5), "0.00001");
        assert_eq!(tick(-2.5), "-2.5");
    }

    #[test]
    fn nice_ticks_use_round_steps() {
        assert_eq!(
            nice_ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(
            nice_ticks(3.0, 37.0, 8),
            vec![5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0]
        );
        assert!(nice_ticks(1.0, 1.0, 5).is_empty());
    }

    #[test]
    fn legend_lines_wrap_at_spaces() {
        assert_eq!(wrap("short"), vec!["short"]);
        assert_eq!(
            wrap("quantization_aware=false, quant.bits=2: 95% CI"),
            vec!["quantization_aware=false,", "quant.bits=2: 95% CI"]
        );
    }

    #[test]
    fn degenerate_ranges_are_widened() {
        assert_eq!(pad(1.0, 1.0, 0.1), (0.9, 1.1));
        assert_eq!(pad(0.0, 0.0, 0.1), (-1.0, 1.0));
        assert_eq!(pad(f64::INFINITY, f64::NEG_INFINITY, 0.1), (0.0, 1.0));
    }

    #[test]
    fn rendering_is_deterministic_and_labelled() {
        let mut c = Chart::new("t", "x (units)", "y (units)");
        c.push(Series::new(
            "band",
            Some(0),
            Mark::Band(vec![(0.0, 1.0, 2.0), (1.0, 1.5, 2.5)]),
        ));
        c.push(Series::new(
            "mean",
            Some(0),
            Mark::LinePoints(vec![(0.0, 1.5), (1.0, 2.0)]),
        ));
        c.push(Series::new("ref", None, Mark::HLine(1.0)));
        let a = render(&c).unwrap();
        assert_eq!(a, render(&c).unwrap());
        let doc = roxmltree::Document::parse(&a).unwrap();
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        for needle in ["t", "x (units)", "y (units)", "band", "mean", "ref"] {
            assert!(texts.contains(&needle), "{needle} missing from {texts:?}");
        }
        // The band is one filled polygon; the line and the reference line are polylines.
        assert_eq!(
            doc.descendants()
                .filter(|n| n.has_tag_name("polygon"))
                .count(),
            1
        );
        assert!(
            doc.descendants()
                .filter(|n| n.has_tag_name("polyline"))
                .count()
                >= 2
        );
    }
}
