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
    last_modified: Option<String>,
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
            last_modified: c
                .last_modified
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
                .map(|t| t.with_timezone(&chrono::Utc)),
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

/// An object's ACL as `GET ?acl` answers it (S3, COS and OBS share the shape).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    pub owner: String,
    pub grants: Vec<Grant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `FULL_CONTROL`, `READ`, `WRITE`, `READ_ACP`, `WRITE_ACP`.
    pub permission: String,
    pub grantee: Grantee,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    Id(String),
    Uri(String),
    Email(String),
}

impl Acl {
    /// Only the owner, with full control: what a copy gives the object anyway on S3.
    pub fn owner_only(&self) -> bool {
        self.grants
            .iter()
            .all(|g| g.permission == "FULL_CONTROL" && g.grantee == Grantee::Id(self.owner.clone()))
    }

    /// The grants as `x-<vendor>-grant-*` request headers (`id="..."`, `uri="..."`,
    /// `emailAddress="..."`, comma-separated per permission); `id` turns a grantee ID into the
    /// form the vendor's headers take. Permissions an object cannot have are refused.
    pub fn grant_headers(
        &self,
        prefix: &str,
        id: impl Fn(&str) -> String,
    ) -> Result<Vec<(String, String)>, String> {
        let mut by_permission: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for g in &self.grants {
            let header = match g.permission.as_str() {
                "FULL_CONTROL" => "full-control",
                "READ" => "read",
                "READ_ACP" => "read-acp",
                "WRITE_ACP" => "write-acp",
                other => return Err(format!("grant {other} has no request header")),
            };
            let (form, value) = match &g.grantee {
                Grantee::Id(i) => ("id", id(i)),
                Grantee::Uri(u) => ("uri", u.clone()),
                Grantee::Email(e) => ("emailAddress", e.clone()),
            };
            // The value goes between quotes in a comma-separated header: a quote, comma or
            // control character in it could add a grantee of its own.
            if value.is_empty()
                || value
                    .chars()
                    .any(|c| c == '"' || c == ',' || c.is_control())
            {
                return Err(format!("grantee {value:?} cannot be written as a header"));
            }
            let who = format!("{form}=\"{value}\"");
            by_permission.entry(header).or_default().push(who);
        }
        Ok(by_permission
            .into_iter()
            .map(|(p, who)| (format!("{prefix}grant-{p}"), who.join(",")))
            .collect())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AclXml {
    #[serde(default)]
    owner: OwnerXml,
    #[serde(default)]
    access_control_list: GrantsXml,
}

#[derive(Deserialize, Default)]
struct OwnerXml {
    #[serde(rename = "ID", default)]
    id: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct GrantsXml {
    #[serde(default)]
    grant: Vec<GrantXml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GrantXml {
    grantee: GranteeXml,
    permission: String,
}

#[derive(Deserialize)]
struct GranteeXml {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "URI")]
    uri: Option<String>,
    #[serde(rename = "EmailAddress")]
    email: Option<String>,
    // OBS names "everyone" this way.
    #[serde(rename = "Canned")]
    canned: Option<String>,
}

/// `GET ?acl`'s AccessControlPolicy.
pub fn parse_acl(body: &[u8]) -> Result<Acl, String> {
    let x: AclXml = quick_xml::de::from_str(&String::from_utf8_lossy(body))
        .map_err(|e| format!("unreadable ACL XML: {e}"))?;
    let grants = x
        .access_control_list
        .grant
        .into_iter()
        .map(|g| {
            let grantee = match (
                g.grantee.id,
                g.grantee.uri,
                g.grantee.email,
                g.grantee.canned,
            ) {
                (Some(i), ..) => Grantee::Id(i.trim().to_string()),
                (_, Some(u), ..) => Grantee::Uri(u.trim().to_string()),
                (_, _, Some(e), _) => Grantee::Email(e.trim().to_string()),
                (_, _, _, Some(c)) => Grantee::Uri(c.trim().to_string()),
                _ => return Err("a grant names no grantee".to_string()),
            };
            Ok(Grant {
                permission: g.permission.trim().to_string(),
                grantee,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Acl {
        owner: x.owner.id.trim().to_string(),
        grants,
    })
}

#[cfg(test)]
mod acl_tests {
    use super::*;

    #[test]
    fn s3_and_cos_acls_become_grant_headers() {
        // S3 (AWS doc, GetObjectAcl example) with a public-read grant added.
        let s3 = br#"<?xml version="1.0" encoding="UTF-8"?>
<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>CustomersName@amazon.com</DisplayName></Owner>
  <AccessControlList>
    <Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>CustomersName@amazon.com</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>
    <Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>
  </AccessControlList>
</AccessControlPolicy>"#;
        let acl = parse_acl(s3).unwrap();
        assert!(!acl.owner_only());
        assert_eq!(
            acl.grant_headers("x-amz-", str::to_string).unwrap(),
            vec![
                (
                    "x-amz-grant-full-control".to_string(),
                    "id=\"75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a\""
                        .to_string()
                ),
                (
                    "x-amz-grant-read".to_string(),
                    "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"".to_string()
                ),
            ]
        );
        let private = br#"<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList><Grant><Grantee><ID>o</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>"#;
        assert!(parse_acl(private).unwrap().owner_only());
        let write = br#"<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList><Grant><Grantee><ID>x</ID></Grantee><Permission>WRITE</Permission></Grant></AccessControlList></AccessControlPolicy>"#;
        assert!(parse_acl(write)
            .unwrap()
            .grant_headers("x-amz-", str::to_string)
            .is_err());
        assert!(parse_acl(b"<nope").is_err());
        // A grantee that would smuggle a second grant into the header is refused.
        let sneaky = br#"<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList><Grant><Grantee><ID>x", uri="http://acs.amazonaws.com/groups/global/AllUsers</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"#;
        assert!(parse_acl(sneaky)
            .unwrap()
            .grant_headers("x-amz-", str::to_string)
            .is_err());
    }
}

/// The new ETag in a copy's `CopyObjectResult` (S3, COS and OBS), without quotes.
pub fn copy_result_etag(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let start = text.find("<ETag>")? + "<ETag>".len();
    let end = start + text[start..].find("</ETag>")?;
    let etag = text[start..end]
        .trim()
        .trim_matches('"')
        .trim_start_matches("&quot;")
        .trim_end_matches("&quot;");
    (!etag.is_empty()).then(|| etag.to_string())
}
