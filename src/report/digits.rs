//! How counts are written: one style across phystok's tables, summaries and messages.

/// `n` with its digits grouped in threes by commas: `4848100` → `4,848,100`, `512` → `512`.
///
/// The one style for counts (parameters, frames, steps, windows) in every table and summary
/// phystok prints.
///
/// # Example
/// ```
/// use phystok::report::group_digits;
///
/// assert_eq!(group_digits(4_848_100), "4,848,100");
/// assert_eq!(group_digits(999), "999");
/// ```
pub fn group_digits(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::group_digits;

    #[test]
    fn groups_in_threes_from_the_right() {
        let cases = [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1000, "1,000"),
            (12_345, "12,345"),
            (100_000, "100,000"),
            (4_848_100, "4,848,100"),
            (99_572_498, "99,572,498"),
        ];
        for (n, want) in cases {
            assert_eq!(group_digits(n), want, "{n}");
        }
        assert_eq!(
            group_digits(usize::MAX).replace(',', ""),
            usize::MAX.to_string()
        );
    }
}
