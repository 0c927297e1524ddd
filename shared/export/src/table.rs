//! A plain-text table in the style of Python `rich`'s default (`box.HEAVY_HEAD`):
//! heavy lines around the header, light lines around the body, one space of
//! padding each side of a cell, the title centred above. Cells may span several
//! lines (`\n`); no trailing whitespace is emitted.

/// Horizontal alignment of a column (header and cells).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize, align: Align) -> String {
    let fill = " ".repeat(w.saturating_sub(width(s)));
    match align {
        Align::Left => format!("{s}{fill}"),
        Align::Right => format!("{fill}{s}"),
    }
}

fn rule(left: char, fill: char, mid: char, right: char, widths: &[usize]) -> String {
    let mut s = String::new();
    s.push(left);
    for (i, w) in widths.iter().enumerate() {
        if i > 0 {
            s.push(mid);
        }
        s.extend(std::iter::repeat_n(fill, w + 2));
    }
    s.push(right);
    s
}

fn content_lines(
    cells: &[Vec<&str>],
    widths: &[usize],
    aligns: &[Align],
    bar: char,
    out: &mut String,
) {
    let height = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
    for line in 0..height {
        let mut s = String::new();
        s.push(bar);
        for (i, cell) in cells.iter().enumerate() {
            s.push(' ');
            s.push_str(&pad(
                cell.get(line).copied().unwrap_or(""),
                widths[i],
                aligns[i],
            ));
            s.push(' ');
            s.push(bar);
        }
        out.push_str(s.trim_end());
        out.push('\n');
    }
}

/// Renders the table; every line ends with `\n`.
pub(crate) fn render(title: &str, columns: &[(&str, Align)], rows: &[Vec<String>]) -> String {
    let split = |s: &str| -> Vec<String> { s.split('\n').map(str::to_string).collect() };
    let headers: Vec<Vec<String>> = columns.iter().map(|(h, _)| split(h)).collect();
    let body: Vec<Vec<Vec<String>>> = rows
        .iter()
        .map(|r| r.iter().map(|c| split(c)).collect())
        .collect();
    let aligns: Vec<Align> = columns.iter().map(|(_, a)| *a).collect();

    let mut widths: Vec<usize> = headers
        .iter()
        .map(|h| h.iter().map(|l| width(l)).max().unwrap_or(0))
        .collect();
    for row in &body {
        for (i, cell) in row.iter().enumerate().take(widths.len()) {
            let w = cell.iter().map(|l| width(l)).max().unwrap_or(0);
            widths[i] = widths[i].max(w);
        }
    }
    let total: usize = widths.iter().map(|w| w + 3).sum::<usize>() + 1;

    let mut out = String::new();
    if !title.is_empty() {
        let left = total.saturating_sub(width(title)) / 2;
        out.push_str(&" ".repeat(left));
        out.push_str(title);
        out.push('\n');
    }
    out.push_str(&rule('┏', '━', '┳', '┓', &widths));
    out.push('\n');
    let head_cells: Vec<Vec<&str>> = headers
        .iter()
        .map(|h| h.iter().map(String::as_str).collect())
        .collect();
    content_lines(&head_cells, &widths, &aligns, '┃', &mut out);
    out.push_str(&rule('┡', '━', '╇', '┩', &widths));
    out.push('\n');
    for row in &body {
        let mut cells: Vec<Vec<&str>> = row
            .iter()
            .map(|c| c.iter().map(String::as_str).collect())
            .collect();
        cells.resize(widths.len(), Vec::new());
        content_lines(&cells, &widths, &aligns, '│', &mut out);
    }
    out.push_str(&rule('└', '─', '┴', '┘', &widths));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_boxes() {
        let t = render(
            "T",
            &[("Name", Align::Left), ("n", Align::Right)],
            &[
                vec!["ab".into(), "1,234.00".into()],
                vec!["x\nyz".into(), "5".into()],
            ],
        );
        assert_eq!(
            t,
            "         T\n\
             ┏━━━━━━┳━━━━━━━━━━┓\n\
             ┃ Name ┃        n ┃\n\
             ┡━━━━━━╇━━━━━━━━━━┩\n\
             │ ab   │ 1,234.00 │\n\
             │ x    │        5 │\n\
             │ yz   │          │\n\
             └──────┴──────────┘\n"
        );
    }
}
