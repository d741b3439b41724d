//! [`ParameterSummary`]: the tokeniser's parameter count per component, as an HTML table in
//! evcxr and as text elsewhere.

/// One row of a [`ParameterSummary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// The `VarBuilder` prefix of the component (`encoder.head`).
    pub name: String,
    /// What the component is.
    pub kind: String,
    /// Its trainable parameters.
    pub n_parameters: usize,
}

impl Component {
    pub(crate) fn new(
        name: impl Into<String>,
        kind: impl Into<String>,
        n_parameters: usize,
    ) -> Self {
        Self {
            name: name.into(),
            kind: kind.into(),
            n_parameters,
        }
    }

    /// Whether the "mostly frozen" strategy trains it (heads and bottlenecks, Section 2.4).
    pub fn interfaces_pixels_or_latents(&self) -> bool {
        self.name.ends_with(".head") || self.name.ends_with(".bottleneck")
    }
}

/// Parameter counts of every tokeniser component, in data-flow order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterSummary {
    /// The components.
    pub components: Vec<Component>,
}

impl ParameterSummary {
    /// All trainable parameters.
    pub fn total(&self) -> usize {
        self.components.iter().map(|c| c.n_parameters).sum()
    }

    /// Parameters of the heads and bottlenecks (what "mostly frozen" leaves trainable).
    pub fn heads_and_bottlenecks(&self) -> usize {
        self.components
            .iter()
            .filter(|c| c.interfaces_pixels_or_latents())
            .map(|c| c.n_parameters)
            .sum()
    }

    /// An HTML table.
    pub fn to_html(&self) -> String {
        let mut s = String::from(
            "<table><thead><tr><th style=\"text-align:left\">component</th><th style=\"text-align:left\">kind</th><th style=\"text-align:right\">parameters</th></tr></thead><tbody>",
        );
        for c in &self.components {
            s += &format!(
                "<tr><td style=\"text-align:left\"><code>{}</code></td><td style=\"text-align:left\">{}</td><td style=\"text-align:right\">{}</td></tr>",
                c.name,
                c.kind,
                group(c.n_parameters)
            );
        }
        s += &format!(
            "<tr><td colspan=\"2\" style=\"text-align:left\"><b>total</b> (heads and bottlenecks: {})</td><td style=\"text-align:right\"><b>{}</b></td></tr></tbody></table>",
            group(self.heads_and_bottlenecks()),
            group(self.total())
        );
        s
    }

    /// Prints the table for evcxr notebooks.
    pub fn evcxr_display(&self) {
        crate::report::evcxr_html(&self.to_html());
    }
}

/// `4848100` → `4,848,100`.
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

impl std::fmt::Display for ParameterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = self
            .components
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(0);
        for c in &self.components {
            writeln!(
                f,
                "{:<width$}  {:>11}  {}",
                c.name,
                group(c.n_parameters),
                c.kind
            )?;
        }
        write!(
            f,
            "{:<width$}  {:>11}  (heads and bottlenecks: {})",
            "total",
            group(self.total()),
            group(self.heads_and_bottlenecks())
        )
    }
}
