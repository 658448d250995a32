//! Text analysis shared by indexing and querying: the same analyzers turn
//! product text into terms and user text into query terms, so a word is
//! found exactly when it would be indexed the same way.

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer, TokenStream, WhitespaceTokenizer,
};

/// Stemmed English words without stop words: title, description, brand, tags.
pub const ENGLISH: &str = "bazaar_english";
/// Whole lowercase words, unstemmed: what typo tolerance compares against.
pub const WORDS: &str = "bazaar_words";
/// Pre-split terms (title word prefixes), taken as they are.
pub const VERBATIM: &str = "bazaar_verbatim";

/// Tokens longer than this are dropped (no real word is).
const LONGEST_TOKEN: usize = 40;
/// Title word prefixes for suggestions: from 2 to 15 characters.
pub const PREFIX_MIN: usize = 2;
pub const PREFIX_MAX: usize = 15;

pub fn english() -> TextAnalyzer {
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(LONGEST_TOKEN))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter);
    match StopWordFilter::new(Language::English) {
        Some(stop) => builder
            .filter(stop)
            .filter(Stemmer::new(Language::English))
            .build(),
        None => builder.filter(Stemmer::new(Language::English)).build(),
    }
}

pub fn words() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(LONGEST_TOKEN))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

pub fn verbatim() -> TextAnalyzer {
    TextAnalyzer::builder(WhitespaceTokenizer::default()).build()
}

/// A token of some text: its term and where it stands in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub term: String,
    pub from: usize,
    pub to: usize,
}

pub fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        let t = stream.token();
        out.push(Token {
            term: t.text.clone(),
            from: t.offset_from,
            to: t.offset_to,
        });
    }
    out
}

/// The stemmed term of one word, `None` for a stop word.
pub fn stem(english: &mut TextAnalyzer, word: &str) -> Option<String> {
    tokens(english, word).into_iter().next().map(|t| t.term)
}

/// Every 2-to-15-character prefix of every title word, space-separated,
/// each once: what a suggestion's typed words are looked up in.
pub fn title_prefixes(words: &mut TextAnalyzer, title: &str) -> String {
    let mut seen = std::collections::BTreeSet::new();
    for token in tokens(words, title) {
        let chars: Vec<char> = token.term.chars().collect();
        for n in PREFIX_MIN..=chars.len().min(PREFIX_MAX) {
            seen.insert(chars[..n].iter().collect::<String>());
        }
    }
    seen.into_iter().collect::<Vec<_>>().join(" ")
}

/// The words of (sanitised) HTML without its markup, entities decoded as
/// the catalog decodes them for its own search text.
pub fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `a` becomes `b` with at most one insertion, deletion,
/// substitution or swap of neighbours (the fuzzy queries' distance).
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a == b {
        return true;
    }
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if la == lb {
        // One substitution, or one swap of neighbours.
        a[prefix + 1..] == b[prefix + 1..]
            || (prefix + 1 < la
                && a[prefix] == b[prefix + 1]
                && a[prefix + 1] == b[prefix]
                && a[prefix + 2..] == b[prefix + 2..])
    } else {
        let (long, short) = if la > lb { (&a, &b) } else { (&b, &a) };
        long[prefix + 1..] == short[prefix..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_stems_and_drops_stop_words() {
        let mut en = english();
        let terms: Vec<String> = tokens(&mut en, "The Running Shoes of Zoë")
            .into_iter()
            .map(|t| t.term)
            .collect();
        assert_eq!(terms, ["run", "shoe", "zoe"]);
        assert_eq!(stem(&mut en, "the"), None);
    }

    #[test]
    fn prefixes_cover_every_title_word() {
        let p = title_prefixes(&mut words(), "Coffee Grinder");
        let p: Vec<&str> = p.split(' ').collect();
        assert!(p.contains(&"gr") && p.contains(&"grind") && p.contains(&"coffee"));
        assert!(!p.contains(&"c"));
    }

    #[test]
    fn one_edit_means_one_edit() {
        assert!(within_one_edit("leather", "lether"));
        assert!(within_one_edit("leather", "laether"));
        assert!(within_one_edit("leather", "leathers"));
        assert!(within_one_edit("leather", "leaxher"));
        assert!(!within_one_edit("leather", "laetehr"));
        assert!(!within_one_edit("leather", "lthr"));
    }

    #[test]
    fn markup_goes_entities_come_back() {
        assert_eq!(
            plain_text("<p>Tea &amp; <b>cakes</b></p><p>&lt;3</p>"),
            "Tea & cakes <3"
        );
    }
}
