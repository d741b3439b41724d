//! The evcxr display protocol and HTML text helpers.

/// Prints one evcxr display block of `mime` type (`text/html`, `image/svg+xml`, …); outside
/// a notebook it is plain text on standard output.
pub fn evcxr_content(mime: &str, body: &str) {
    println!("EVCXR_BEGIN_CONTENT {mime}\n{body}\nEVCXR_END_CONTENT");
}

/// Prints an HTML block for evcxr.
pub fn evcxr_html(html: &str) {
    evcxr_content("text/html", html);
}

/// Escapes `&`, `<`, `>` for HTML text.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(super::html_escape("a<b>&c"), "a&lt;b&gt;&amp;c");
    }
}
