//! Segment labels that always fit the host's limit ([`MAX_LABEL_CHARS`]): what every
//! strategy's `label` needs besides its own wording.

pub use crate::abi::MAX_LABEL_CHARS;

/// `s` with its first character in upper case.
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `label` cut to [`MAX_LABEL_CHARS`] characters, the last one an ellipsis, when it is longer.
pub fn cut(label: String) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        return label;
    }
    let mut cut: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// "Head, qualifier, qualifier", capitalised, within [`MAX_LABEL_CHARS`]: qualifiers are
/// dropped from the end until it fits, then the head is cut. `fallback` when nothing is
/// left to say.
pub fn compose(head: &str, mut qualifiers: Vec<String>, fallback: &str) -> String {
    let build = |q: &[String]| {
        let mut parts: Vec<&str> = Vec::new();
        if !head.is_empty() {
            parts.push(head);
        }
        parts.extend(q.iter().map(String::as_str));
        capitalise(&parts.join(", "))
    };
    let mut label = build(&qualifiers);
    while label.chars().count() > MAX_LABEL_CHARS && !qualifiers.is_empty() {
        qualifiers.pop();
        label = build(&qualifiers);
    }
    let label = cut(label);
    if label.trim().is_empty() {
        fallback.to_owned()
    } else {
        label
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_fit_the_host_limit() {
        assert_eq!(capitalise("young buyers"), "Young buyers");
        assert_eq!(capitalise(""), "");
        assert_eq!(
            compose("young", vec!["Urban".into(), "Single".into()], "Customers"),
            "Young, Urban, Single"
        );
        assert_eq!(compose("", Vec::new(), "Customers"), "Customers");
        let long = "x".repeat(200);
        let l = compose("young", vec!["Urban".into(), long.clone()], "Customers");
        assert_eq!(
            l, "Young, Urban",
            "the qualifier that does not fit goes first"
        );
        let l = compose(&long, Vec::new(), "Customers");
        assert_eq!(l.chars().count(), MAX_LABEL_CHARS);
        assert!(l.ends_with('…'));
        assert_eq!(cut("short".into()), "short");
    }
}
