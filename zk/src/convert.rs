//! The core library computes over `halo2curves`' BN254 scalar field, the proving
//! system over `halo2curves-axiom`'s: the same field in two crates. Values cross the
//! boundary as their canonical little-endian bytes.

use halo2_proofs::halo2curves::bn256::Fr as CircuitFr;
use summa_agg::Fr as CoreFr;

/// A core field element in the circuit's field.
pub fn to_circuit(f: &CoreFr) -> CircuitFr {
    use ff::PrimeField;
    let repr = f.to_repr();
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(repr.as_ref());
    CircuitFr::from_repr(bytes).expect("both crates use the same modulus")
}

/// A circuit field element in the core's field.
pub fn to_core(f: &CircuitFr) -> CoreFr {
    use ff::PrimeField;
    let mut repr = <CoreFr as PrimeField>::Repr::default();
    repr.as_mut().copy_from_slice(&f.to_repr());
    CoreFr::from_repr(repr).expect("both crates use the same modulus")
}

/// A core field element as a decimal integer (balances and totals).
pub fn to_decimal(f: &CoreFr) -> String {
    summa_agg::field::fr_to_u256(f).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_arithmetic_agree() {
        let a = summa_agg::field::from_hex(
            "0x1a2cd781913e49ef803fbdff9bfa873d0e8b8e1ca96d593bc4837e2d1bea03da",
        )
        .unwrap();
        let b = -CoreFr::from(7u64);
        assert_eq!(to_core(&to_circuit(&a)), a);
        assert_eq!(to_decimal(&CoreFr::from(2227448u64)), "2227448");
        assert_eq!(
            to_circuit(&(a * b + a)),
            to_circuit(&a) * to_circuit(&b) + to_circuit(&a)
        );
    }
}
