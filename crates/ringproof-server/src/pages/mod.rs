//! Server-rendered HTML pages for people (not integrators): the front page, the
//! one-time link pages and the end-user demo.
//! Every page is self-contained (inline CSS, no external resource) and escapes what it
//! interpolates with [`escape`].

pub mod demo;
pub mod home;
pub mod link_click;
pub mod texts;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every page route (documented in `/openapi.json` as `text/html`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(home::router())
        .merge(demo::router())
        .merge(link_click::router())
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            super::escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
