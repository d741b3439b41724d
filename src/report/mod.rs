//! Notebook output: the evcxr display protocol and HTML text helpers shared by every result
//! type that renders in a notebook, [`Table`] (every table phystok shows, and those a
//! notebook builds itself) and [`group_digits`] (the one style for counts).

mod digits;
mod html;
mod sparkline;
mod table;

pub use digits::group_digits;
pub use html::{evcxr_content, evcxr_html, html_escape};
pub use sparkline::{GLYPHS, SparkScale, Sparkline, downsample, sparkline};
pub use table::{Align, Table};
