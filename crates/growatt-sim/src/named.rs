//! Settings chosen by a word (`--mode login-page`, `--throttle-model cooldown`): one parser, so
//! that every choice reads its word and words its refusal alike.

/// The value whose name is `word` (trimmed, in any case), or a refusal naming `what` was asked
/// for and every word that is accepted.
pub(crate) fn parse_named<T: Copy>(
    word: &str,
    what: &str,
    names: &[(&str, T)],
) -> Result<T, String> {
    let word = word.trim().to_ascii_lowercase();
    if let Some((_, value)) = names.iter().find(|(name, _)| *name == word) {
        return Ok(*value);
    }
    let mut words: Vec<&str> = names.iter().map(|(name, _)| *name).collect();
    let last = words.pop().unwrap_or_default();
    Err(format!(
        "unknown {what} '{word}'; use {} or {last}",
        words.join(", ")
    ))
}

/// `FromStr` for a choice by the words in `names`, refused in words naming `what` it is.
macro_rules! parse_by_name {
    ($ty:ty, $what:literal, [$(($name:literal, $value:expr)),+ $(,)?]) => {
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::named::parse_named(s, $what, &[$(($name, $value)),+])
            }
        }
    };
}
pub(crate) use parse_by_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_in_any_case_and_a_refusal_lists_them() {
        let names = [("one", 1), ("two", 2), ("three", 3)];
        assert_eq!(parse_named(" Two ", "number", &names), Ok(2));
        assert_eq!(
            parse_named("Four", "number", &names),
            Err("unknown number 'four'; use one, two or three".to_string())
        );
    }
}
