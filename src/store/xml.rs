//! The XML bodies that COS, OBS and S3 share — all three speak S3's dialect for object tags and
//! bucket listings — parsed and written once here. Error bodies differ per vendor and stay in
//! each store's own module.

use serde::Deserialize;

use super::{ListPage, ListedObject};

/// `<Tagging><TagSet><Tag><Key/><Value/></Tag>…</TagSet></Tagging>`, with the XML declaration
/// in front when `declaration` (COS's SDK sends one; OBS's and S3's do not).
pub fn tagging_xml(tags: &[(String, String)], declaration: bool) -> String {
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let mut x = String::new();
    if declaration {
        x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    }
    x.push_str("<Tagging><TagSet>");
    for (k, v) in tags {
        x.push_str(&format!(
            "<Tag><Key>{}</Key><Value>{}</Value></Tag>",
            esc(k),
            esc(v)
        ));
    }
    x.push_str("</TagSet></Tagging>");
    x
}

/// `Content-MD5` of a body: base64 of its MD5 (mandatory on OBS's and S3's `PUT ?tagging`).
pub fn content_md5(body: &[u8]) -> String {
    use base64::Engine;
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body))
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Tagging {
    tag_set: TagSet,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct TagSet {
    tag: Vec<Tag>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Tag {
    key: String,
    value: String,
}

/// The tags of a `GET ?tagging` answer, in document order.
pub fn parse_tagging(body: &[u8]) -> Result<Vec<(String, String)>, quick_xml::DeError> {
    let t: Tagging = quick_xml::de::from_str(&String::from_utf8_lossy(body))?;
    Ok(t.tag_set
        .tag
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect())
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ListBucketResult {
    contents: Vec<Contents>,
    is_truncated: bool,
    /// Only in V1 listings with a delimiter; otherwise the last key is the next marker.
    next_marker: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Contents {
    key: String,
    size: u64,
    #[serde(rename = "ETag")]
    etag: String,
}

/// One page of a `ListBucketResult` (GET Bucket V1 with `marker`, or ListObjectsV2 with
/// `start-after`): the next page starts after `NextMarker`, else after the last key.
pub fn parse_list(body: &[u8]) -> Result<ListPage, quick_xml::DeError> {
    let l: ListBucketResult = quick_xml::de::from_str(&String::from_utf8_lossy(body))?;
    let objects: Vec<ListedObject> = l
        .contents
        .into_iter()
        .map(|c| ListedObject {
            key: c.key,
            size: c.size,
            etag: c.etag.trim_matches('"').to_string(),
        })
        .collect();
    let next_marker = if l.is_truncated {
        l.next_marker
            .filter(|m| !m.is_empty())
            .or_else(|| objects.last().map(|o| o.key.clone()))
    } else {
        None
    };
    Ok(ListPage {
        objects,
        next_marker,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_sets_round_trip_escaped_with_or_without_declaration() {
        let tags = vec![
            ("triage-verdict".to_string(), "pass".to_string()),
            ("a&b".to_string(), "<v>".to_string()),
        ];
        let plain = tagging_xml(&tags, false);
        assert!(plain.starts_with("<Tagging><TagSet><Tag><Key>triage-verdict</Key>"));
        assert!(plain.contains("<Key>a&amp;b</Key><Value>&lt;v&gt;</Value>"));
        assert!(tagging_xml(&tags, true)
            .starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Tagging>"));
        assert_eq!(parse_tagging(plain.as_bytes()).unwrap(), tags);
        let with_ns = br#"<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>k</Key><Value></Value></Tag></TagSet></Tagging>"#;
        assert_eq!(
            parse_tagging(with_ns).unwrap(),
            vec![("k".into(), String::new())]
        );
        assert!(parse_tagging(b"<Tagging><TagSet></TagSet></Tagging>")
            .unwrap()
            .is_empty());
        assert!(parse_tagging(b"not xml <").is_err());
    }

    #[test]
    fn listing_pages_continue_after_next_marker_or_the_last_key() {
        let v2 = br#"<ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated><Contents><Key>a.jpg</Key><Size>3</Size><ETag>&quot;e1&quot;</ETag></Contents><Contents><Key>b.jpg</Key><Size>4</Size><ETag>"e2"</ETag></Contents></ListBucketResult>"#;
        let p = parse_list(v2).unwrap();
        assert_eq!(p.objects.len(), 2);
        assert_eq!(p.objects[0].etag, "e1");
        assert_eq!(p.objects[1].size, 4);
        assert_eq!(p.next_marker.as_deref(), Some("b.jpg"));

        let v1 = br#"<ListBucketResult><IsTruncated>true</IsTruncated><NextMarker>zz</NextMarker><Contents><Key>a</Key><Size>1</Size><ETag>"x"</ETag></Contents></ListBucketResult>"#;
        assert_eq!(parse_list(v1).unwrap().next_marker.as_deref(), Some("zz"));

        let last = br#"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"#;
        assert_eq!(parse_list(last).unwrap(), ListPage::default());
    }
}
