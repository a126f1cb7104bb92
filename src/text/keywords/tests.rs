use std::path::Path;

use super::*;
use crate::text::TextLine;

fn list(src: &str) -> KeywordList {
    match KeywordList::parse(src.as_bytes(), Path::new("kw.txt")) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    }
}

fn parse_err(src: &[u8]) -> KeywordError {
    match KeywordList::parse(src, Path::new("kw.txt")) {
        Ok(l) => panic!("parsed: {l:?}"),
        Err(e) => e,
    }
}

/// The line and the kind of a line error.
fn line_err(src: &str) -> (usize, LineError) {
    match parse_err(src.as_bytes()) {
        KeywordError::Line { line, what, .. } => (line, what),
        other => panic!("not a line error: {other}"),
    }
}

/// The keywords found in `line`.
fn hits<'k>(l: &'k KeywordList, line: &str) -> Vec<&'k str> {
    l.find(line).into_iter().map(|f| f.keyword).collect()
}

fn text_line(t: &str, frame: Option<u32>) -> TextLine {
    TextLine {
        text: t.into(),
        confidence: None,
        bbox: None,
        frame,
    }
}

fn output(lines: &[&str]) -> TextOutput {
    TextOutput::new("local", lines.iter().map(|t| text_line(t, None)).collect())
}

// --- parsing ---------------------------------------------------------------------------------

#[test]
fn parses_sections_scores_comments_and_bom() {
    let src = "\u{FEFF}# contact details\r\n\
               \r\n\
               [AD]\r\n\
               加微信\r\n\
               \u{3000}add wechat  \r\n\
               C# tips\r\n\
               \u{20}  # indented comment\r\n\
               [porn:40.5]\n\
               nsfw\n\
               [ad:60]\n\
               私聊\n\
               [porn]\n\
               加微信\n";
    let l = list(src);
    assert_eq!(l.len(), 6);
    assert!(!l.is_empty());
    assert_eq!(l.categories(), ["ad", "porn"]);
    let f = l.find("私聊 nsfw");
    let got: Vec<_> = f.iter().map(|f| (f.category, f.keyword, f.score)).collect();
    assert_eq!(got, [("ad", "私聊", 60.0), ("porn", "nsfw", 40.5)]);
    // Trimmed (ideographic space too), and a `#` inside a keyword is part of it.
    assert_eq!(hits(&l, "ADD WECHAT"), ["add wechat"]);
    assert_eq!(hits(&l, "c# tips"), ["C# tips"]);
    // The same keyword in two categories hits both.
    let f = l.find("加微信");
    let got: Vec<_> = f.iter().map(|f| (f.category, f.score)).collect();
    assert_eq!(got, [("ad", 100.0), ("porn", 100.0)]);
}

#[test]
fn a_keyword_listed_twice_for_a_category_counts_once_with_the_higher_score() {
    let l = list("[ad:50]\n加微信\n加 微 信\n[ad:80]\n加-微-信\n[ad:20]\n加微信\n");
    assert_eq!(l.len(), 1);
    let f = l.find("加微信");
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].keyword, f[0].score), ("加-微-信", 80.0));
}

#[test]
fn every_line_error_names_its_line() {
    use LineError::*;
    let cases: &[(&str, usize, LineError)] = &[
        ("# c\n\n加微信\n", 3, KeywordBeforeHeader),
        ("[ad]\nx\n[ad\n", 3, MalformedHeader("[ad".into())),
        ("[ad]\nx\n[ad] y\ny\n", 3, MalformedHeader("[ad] y".into())),
        ("[广告]\nx\n", 1, BadCategory("广告".into())),
        ("[]\nx\n", 1, BadCategory(String::new())),
        ("[a b]\nx\n", 1, BadCategory("a b".into())),
        ("[Ad Hoc:5]\nx\n", 1, BadCategory("Ad Hoc".into())),
        (
            &format!("[{}]\nx\n", "a".repeat(33)),
            1,
            BadCategory("a".repeat(33)),
        ),
        ("[ad]\nx\n[ad:101]\nx\n", 3, BadScore("101".into())),
        ("[ad:-1]\nx\n", 1, BadScore("-1".into())),
        ("[ad:]\nx\n", 1, BadScore(String::new())),
        ("[ad:1e2]\nx\n", 1, BadScore("1e2".into())),
        ("[ad:nan]\nx\n", 1, BadScore("nan".into())),
        ("[ad:inf]\nx\n", 1, BadScore("inf".into())),
        ("[ad:5.]\nx\n", 1, BadScore("5.".into())),
        ("[ad]\nx\n-*-\n", 3, EmptyKeyword("-*-".into())),
        (
            "[ad]\nx\n\u{200D}\u{200B}\n",
            3,
            EmptyKeyword("\u{200D}\u{200B}".into()),
        ),
        ("[ad]\n[porn]\nx\n", 1, EmptySection("ad".into())),
        (
            "[ad]\nx\n[porn]\n# nothing\n",
            3,
            EmptySection("porn".into()),
        ),
    ];
    for (src, line, what) in cases {
        assert_eq!(line_err(src), (*line, what.clone()), "{src:?}");
    }
    // Header spacing and case are forgiven; scores may have a fraction.
    let l = list("[ Ad_1 : 7.25 ]\nx\n[b-2:0]\ny\n[c:100.0]\nz\n");
    assert_eq!(l.categories(), ["ad_1", "b-2", "c"]);
    assert_eq!(l.find("x")[0].score, 7.25);
    assert_eq!(l.find("y")[0].score, 0.0);
}

