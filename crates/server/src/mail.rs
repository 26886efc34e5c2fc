//! E-mail notifications: the templates in `crates/server/templates`, sent
//! through SMTP with lettre, or only logged when no SMTP server is set.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType},
};
use proofsheet_core::{
    BlobStore, Error, LinkSigner, MetadataStore, Notification, Notifier, PageRequest, Photo, PhotoStatus, Result,
};

/// Text and HTML of one template.
struct Template {
    subject: &'static str,
    text: &'static str,
    html: &'static str,
}

/// Where a template shows the album's cover, if the mail has one.
const COVER_MARK: &str = "<!--cover-->";

const ALBUM_SHARED: Template = Template {
    subject: "{{photographer}} shared \"{{album}}\" with you",
    text: include_str!("../templates/album_shared.txt"),
    html: include_str!("../templates/album_shared.html"),
};
const ALBUM_EXPIRING: Template = Template {
    subject: "\"{{album}}\" closes soon",
    text: include_str!("../templates/album_expiring.txt"),
    html: include_str!("../templates/album_expiring.html"),
};
const DOWNLOAD_READY: Template = Template {
    subject: "Your photos from \"{{album}}\" are ready",
    text: include_str!("../templates/download_ready.txt"),
    html: include_str!("../templates/download_ready.html"),
};
const ORDER_PAID: Template = Template {
    subject: "New sale: {{count}} photo(s) from \"{{album}}\"",
    text: include_str!("../templates/order_paid.txt"),
    html: include_str!("../templates/order_paid.html"),
};

const WEBHOOK_DISABLED: Template = Template {
    subject: "Your webhook endpoint was turned off",
    text: include_str!("../templates/webhook_disabled.txt"),
    html: include_str!("../templates/webhook_disabled.html"),
};

const VERIFY_EMAIL: Template = Template {
    subject: "Confirm your e-mail address",
    text: include_str!("../templates/verify_email.txt"),
    html: include_str!("../templates/verify_email.html"),
};
const SIGN_IN_LINK: Template = Template {
    subject: "Your Proofsheet sign-in link",
    text: include_str!("../templates/sign_in_link.txt"),
    html: include_str!("../templates/sign_in_link.html"),
};
const ACCOUNT_EXISTS: Template = Template {
    subject: "You already have a Proofsheet account",
    text: include_str!("../templates/account_exists.txt"),
    html: include_str!("../templates/account_exists.html"),
};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn render(t: &str, vars: &[(&str, String)], html: bool) -> String {
    let mut out = t.to_owned();
    for (k, v) in vars {
        let v = if html { escape(v) } else { v.clone() };
        out = out.replace(&format!("{{{{{k}}}}}"), &v);
    }
    out
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// The sender's display name (a photographer's studio), if not the
    /// deployment's `mail.from` name.
    pub from_name: Option<String>,
    /// Where replies go (the photographer, for mail about their album).
    pub reply_to: Option<String>,
    /// The album's cover thumbnail (JPEG), shown inline in the HTML part
    /// of the invitation as `cid:cover`.
    pub cover: Option<Bytes>,
}

/// Renders notifications and sends them.
pub struct MailNotifier {
    meta: Arc<dyn MetadataStore>,
    links: LinkSigner,
    public_url: String,
    from: Mailbox,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    /// Where the photos' thumbnails are, for the invitation's cover.
    images: Option<Arc<dyn BlobStore>>,
}

impl MailNotifier {
    /// `smtp_url`: `smtp://host:25` (plain), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465`; `None` only logs.
    pub fn new(
        meta: Arc<dyn MetadataStore>,
        links: LinkSigner,
        public_url: String,
        from: &str,
        smtp_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        let from: Mailbox = from.parse().map_err(|e| anyhow::anyhow!("mail.from {from:?}: {e}"))?;
        let smtp = smtp_url
            .map(|url| AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map(|b| b.build()))
            .transpose()
            .map_err(|e| anyhow::anyhow!("mail.smtp_url: {e}"))?;
        Ok(MailNotifier { meta, links, public_url, from, smtp, images: None })
    }

    /// Reads the photos' thumbnails from `blobs`, so the invitation shows
    /// the album's cover.
    pub fn with_images(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.images = Some(blobs);
        self
    }

    /// The album's cover thumbnail: the owner's chosen cover, else its
    /// first ready photo; none when it has no ready photo or the thumbnail
    /// cannot be read (the mail goes without it).
    async fn cover_of(&self, album: &proofsheet_core::Album) -> Option<Bytes> {
        let blobs = self.images.as_ref()?;
        let chosen = match album.cover_photo_id {
            Some(id) => self.meta.photo(id).await.ok().flatten(),
            None => None,
        };
        let photo = match chosen.filter(|p| p.status == PhotoStatus::Ready && p.album_id == album.id) {
            Some(p) => p,
            None => {
                let first = self.meta.list_photos(album.id, PageRequest::new(Some(20), None).ok()?).await.ok()?;
                first.items.into_iter().find(|p| p.status == PhotoStatus::Ready)?
            }
        };
        match blobs.get(&Photo::thumbnail_key(&album.storage_prefix, photo.id)).await {
            Ok(jpeg) => Some(jpeg),
            Err(e) => {
                tracing::warn!(error = %e, photo_id = %photo.id, "the invitation goes without its cover");
                None
            }
        }
    }

