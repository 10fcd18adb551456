//! The budget chart: an SVG drawn on the server, so it needs no script.
//!
//! Every run of an agreement spends the same ε from each dataset (its terms cannot change), so
//! a dataset's spending is told by its run count. The chart plots ε spent against runs, from
//! none to as many as the budget allows, as a staircase under a dashed limit: how far along
//! the budget is, and how many runs are left. Past [`MAX_STEPS`] runs the staircase is drawn as
//! the line it looks like, so the chart costs the same at any size.

use std::fmt::Write;

/// Runs drawn as separate steps at most.
pub const MAX_STEPS: u64 = 240;

const WIDTH: f64 = 320.0;
const HEIGHT: f64 = 120.0;
const PAD: f64 = 8.0;

/// An SVG of `runs` runs of `per_run` ε each (in millionths) against a budget of `total`.
/// `label` is the chart's accessible description (escaped here).
pub fn spending(runs: u64, per_run: u64, total: u64, label: &str) -> String {
    let spent = runs.saturating_mul(per_run);
    let capacity = runs
        + total
            .saturating_sub(spent)
            .checked_div(per_run)
            .unwrap_or(0);
    let top = spent.max(total).max(1) as f64;
    let x = |run: u64| PAD + (WIDTH - 2.0 * PAD) * run as f64 / capacity.max(1) as f64;
    let y = |micros: u64| HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * micros as f64 / top;
    let mut path = format!("M{:.1},{:.1}", x(0), y(0));
    if runs <= MAX_STEPS {
        for run in 1..=runs {
            let _ = write!(path, " H{:.1} V{:.1}", x(run), y(run * per_run));
        }
    } else {
        let _ = write!(path, " L{:.1},{:.1}", x(runs), y(spent));
    }
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
        ly = y(total),
        path = path,
        cx = x(runs),
        cy = y(spent),
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

    fn now(svg: &str) -> (f64, f64) {
        let at = |name: &str| {
            let start = svg.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            svg[start..]
                .split('"')
                .next()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        };
        (at("cx"), at("cy"))
    }

    #[test]
    fn two_runs_of_four_are_halfway_along_and_halfway_up() {
        let svg = spending(2, 500_000, 2_000_000, "a <b> \"c\"");
        assert!(svg.contains("aria-label=\"a &lt;b&gt; &quot;c&quot;\""));
        assert!(!svg.contains("<b>"));
        assert_eq!(now(&svg), (WIDTH / 2.0, HEIGHT / 2.0));
        assert_eq!(svg.matches(" H").count(), 2, "one step per run");
    }

    #[test]
    fn a_run_moves_the_chart() {
        let before = now(&spending(0, 500_000, 2_000_000, "x"));
        let after = now(&spending(1, 500_000, 2_000_000, "x"));
        assert_eq!(before, (PAD, HEIGHT - PAD));
        assert!(after.0 > before.0 && after.1 < before.1);
    }

    #[test]
    fn many_runs_cost_one_segment() {
        let svg = spending(100_000, 1, 200_000, "x");
        assert_eq!(svg.matches(" H").count(), 0);
        assert_eq!(now(&svg), (WIDTH / 2.0, HEIGHT / 2.0));
    }

    #[test]
    fn an_exhausted_budget_ends_at_the_limit() {
        let svg = spending(4, 500_000, 2_000_000, "x");
        assert_eq!(now(&svg), (WIDTH - PAD, PAD));
    }
}
