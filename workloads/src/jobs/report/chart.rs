//! One chart's section of the report: title, SVG, a caption saying what it shows and
//! what it leaves out, and what goes under it.

use super::super::svg::esc;
use std::fmt::Write;

/// One chart's section.
pub(super) struct Chart {
    pub(super) title: &'static str,
    pub(super) svg: String,
    pub(super) caption: String,
    /// HTML under the caption (a list of what was left out, a table of the figures).
    pub(super) after: String,
}

impl Chart {
    pub(super) fn new(title: &'static str, svg: String, caption: String) -> Chart {
        Chart {
            title,
            svg,
            caption,
            after: String::new(),
        }
    }

    pub(super) fn with_after(mut self, html: String) -> Chart {
        self.after = html;
        self
    }

    pub(super) fn write(&self, html: &mut String) {
        let _ = write!(
            html,
            r#"<section><h2>{}</h2>{}<p class="caption">{}</p>{}</section>"#,
            esc(self.title),
            self.svg,
            esc(&self.caption),
            self.after
        );
    }
}