    /// Looks up what a notification needs and renders it.
    pub async fn render(&self, n: &Notification) -> Result<Option<RenderedMail>> {
        let base = &self.public_url;
        // Mail about a photographer's album goes out under their studio's
        // name, with replies to them: the studio and its owner, read once.
        let mut sender: Option<(proofsheet_core::Studio, proofsheet_core::UserId)> = None;
        let mut cover: Option<(Bytes, String)> = None;
        let (to, template, vars) = match n {
            Notification::AlbumShared { album_id, to } | Notification::AlbumExpiring { album_id, to } => {
                let Some(album) = self.meta.album(*album_id).await? else { return Ok(None) };
                let Some(studio) = proofsheet_core::studio_of(&*self.meta, album.owner_id).await? else {
                    return Ok(None);
                };
                let closing = album
                    .expires_at
                    .map(|t| format!("{} ({})", studio.last_open_day(t).format("%-d %B %Y"), studio.time_zone));
                let expiry = closing.as_ref().map(|d| format!(" The album is open until the end of {d}."));
                let greeting = album.client_name.as_deref().and_then(|n| n.split(' ').next()).unwrap_or("");
                // The link signs the client in: one click from the mail to
                // the gallery (valid INVITATION_DAYS, for this address).
                let expires = chrono::Utc::now() + chrono::Duration::days(proofsheet_core::INVITATION_DAYS);
                let album_url = match &album.client_email {
                    Some(client) if client == to => {
                        crate::urls::invitation(base, &self.links.invitation_token(album.id, client, expires))
                    }
                    _ => crate::urls::album(base, album.id),
                };
                let vars = vec![
                    ("photographer", studio.name.clone()),
                    ("greeting", if greeting.is_empty() { String::new() } else { format!(" {greeting}") }),
                    ("album", album.name.clone()),
                    ("album_url", album_url),
                    ("price", album.price_per_photo.human()),
                    ("expiry", expiry.clone().unwrap_or_default()),
                    ("expires_at", closing.unwrap_or_default()),
                ];
                if matches!(n, Notification::AlbumShared { .. }) {
                    cover = self.cover_of(&album).await.map(|jpeg| (jpeg, album.name.clone()));
                }
                sender = Some((studio, album.owner_id));
                let t = if matches!(n, Notification::AlbumShared { .. }) { &ALBUM_SHARED } else { &ALBUM_EXPIRING };
                (to.to_string(), t, vars)
            }
            Notification::DownloadReady { order_id } => {
                let Some(order) = self.meta.order(*order_id).await? else { return Ok(None) };
                let Some(link) = self.meta.link_for_order(order.id).await?.filter(|l| !l.revoked) else {
                    return Ok(None);
                };
                let Some(buyer) = self.meta.user(order.buyer_id).await? else { return Ok(None) };
                let album = self.meta.album(order.album_id).await?.map(|a| a.name).unwrap_or_default();
                let vars = vec![
                    ("name", buyer.name.clone()),
                    ("count", order.items.len().to_string()),
                    ("album", album),
                    ("order_url", crate::urls::order(base, order.id)),
                    ("expires_at", link.expires_at.format("%Y-%m-%d %H:%M UTC").to_string()),
                ];
                let studio = proofsheet_core::studio_of(&*self.meta, order.seller_id).await?;
                sender = studio.map(|s| (s, order.seller_id));
                (buyer.email.to_string(), &DOWNLOAD_READY, vars)
            }
            Notification::OrderPaid { order_id } => {
                let Some(order) = self.meta.order(*order_id).await? else { return Ok(None) };
                let Some(seller) = self.meta.user(order.seller_id).await? else { return Ok(None) };
                let buyer = self.meta.user(order.buyer_id).await?.map(|u| format!("{} {}", u.name, u.surname));
                let album = self.meta.album(order.album_id).await?.map(|a| a.name).unwrap_or_default();
                let vars = vec![
                    ("name", seller.name.clone()),
                    ("buyer", buyer.unwrap_or_else(|| "A client".into())),
                    ("total", order.total.human()),
                    ("count", order.items.len().to_string()),
                    ("album", album),
                    ("order_id", order.id.to_string()),
                ];
                (seller.email.to_string(), &ORDER_PAID, vars)
            }
            Notification::VerifyEmail { user_id, next } => {
                let Some(user) = self.meta.user(*user_id).await?.filter(|u| !u.email_verified) else {
                    return Ok(None); // gone, or verified meanwhile
                };
                let days = proofsheet_core::EMAIL_TOKEN_TTL_DAYS;
                let token = self.links.email_token(&user, chrono::Utc::now() + chrono::Duration::days(days));
                let vars = vec![
                    ("name", user.name.clone()),
                    ("verify_url", crate::urls::verify_email(base, &token, next.as_deref())),
                    ("days", days.to_string()),
                ];
                (user.email.to_string(), &VERIFY_EMAIL, vars)
            }
            Notification::WebhookDisabled { webhook_id } => {
                let Some(w) = self.meta.webhook(*webhook_id).await?.filter(|w| !w.enabled) else {
                    return Ok(None); // deleted, or turned on again meanwhile
                };
                let Some(owner) = self.meta.user(w.owner_id).await? else { return Ok(None) };
                let vars = vec![
                    ("name", owner.name.clone()),
                    ("url", w.url.clone()),
                    ("reason", w.disabled_reason.clone().unwrap_or_else(|| "it kept failing".into())),
                    ("webhook_id", w.id.to_string()),
                ];
                (owner.email.to_string(), &WEBHOOK_DISABLED, vars)
            }
            Notification::AccountExists { to } => (to.to_string(), &ACCOUNT_EXISTS, vec![]),
            Notification::SignInLink { link_id, to, next } => {
                let token = self.links.sign_in_token(*link_id);
                let vars = vec![
                    ("sign_in_url", crate::urls::sign_in_link(base, &token, next.as_deref())),
                    ("minutes", proofsheet_core::SIGN_IN_LINK_MINUTES.to_string()),
                ];
                (to.to_string(), &SIGN_IN_LINK, vars)
            }
        };
        let (from_name, reply_to) = match sender {
            Some((s, owner)) => match s.contact_email {
                Some(contact) => (Some(s.name), Some(contact.to_string())),
                None => match self.meta.user(owner).await? {
                    Some(u) => (Some(s.name), Some(u.email.to_string())),
                    None => (None, None),
                },
            },
            None => (None, None),
        };
        // The cover goes where the template marks it, as an inline part.
        let mut html = render(template.html, &vars, true);
        let image = cover.map(|(jpeg, alt)| {
            let img = format!(
                "<p style=\"margin:1em 0\"><img src=\"cid:cover\" alt=\"{}\" width=\"400\" \
                 style=\"max-width:100%;height:auto;border-radius:6px;display:block\"></p>",
                escape(&alt)
            );
            html = html.replace(COVER_MARK, &img);
            jpeg
        });
        Ok(Some(RenderedMail {
            from_name,
            reply_to,
            to,
            subject: render(template.subject, &vars, false),
            text: render(template.text, &vars, false),
            html: html.replace(COVER_MARK, ""),
            cover: image,
        }))
    }
}

