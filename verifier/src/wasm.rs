//! The WebAssembly ABI: plain `extern "C"` functions over the module's memory, one
//! import, a clock (`verifier/js/core.js` is the JavaScript side).
//!
//! - `summa_alloc(len) -> ptr` / `summa_free(ptr, len)`: byte buffers of exactly
//!   `len` bytes, which JavaScript fills with the inputs;
//! - `summa_verify(proof, proof_len, result, result_len, srs, srs_len, options,
//!   options_len) -> ptr`: the outcome's JSON, at `ptr` a little-endian `u32` length
//!   and that many UTF-8 bytes (freed with `summa_free(ptr, 4 + length)`); the inputs
//!   stay the caller's;
//! - imported: `summa.now_ms() -> f64` (JavaScript's `performance.now()`);
//! - `summa_panic_message() -> ptr`: after a trap, the panic's message as the same
//!   length-prefixed text (a panic aborts: the module is built with `panic=abort`,
//!   and JavaScript then discards the instance and makes a new one).

use std::sync::Once;

#[link(wasm_import_module = "summa")]
extern "C" {
    /// `performance.now()`: the module's only import (wasm32-unknown-unknown has no
    /// clock), for the report's timings.
    fn now_ms() -> f64;
}

fn clock() -> f64 {
    // SAFETY: an import without arguments or side effects.
    unsafe { now_ms() }
}

/// halo2's dependencies enable rand_core's `getrandom`; verifying needs no
/// randomness, so the custom backend is one that always fails.
fn no_randomness(_: &mut [u8]) -> Result<(), getrandom::Error> {
    Err(getrandom::Error::UNSUPPORTED)
}
getrandom::register_custom_getrandom!(no_randomness);

const PANIC_CAPACITY: usize = 2048;

/// A length-prefixed panic message, written by the hook before the abort.
struct PanicBuffer(std::cell::UnsafeCell<[u8; 4 + PANIC_CAPACITY]>);
// SAFETY: wasm32 without atomics is single-threaded.
unsafe impl Sync for PanicBuffer {}
static PANIC: PanicBuffer = PanicBuffer(std::cell::UnsafeCell::new([0; 4 + PANIC_CAPACITY]));

fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info.to_string();
            let bytes = message.as_bytes();
            let n = bytes.len().min(PANIC_CAPACITY);
            // SAFETY: single-threaded, and nothing else borrows the buffer.
            let buf = unsafe { &mut *PANIC.0.get() };
            buf[..4].copy_from_slice(&(n as u32).to_le_bytes());
            buf[4..4 + n].copy_from_slice(&bytes[..n]);
        }));
    });
}

/// A zeroed buffer of exactly `len` bytes, owned by the caller until `summa_free`.
#[no_mangle]
pub extern "C" fn summa_alloc(len: usize) -> *mut u8 {
    Box::into_raw(vec![0u8; len].into_boxed_slice()).cast()
}

/// Frees a buffer of `summa_alloc` (or an outcome of `summa_verify`).
///
/// # Safety
/// `ptr` and `len` are those of one live buffer of this module.
#[no_mangle]
pub unsafe extern "C" fn summa_free(ptr: *mut u8, len: usize) {
    drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)));
}

/// # Safety
/// Each `(ptr, len)` is a buffer of `summa_alloc` (or `len` is 0).
unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(ptr, len)
    }
}

/// Verifies; returns the outcome's length-prefixed JSON.
///
/// # Safety
/// Each `(ptr, len)` pair is a buffer of `summa_alloc` (or `len` is 0).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn summa_verify(
    proof: *const u8,
    proof_len: usize,
    result: *const u8,
    result_len: usize,
    srs: *const u8,
    srs_len: usize,
    options: *const u8,
    options_len: usize,
) -> *mut u8 {
    install_panic_hook();
    let json = crate::verify_to_json(
        bytes(proof, proof_len),
        bytes(result, result_len),
        bytes(srs, srs_len),
        bytes(options, options_len),
        Some(&clock),
    );
    out_buffer(&json)
}

/// A string handed to JavaScript: its length (4 bytes, little-endian), then its
/// UTF-8 bytes; JavaScript frees it with `summa_free(ptr, 4 + len)`.
fn out_buffer(json: &str) -> *mut u8 {
    let mut out = Vec::with_capacity(4 + json.len());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(json.as_bytes());
    Box::into_raw(out.into_boxed_slice()).cast()
}

/// Runs once the code a check spends its time in
/// ([`summa_agg_zk::pinned::warm_up`]): the JavaScript `init` calls it, so that the
/// engine has optimised that code before the first check. Returns 1.
#[no_mangle]
pub extern "C" fn summa_warm_up() -> u32 {
    install_panic_hook();
    u32::from(summa_agg_zk::pinned::warm_up())
}

/// The `eth_call` data reading a round's commitment: `request` is the JSON
/// `{"round": N}` or `{}` (the latest); the answer as [`summa_verify`]'s, the JSON
/// of [`crate::chain_call_json`].
///
/// # Safety
/// `request` must point to `request_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn summa_chain_call(request: *const u8, request_len: usize) -> *mut u8 {
    install_panic_hook();
    out_buffer(&crate::chain_call_json(bytes(request, request_len)))
}

#[no_mangle]
pub extern "C" fn summa_panic_message() -> *const u8 {
    PANIC.0.get().cast()
}
