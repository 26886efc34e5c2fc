//! The public URLs the server hands out, each built in one place from
//! `server.public_url`, so the API, the e-mails and (next) the web app
//! always agree.

/// `GET /api/v1/downloads/{token}`: a buyer's zip.
pub fn download(public_url: &str, token: &str) -> String {
    format!("{public_url}/api/v1/downloads/{token}")
}

/// `GET /api/v1/albums/{id}`: an album, as the API shows it.
pub fn album(public_url: &str, album: proofsheet_core::AlbumId) -> String {
    format!("{public_url}/api/v1/albums/{album}")
}

/// `/verify-email?token=`: the page a verification e-mail links to.
pub fn verify_email(public_url: &str, token: &str) -> String {
    format!("{public_url}/verify-email?token={token}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_built_on_the_public_url() {
        let base = "https://photos.example";
        assert_eq!(super::download(base, "t0k"), "https://photos.example/api/v1/downloads/t0k");
        assert_eq!(super::verify_email(base, "abc"), "https://photos.example/verify-email?token=abc");
        let id = proofsheet_core::AlbumId::new();
        assert_eq!(super::album(base, id), format!("https://photos.example/api/v1/albums/{id}"));
    }
}
