//! IAM's wildcards: `*` matches any run of characters (none included), `?` any one character.
//! Nothing escapes them.

/// Whether `text` matches `pattern`, comparing characters exactly.
pub fn matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    matches_chars(&pattern, &text)
}

/// Whether `text` matches `pattern`, ignoring case.
pub fn matches_ignoring_case(pattern: &str, text: &str) -> bool {
    matches(&pattern.to_lowercase(), &text.to_lowercase())
}

/// Iterative matching with one backtrack point, the last `*` seen: time is at most the product
/// of the lengths, and nothing recurses.
fn matches_chars(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    // After the last `*`: where the pattern resumes, and the text position it was tried from.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p + 1, t));
                p += 1;
            }
            Some('?') => {
                p += 1;
                t += 1;
            }
            Some(c) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((resume, tried)) => {
                    p = resume;
                    t = tried + 1;
                    star = Some((resume, tried + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_iam_documents() {
        let cases: &[(&str, &str, bool)] = &[
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("*", "anything", true),
            ("?", "", false),
            ("?", "é", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("sns:*", "sns:Publish", true),
            ("sns:Pub*", "sns:Publish", true),
            ("sns:Pub*", "sns:Subscribe", false),
            ("*:Publish", "sns:Publish", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
            ("**", "x", true),
            ("arn:aws:sns:*:111111111111:*", "arn:aws:sns:us-east-1:111111111111:t", true),
            ("arn:aws:sns:*:111111111111:*", "arn:aws:sns:us-east-1:222222222222:t", false),
            ("Topic", "topic", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(matches(pattern, text), *expected, "{pattern} on {text}");
        }
        assert!(matches_ignoring_case("SNS:publish", "sns:Publish"));
        assert!(matches_ignoring_case("sns:PUB*", "sns:Publish"));
    }
}
