//! The Nitro Secure Module's one ioctl: send a CBOR request on `/dev/nsm`, get a CBOR response.
//!
//! Written by hand because the call is a single `ioctl` whose structure the kernel's `nsm` driver
//! fixes; the crate AWS publishes for it brings an unmaintained CBOR library into the isolate.
#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Where the NSM device is inside an enclave.
pub const NSM_DEVICE: &str = "/dev/nsm";
/// The largest response the NSM gives (the driver's `NSM_RESPONSE_MAX_SIZE`).
pub const MAX_RESPONSE_BYTES: usize = 0x3000;
/// The largest request it takes (`NSM_REQUEST_MAX_SIZE`).
pub const MAX_REQUEST_BYTES: usize = 0x1000;

/// `struct iovec`.
#[repr(C)]
struct IoVec {
    base: *mut libc::c_void,
    len: libc::size_t,
}

/// `struct nsm_message { struct iovec request; struct iovec response; }`.
#[repr(C)]
struct NsmMessage {
    request: IoVec,
    response: IoVec,
}

/// `_IOWR(0x0A, 0, struct nsm_message)`: direction read|write (3) in bits 30–31, the message's
/// size in bits 16–29, the NSM magic 0x0A in bits 8–15, command 0.
pub const NSM_IOCTL_REQUEST: u64 =
    (3 << 30) | ((std::mem::size_of::<NsmMessage>() as u64) << 16) | (0x0A << 8);

/// An open `/dev/nsm`.
#[derive(Debug)]
pub struct NsmDevice(File);

impl NsmDevice {
    /// Opens the device at `path` (normally [`NSM_DEVICE`]).
    pub fn open(path: &Path) -> io::Result<Self> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map(Self)
    }

    /// Sends `request` (CBOR) and returns the response (CBOR).
    pub fn call(&self, request: &[u8]) -> io::Result<Vec<u8>> {
        if request.len() > MAX_REQUEST_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "an NSM request is at most {MAX_REQUEST_BYTES} bytes, not {}",
                    request.len()
                ),
            ));
        }
        let mut request = request.to_vec();
        let mut response = vec![0u8; MAX_RESPONSE_BYTES];
        let mut message = NsmMessage {
            request: IoVec {
                base: request.as_mut_ptr().cast(),
                len: request.len(),
            },
            response: IoVec {
                base: response.as_mut_ptr().cast(),
                len: response.len(),
            },
        };
        let written = ioctl(&self.0, &mut message)?;
        response.truncate(written.min(MAX_RESPONSE_BYTES));
        Ok(response)
    }
}

/// The one unsafe call: both buffers outlive it, and the driver writes at most
/// `response.len` bytes into `response.base`, then stores the length it wrote there.
#[allow(unsafe_code)]
fn ioctl(file: &File, message: &mut NsmMessage) -> io::Result<usize> {
    // SAFETY: `message` points to two live buffers whose lengths are those given; the kernel's
    // nsm driver reads the request, writes at most the response length, and updates `len`.
    let result = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            NSM_IOCTL_REQUEST as _,
            message as *mut NsmMessage,
        )
    };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(message.response.len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_number_is_the_drivers() {
        // On 64-bit Linux `struct nsm_message` is two 16-byte iovecs.
        assert_eq!(std::mem::size_of::<NsmMessage>(), 32);
        assert_eq!(NSM_IOCTL_REQUEST, 0xC020_0A00);
    }

    #[test]
    fn a_file_that_is_not_the_device_refuses_the_call() {
        let file = tempfile_path();
        std::fs::write(&file, b"").unwrap();
        let device = NsmDevice::open(&file).unwrap();
        assert!(device.call(b"\xa0").is_err());
        assert!(device.call(&vec![0; MAX_REQUEST_BYTES + 1]).is_err());
        std::fs::remove_file(file).unwrap();
    }

    fn tempfile_path() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("sealroom-nsm-test-{}", std::process::id()))
    }
}
