//! PNG rendering of [`Figure`]s with plotters: no browser, no system font (the
//! bundled DejaVu Sans subset of `assets/` is registered with ab_glyph).

use crate::figure::{Color, Figure, Series, Style};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::Color as _;
use plotters::style::RGBColor;
use std::path::Path;
use std::sync::OnceLock;

/// The bundled font (17 KB subset of DejaVu Sans; licence in `assets/`).
pub const FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");
/// Family name the font is registered under.
const FAMILY: &str = "sans-serif";

/// PNG size in pixels.
pub const SIZE: (u32, u32) = (1200, 700);

/// The colours of a theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    /// White background (default).
    Light,
    /// Dark background.
    Dark,
}

impl Theme {
    /// Parses `light` or `dark`.
    pub fn parse(s: &str) -> Option<Theme> {
        match s {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// Background, foreground (text, axes), grid.
    pub fn base(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Theme::Light => ("#FFFFFF", "#222222", "#E3E3E3"),
            Theme::Dark => ("#14171C", "#E6E6E6", "#30353D"),
        }
    }

    /// The hex colour of a role.
    pub fn color(self, c: Color) -> &'static str {
        match c {
            Color::Palette(i) => PALETTE[i % PALETTE.len()],
            Color::Muted => match self {
                Theme::Light => "#9A9A9A",
                Theme::Dark => "#7D848C",
            },
            Color::Error => "#D62728",
        }
    }
}

/// Series colours, NVIDIA green first (AIPerf's primary colour).
pub const PALETTE: [&str; 8] = [
    "#76B900", "#FF7F0E", "#9467BD", "#1F77B4", "#8C564B", "#E377C2", "#17BECF", "#BCBD22",
];

fn rgb(hex: &str) -> RGBColor {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap_or(0);
    RGBColor((v >> 16) as u8, (v >> 8) as u8, v as u8)
}

/// Why a PNG could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(String);

fn err<E: std::fmt::Display>(e: E) -> RenderError {
    RenderError(e.to_string())
}

/// Registers the bundled font once per process.
fn register_font() -> Result<(), RenderError> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            plotters::style::register_font(FAMILY, style, FONT)
                .map_err(|_| "the bundled font cannot be read".to_string())?;
        }
        Ok(())
    })
    .clone()
    .map_err(RenderError)
}

/// Draws `fig` into the PNG file `path`.
pub fn render_png(fig: &Figure, theme: Theme, path: &Path) -> Result<(), RenderError> {
    register_font()?;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    draw(fig, theme, &root)?;
    root.present().map_err(err)
}

