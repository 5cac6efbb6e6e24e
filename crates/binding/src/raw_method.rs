//! Class methods called once per socket read, as raw N-API callbacks.
//!
//! napi-rs's generated method glue costs about 1 µs a call (a native-borrow scope with its
//! thread-local stack and `Vec`s, `this` conversion, a class-identity lookup behind a global
//! `Mutex`), which is a sixth of a 64 KiB `RtmpSession.feedInPlace()`. The callbacks here keep
//! the same safety checks, without the scope:
//! - the Rust value is borrowed mutably through napi-rs's own registry
//!   (`acquire_native_borrow`), so a reentrant call from JS (for example from a `toJSON` run by
//!   `sendCommand`) is refused as it is for napi-rs's methods;
//! - `this` must be an instance of the class, checked as napi-rs checks it
//!   (`ClassInstance::from_napi_value`: `napi_unwrap`, then the class recorded when napi-rs
//!   wrapped the object; an N-API type tag check measured twice as costly);
//! - an `Err` is thrown as napi-rs throws it (a JS `Error` with `code` set to the status), and
//!   a panic becomes such an error instead of unwinding into Node.
//!
//! `install` replaces the napi-rs method of the same name on the class prototype, so the
//! TypeScript declaration and docs stay the napi-rs method's, and both run the same Rust body.

use napi::bindgen_prelude::*;
use napi::sys;

/// A raw method: `(env, callback info) -> value` (null after throwing).
pub type RawCallback =
    unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// Runs `body` with `this` as `&mut T` and the first `N` arguments (missing ones are
/// `undefined`), and converts its result to JS; an error is thrown and null returned.
///
/// # Safety
/// `env` and `info` are the live arguments of an N-API callback on the JS thread.
pub unsafe fn call<T, const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    body: impl FnOnce(&Env, &mut T, [sys::napi_value; N]) -> Result<sys::napi_value>,
) -> sys::napi_value
where
    T: 'static + MaybeTypeTag,
{
    // A panic must not unwind into Node: it becomes a thrown error like any other.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: as this function's contract.
        unsafe { call_inner(env, info, body) }
    }))
    .unwrap_or_else(|_| {
        Err(Error::new(
            Status::GenericFailure,
            "native panic".to_owned(),
        ))
    });
    match outcome {
        Ok(value) => value,
        Err(error) => {
            // SAFETY: a live env of this thread.
            unsafe { JsError::from(error).throw_into(env) };
            std::ptr::null_mut()
        }
    }
}

/// `call` without the throw.
///
/// # Safety
/// As `call`.
unsafe fn call_inner<T, const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    body: impl FnOnce(&Env, &mut T, [sys::napi_value; N]) -> Result<sys::napi_value>,
) -> Result<sys::napi_value>
where
    T: 'static + MaybeTypeTag,
{
    let mut argc = N;
    let mut argv = [std::ptr::null_mut(); N];
    let mut this = std::ptr::null_mut();
    let mut wrapped = std::ptr::null_mut();
    // SAFETY: plain N-API calls with a live env and callback info.
    unsafe {
        check_status!(sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            &mut this,
            std::ptr::null_mut()
        ))?;
        check_status!(sys::napi_unwrap(env, this, &mut wrapped))?;
    }
    let value = wrapped.cast::<T>();
    // The borrow first, so that no reference to the value is made while another call holds
    // it; then napi-rs's class check, before anything is read through the pointer.
    let _borrow = acquire_native_borrow(value, true)?;
    // SAFETY: `this` is a live value of this env.
    unsafe { ClassInstance::<T>::from_napi_value(env, this) }?;
    // SAFETY: `value` is the live `T` wrapped by `this` (checked above); the registry holds
    // the only mutable borrow until `_borrow` drops, after `body`.
    body(&Env::from_raw(env), unsafe { &mut *value }, argv)
}

/// Puts `callback` on `class.prototype` under `name` (replacing the napi-rs method there).
pub fn install(
    env: &Env,
    class: Unknown,
    name: &std::ffi::CStr,
    callback: RawCallback,
) -> Result<()> {
    let mut prototype = std::ptr::null_mut();
    // SAFETY: a plain N-API call on a live value of this env.
    check_status!(unsafe {
        sys::napi_get_named_property(
            env.raw(),
            class.raw(),
            c"prototype".as_ptr(),
            &mut prototype,
        )
    })?;
    let property = sys::napi_property_descriptor {
        utf8name: name.as_ptr(),
        name: std::ptr::null_mut(),
        method: Some(callback),
        getter: None,
        setter: None,
        value: std::ptr::null_mut(),
        // As a class method: writable, configurable, not enumerable.
        attributes: sys::PropertyAttributes::writable | sys::PropertyAttributes::configurable,
        data: std::ptr::null_mut(),
    };
    // SAFETY: a plain N-API call on this env with one descriptor.
    check_status!(unsafe { sys::napi_define_properties(env.raw(), prototype, 1, &property) })?;
    Ok(())
}