#[test]
fn invalid_utf8_names_the_line_it_is_on() {
    let src = b"[ad]\n\xE5\x8A\xA0\xE5\xBE\xAE\n\xE5\x8A\n";
    match parse_err(src) {
        KeywordError::Line {
            line: 3,
            what: LineError::InvalidUtf8,
            ..
        } => {}
        other => panic!("{other}"),
    }
}

#[test]
fn errors_display_path_line_and_cause() {
    let e = parse_err(b"[ad]\nx\n[ad:200]\nx\n");
    assert_eq!(e.line(), Some(3));
    assert_eq!(
        e.to_string(),
        "kw.txt: line 3: bad score \"200\": expected a number from 0 to 100"
    );
}

#[test]
fn size_keyword_count_and_empty_files_are_refused() {
    let big = vec![b'#'; MAX_FILE_BYTES + 1];
    let e = parse_err(&big);
    assert!(matches!(e, KeywordError::TooLarge { .. }), "{e}");
    assert_eq!(e.line(), None);
    assert_eq!(e.to_string(), "kw.txt: larger than the 4 MiB limit");

    let mut src = String::from("# many\n[ad]\n");
    for i in 0..=MAX_KEYWORDS {
        src.push_str(&format!("k{i}\n"));
    }
    assert_eq!(
        line_err(&src),
        (MAX_KEYWORDS + 3, LineError::TooManyKeywords)
    );

    for src in ["", "\u{FEFF}", "# only\n\n  # comments\n"] {
        let e = parse_err(src.as_bytes());
        assert!(matches!(e, KeywordError::NoKeywords { .. }), "{e}");
    }
}

#[test]
fn load_reads_the_file_and_names_it_in_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("keywords.txt");
    std::fs::write(&path, "[ad]\n加微信\n").expect("write");
    let l = KeywordList::load(&path).expect("load");
    assert_eq!(l.path(), path);
    assert_eq!(l.len(), 1);
    std::fs::write(&path, "加微信\n").expect("write");
    let e = KeywordList::load(&path).expect_err("refused");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: line 1: keyword before any [category] header",
            path.display()
        )
    );
    let missing = dir.path().join("missing.txt");
    let e = KeywordList::load(&missing).expect_err("missing");
    assert!(matches!(e, KeywordError::Io { .. }), "{e}");
    assert!(
        e.to_string().starts_with(&missing.display().to_string()),
        "{e}"
    );
}

// --- normalization ---------------------------------------------------------------------------

#[test]
fn normalization_folds_width_case_spacing_and_format_chars() {
    assert_eq!(normalize("ＡＢＣ１２３"), "abc123");
    assert_eq!(normalize("加　微　信"), "加微信");
    assert_eq!(normalize("加\u{200B}微\u{FEFF}信\u{200D}"), "加微信");
    assert_eq!(normalize("WeChat ÄÖÜ"), "wechatäöü");
    assert_eq!(normalize("w-e_c.h*a/t!"), "wechat");
    // Compatibility forms: ligature, circled digit, superscript, roman numeral, Kelvin sign.
    assert_eq!(normalize("ﬁ ① x² Ⅻ K"), "fi1x2xiik");
    // Combining marks compose (NFKC across a segment), half-width kana with its voicing mark.
    assert_eq!(normalize("cafe\u{301}"), normalize("café"));
    assert_eq!(normalize("ｶﾞｲﾄﾞ"), "ガイド");
    // Hangul jamo compose into the syllable.
    assert_eq!(normalize("\u{1100}\u{1161}\u{11A8}"), "각");
    assert_eq!(normalize("😀 ★ ♥ … ，。"), "");
}

#[test]
fn the_caseless_ranges_have_no_case() {
    for c in (0..=0x10FFFF)
        .filter_map(char::from_u32)
        .filter(|&c| normalize::caseless(c))
    {
        assert!(c.to_lowercase().eq([c]), "U+{:04X}", c as u32);
    }
}

