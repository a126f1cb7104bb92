//! Both emulators log a call the moment it arrives, before an injected delay or fault: a client
//! that timed out has still made its call, and retry tests count exactly.

use std::time::Duration;

use crate::{emulator, huawei};

fn impatient() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap()
}

#[tokio::test]
async fn huawei_logs_calls_on_arrival() {
    let emu = huawei::start(None).await;
    emu.emu
        .fault("image", huawei::Fault::Delay(Duration::from_secs(3)));
    emu.emu.fault(
        "obs",
        huawei::Fault::Status(503, "<Error><Code>SlowDown</Code></Error>".into()),
    );
    emu.emu
        .fault("obs", huawei::Fault::Delay(Duration::from_secs(3)));
    let url = format!("{}/v2/{}/image/tagging", emu.image, huawei::PROJECT);
    let e = impatient().post(&url).body("{}").send().await.unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert_eq!(
        emu.emu.calls("image", "POST", ""),
        1,
        "logged although unanswered"
    );

    let obs = |path: &str| {
        impatient()
            .get(format!("{}{path}", emu.obs))
            .header("host", "b.obs.cn-north-4.myhuaweicloud.com")
            .send()
    };
    assert_eq!(obs("/k").await.unwrap().status(), 503);
    assert!(obs("/k").await.unwrap_err().is_timeout());
    assert_eq!(emu.emu.calls("obs", "GET", ""), 2);
    let g = emu.emu.0.lock().unwrap();
    let statuses: Vec<(&str, u16)> = g.log.iter().map(|l| (l.service, l.status)).collect();
    assert_eq!(statuses, [("image", 0), ("obs", 503), ("obs", 0)]);
}

#[tokio::test]
async fn tencent_logs_calls_on_arrival() {
    let emu = emulator::Emulator::start().await;
    emu.inject("cos:GET", emulator::Fault::Delay(Duration::from_secs(3)), 1);
    let e = impatient()
        .get(format!("{}/k", emu.url()))
        .header("host", emulator::cos_host("b-1250000000"))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert_eq!(emu.count("cos:GET"), 1);
    assert_eq!(emu.log()[0].status, 0, "no answer was sent");
}
