//! Orders: the list, an order's page (status in words, the download and
//! its expiry, a fresh link), and paying for a pending order.

use std::sync::Arc;

use maud::html;
use poem::{
    Request, Response, handler,
    http::StatusCode,
    web::{Data, Path, Query},
};
use proofsheet_core::{IdempotencyKey, OrderId, OrderStatus, PageRequest, Role, User};
use serde::Deserialize;

use super::{
    FormData, Page, Visit,
    layout::{csrf_field, time},
    see_other, to_signin,
};
use crate::state::AppState;

/// An order's status as people say it.
pub fn status_words(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Pending => "Waiting for payment",
        OrderStatus::Paid => "Paid, preparing the download",
        OrderStatus::Fulfilled => "Paid, ready to download",
        OrderStatus::Cancelled => "Cancelled",
        OrderStatus::Expired => "Expired unpaid",
        OrderStatus::Refunded => "Refunded",
    }
}

/// Opens a payment for a pending order and sends the buyer to the gateway;
/// with the cart's `key`, a second press goes to the same payment page.
pub async fn start_payment(
    state: &AppState,
    visit: &Visit,
    user: &User,
    id: OrderId,
    key: Option<&IdempotencyKey>,
) -> Response {
    let back = crate::urls::order(&state.public_url, id);
    let (done, cancelled) = (format!("{back}?payment=done"), format!("{back}?payment=cancelled"));
    match state.engine.checkout().start_once(user, id, None, done, cancelled, key).await {
        Ok(url) => visit.respond(state, see_other(&url)),
        Err(e) => super::error_page(state, visit, e),
    }
}

