//! Field elements and balances: conversions between BN254 `Fr`, 256-bit integers,
//! decimal and `0x` hex text, and the packed little-endian balance encoding.

use ff::{FromUniformBytes, PrimeField};
use halo2curves::bn256::Fr;
pub use ruint::aliases::U256;

/// A field element as Summa prints it: `0x` and 64 hex digits, big-endian.
pub fn to_hex(f: &Fr) -> String {
    let mut be = f.to_repr().as_ref().to_vec();
    be.reverse();
    format!("0x{}", hex::encode(be))
}

/// Parses `0x` + up to 64 hex digits (big-endian) into a canonical field element.
pub fn from_hex(s: &str) -> Option<Fr> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    // Hex digits only: ruint's `from_str_radix` also skips `_`, so "0x1_2" would
    // name the same element as "0x12" (found by the fuzzer, target `summary_json`).
    if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let value = U256::from_str_radix(digits, 16).ok()?;
    fr_from_le_bytes(&value.to_le_bytes::<32>())
}

/// The field element of a canonical little-endian encoding, if it is canonical.
pub fn fr_from_le_bytes(bytes: &[u8; 32]) -> Option<Fr> {
    let mut repr = <Fr as PrimeField>::Repr::default();
    repr.as_mut().copy_from_slice(bytes);
    Option::from(Fr::from_repr(repr))
}

/// The field element of an integer below 2^256 (reduced mod p; callers keep
/// balances far below p).
#[inline]
pub fn u256_to_fr(v: &U256) -> Fr {
    Fr::from_raw(*v.as_limbs())
}

/// The canonical integer of a field element.
#[inline]
pub fn fr_to_u256(f: &Fr) -> U256 {
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(f.to_repr().as_ref());
    U256::from_le_bytes(bytes)
}

/// Parses a non-negative decimal integer of any length (surrounding ASCII spaces
/// allowed). Errors name the problem in words fit for a user.
pub fn parse_decimal(text: &[u8]) -> Result<U256, String> {
    let t = text.trim_ascii();
    if t.is_empty() {
        return Err("empty balance".into());
    }
    if t[0] == b'-' {
        return Err(format!("negative balance {:?}", String::from_utf8_lossy(t)));
    }
    let mut v = U256::ZERO;
    let ten = U256::from(10u8);
    for &c in t {
        if !c.is_ascii_digit() {
            return Err(format!(
                "balance {:?} is not a non-negative decimal integer",
                String::from_utf8_lossy(t)
            ));
        }
        v = v
            .checked_mul(ten)
            .and_then(|v| v.checked_add(U256::from(c - b'0')))
            .ok_or_else(|| "balance does not fit in 256 bits".to_string())?;
    }
    Ok(v)
}

/// `2^(8 * n_bytes)`: every balance and total must be below it.
pub fn bound(n_bytes: u8) -> U256 {
    U256::from(1u8) << (8 * n_bytes as usize)
}

/// Reads a balance stored as `n_bytes` little-endian bytes.
#[inline]
pub fn read_balance(bytes: &[u8]) -> U256 {
    let mut buf = [0u8; 32];
    buf[..bytes.len()].copy_from_slice(bytes);
    U256::from_le_bytes(buf)
}

/// Writes a balance (which must be below `2^(8 * out.len())`) as little-endian bytes.
#[inline]
pub fn write_balance(v: &U256, out: &mut [u8]) {
    let buf = v.to_le_bytes::<32>();
    out.copy_from_slice(&buf[..out.len()]);
}

/// Reduces a big-endian byte string of any length modulo p, as
/// `BigUint::from_bytes_be(bytes)` followed by Summa's `big_uint_to_fp`.
pub fn be_bytes_to_fr(bytes: &[u8]) -> Fr {
    // Horner in base 2^256 over 32-byte chunks; the first chunk takes the remainder.
    let shift = {
        // 2^256 mod p
        let mut wide = [0u8; 64];
        wide[32] = 1;
        Fr::from_uniform_bytes(&wide)
    };
    let head = bytes.len() % 32;
    let mut acc = Fr::from(0u64);
    let chunk_to_fr = |chunk: &[u8]| {
        let mut wide = [0u8; 64];
        for (i, b) in chunk.iter().rev().enumerate() {
            wide[i] = *b;
        }
        Fr::from_uniform_bytes(&wide)
    };
    if head > 0 {
        acc = chunk_to_fr(&bytes[..head]);
    }
    for chunk in bytes[head..].chunks(32) {
        acc = acc * shift + chunk_to_fr(chunk);
    }
    acc
}