#[async_trait]
impl Notifier for MailNotifier {
    async fn notify(&self, n: &Notification) -> Result<()> {
        let Some(msg) = self.render(n).await? else {
            return Ok(()); // its subject is gone: nothing to say
        };
        let Some(smtp) = &self.smtp else {
            tracing::info!(subject = %msg.subject, "e-mail not sent: mail.smtp_url is not set");
            return Ok(());
        };
        let to: Mailbox = msg.to.parse().map_err(|e| Error::invalid("invalid_email", format!("recipient: {e}")))?;
        let from = match &msg.from_name {
            Some(name) => Mailbox::new(Some(name.clone()), self.from.email.clone()),
            None => self.from.clone(),
        };
        let mut builder = lettre::Message::builder().from(from);
        if let Some(reply) = msg.reply_to.as_deref().and_then(|r| r.parse::<Mailbox>().ok()) {
            builder = builder.reply_to(reply);
        }
        // Plain text, or HTML with the cover inline beside it
        // (multipart/related), as alternatives.
        let body = match &msg.cover {
            None => MultiPart::alternative_plain_html(msg.text.clone(), msg.html.clone()),
            Some(jpeg) => MultiPart::alternative().singlepart(SinglePart::plain(msg.text.clone())).multipart(
                MultiPart::related().singlepart(SinglePart::html(msg.html.clone())).singlepart(
                    Attachment::new_inline("cover".into())
                        .body(jpeg.to_vec(), ContentType::parse("image/jpeg").expect("a valid media type")),
                ),
            ),
        };
        let email = builder
            .to(to)
            .subject(&msg.subject)
            .multipart(body)
            .map_err(|e| Error::backend_permanent("building an e-mail", e))?;
        smtp.send(email).await.map_err(|e| Error::backend("sending an e-mail", e))?;
        tracing::info!(subject = %msg.subject, "e-mail sent");
        Ok(())
    }
}
