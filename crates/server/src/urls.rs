//! The public URLs the server hands out, each built in one place from
//! `server.public_url`, so the API, the e-mails and (next) the web app
//! always agree.

/// `GET /api/v1/downloads/{token}`: a buyer's zip.
pub fn download(public_url: &str, token: &str) -> String {
    format!("{public_url}/api/v1/downloads/{token}")
}

/// `GET /api/v1/downloads/{token}/{photo_id}`: one photo of a buyer's order.
pub fn download_file(public_url: &str, token: &str, photo: proofsheet_core::PhotoId) -> String {
    format!("{public_url}/api/v1/downloads/{token}/{photo}")
}

/// `Content-Disposition` for a download saved as `name`: an ASCII
/// `filename` for old clients and the exact UTF-8 name in `filename*`
/// (RFC 6266).
pub fn attachment(name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        encode(name).replace('+', "%20").replace('*', "%2A")
    )
}

/// `/invitations/{token}`: an invitation e-mail's link, which opens the
/// album signed in as its client.
pub fn invitation(public_url: &str, token: &str) -> String {
    format!("{public_url}/invitations/{token}")
}

/// `/albums/{id}`: an album's page in the web app (the studio for its
/// owner, the gallery for everyone else).
pub fn album(public_url: &str, album: proofsheet_core::AlbumId) -> String {
    format!("{public_url}/albums/{album}")
}

/// `/signin/link?token=`: the page a sign-in e-mail links to; `next` is
/// where to land after (a path of this server).
pub fn sign_in_link(public_url: &str, token: &str, next: Option<&str>) -> String {
    match next {
        Some(next) => format!("{public_url}/signin/link?token={token}&next={}", encode(next)),
        None => format!("{public_url}/signin/link?token={token}"),
    }
}

/// `/orders/{id}`: an order's page, where a gateway sends the buyer back.
pub fn order(public_url: &str, order: proofsheet_core::OrderId) -> String {
    format!("{public_url}/orders/{order}")
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `/verify-email?token=`: the page a verification e-mail links to; `next`
/// is where to land after (a path of this server).
pub fn verify_email(public_url: &str, token: &str, next: Option<&str>) -> String {
    match next {
        Some(next) => format!("{public_url}/verify-email?token={token}&next={}", encode(next)),
        None => format!("{public_url}/verify-email?token={token}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_built_on_the_public_url() {
        let base = "https://photos.example";
        assert_eq!(super::download(base, "t0k"), "https://photos.example/api/v1/downloads/t0k");
        assert_eq!(super::verify_email(base, "abc", None), "https://photos.example/verify-email?token=abc");
        assert_eq!(
            super::verify_email(base, "abc", Some("/albums/x")),
            "https://photos.example/verify-email?token=abc&next=%2Falbums%2Fx"
        );
        let id = proofsheet_core::AlbumId::new();
        assert_eq!(super::album(base, id), format!("https://photos.example/albums/{id}"));
        assert_eq!(
            super::sign_in_link(base, "t", Some("/albums/x?a=1")),
            "https://photos.example/signin/link?token=t&next=%2Falbums%2Fx%3Fa%3D1"
        );
    }
}
