//! The three services and their binaries: [`Service`] names a service process, and
//! [`ServiceBinaries`] finds their executables or builds them with cargo.

use std::path::{Path, PathBuf};

/// The three service binaries.
#[derive(Clone, Debug)]
pub struct ServiceBinaries {
    /// `order-service`.
    pub order: PathBuf,
    /// `inventory-service`.
    pub inventory: PathBuf,
    /// `payment-service`.
    pub payment: PathBuf,
}

impl ServiceBinaries {
    /// The binaries in `COURIER_BIN_DIR`, or else built by cargo for the profile of the
    /// running test into its target directory.
    ///
    /// # Errors
    /// When the build fails or a binary is missing afterwards.
    pub async fn locate_or_build() -> Result<Self, String> {
        // One build per test process, however many tests ask at once.
        static BUILT: tokio::sync::OnceCell<Result<PathBuf, String>> =
            tokio::sync::OnceCell::const_new();
        let dir = match std::env::var_os("COURIER_BIN_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => BUILT
                .get_or_init(|| async {
                    tokio::task::spawn_blocking(build)
                        .await
                        .map_err(|e| format!("the build task failed: {e}"))?
                })
                .await
                .clone()?,
        };
        let bins = Self {
            order: dir.join("order-service"),
            inventory: dir.join("inventory-service"),
            payment: dir.join("payment-service"),
        };
        for bin in [&bins.order, &bins.inventory, &bins.payment] {
            if !bin.is_file() {
                return Err(format!("{} does not exist", bin.display()));
            }
        }
        Ok(bins)
    }
}

/// Builds the service binaries for the profile of this test executable
/// (`<target>/<profile>/deps/<test>`); returns `<target>/<profile>`.
fn build() -> Result<PathBuf, String> {
    build_binaries(
        "shop",
        &["order-service", "inventory-service", "payment-service"],
    )
}

/// The binary `bin` of workspace package `package`: in `COURIER_BIN_DIR` when set, else
/// built by cargo for the profile of the running test into its target directory.
///
/// # Errors
/// When the build fails or the binary is missing afterwards.
pub async fn locate_or_build_binary(package: &str, bin: &str) -> Result<PathBuf, String> {
    let dir = match std::env::var_os("COURIER_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let (package, bin) = (package.to_owned(), bin.to_owned());
            tokio::task::spawn_blocking(move || build_binaries(&package, &[&bin]))
                .await
                .map_err(|e| format!("the build task failed: {e}"))??
        }
    };
    let path = dir.join(bin);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} does not exist", path.display()))
    }
}

/// Builds `bins` of `package` for the profile of this test executable
/// (`<target>/<profile>/deps/<test>`); returns `<target>/<profile>`.
fn build_binaries(package: &str, bins: &[&str]) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("no current executable: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("the test executable is not in <target>/<profile>/deps")?
        .to_owned();
    let target_dir = profile_dir.parent().ok_or("no target directory")?;
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(other) => other.to_owned(),
        None => return Err("cannot tell the build profile".into()),
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--profile", &profile, "-p", package])
        .args(bins.iter().flat_map(|bin| ["--bin", bin]))
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(workspace)
        .status()
        .map_err(|e| format!("running cargo build failed: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build of {bins:?} failed: {status}"));
    }
    Ok(profile_dir)
}

/// Which service process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// `order-service`.
    Order,
    /// `inventory-service`.
    Inventory,
    /// `payment-service`.
    Payment,
}

impl Service {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Order => "order-service",
            Self::Inventory => "inventory-service",
            Self::Payment => "payment-service",
        }
    }
}
