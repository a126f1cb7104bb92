//! The emulator's API 3.0 side (IMS, TIIA, TDMQ) and the COS trigger event it would send.

use super::*;
/// The object a presigned COS URL names, as IMS and TIIA fetch it. Seed 001 (IMS FAQ,
/// ImageDownloadError): "COS links are supported only on `xxx.cos.myqcloud.com` hosts" — so the URL
/// must be `https://<bucket>-<appid>.cos.<region>.myqcloud.com/<key>?<signature>`; anything else
/// (an emulator or private endpoint, another domain, plain http) is a download failure, as is a
/// signature that does not verify for that host.
pub(super) fn presigned_object(
    inner: &Mutex<Inner>,
    url: &str,
) -> Result<(String, String), String> {
    let u = url::Url::parse(url).map_err(|e| e.to_string())?;
    let host = u.host_str().unwrap_or_default().to_string();
    let bucket = host
        .strip_suffix(&format!(".cos.{REGION}.myqcloud.com"))
        .filter(|b| {
            b.rsplit_once('-').is_some_and(|(name, appid)| {
                !name.is_empty() && !appid.is_empty() && appid.bytes().all(|c| c.is_ascii_digit())
            })
        })
        .ok_or_else(|| {
            format!("{host:?} is not a COS host (<bucket>-<appid>.cos.<region>.myqcloud.com)")
        })?
        .to_string();
    if u.scheme() != "https" || u.port().is_some() {
        return Err(format!(
            "{}://{host}: COS links are https on the default port",
            u.scheme()
        ));
    }
    let require_token = inner.lock().unwrap().require_token;
    verify_cos(
        "GET",
        &host,
        u.path(),
        u.query().unwrap_or_default(),
        &HeaderMap::new(),
        require_token,
    )
    .map_err(|e| format!("signature: {e:?}"))?;
    let key = decode(u.path().trim_start_matches('/'));
    if !inner
        .lock()
        .unwrap()
        .objects
        .contains_key(&(bucket.clone(), key.clone()))
    {
        return Err("object missing".into());
    }
    Ok((bucket, key))
}

/// The service downloads the object the URL named: count its bytes as served by URL.
pub(super) fn served_by_url(inner: &Mutex<Inner>, service: &str, bucket: &str, key: &str) {
    let mut st = inner.lock().unwrap();
    let len = st
        .objects
        .get(&(bucket.to_string(), key.to_string()))
        .map_or(0, |o| o.body.len() as u64);
    *st.url_served.entry(service.to_string()).or_default() += len;
}

pub(super) fn serve_api(
    inner: &Mutex<Inner>,
    service: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return api_error("InvalidParameter", "body is not JSON");
    };
    let action = header(headers, "x-tc-action")
        .unwrap_or_default()
        .to_string();
    inner
        .lock()
        .unwrap()
        .api_bodies
        .push((action.clone(), req.clone()));
    match (service, action.as_str()) {
        ("ims", "ImageModeration") => {
            let data_id = req["DataId"].as_str().unwrap_or_default();
            if data_id.len() > 64
                || !data_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-@#".contains(c))
            {
                return api_error("InvalidParameterValue.InvalidDataId", "bad DataId");
            }
            let url = req["FileUrl"].as_str().unwrap_or_default();
            let (bucket, key) = match presigned_object(inner, url) {
                Ok(o) => o,
                Err(e) => return api_error("ResourceUnavailable.ImageDownloadError", &e),
            };
            served_by_url(inner, "ims", &bucket, &key);
            let (image, read) = {
                let st = inner.lock().unwrap();
                let image = st
                    .moderation
                    .get(&key)
                    .copied()
                    .unwrap_or(("Pass", "Normal", 0));
                let read = st
                    .objects
                    .get(&(bucket.clone(), key.clone()))
                    .and_then(|o| super::text::text_in(&o.body));
                (image, read)
            };
            let (s, label, score) = image;
            // An image without text: `OcrResults: []`, as in the official example.
            let ocr = read
                .as_deref()
                .map_or(json!([]), super::text::ims_ocr_results);
            // The answer's top result is the most severe of the image's and the text's.
            let (mut top_s, mut top_label, mut top_score) = (s, label.to_string(), score);
            if let Some(o) = ocr.get(0) {
                let o_s = o["Suggestion"].as_str().unwrap_or("Pass");
                if super::text::severity(o_s) > super::text::severity(s) {
                    top_s = if o_s == "Block" { "Block" } else { "Review" };
                    top_label = o["Label"].as_str().unwrap_or_default().to_string();
                    top_score = o["Score"].as_u64().unwrap_or(0) as u32;
                }
            }
            api_reply(json!({
                "RequestId": "emu", "DataId": data_id, "BizType": req["BizType"].clone(),
                "Suggestion": top_s, "Label": top_label, "SubLabel": "", "Score": top_score,
                "LabelResults": [{"Scene": label, "Suggestion": s, "Label": label, "SubLabel": "", "Score": score, "Details": []}],
                "ObjectResults": null, "OcrResults": ocr, "LibResults": null, "Extra": ""
            }))
        }
        ("tiia", "DetectLabel") => {
            match presigned_object(inner, req["ImageUrl"].as_str().unwrap_or_default()) {
                Ok((bucket, key)) => served_by_url(inner, "tiia", &bucket, &key),
                Err(e) => return api_error("FailedOperation.ImageDownloadError", &e),
            }
            api_reply(json!({"RequestId": "emu", "Labels": null,
                "CameraLabels": [{"Name": "猫", "Confidence": 88, "FirstCategory": "动物", "SecondCategory": "宠物"}]}))
        }
        ("tdmq", "SendCmqMsg") => {
            let q = req["QueueName"].as_str().unwrap_or_default().to_string();
            let m = req["MsgContent"].as_str().unwrap_or_default().to_string();
            let mut st = inner.lock().unwrap();
            st.messages.push((q, m));
            let id = st.messages.len();
            api_reply(json!({"RequestId": "emu", "Result": true, "MsgId": format!("msg-{id}")}))
        }
        _ => api_error("InvalidAction", "not emulated"),
    }
}

/// A COS trigger event for `bucket` (`name-appid`) / `key`, as SCF delivers it.
pub fn cos_event(
    bucket: &str,
    key: &str,
    event_name: &str,
    meta: &BTreeMap<String, String>,
) -> Value {
    let (name, appid) = bucket.rsplit_once('-').unwrap();
    let mut m = json!({"x-cos-request-id": "emu", "Content-Type": "image/png"});
    for (k, v) in meta {
        m[format!("x-cos-meta-{k}")] = json!(v);
    }
    json!({"Records": [{
        "cos": {
            "cosSchemaVersion": "1.0",
            "cosObject": {
                "url": format!("http://{}{}", cos_host(bucket), vendor_sign::cos::wire_path(key)),
                "meta": m, "vid": "",
                "key": format!("/{appid}/{name}/{key}"),
                "size": 1
            },
            "cosBucket": {"region": "gz", "name": name, "appid": appid},
            "cosNotificationId": "unkown"
        },
        "event": {
            "eventName": event_name, "eventVersion": "1.0", "eventTime": 1545205770,
            "eventSource": "qcs::cos", "requestParameters": {"requestSourceIP": "127.0.0.1", "requestHeaders": {}},
            "eventQueue": "qcs:0:scf:ap-guangzhou:appid/1250000000:default.image-triage.$LATEST",
            "reservedInfo": "", "reqid": 1
        }
    }]})
}
