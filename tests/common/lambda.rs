//! cargo-lambda's Runtime API emulator (`cargo lambda watch --only-lambda-apis`, installed by
//! scripts/install-test-tools.sh) on a free loopback port, stopped with the test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct RuntimeEmulator {
    child: Child,
    pub port: u16,
}

impl Drop for RuntimeEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RuntimeEmulator {
    pub fn start() -> RuntimeEmulator {
        let cargo_lambda = std::env::var_os("TRIAGE_CARGO_LAMBDA")
            .map(PathBuf::from)
            .unwrap_or_else(|| super::cache_dir().join("tools/bin/cargo-lambda"));
        assert!(
            cargo_lambda.is_file(),
            "{} not found: run scripts/install-test-tools.sh (scripts/test.sh does)",
            cargo_lambda.display()
        );
        let port = super::free_port();
        let child = Command::new(&cargo_lambda)
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(port.to_string())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start cargo-lambda");
        let emulator = RuntimeEmulator { child, port };
        super::wait_for_port(port, "cargo lambda watch");
        emulator
    }

    /// The `AWS_LAMBDA_*` variables a function process needs to serve this emulator.
    pub fn function_env(&self) -> Vec<(String, String)> {
        [
            (
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}/.rt", self.port),
            ),
            ("AWS_LAMBDA_FUNCTION_NAME", "_".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "1".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Invoke the function with `event`, as `aws lambda invoke` would: (status, body).
    pub fn invoke(&self, event: &[u8]) -> (u16, String) {
        super::post_json(self.port, "/2015-03-31/functions/_/invocations", event)
    }
}
