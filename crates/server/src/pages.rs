//! The test gateway's payment page (what a buyer sees instead of a real
//! provider's checkout) and the e-mail verification page, in the web app's
//! page shell. Pay and Decline post back here; each click becomes a signed
//! notification that goes through the same verification and order state
//! machine as a real webhook, then the buyer lands on the order's page.

use std::sync::Arc;

use maud::html;
use poem::{
    Request, Response, handler,
    http::StatusCode,
    web::{Data, Path},
};
use proofsheet_core::{Applied, OrderStatus, PaymentOutcome};

use crate::{
    state::AppState,
    web::{Page, Visit},
};

fn message(state: &AppState, visit: &Visit, status: StatusCode, title: &str, text: &str) -> Response {
    Page::new(title, visit).status(status).body(html! { p { (text) } }).render(state)
}

/// `GET /checkout/test/{session}`: the payment page.
#[handler]
pub async fn checkout_page(req: &Request, Path(session): Path<String>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let not_found = |text| message(state, &visit, StatusCode::NOT_FOUND, "Not found", text);
    let Some(gw) = &state.test_gateway else { return not_found("There is no test gateway here.") };
    let Some(order_id) = gw.order_of_session(&session) else { return not_found("This payment link is not valid.") };
    let order = match state.engine.checkout().order_for_payment_page(order_id).await {
        Ok(Some(o)) => o,
        Ok(None) => return not_found("No such order."),
        Err(e) => return crate::web::error_page(state, &visit, e),
    };
    if order.status != OrderStatus::Pending {
        let text = format!("This order is {}.", crate::web::status_words(order.status).to_lowercase());
        return message(state, &visit, StatusCode::OK, "Test payment", &text);
    }
    Page::new("Test payment", &visit)
        .body(html! {
            p.notice { "This is the test gateway: no money moves." }
            dl.facts {
                dt { "Order" } dd { (order.id) }
                dt { "Photos" } dd { (order.items.len()) }
                dt { "Total" } dd { strong { (order.total.human()) } }
            }
            div.pair {
                form method="post" action={ "/checkout/test/" (session) "/pay" } { button type="submit" { "Pay" } }
                form method="post" action={ "/checkout/test/" (session) "/decline" } {
                    button.secondary type="submit" { "Decline" }
                }
            }
        })
        .render(state)
}

async fn act(state: &AppState, req: &Request, session: &str, outcome: PaymentOutcome) -> Response {
    let visit = Visit::of(state, req).await;
    let Some(gw) = &state.test_gateway else {
        return message(state, &visit, StatusCode::NOT_FOUND, "Not found", "There is no test gateway here.");
    };
    let Some(order_id) = gw.order_of_session(session) else {
        return message(state, &visit, StatusCode::NOT_FOUND, "Not found", "This payment link is not valid.");
    };
    let (headers, body) = gw.notification(order_id, outcome, state.engine.now());
    match state.engine.checkout().notification("test", &headers, &body).await {
        Ok(Applied::Changed(order)) => {
            let how = if outcome == PaymentOutcome::Paid { "done" } else { "declined" };
            crate::web::see_other(&format!("/orders/{}?payment={how}", order.id))
        }
        Ok(Applied::Ignored) => {
            message(state, &visit, StatusCode::CONFLICT, "Nothing to do", "This order is no longer awaiting payment.")
        }
        Err(e) => crate::web::error_page(state, &visit, e),
    }
}

/// `POST /checkout/test/{session}/pay`: pays, then shows the order.
#[handler]
pub async fn pay(req: &Request, Path(session): Path<String>, Data(state): Data<&Arc<AppState>>) -> Response {
    act(state, req, &session, PaymentOutcome::Paid).await
}

/// `POST /checkout/test/{session}/decline`: declines, then shows the order.
#[handler]
pub async fn decline(req: &Request, Path(session): Path<String>, Data(state): Data<&Arc<AppState>>) -> Response {
    act(state, req, &session, PaymentOutcome::Declined).await
}
