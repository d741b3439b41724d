//! Notebook output: the evcxr display protocol and HTML text helpers shared by every result
//! type that renders in a notebook, and [`Table`] for tables a notebook builds itself.

mod html;
mod sparkline;
mod table;

pub use html::{evcxr_content, evcxr_html, group_digits, html_escape};
pub use sparkline::{GLYPHS, SparkScale, Sparkline, downsample, sparkline};
pub use table::Table;
