//! What a request carries: the `sn/add` form and the `device/list` query, decoded leniently.
//!
//! Decoding never fails: a stray `%`, bad UTF-8 or a missing `=` yields odd values, not an
//! error, so that no body, however broken, gets anything but an envelope.

use std::borrow::Cow;

/// `key=value` pairs of a form body or query string, decoded; tolerant of anything.
pub(crate) fn pairs(input: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    url::form_urlencoded::parse(input)
}

/// A request's fields of text, one per key and `None` when the key was not sent, decoded by
/// `parse` from a form body or query string. The first occurrence of a key wins, as most form
/// decoders do.
macro_rules! fields {
    ($(#[$doc:meta])* $name:ident { $($field:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub(crate) struct $name {
            $(pub(crate) $field: Option<String>,)+
        }

        impl $name {
            pub(crate) fn parse(input: &[u8]) -> $name {
                let mut out = $name::default();
                for (key, value) in pairs(input) {
                    let slot = match &*key {
                        $(stringify!($field) => &mut out.$field,)+
                        _ => continue,
                    };
                    slot.get_or_insert_with(|| value.into_owned());
                }
                out
            }
        }
    };
}

fields! {
    /// Fields of an `sn/add` form.
    AddForm { plant_id, sn, c_user_id }
}

fields! {
    /// Query of a `device/list` request.
    ListQuery { plant_id, page, perpage }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_tolerate_garbage() {
        let f = AddForm::parse(b"plant_id=1001&sn=ab%43d+e&c_user_id=501&sn=OTHER&x=1");
        assert_eq!(
            f,
            AddForm {
                plant_id: Some("1001".into()),
                sn: Some("abCd e".into()),
                c_user_id: Some("501".into()),
            }
        );
        let f = AddForm::parse(b"%zz&&=&sn&plant_id=%4&c_user_id=%e2%82%ac\xff");
        assert_eq!(f.sn.as_deref(), Some(""));
        assert_eq!(f.plant_id.as_deref(), Some("%4"));
        assert_eq!(f.c_user_id.as_deref(), Some("\u{20ac}\u{fffd}"));
        assert_eq!(AddForm::parse(br#"{"plant_id":1001}"#), AddForm::default());
        let q = ListQuery::parse(b"plant_id=1001&page=2&perpage=50");
        assert_eq!(q.page.as_deref(), Some("2"));
        assert_eq!(q.perpage.as_deref(), Some("50"));
    }
}
