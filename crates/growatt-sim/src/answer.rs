//! The API's answers: the `error_code` and `error_msg` an envelope carries.

/// One API answer: the envelope's code and message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) code: i64,
    pub(crate) msg: &'static str,
}

const fn answer(code: i64, msg: &'static str) -> Answer {
    Answer { code, msg }
}

/// A legacy host name, in the vendor's words.
pub(crate) const LEGACY_DOMAIN: Answer = answer(
    -1,
    "Please use the new domain for access (server-cn→openapi-cn, server→openapi, server-us→openapi-us)",
);
pub(crate) const OK: Answer = answer(0, "");
pub(crate) const SYSTEM_ERROR: Answer = answer(10001, "system error");
pub(crate) const PLANT_ID_EMPTY: Answer = answer(10002, "plant id is empty");
pub(crate) const SN_WRONG: Answer = answer(10002, "device serial number wrong");
pub(crate) const DEVICE_EXISTS: Answer = answer(10003, "device already exists");
pub(crate) const PLANT_MISSING: Answer = answer(10004, "plant does not exist");
pub(crate) const USER_MISSING: Answer = answer(10005, "user does not exist");
pub(crate) const USER_ID_EMPTY: Answer = answer(10006, "user id is empty");
pub(crate) const PERMISSION_DENIED: Answer = answer(10011, "error_permission_denied");
pub(crate) const FREQUENT_ACCESS: Answer = answer(10012, "error_frequently_access");
pub(crate) const PAGE_SIZE_TOO_BIG: Answer = answer(10013, "perpage must not exceed 100");
pub(crate) const PAGE_TOO_HIGH: Answer = answer(10014, "page must not exceed 250");
/// The list endpoint gives 10003 its own meaning.
pub(crate) const LIST_PLANT_MISSING: Answer = answer(10003, "plant does not exist");
