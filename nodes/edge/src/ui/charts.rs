//! Charts as server-rendered SVG: readable without JavaScript, each with a
//! `<title>` and `<desc>` (named by `aria-labelledby`) and, on the page, a
//! data table behind it. Hand-written: a line chart (a series and, dashed,
//! the one it is compared with) and horizontal bars; text is escaped here.

use std::fmt::Write;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 28.0;

/// Escapes text for SVG (XML) content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

/// A line chart of `values` (one per label, oldest first) and, dashed,
/// `compared` (the previous period, aligned by position). `fmt` writes a
/// value as the axis shows it.
pub(crate) fn line_chart(
    id: &str,
    title: &str,
    labels: &[String],
    values: &[i64],
    compared: Option<&[i64]>,
    fmt: &dyn Fn(i64) -> String,
) -> String {
    let max = values
        .iter()
        .chain(compared.unwrap_or(&[]).iter())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let min = values
        .iter()
        .chain(compared.unwrap_or(&[]).iter())
        .copied()
        .min()
        .unwrap_or(0)
        .min(0);
    let span = (max - min).max(1) as f64;
    let n = values.len().max(1);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: usize| {
        if n == 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: i64| TOP + plot_h * (1.0 - (v - min) as f64 / span);
    let points = |vs: &[i64]| {
        vs.iter()
            .take(n)
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let total: i64 = values.iter().sum();
    let desc = match (labels.first(), labels.last()) {
        (Some(first), Some(last)) => format!(
            "{} days from {first} to {last}; highest {}, total {}.{}",
            values.len(),
            fmt(values.iter().copied().max().unwrap_or(0)),
            fmt(total),
            if compared.is_some() {
                " The dashed line is the previous period."
            } else {
                ""
            }
        ),
        _ => "No days in this range.".to_owned(),
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" id="{id}" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(title),
        escape(&desc)
    );
    // Axes and three gridlines with their values.
    for k in 0..=2 {
        let v = min + (max - min) * k / 2;
        let gy = y(v);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#555">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            gy + 4.0,
            escape(&fmt(v))
        );
    }
    if let (Some(first), Some(last)) = (labels.first(), labels.last()) {
        let _ = write!(
            svg,
            r##"<text x="{LEFT}" y="{:.1}" font-size="11" fill="#555">{}</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#555">{}</text>"##,
            HEIGHT - 8.0,
            escape(first),
            WIDTH - RIGHT,
            HEIGHT - 8.0,
            escape(last)
        );
    }
    if let Some(c) = compared {
        let _ = write!(
            svg,
            r##"<polyline fill="none" stroke="#999" stroke-width="1.5" stroke-dasharray="4 3" points="{}"/>"##,
            points(c)
        );
    }
    let _ = write!(
        svg,
        r##"<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="{}"/>"##,
        points(values)
    );
    if values.len() == 1 {
        let _ = write!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#1f6feb"/>"##,
            x(0),
            y(values[0])
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars, one per `(label, value)`, longest first as given.
pub(crate) fn bar_chart(id: &str, title: &str, bars: &[(String, i64)]) -> String {
    let row = 26.0;
    let height = TOP + row * bars.len().max(1) as f64 + 8.0;
    let label_w = 150.0;
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let desc = bars
        .iter()
        .map(|(l, v)| format!("{l}: {v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" id="{id}" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {WIDTH} {height:.0}" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(title),
        escape(if desc.is_empty() {
            "Nothing yet."
        } else {
            &desc
        })
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let top = TOP + row * i as f64;
        let w = (WIDTH - label_w - 80.0) * (*value).max(0) as f64 / max;
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end" fill="#333">{}</text><rect x="{label_w}" y="{top:.1}" width="{w:.1}" height="18" fill="#1f6feb"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#333">{value}</text>"##,
            label_w - 8.0,
            top + 13.0,
            escape(label),
            label_w + w + 6.0,
            top + 13.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_name_themselves_and_escape_text() {
        let labels = vec!["2026-01-01".to_owned(), "2026-01-02".to_owned()];
        let svg = line_chart("c1", "Revenue <&>", &labels, &[0, 5], Some(&[1, 2]), &|v| {
            v.to_string()
        });
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains(r#"<title id="c1-title">Revenue &lt;&amp;&gt;</title>"#));
        assert!(svg.contains("stroke-dasharray"));
        let empty = line_chart("c2", "Nothing", &[], &[], None, &|v| v.to_string());
        assert!(empty.contains("No days in this range."));
        let bars = bar_chart("c3", "Funnel", &[("Views".into(), 10), ("Carts".into(), 0)]);
        assert!(bars.contains("Views: 10; Carts: 0"));
    }
}
