//! [`python_module_present`]: whether the Python client an interop test drives is installed.

use std::process::Stdio;

use crate::support::broker_absent;

/// Whether `python3 -c "import <module>"` works. When not, reports the absence of `what`
/// through [`broker_absent`] (a failure in CI, a skip notice otherwise), naming the pip
/// `package` that provides it.
pub async fn python_module_present(module: &str, package: &str, what: &str) -> bool {
    let probe = tokio::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    match probe {
        Ok(status) if status.success() => true,
        Ok(_) => {
            broker_absent(
                what,
                &format!("python3 cannot import {module} (pip install {package})"),
            );
            false
        }
        Err(e) => {
            broker_absent(what, &format!("python3 cannot run: {e}"));
            false
        }
    }
}
