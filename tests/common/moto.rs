//! A moto server (S3, SQS, SNS, IAM) on a free loopback port with SigV4 enforced: the first three
//! unauthenticated calls bootstrap an IAM user, whose key every later call must sign with.
//! Installed by scripts/install-test-tools.sh; boto3 in the same venv drives the set-up.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct Moto {
    child: Child,
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub use super::{free_port, wait_for_port};

fn tool(var: &str, name: &str) -> PathBuf {
    let p = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| super::cache_dir().join("tools/bin").join(name));
    assert!(
        p.is_file(),
        "{} not found: run scripts/install-test-tools.sh (scripts/test.sh does)",
        p.display()
    );
    p
}

pub const PRELUDE: &str = r#"
import boto3, botocore.config, json, os, sys, time
EP = os.environ["EP"]
kw = dict(endpoint_url=EP, aws_access_key_id=os.environ["AK"], aws_secret_access_key=os.environ["SK"], region_name="us-east-1")
s3 = boto3.client("s3", config=botocore.config.Config(s3={"addressing_style": "path"}), **kw)
sqs = boto3.client("sqs", **kw)
sns = boto3.client("sns", **kw)
"#;

impl Moto {
    pub fn start() -> Moto {
        Moto::spawn(true)
    }

    /// A server that checks no signature: moto's SigV4 mode answers every presigned URL with a
    /// 500 (KeyError HTTP_AUTHORIZATION), so presigned GETs can only be served by this one.
    pub fn start_unenforced() -> Moto {
        Moto::spawn(false)
    }

    fn spawn(enforce_sigv4: bool) -> Moto {
        let port = free_port();
        let mut cmd = Command::new(tool("TRIAGE_MOTO_SERVER", "moto_server"));
        if enforce_sigv4 {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "3");
        } else {
            cmd.env_remove("INITIAL_NO_AUTH_ACTION_COUNT");
        }
        let child = cmd
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            access_key: "bootstrap".into(),
            secret_key: "bootstrap".into(),
        };
        wait_for_port(port, "moto_server");
        let out = moto.py(r#"
iam = boto3.client("iam", **kw)
iam.create_user(UserName="triage")
iam.put_user_policy(UserName="triage", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="triage")["AccessKey"]
print(k["AccessKeyId"], k["SecretAccessKey"])
"#);
        let mut parts = out.split_whitespace();
        moto.access_key = parts.next().expect("access key").into();
        moto.secret_key = parts.next().expect("secret").into();
        moto
    }

    /// Run a boto3 script (the prelude defines `s3`, `sqs`, `sns`, `EP`); its stdout.
    pub fn py(&self, script: &str) -> String {
        let out = Command::new(tool("TRIAGE_TOOLS_PYTHON", "python"))
            .arg("-c")
            .arg(format!("{PRELUDE}\n{script}"))
            .env("EP", &self.endpoint)
            .env("AK", &self.access_key)
            .env("SK", &self.secret_key)
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "boto3 script failed: {}\n{script}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The variables that point the function at this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("TRIAGE_S3_ENDPOINT".into(), self.endpoint.clone()),
            ("TRIAGE_SQS_ENDPOINT".into(), self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), self.secret_key.clone()),
            ("AWS_REGION".into(), "us-east-1".into()),
        ]
    }
}

/// A small real PNG (gradient), decodable by any analyzer.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}
