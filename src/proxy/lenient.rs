//! Reading a few fields straight out of JSON text, as leniently as a JSON tree would read
//! them (`v["a"]["b"].as_u64()`): any JSON is accepted, what is not of the expected shape
//! counts as absent, and a repeated member's last value wins. Building the tree first cost
//! thousands of instructions per request for fields the gateway never reads.
//!
//! What is not read is still checked as the tree would check it (`Skip`): serde's
//! `IgnoredAny` passes invalid UTF-8, lone surrogates, numbers beyond a float's range and
//! unbounded nesting, all of which the tree refuses.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// An enum of the member names a reader matches, plus `Other`, read from a member name as it
/// is parsed (no key is copied).
macro_rules! member_names {
    ($(#[$attr:meta])* $vis:vis enum $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$attr])*
        $vis enum $name {
            $($variant,)*
            Other,
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Name;
                impl serde::de::Visitor<'_> for Name {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a member name")
                    }
                    fn visit_str<E>(self, v: &str) -> Result<$name, E> {
                        Ok(match v {
                            $($text => $name::$variant,)*
                            _ => $name::Other,
                        })
                    }
                }
                d.deserialize_str(Name)
            }
        }
    };
}
pub(crate) use member_names;

/// How a `T` is filled from whichever JSON value it meets; each hook ignores by default.
pub trait Fill: Default {
    /// The member names this type reads, matched as they are read (no key is copied).
    type Key: for<'de> Deserialize<'de>;

    fn member<'de, A: MapAccess<'de>>(
        &mut self,
        _: Self::Key,
        map: &mut A,
    ) -> Result<(), A::Error> {
        map.next_value::<Skip>().map(drop)
    }
    /// Reads the next element of an array; `false` at its end.
    fn element<'de, A: SeqAccess<'de>>(&mut self, seq: &mut A) -> Result<bool, A::Error> {
        Ok(seq.next_element::<Skip>()?.is_some())
    }
    fn integer(&mut self, _: u64) {}
    fn text(&mut self, _: &str) {}
}

/// Reads a `T` out of any JSON value.
pub fn read<'de, T: Fill, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    d.deserialize_any(Lenient::<T>(PhantomData))
}

struct Lenient<T>(PhantomData<T>);

impl<'de, T: Fill> Visitor<'de> for Lenient<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut out = T::default();
        while let Some(key) = map.next_key::<T::Key>()? {
            out.member(key, &mut map)?;
        }
        Ok(out)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        let mut out = T::default();
        while out.element(&mut seq)? {}
        Ok(out)
    }

    fn visit_u64<E>(self, v: u64) -> Result<T, E> {
        let mut out = T::default();
        out.integer(v);
        Ok(out)
    }

    fn visit_str<E>(self, v: &str) -> Result<T, E> {
        let mut out = T::default();
        out.text(v);
        Ok(out)
    }

    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
}

/// Any JSON value, read and dropped, checked as a tree would check it.
#[derive(Default)]
pub struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        read(d)
    }
}

impl Fill for Skip {
    type Key = Skip;
}
