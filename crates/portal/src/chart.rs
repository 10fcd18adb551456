//! The budget chart: an SVG drawn on the server, so it needs no script.
//!
//! It plots the ε spent so far after each release against the dataset's total, as a step
//! line under a dashed limit. Long histories are thinned to at most [`MAX_POINTS`] steps, always
//! keeping the last, so the chart costs the same at any size.

use std::fmt::Write;

/// Steps drawn at most.
pub const MAX_POINTS: usize = 240;

const WIDTH: f64 = 320.0;
const HEIGHT: f64 = 120.0;
const PAD: f64 = 8.0;

/// An SVG showing cumulative spending (`spent`, each release's ε in millionths, oldest first)
/// against `total_micros`. `label` is the chart's accessible description (escaped here).
pub fn spending(spent: &[u64], total_micros: u64, label: &str) -> String {
    let total = total_micros.max(1) as f64;
    let mut cumulative = Vec::with_capacity(spent.len() + 1);
    let mut sum = 0u64;
    cumulative.push(0u64);
    for e in spent {
        sum = sum.saturating_add(*e);
        cumulative.push(sum);
    }
    let step = cumulative.len().div_ceil(MAX_POINTS).max(1);
    let mut kept: Vec<(usize, u64)> = cumulative
        .iter()
        .copied()
        .enumerate()
        .step_by(step)
        .collect();
    if kept.last().map(|(i, _)| *i) != Some(cumulative.len() - 1) {
        kept.push((cumulative.len() - 1, sum));
    }
    let runs = (cumulative.len() - 1).max(1) as f64;
    let x = |i: usize| PAD + (WIDTH - 2.0 * PAD) * i as f64 / runs;
    let top = sum.max(total_micros).max(1) as f64;
    let y = |v: u64| HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * v as f64 / top;
    let mut path = String::new();
    let mut last_y = y(0);
    for (n, (i, v)) in kept.iter().enumerate() {
        if n == 0 {
            let _ = write!(path, "M{:.1},{:.1}", x(*i), y(*v));
        } else {
            let _ = write!(path, " H{:.1} V{:.1}", x(*i), y(*v));
        }
        last_y = y(*v);
    }
    let limit_y = HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * total / top;
    format!(
        concat!(
            "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{label}\">",
            "<title>{label}</title>",
            "<rect class=\"chart-frame\" x=\"0.5\" y=\"0.5\" width=\"{fw}\" height=\"{fh}\"/>",
            "<line class=\"chart-limit\" x1=\"{pad}\" y1=\"{ly:.1}\" x2=\"{xe}\" y2=\"{ly:.1}\"/>",
            "<path class=\"chart-spent\" d=\"{path}\"/>",
            "<circle class=\"chart-now\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"3\"/>",
            "</svg>"
        ),
        w = WIDTH,
        h = HEIGHT,
        fw = WIDTH - 1.0,
        fh = HEIGHT - 1.0,
        pad = PAD,
        xe = WIDTH - PAD,
        ly = limit_y,
        path = path,
        cx = x(cumulative.len() - 1),
        cy = last_y,
        label = escape(label),
    )
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_ends_at_the_spent_total_and_labels_are_escaped() {
        let svg = spending(&[500_000, 500_000], 2_000_000, "a <b> \"c\"");
        assert!(svg.contains("aria-label=\"a &lt;b&gt; &quot;c&quot;\""));
        assert!(!svg.contains("<b>"));
        // Two runs of 0.5 of a total of 2: the line ends halfway up the plot.
        let mid = HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * 0.5;
        assert!(svg.contains(&format!("cy=\"{mid:.1}\"")), "{svg}");
        assert!(svg.contains(&format!("cx=\"{:.1}\"", WIDTH - PAD)));
    }

    #[test]
    fn long_histories_are_thinned_but_end_where_they_end() {
        let spent = vec![1; 100_000];
        let svg = spending(&spent, 200_000, "x");
        assert!(svg.matches(" H").count() <= MAX_POINTS + 1);
        let mid = HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * 0.5;
        assert!(svg.contains(&format!("cy=\"{mid:.1}\"")));
    }

    #[test]
    fn no_release_yet_draws_a_flat_start() {
        let svg = spending(&[], 1_000_000, "x");
        assert!(svg.contains(&format!("cy=\"{:.1}\"", HEIGHT - PAD)));
    }
}
