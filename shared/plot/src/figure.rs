//! The figure model every plot is built as: axes and series of points. The PNG
//! renderer ([`crate::render`]) and the dashboard ([`crate::dashboard`]) draw the
//! same figures.

use serde::Serialize;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// Markers only.
    Points,
    /// Markers joined by lines.
    LinePoints,
    /// A line.
    Line,
    /// A step line (each value holds until the next x).
    Step,
    /// A step line filled down to zero.
    Area,
    /// Bars from x to x + `bar_width`, from 0 to y.
    Bars,
    /// Horizontal segments: points 2k and 2k+1 are the ends of segment k.
    Segments,
}

/// One axis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Axis {
    /// Label with its unit.
    pub label: String,
    /// Logarithmic scale.
    pub log: bool,
}

impl Axis {
    /// A linear axis.
    pub fn new(label: impl Into<String>) -> Axis {
        Axis {
            label: label.into(),
            log: false,
        }
    }
}

/// Colours by role, resolved by the theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Color {
    /// The n-th colour of the palette (NVIDIA green first).
    Palette(usize),
    /// Grey for context (individual requests behind percentile lines).
    Muted,
    /// Red for errors.
    Error,
}

/// One series of a figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// How it is drawn.
    pub style: Style,
    /// Its colour.
    pub color: Color,
    /// Drawn faded (dominated Pareto points, background requests).
    pub faded: bool,
    /// `[x, y]` points.
    pub points: Vec<[f64; 2]>,
    /// A label per point (empty: no labels).
    pub labels: Vec<String>,
    /// Width of each bar in x units (`Bars` only).
    pub bar_width: f64,
    /// The run each point belongs to, for the dashboard's run filter (empty:
    /// the whole series belongs to the figure's run).
    pub runs: Vec<usize>,
}

impl Series {
    /// A series with no labels.
    pub fn new(
        name: impl Into<String>,
        style: Style,
        color: Color,
        points: Vec<[f64; 2]>,
    ) -> Series {
        Series {
            name: name.into(),
            style,
            color,
            faded: false,
            points,
            labels: Vec::new(),
            bar_width: 0.0,
            runs: Vec::new(),
        }
    }

    /// The same series drawn faded.
    pub fn faded(mut self) -> Series {
        self.faded = true;
        self
    }
}

/// One plot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// File name stem and dashboard id, e.g. `ttft_over_time`.
    pub key: String,
    /// Title.
    pub title: String,
    /// A line under the title (what is shown, what was left out).
    pub subtitle: String,
    /// X axis.
    pub x: Axis,
    /// Y axis.
    pub y: Axis,
    /// Series, drawn in order.
    pub series: Vec<Series>,
}

impl Figure {
    /// Whether the figure has anything to draw.
    pub fn is_empty(&self) -> bool {
        self.series.iter().all(|s| s.points.is_empty())
    }

    /// The range of the finite coordinates of every series: `((x0, x1), (y0, y1))`.
    /// Bars reach from 0 and over their width.
    pub fn bounds(&self) -> Option<((f64, f64), (f64, f64))> {
        let mut xs = (f64::INFINITY, f64::NEG_INFINITY);
        let mut ys = (f64::INFINITY, f64::NEG_INFINITY);
        let mut add = |x: f64, y: f64| {
            if x.is_finite()
                && y.is_finite()
                && (!self.x.log || x > 0.0)
                && (!self.y.log || y > 0.0)
            {
                xs = (xs.0.min(x), xs.1.max(x));
                ys = (ys.0.min(y), ys.1.max(y));
            }
        };
        for s in &self.series {
            for p in &s.points {
                add(p[0], p[1]);
                if s.style == Style::Bars {
                    add(p[0] + s.bar_width, p[1]);
                }
                if matches!(s.style, Style::Bars | Style::Area) && !self.y.log {
                    add(p[0], 0.0);
                }
            }
        }
        (xs.0 <= xs.1).then_some((xs, ys))
    }
}
