//! Which attester an isolate uses is decided by what the machine has: configfs-tsm, else the
//! Nitro Secure Module, else the simulator. Here neither device is real, so each choice shows
//! itself by the error its first request meets.

use sealroom_attest::{AttestError, select_attester};

#[test]
fn the_platform_is_chosen_by_what_exists() {
    let empty = tempfile::tempdir().unwrap();
    let missing = empty.path().join("missing");

    // A report interface directory: the kernel would fill the entry; a plain directory does not.
    let tsm = tempfile::tempdir().unwrap();
    let err = select_attester(tsm.path(), &missing).err().unwrap();
    assert!(
        matches!(&err, AttestError::Producing { reason } if reason.contains("generation")),
        "{err}"
    );

    // An NSM device: a regular file refuses the ioctl.
    let device = empty.path().join("nsm");
    std::fs::write(&device, b"").unwrap();
    let err = select_attester(&missing, &device).err().unwrap();
    assert!(
        matches!(&err, AttestError::Producing { reason } if reason.contains("NSM call failed")),
        "{err}"
    );

    // Neither: the simulator, which needs the host to name its key.
    let err = select_attester(&missing, &missing).err().unwrap();
    assert!(matches!(err, AttestError::PlatformKey { .. }), "{err}");
}