fn draw(
    fig: &Figure,
    theme: Theme,
    root: &DrawingArea<BitMapBackend, Shift>,
) -> Result<(), RenderError> {
    let (bg, fg, grid) = theme.base();
    let (bg, fg, grid) = (rgb(bg), rgb(fg), rgb(grid));
    root.fill(&bg).map_err(err)?;
    let (top, body) = root.split_vertically(64);
    top.draw_text(
        &fig.title,
        &(FAMILY, 24).into_font().style(FontStyle::Bold).color(&fg),
        (20, 10),
    )
    .map_err(err)?;
    top.draw_text(
        &fig.subtitle,
        &(FAMILY, 15).into_font().color(&fg.mix(0.75)),
        (20, 40),
    )
    .map_err(err)?;
    let Some(((x0, x1), (y0, y1))) = fig.bounds() else {
        return Ok(());
    };
    let (x0, x1) = pad(x0, x1, 0.02);
    let (y0, y1) = pad(y0, y1, 0.06);
    let mut chart = ChartBuilder::on(&body)
        .margin_left(10)
        .margin_right(30)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(fig.x.label.as_str())
        .y_desc(fig.y.label.as_str())
        .label_style((FAMILY, 14).into_font().color(&fg))
        .axis_desc_style((FAMILY, 16).into_font().color(&fg))
        .axis_style(fg.mix(0.8))
        .bold_line_style(grid)
        .light_line_style(grid.mix(0.0))
        .x_labels(10)
        .y_labels(8)
        .y_label_formatter(&|v| tick(*v))
        .x_label_formatter(&|v| tick(*v))
        .draw()
        .map_err(err)?;
    let label_font = (FAMILY, 14).into_font().color(&fg);
    for s in &fig.series {
        if s.points.is_empty() {
            continue;
        }
        let base = rgb(theme.color(s.color));
        let color = if s.faded {
            base.mix(0.35)
        } else {
            base.mix(1.0)
        };
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p[0].is_finite() && p[1].is_finite())
            .map(|p| (p[0], p[1]))
            .collect();
        let anno = match s.style {
            Style::Points => chart
                .draw_series(
                    pts.iter()
                        .map(|&p| Circle::new(p, marker(s, pts.len()), color.filled())),
                )
                .map_err(err)?,
            Style::LinePoints => {
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                    .map_err(err)?;
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 5, color.filled())))
                    .map_err(err)?
            }
            Style::Line => chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(err)?,
            Style::Step => chart
                .draw_series(LineSeries::new(steps(&pts), color.stroke_width(2)))
                .map_err(err)?,
            Style::Area => chart
                .draw_series(
                    AreaSeries::new(steps(&pts), 0.0, base.mix(0.30))
                        .border_style(color.stroke_width(2)),
                )
                .map_err(err)?,
            Style::Bars => chart
                .draw_series(pts.iter().map(|&(x, y)| {
                    Rectangle::new([(x, 0.0), (x + s.bar_width, y)], color.filled())
                }))
                .map_err(err)?,
            Style::Segments => {
                let w = if pts.len() > 600 { 1 } else { 3 };
                chart
                    .draw_series(
                        pts.chunks_exact(2)
                            .map(|c| PathElement::new(vec![c[0], c[1]], color.stroke_width(w))),
                    )
                    .map_err(err)?
            }
        };
        anno.label(s.name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], color.filled()));
        if !s.labels.is_empty() {
            chart
                .draw_series(s.points.iter().zip(&s.labels).map(|(p, l)| {
                    EmptyElement::at((p[0], p[1]))
                        + Text::new(l.clone(), (7, -18), label_font.clone())
                }))
                .map_err(err)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(bg.mix(0.85))
        .border_style(fg.mix(0.4))
        .label_font((FAMILY, 14).into_font().color(&fg))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Marker radius: smaller when there are many.
fn marker(s: &Series, n: usize) -> u32 {
    if s.faded && n > 1000 {
        1
    } else if n > 300 {
        2
    } else if n > 50 {
        3
    } else {
        5
    }
}

/// A step function's points as a polyline: each value holds until the next x.
fn steps(pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(pts.len() * 2);
    for (i, &(x, y)) in pts.iter().enumerate() {
        if i > 0 {
            out.push((x, pts[i - 1].1));
        }
        out.push((x, y));
    }
    out
}

/// Widens `[a, b]` by `frac` of its span on each side (a flat range by 1).
fn pad(a: f64, b: f64, frac: f64) -> (f64, f64) {
    if b > a {
        let d = (b - a) * frac;
        let lo = if a >= 0.0 && a - d < 0.0 { 0.0 } else { a - d };
        (lo, b + d)
    } else {
        (a - 1.0, b + 1.0)
    }
}

/// A short tick label: `1,200`, `0.35`, `2.5k`.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        let t = if a >= 1.0 {
            format!("{v:.1}")
        } else {
            format!("{v:.3}")
        };
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_polyline() {
        assert_eq!(
            steps(&[(0.0, 5.0), (1.0, 7.0), (3.0, 0.0)]),
            vec![(0.0, 5.0), (1.0, 5.0), (1.0, 7.0), (3.0, 7.0), (3.0, 0.0)]
        );
    }

    #[test]
    fn padding_and_ticks() {
        assert_eq!(pad(0.0, 10.0, 0.1), (0.0, 11.0));
        assert_eq!(pad(5.0, 5.0, 0.1), (4.0, 6.0));
        assert_eq!(tick(1500.0), "1500");
        assert_eq!(tick(25000.0), "25k");
        assert_eq!(tick(2.26), "2.3");
        assert_eq!(tick(0.125), "0.125");
        assert_eq!(tick(0.2), "0.2");
        assert_eq!(tick(1.5), "1.5");
    }

    #[test]
    fn theme_colours() {
        assert_eq!(Theme::Light.color(Color::Palette(0)), "#76B900");
        assert_eq!(Theme::Dark.color(Color::Palette(9)), PALETTE[1]);
        assert_eq!(rgb("#76B900"), RGBColor(0x76, 0xB9, 0x00));
        assert_eq!(Theme::parse("dark"), Some(Theme::Dark));
        assert_eq!(Theme::parse("blue"), None);
    }
}