/// p, the BN254 scalar field modulus, big-endian.
pub const MODULUS_BE: [u8; 32] = [
    0x30, 0x64, 0x4e, 0x72, 0xe1, 0x31, 0xa0, 0x29, 0xb8, 0x50, 0x45, 0xb6, 0x81, 0x81, 0x58, 0x5d,
    0x28, 0x33, 0xe8, 0x48, 0x79, 0xb9, 0x70, 0x91, 0x43, 0xe1, 0xf5, 0x93, 0xf0, 0x00, 0x00, 0x01,
];

/// Whether a big-endian byte string of any length is an integer below p, i.e. maps
/// to its own field element without reduction (so that two such strings that
/// differ give different elements).
pub fn be_bytes_below_modulus(bytes: &[u8]) -> bool {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let digits = &bytes[first..];
    match digits.len().cmp(&32) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => digits < &MODULUS_BE[..],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;

    #[test]
    fn modulus_bound() {
        let p = BigUint::from_bytes_be(&MODULUS_BE);
        let minus_one = (&p - 1u8).to_bytes_be();
        assert!(be_bytes_below_modulus(&minus_one));
        assert!(!be_bytes_below_modulus(&p.to_bytes_be()));
        assert!(!be_bytes_below_modulus(&(&p + 1u8).to_bytes_be()));
        assert!(!be_bytes_below_modulus(&[b'z'; 32]));
        assert!(be_bytes_below_modulus(&[b'z'; 31]));
        assert!(!be_bytes_below_modulus(&[1u8; 33]));
        // Leading zero bytes do not count.
        let mut padded = vec![0u8; 8];
        padded.extend_from_slice(&minus_one);
        assert!(be_bytes_below_modulus(&padded));
        assert!(be_bytes_below_modulus(b""));
        // p as the field sees it: p reduces to 0, p - 1 does not.
        assert_eq!(be_bytes_to_fr(&p.to_bytes_be()), Fr::from(0u64));
    }
    use proptest::prelude::*;

    #[test]
    fn hex_round_trip() {
        let f = Fr::from(0x1234u64);
        let h = to_hex(&f);
        assert_eq!(h, format!("0x{:064x}", 0x1234));
        assert_eq!(from_hex(&h), Some(f));
        assert_eq!(from_hex("0x"), None);
        assert_eq!(from_hex("1234"), None);
        // p itself is not canonical.
        assert_eq!(
            from_hex("0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001"),
            None
        );
    }

    #[test]
    fn decimal_parsing() {
        assert_eq!(parse_decimal(b" 42 ").unwrap(), U256::from(42u8));
        assert!(parse_decimal(b"-1").unwrap_err().contains("negative"));
        assert!(parse_decimal(b"1e3")
            .unwrap_err()
            .contains("not a non-negative"));
        assert!(parse_decimal(b"").is_err());
        assert!(parse_decimal(&[b'9'; 80]).unwrap_err().contains("256 bits"));
    }

    proptest! {
        #[test]
        fn be_bytes_reduce_like_biguint(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let expected = crate::reference::big_uint_to_fp(&BigUint::from_bytes_be(&bytes));
            prop_assert_eq!(be_bytes_to_fr(&bytes), expected);
        }

        #[test]
        fn balances_pack(v in any::<u128>()) {
            let v = U256::from(v);
            let mut out = [0u8; 16];
            write_balance(&v, &mut out);
            prop_assert_eq!(read_balance(&out), v);
            prop_assert_eq!(fr_to_u256(&u256_to_fr(&v)), v);
        }
    }
}
