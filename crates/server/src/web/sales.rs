//! `/sales`: a photographer's sales for a period, with a bar chart drawn as
//! SVG on the server (revenue per month) and the CSV download (the API's
//! report, which the page's session may read).

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use maud::{Markup, PreEscaped, html};
use poem::{
    Request, Response, handler,
    web::{Data, Query},
};
use proofsheet_core::{Currency, Money, Role};
use serde::Deserialize;

use super::{Page, Visit, layout::date, to_signin};
use crate::state::AppState;

/// `?from=&to=` (YYYY-MM-DD, `to` inclusive).
#[derive(Debug, Default, Deserialize)]
pub struct Period {
    from: Option<String>,
    to: Option<String>,
}

fn day(s: Option<&str>) -> Option<NaiveDate> {
    s.and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
}

fn start_of(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

fn month_start(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1).expect("the first exists")
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 { (d.year() + 1, 1) } else { (d.year(), d.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).expect("the first exists")
}

/// `GET /sales`.
#[handler]
pub async fn sales_page(req: &Request, Query(q): Query<Period>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let Some(user) = visit.user.clone() else { return to_signin("/sales") };
    if user.role == Role::Client {
        return super::error_page(
            state,
            &visit,
            proofsheet_core::Error::forbidden("photographers_only", "sales reports are for photographers"),
        );
    }
    let today = state.engine.now().date_naive();
    let to_day = day(q.to.as_deref()).unwrap_or(today);
    let from_day =
        day(q.from.as_deref()).filter(|f| *f <= to_day).unwrap_or_else(|| month_start(to_day - Duration::days(334)));
    let (from, to) = (start_of(from_day), start_of(to_day) + Duration::days(1));
    let reports = state.engine.reports();
    let report = match reports.sales(&user, from, to).await {
        Ok(r) => r,
        Err(e) => return super::error_page(state, &visit, e),
    };
    // Revenue per month in the currency that sold most (at most 24 bars).
    let main = report.totals.iter().max_by_key(|t| t.revenue).map(|t| t.currency);
    let mut months = Vec::new();
    if let Some(currency) = main {
        let mut m = month_start(from_day);
        while m <= to_day && months.len() < 24 {
            let (a, b) = (start_of(m).max(from), start_of(next_month(m)).min(to));
            let revenue = match reports.sales(&user, a, b).await {
                Ok(r) => r.totals.iter().filter(|t| t.currency == currency).map(|t| t.revenue).sum(),
                Err(e) => return super::error_page(state, &visit, e),
            };
            months.push((m, revenue));
            m = next_month(m);
        }
    }
    let csv = format!(
        "/api/v1/reports/sales?format=csv&from={}&to={}",
        from_day.format("%Y-%m-%d"),
        (to_day + Duration::days(1)).format("%Y-%m-%d")
    );
    Page::new("Sales", &visit)
        .body(html! {
            form.period method="get" action="/sales" {
                div.pair {
                    div { label for="from" { "From" } input #from type="date" name="from" value=(from_day.format("%Y-%m-%d")); }
                    div { label for="to" { "To" } input #to type="date" name="to" value=(to_day.format("%Y-%m-%d")); }
                }
                button.secondary type="submit" { "Show" }
            }
            p { "From " (date(from)) " to " (date(start_of(to_day))) "." }
            @if report.totals.is_empty() {
                p { "No sales in this period." }
            }
            ul.totals {
                @for t in &report.totals {
                    li {
                        strong { (Money { amount: t.revenue, currency: t.currency }.human()) }
                        " from " (t.orders) " order(s), " (t.photos) " photo(s)"
                    }
                }
            }
            @if let Some(currency) = main { (chart(&months, currency)) }
            @if !report.albums.is_empty() {
                h2 { "By album" }
                div.scroll {
                    table {
                        thead { tr { th scope="col" { "Album" } th scope="col" { "Orders" } th scope="col" { "Photos" } th scope="col" { "Revenue" } } }
                        tbody {
                            @for a in &report.albums {
                                tr {
                                    th scope="row" { (a.album_name.as_deref().unwrap_or("(deleted album)")) }
                                    td.num { (a.orders) }
                                    td.num { (a.photos) }
                                    td.num { (Money { amount: a.revenue, currency: a.currency }.human()) }
                                }
                            }
                        }
                    }
                }
            }
            p { a.button.secondary href=(csv) download="proofsheet-sales.csv" { "Download CSV" } }
        })
        .render(state)
}

/// Revenue per month as an SVG bar chart, with its figures as text for
/// screen readers (the SVG itself is a labelled image).
fn chart(months: &[(NaiveDate, i64)], currency: Currency) -> Markup {
    let (w, h, pad, base) = (720.0f64, 240.0f64, 8.0f64, 200.0f64);
    let max = months.iter().map(|(_, r)| *r).max().unwrap_or(0).max(1) as f64;
    let n = months.len().max(1) as f64;
    let slot = (w - 2.0 * pad) / n;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"chart-title\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title id=\"chart-title\">Revenue per month in {currency}</title>\
         <line x1=\"{pad}\" y1=\"{base}\" x2=\"{x2}\" y2=\"{base}\" class=\"axis\"/>",
        x2 = w - pad
    );
    for (i, (m, revenue)) in months.iter().enumerate() {
        let bar = (*revenue as f64 / max) * (base - 24.0);
        let x = pad + i as f64 * slot + slot * 0.15;
        svg.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bar:.1}\" class=\"bar\"><title>{label}: {amount}</title></rect>\
             <text x=\"{tx:.1}\" y=\"{ty}\" class=\"label\" text-anchor=\"middle\">{short}</text>",
            y = base - bar,
            bw = slot * 0.7,
            label = m.format("%B %Y"),
            amount = Money { amount: *revenue, currency }.human(),
            tx = x + slot * 0.35,
            ty = base + 18.0,
            short = m.format("%b"),
        ));
    }
    svg.push_str("</svg>");
    html! {
        figure.chart {
            (PreEscaped(svg))
            figcaption {
                details {
                    summary { "Revenue per month, as figures" }
                    ul.plain {
                        @for (m, revenue) in months {
                            li { (m.format("%B %Y")) ": " (Money { amount: *revenue, currency }.human()) }
                        }
                    }
                }
            }
        }
    }
}
