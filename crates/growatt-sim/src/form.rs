//! What a request carries: the `sn/add` form and the `device/list` query, decoded leniently.
//!
//! Decoding never fails: a stray `%`, bad UTF-8 or a missing `=` yields odd values, not an
//! error, so that no body, however broken, gets anything but an envelope.

use std::borrow::Cow;

/// `key=value` pairs of a form body or query string, decoded; tolerant of anything.
pub(crate) fn pairs(input: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    url::form_urlencoded::parse(input)
}

/// Fields of an `sn/add` form; `None` when the field was not sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AddForm {
    pub(crate) plant_id: Option<String>,
    pub(crate) sn: Option<String>,
    pub(crate) c_user_id: Option<String>,
}

impl AddForm {
    pub(crate) fn parse(body: &[u8]) -> AddForm {
        let mut form = AddForm::default();
        for (key, value) in pairs(body) {
            let slot = match &*key {
                "plant_id" => &mut form.plant_id,
                "sn" => &mut form.sn,
                "c_user_id" => &mut form.c_user_id,
                _ => continue,
            };
            // First occurrence wins, as most form decoders do.
            slot.get_or_insert_with(|| value.into_owned());
        }
        form
    }
}

/// Query of a `device/list` request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ListQuery {
    pub(crate) plant_id: Option<String>,
    pub(crate) page: Option<String>,
    pub(crate) perpage: Option<String>,
}

impl ListQuery {
    pub(crate) fn parse(query: &[u8]) -> ListQuery {
        let mut q = ListQuery::default();
        for (key, value) in pairs(query) {
            let slot = match &*key {
                "plant_id" => &mut q.plant_id,
                "page" => &mut q.page,
                "perpage" => &mut q.perpage,
                _ => continue,
            };
            slot.get_or_insert_with(|| value.into_owned());
        }
        q
    }
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