/// `GET /orders`.
#[handler]
pub async fn list(req: &Request, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let Some(user) = visit.user.clone() else { return to_signin("/orders") };
    let orders = match state.engine.checkout().orders(&user, PageRequest::new(Some(100), None).expect("valid")).await {
        Ok(p) => p.items,
        Err(e) => return super::error_page(state, &visit, e),
    };
    let seller = user.role == Role::Photographer;
    Page::new("Orders", &visit)
        .body(html! {
            @if orders.is_empty() {
                p { @if seller { "No orders on your albums yet." } @else { "You have not bought anything yet." } }
            } @else {
                div.scroll {
                    table {
                        caption.visually-hidden { "Orders, newest last" }
                        thead { tr { th scope="col" { "Order" } th scope="col" { "Photos" } th scope="col" { "Total" } th scope="col" { "Status" } th scope="col" { "Placed" } } }
                        tbody {
                            @for o in &orders {
                                tr {
                                    th scope="row" { a href={ "/orders/" (o.id) } { "Order " (o.id.to_string().get(..8).unwrap_or_default()) } }
                                    td.num { (o.items.len()) }
                                    td.num { (o.total.human()) }
                                    td { (status_words(o.status)) }
                                    td { (time(o.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
        })
        .render(state)
}

/// `?payment=` after the gateway.
#[derive(Debug, Default, Deserialize)]
pub struct OrderQuery {
    payment: Option<String>,
    notice: Option<String>,
}

/// `GET /orders/{id}`: status, and once fulfilled, the download.
#[handler]
pub async fn order_page(
    req: &Request,
    Path(id): Path<String>,
    Query(q): Query<OrderQuery>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let visit = Visit::of(state, req).await;
    let here = format!("/orders/{id}");
    let Some(user) = visit.user.clone() else { return to_signin(&here) };
    let order = match id.parse::<OrderId>() {
        Ok(oid) => state.engine.checkout().order(&user, oid).await,
        Err(e) => Err(e),
    };
    let order = match order {
        Ok(o) => o,
        Err(e) => return super::error_page(state, &visit, e),
    };
    let buyer = order.buyer_id == user.id;
    let now = state.engine.now();
    let link = if buyer && order.status == OrderStatus::Fulfilled {
        match state.engine.downloads().link(&order).await {
            Ok(l) => l,
            Err(e) => return super::error_page(state, &visit, e),
        }
    } else {
        None
    };
    let live_link = link.as_ref().filter(|l| l.expires_at > now);
    let window = state.engine.settings().download_window;
    let in_window = order.paid_at.is_some_and(|t| now < t + window);
    let album = state.engine.checkout().album_of(&user, &order).await.ok().flatten();
    Page::new(format!("Order {}", order.id.to_string().get(..8).unwrap_or_default()), &visit)
        .body(html! {
            @match q.payment.as_deref() {
                Some("done") if order.status == OrderStatus::Pending => p.notice role="status" { "Thank you. We are waiting for the payment to be confirmed; this page updates by itself." },
                Some("done") => p.notice role="status" { "Thank you for your order." },
                Some("cancelled") | Some("declined") => p.error role="alert" { "The payment did not go through. Nothing was charged; you can try again." },
                _ => {}
            }
            @if let Some(n) = q.notice.as_deref().and_then(super::notice_text) { p.notice role="status" { (n) } }
            (crate::web::assets::script("order"))
            dl.facts #order data-order=(order.id) data-status=(order.status.as_str()) {
                dt { "Status" } dd #order-status { (status_words(order.status)) }
                dt { "Album" } dd {
                    @if let Some(a) = &album { a href={ "/albums/" (a.id) } { (a.name) } } @else { "(deleted)" }
                }
                dt { "Photos" } dd { (order.items.len()) }
                dt { "Total" } dd { (order.total.human()) }
                dt { "Placed" } dd { (time(order.created_at)) }
                @if let Some(t) = order.paid_at { dt { "Paid" } dd { (time(t)) } }
            }
            @if let Some(l) = live_link {
                p.download {
                    a.button href=(crate::urls::download(&state.public_url, &l.token)) download { "Download all" }
                    " A zip of every photo, named after the album. The links work until " (time(l.expires_at)) "."
                }
            } @else if buyer && order.status == OrderStatus::Fulfilled {
                @if in_window {
                    p { "Your download link has expired. You can get a fresh one until " (time(order.paid_at.unwrap_or(now) + window)) "." }
                    form method="post" action={ "/orders/" (order.id) "/fresh-link" } {
                        (csrf_field(&visit))
                        button type="submit" { "Get a fresh link" }
                    }
                } @else {
                    p { "The download window of this order has closed." }
                }
            }
            @if buyer && order.status == OrderStatus::Pending {
                form method="post" action={ "/orders/" (order.id) "/pay" } {
                    (csrf_field(&visit))
                    button type="submit" { "Pay now" }
                }
            }
            h2 { "Photos in this order" }
            ul.order-photos {
                @for item in &order.items {
                    li {
                        // Thumbnails while the album may still be seen.
                        @if album.is_some() {
                            img src={ "/api/v1/photos/" (item.photo_id) "/thumbnail" } alt=(item.filename) loading="lazy";
                        } @else { span.ph aria-hidden="true" {} }
                        span.name { (item.filename) }
                        span.price { (item.price.human()) }
                        @if let Some(l) = live_link {
                            a href=(crate::urls::download_file(&state.public_url, &l.token, item.photo_id)) download=(item.filename) { "Download" }
                        }
                    }
                }
            }
        })
        .render(state)
}

/// `POST /orders/{id}/pay`: pay for a pending order (again).
#[handler]
pub async fn pay(
    req: &Request,
    Path(id): Path<String>,
    _checked: Data<&FormData>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let visit = Visit::of(state, req).await;
    let Some(user) = visit.user.clone() else { return to_signin(&format!("/orders/{id}")) };
    match id.parse::<OrderId>() {
        Ok(oid) => start_payment(state, &visit, &user, oid, None).await,
        Err(e) => super::error_page(state, &visit, e),
    }
}

/// `POST /orders/{id}/fresh-link`: a new download link inside the window.
#[handler]
pub async fn fresh_link(
    req: &Request,
    Path(id): Path<String>,
    _checked: Data<&FormData>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let visit = Visit::of(state, req).await;
    let Some(user) = visit.user.clone() else { return to_signin(&format!("/orders/{id}")) };
    let result = match id.parse::<OrderId>() {
        Ok(oid) => state.engine.downloads().fresh_link(&user, oid).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(Some(_)) => visit.respond(state, see_other(&format!("/orders/{id}?notice=fresh_link"))),
        Ok(None) => Page::new("No fresh link", &visit)
            .status(StatusCode::CONFLICT)
            .body(html! { p { "This order has no download to renew." } })
            .render(state),
        Err(e) => super::error_page(state, &visit, e),
    }
}

/// `GET /orders/{id}/paid` and `/cancelled`: the return addresses of
/// earlier versions; they lead to the order's page.
#[handler]
pub fn returned(Path((id, how)): Path<(String, String)>) -> Response {
    let payment = if how == "paid" { "done" } else { "cancelled" };
    match id.parse::<OrderId>() {
        Ok(id) => see_other(&format!("/orders/{id}?payment={payment}")),
        Err(_) => Response::builder().status(StatusCode::NOT_FOUND).finish(),
    }
}
