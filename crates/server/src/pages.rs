//! The test gateway's payment page: what a buyer sees instead of a real
//! provider's checkout. Pay and Decline post back here; each click becomes
//! a signed notification that goes through the same verification and order
//! state machine as a real webhook.

use std::sync::Arc;

use poem::{
    Response, handler,
    http::StatusCode,
    web::{Data, Html, Path},
};
use proofsheet_core::{Applied, OrderStatus, PaymentOutcome};

use crate::state::AppState;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         button{{font-size:1.1rem;padding:.6rem 1.4rem;margin-right:.6rem}}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    );
    Response::builder().status(status).content_type("text/html; charset=utf-8").body(Html(html).0)
}

/// `GET /checkout/test/{session}`: the payment page.
#[handler]
pub async fn checkout_page(Path(session): Path<String>, Data(state): Data<&Arc<AppState>>) -> Response {
    let Some(gw) = &state.test_gateway else {
        return page(StatusCode::NOT_FOUND, "Not found", "");
    };
    let Some(order_id) = gw.order_of_session(&session) else {
        return page(StatusCode::NOT_FOUND, "Not found", "<p>This payment link is not valid.</p>");
    };
    let meta = &state.engine.backends().metadata;
    let order = match meta.order(order_id).await {
        Ok(Some(o)) => o,
        Ok(None) => return page(StatusCode::NOT_FOUND, "Not found", "<p>No such order.</p>"),
        Err(e) => {
            tracing::error!(error = %e, "loading an order for the payment page");
            return page(StatusCode::INTERNAL_SERVER_ERROR, "Error", "<p>Please try again.</p>");
        }
    };
    if order.status != OrderStatus::Pending {
        let msg = format!("<p>This order is <strong>{}</strong>.</p>", order.status.as_str());
        return page(StatusCode::OK, "Proofsheet test payment", &msg);
    }
    let s = escape(&session);
    let body = format!(
        "<p>Test payment: no money moves.</p><p>Order <code>{id}</code>: {n} photo(s), \
         total <strong>{amount} {cur}</strong> (minor units).</p>\
         <form method=\"post\" action=\"/checkout/test/{s}/pay\" style=\"display:inline\"><button id=\"pay\">Pay</button></form>\
         <form method=\"post\" action=\"/checkout/test/{s}/decline\" style=\"display:inline\"><button id=\"decline\">Decline</button></form>",
        id = order.id,
        n = order.items.len(),
        amount = order.total.amount,
        cur = order.total.currency,
    );
    page(StatusCode::OK, "Proofsheet test payment", &body)
}

async fn act(state: &AppState, session: &str, outcome: PaymentOutcome) -> Response {
    let Some(gw) = &state.test_gateway else {
        return page(StatusCode::NOT_FOUND, "Not found", "");
    };
    let Some(order_id) = gw.order_of_session(session) else {
        return page(StatusCode::NOT_FOUND, "Not found", "<p>This payment link is not valid.</p>");
    };
    let (headers, body) = gw.notification(order_id, outcome, state.engine.backends().clock.now());
    match state.engine.checkout().notification("test", &headers, &body).await {
        Ok(Applied::Changed(order)) => {
            let word = if outcome == PaymentOutcome::Paid { "Payment received" } else { "Payment declined" };
            page(
                StatusCode::OK,
                word,
                &format!("<p>Order <code>{}</code> is now <strong>{}</strong>.</p>", order.id, order.status.as_str()),
            )
        }
        Ok(Applied::Ignored) => {
            page(StatusCode::CONFLICT, "Nothing to do", "<p>This order is no longer awaiting payment.</p>")
        }
        Err(e) => {
            tracing::error!(error = %e, "test payment failed");
            page(StatusCode::INTERNAL_SERVER_ERROR, "Error", "<p>The payment could not be recorded; try again.</p>")
        }
    }
}

/// `POST /checkout/test/{session}/pay`
#[handler]
pub async fn pay(Path(session): Path<String>, Data(state): Data<&Arc<AppState>>) -> Response {
    act(state, &session, PaymentOutcome::Paid).await
}

/// `POST /checkout/test/{session}/decline`
#[handler]
pub async fn decline(Path(session): Path<String>, Data(state): Data<&Arc<AppState>>) -> Response {
    act(state, &session, PaymentOutcome::Declined).await
}

/// `GET /orders/{id}/paid` and `/cancelled`: where a gateway sends the buyer back.
#[handler]
pub async fn returned(Path((id, how)): Path<(String, String)>) -> Response {
    let text =
        if how == "paid" { "Thank you: your download is being prepared." } else { "The payment was not completed." };
    page(StatusCode::OK, "Proofsheet", &format!("<p>{}</p><p>Order <code>{}</code>.</p>", text, escape(&id)))
}

/// The verification link's token, from the query or the posted form.
#[derive(serde::Deserialize)]
pub struct TokenParam {
    token: Option<String>,
}

/// `GET /verify-email?token=`: the page the mailed link opens. It only
/// shows a button: mail scanners that follow links must not verify anyone
/// by fetching it.
#[handler]
pub async fn verify_email_page(poem::web::Query(q): poem::web::Query<TokenParam>) -> Response {
    let Some(token) = q.token.filter(|t| !t.is_empty() && t.len() <= 200) else {
        return page(StatusCode::BAD_REQUEST, "Confirm your e-mail address", "<p>This link is incomplete.</p>");
    };
    let body = format!(
        "<p>Press the button to confirm that this e-mail address is yours.</p>\
         <form method=\"post\" action=\"/verify-email\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
         <button>Confirm my e-mail address</button></form>",
        escape(&token)
    );
    page(StatusCode::OK, "Confirm your e-mail address", &body)
}

/// `POST /verify-email` (form): confirms the token.
#[handler]
pub async fn verify_email(
    poem::web::Form(f): poem::web::Form<TokenParam>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let token = f.token.unwrap_or_default();
    match state.engine.email_verification().confirm(&token).await {
        Ok(user) => page(
            StatusCode::OK,
            "E-mail address confirmed",
            &format!("<p>Thank you: <strong>{}</strong> is confirmed.</p>", escape(user.email.as_str())),
        ),
        Err(e) if e.is_not_found() => page(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "<p>This link is not valid or has expired. Sign in and ask for a new one.</p>",
        ),
        Err(e) => {
            tracing::error!(error = %e, "confirming an e-mail address");
            page(StatusCode::INTERNAL_SERVER_ERROR, "Error", "<p>Please try again.</p>")
        }
    }
}