#[test]
fn the_ideograph_and_syllable_ranges_are_letters() {
    for c in (0..=0x10FFFF)
        .filter_map(char::from_u32)
        .filter(|&c| normalize::ideograph_or_syllable(c))
    {
        assert!(c.is_alphanumeric(), "U+{:04X}", c as u32);
    }
}

#[test]
fn spans_map_back_to_the_source() {
    let l = list("[ad]\nwechat\n加微信\n");
    let line = "Add ＷｅＣｈａｔ now, 加 - 微\u{200B}信!";
    let f = l.find(line);
    assert_eq!(f.len(), 2);
    assert_eq!(&line[f[0].span.clone()], "ＷｅＣｈａｔ");
    assert_eq!(&line[f[1].span.clone()], "加 - 微\u{200B}信");
    // Spans across chars that compose: a combining accent, half-width kana and voicing marks.
    let l = list("[ad]\ncafé\nガイド\n");
    let line = "a cafe\u{301}! ｶﾞｲﾄﾞ.";
    let f = l.find(line);
    assert_eq!(f.len(), 2);
    assert_eq!(&line[f[0].span.clone()], "cafe\u{301}");
    assert_eq!(&line[f[1].span.clone()], "ｶﾞｲﾄﾞ");
}

// --- matching --------------------------------------------------------------------------------

#[test]
fn cjk_keywords_survive_inserted_separators() {
    let l = list("[ad]\n加微信\n");
    for line in [
        "加微信",
        "请加微信：abc123",
        "加 微 信",
        "加-微-信",
        "加*微*信",
        "加　微　信",
        "加\u{200B}微\u{200B}信",
        "【加】〖微〗「信」",
        "x加微信y",
    ] {
        assert_eq!(hits(&l, line), ["加微信"], "{line:?}");
    }
    for line in ["加微", "加 信 微", "微信"] {
        assert!(hits(&l, line).is_empty(), "{line:?}");
    }
}

#[test]
fn latin_keywords_match_whole_words_only() {
    let l = list("[ad]\nwechat\nad\n[porn]\nsex\n[phone]\n110\n");
    for line in [
        "Add WeChat: abc",
        "WECHAT",
        "w e c h a t",
        "w-e-c-h-a-t",
        "ＷｅＣｈａｔ",
        "w\u{200B}e\u{200B}chat",
        "加wechat号",
        // Digits glued to letters are a boundary (see `Edge::allows`).
        "wechat123456",
        "id:wechat_abc",
    ] {
        assert_eq!(hits(&l, line), ["wechat"], "{line:?}");
    }
    // A Latin letter glued on either side is not.
    for line in ["mywechatid", "wechatty", "xwechat", "ｍｙＷｅＣｈａｔ"] {
        assert!(hits(&l, line).is_empty(), "{line:?}");
    }
    assert!(hits(&l, "Essex sextant bad badge").is_empty());
    assert_eq!(hits(&l, "AD: call now"), ["ad"]);
    assert_eq!(hits(&l, "sex4u"), ["sex"]);
    assert_eq!(hits(&l, "Call 110!"), ["110"]);
    assert_eq!(hits(&l, "a110b"), ["110"]);
    assert!(hits(&l, "1100 21100").is_empty());
    // An accented letter is a Latin letter too.
    assert!(hits(&l, "sexé").is_empty());
}

#[test]
fn a_rejected_occurrence_does_not_hide_a_later_one() {
    let l = list("[ad]\nwechat\n");
    let line = "mywechat, wechat";
    let f = l.find(line);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].span, 10..16);
}

#[test]
fn keywords_are_found_inside_longer_keywords_and_overlapping() {
    let l = list("[ad]\n微信\n加微信\n微信号\n");
    assert_eq!(hits(&l, "加微信号"), ["加微信", "微信", "微信号"]);
}

