//! heed codecs: rkyv-encoded values (validated on every read, since bytes on disk are input) and
//! fixed-size big-endian keys (so that LMDB's byte order is numeric order).

use std::borrow::Cow;
use std::marker::PhantomData;

use heed::{BoxedError, BytesDecode, BytesEncode};
use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;

/// A value stored as rkyv bytes.
pub struct Rkyv<T>(PhantomData<T>);

impl<'a, T> BytesEncode<'a> for Rkyv<T>
where
    T: 'a + for<'b> rkyv::Serialize<HighSerializer<AlignedVec, ArenaHandle<'b>, rancor::Error>>,
{
    type EItem = T;

    fn bytes_encode(item: &'a T) -> Result<Cow<'a, [u8]>, BoxedError> {
        Ok(Cow::Owned(
            rkyv::to_bytes::<rancor::Error>(item)?.into_vec(),
        ))
    }
}

impl<'a, T> BytesDecode<'a> for Rkyv<T>
where
    T: rkyv::Archive + 'static,
    T::Archived: for<'b> rkyv::bytecheck::CheckBytes<HighValidator<'b, rancor::Error>>
        + rkyv::Deserialize<T, HighDeserializer<rancor::Error>>,
{
    type DItem = T;

    fn bytes_decode(bytes: &'a [u8]) -> Result<T, BoxedError> {
        // Values read in place from LMDB are not aligned: copy before validating.
        let mut aligned = AlignedVec::<16>::with_capacity(bytes.len());
        aligned.extend_from_slice(bytes);
        Ok(rkyv::from_bytes::<T, rancor::Error>(&aligned)?)
    }
}

/// A key of fixed size, written big-endian.
pub trait FixedKey: Sized {
    const LEN: usize;
    fn write(&self, out: &mut Vec<u8>);
    fn read(bytes: &[u8]) -> Option<Self>;
}

/// Codec for any [`FixedKey`].
pub struct Key<T>(PhantomData<T>);

impl<'a, T: FixedKey + 'a> BytesEncode<'a> for Key<T> {
    type EItem = T;

    fn bytes_encode(item: &'a T) -> Result<Cow<'a, [u8]>, BoxedError> {
        let mut out = Vec::with_capacity(T::LEN);
        item.write(&mut out);
        Ok(Cow::Owned(out))
    }
}

impl<'a, T: FixedKey + 'a> BytesDecode<'a> for Key<T> {
    type DItem = T;

    fn bytes_decode(bytes: &'a [u8]) -> Result<T, BoxedError> {
        if bytes.len() != T::LEN {
            return Err(format!("key of {} bytes, expected {}", bytes.len(), T::LEN).into());
        }
        T::read(bytes).ok_or_else(|| "malformed key".into())
    }
}

/// Reads a big-endian integer of `N` bytes at `at`.
pub fn be<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at + N)?.try_into().ok()
}

macro_rules! fixed_key_newtype {
    ($t:ty, $inner:ty) => {
        impl FixedKey for $t {
            const LEN: usize = std::mem::size_of::<$inner>();
            fn write(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.0.to_be_bytes());
            }
            fn read(bytes: &[u8]) -> Option<Self> {
                Some(Self(<$inner>::from_be_bytes(be(bytes, 0)?)))
            }
        }
    };
}

fixed_key_newtype!(super::ids::MailboxId, u32);
fixed_key_newtype!(super::ids::MessageId, u64);
fixed_key_newtype!(super::ids::QueueId, u64);
fixed_key_newtype!(super::ids::QueueFileId, u64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ids::MailboxId;

    #[test]
    fn keys_sort_numerically() {
        let a = Key::<MailboxId>::bytes_encode(&MailboxId(2))
            .unwrap()
            .into_owned();
        let b = Key::<MailboxId>::bytes_encode(&MailboxId(256))
            .unwrap()
            .into_owned();
        assert!(a < b);
        assert_eq!(Key::<MailboxId>::bytes_decode(&b).unwrap(), MailboxId(256));
        assert!(Key::<MailboxId>::bytes_decode(&b[..3]).is_err());
    }

    #[test]
    fn damaged_value_is_an_error_not_a_panic() {
        let v: Vec<String> = vec!["a".into(), "bc".into()];
        let bytes = Rkyv::<Vec<String>>::bytes_encode(&v).unwrap().into_owned();
        assert_eq!(Rkyv::<Vec<String>>::bytes_decode(&bytes).unwrap(), v);
        for cut in 0..bytes.len() {
            let _ = Rkyv::<Vec<String>>::bytes_decode(&bytes[..cut]);
        }
        let mut bad = bytes.clone();
        for b in bad.iter_mut() {
            *b = 0xff;
        }
        assert!(Rkyv::<Vec<String>>::bytes_decode(&bad).is_err());
    }
}