#[test]
fn apply_adds_one_hit_per_keyword_and_line() {
    let l = list("[ad:70]\n加微信\nwechat\n[spam]\n加微信\n");
    let mut t = output(&["加微信 加微信 加-微-信", "nothing here", "加微信", "WeChat"]);
    l.apply(&mut t);
    let got: Vec<_> = t
        .hits
        .iter()
        .map(|h| {
            (
                h.category.as_str(),
                h.keyword.as_str(),
                h.line.as_str(),
                h.score,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("ad", "加微信", "加微信 加微信 加-微-信", Some(70.0)),
            ("spam", "加微信", "加微信 加微信 加-微-信", Some(100.0)),
            ("ad", "加微信", "加微信", Some(70.0)),
            ("spam", "加微信", "加微信", Some(100.0)),
            ("ad", "wechat", "WeChat", Some(70.0)),
        ]
    );
    assert!(t.hits.iter().all(|h| h.source == HitSource::Keywords));
    // Applying again (or to identical lines) adds nothing.
    l.apply(&mut t);
    assert_eq!(t.hits.len(), 5);
    let mut twice = output(&["加微信", "加微信"]);
    l.apply(&mut twice);
    assert_eq!(twice.hits.len(), 2);
    assert_eq!(twice.hit_categories(), ["ad", "spam"]);
}

#[test]
fn apply_leaves_vendor_hits_alone() {
    let l = list("[ad]\n加微信\n");
    let mut t = output(&["加微信"]);
    t.hits.push(TextHit {
        category: "ad".into(),
        keyword: "加微信".into(),
        line: "加微信".into(),
        source: HitSource::Vendor,
        score: None,
    });
    l.apply(&mut t);
    assert_eq!(t.hits.len(), 2);
    assert_eq!(t.hits[1].source, HitSource::Keywords);
}

#[test]
fn a_keyword_cut_across_two_lines_is_found() {
    let l = list("[ad]\n加微信\nadd wechat\n");
    let mut t = output(&["扫码", "请加微", "信：abc", "Please add", "WeChat now"]);
    l.apply(&mut t);
    let got: Vec<_> = t
        .hits
        .iter()
        .map(|h| (h.keyword.as_str(), h.line.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("加微信", "请加微 信：abc"),
            ("add wechat", "Please add WeChat now"),
        ]
    );
}

#[test]
fn a_cross_line_hit_is_not_reported_when_a_line_holds_it_alone() {
    let l = list("[ad]\n加微信\n");
    let mut t = output(&["加微信 加微", "信"]);
    l.apply(&mut t);
    assert_eq!(t.hits.len(), 1);
    assert_eq!(t.hits[0].line, "加微信 加微");
}

#[test]
fn lines_of_different_frames_are_not_joined() {
    let l = list("[ad]\n加微信\n");
    let mut t = TextOutput::new(
        "local",
        vec![text_line("加微", None), text_line("信", Some(1))],
    );
    l.apply(&mut t);
    assert!(t.hits.is_empty());
    let mut t = TextOutput::new(
        "local",
        vec![text_line("加微", Some(1)), text_line("信", Some(1))],
    );
    l.apply(&mut t);
    assert_eq!(t.hits.len(), 1);
    // No frame is the first frame.
    let mut t = TextOutput::new(
        "local",
        vec![text_line("加微", None), text_line("信", Some(0))],
    );
    l.apply(&mut t);
    assert_eq!(t.hits.len(), 1);
}

#[test]
fn the_boundary_rule_holds_across_lines() {
    let l = list("[ad]\nwechat\n");
    // `my` + `wechat` glued across the cut is still a Latin word with `my` in front.
    let mut t = output(&["add my", "wechatid"]);
    l.apply(&mut t);
    assert!(t.hits.is_empty());
    let mut t = output(&["add we", "chat: abc"]);
    l.apply(&mut t);
    assert_eq!(t.hits.len(), 1);
    assert_eq!(t.hits[0].line, "add we chat: abc");
}

#[test]
fn many_keywords_and_lines() {
    // Shape check for the index (speed is measured outside the tests).
    let mut src = String::from("[ad]\n");
    for i in 0..5000 {
        src.push_str(&format!("keyword{i}\n词{i}语\n"));
    }
    let l = list(&src);
    assert_eq!(l.len(), 10_000);
    let lines: Vec<String> = (0..50)
        .map(|i| format!("line {i}: 词{i}语 and keyword{}", i * 7))
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut t = output(&refs);
    l.apply(&mut t);
    assert_eq!(t.hits.len(), 100);
}

// --- fingerprint -----------------------------------------------------------------------------

#[test]
fn the_fingerprint_follows_content_not_layout() {
    let a = list("[ad]\n加微信\nwechat\n[porn:50]\nnsfw\n");
    let same = list("\u{FEFF}# reordered\n[porn:50.0]\n  nsfw\n\n[AD]\nwechat\r\n加微信\n");
    assert_eq!(a.fingerprint(), same.fingerprint());
    assert_eq!(a.fingerprint(), a.clone().fingerprint());
    assert_eq!(a.fingerprint().len(), 64);
    for other in [
        "[ad]\n加微信\nwechat\n[porn:51]\nnsfw\n",
        "[ad]\n加微信\nwechat\n[sex:50]\nnsfw\n",
        "[ad]\n加微信\nwechat2\n[porn:50]\nnsfw\n",
        "[ad]\n加 微信\nwechat\n[porn:50]\nnsfw\n",
        "[ad]\n加微信\n[porn:50]\nnsfw\n",
    ] {
        assert_ne!(a.fingerprint(), list(other).fingerprint(), "{other:?}");
    }
}
