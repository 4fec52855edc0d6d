//! Synthetic rounds for benchmarks: deterministic users with Summa-like usernames
//! (8 alphanumeric characters) and balances, written as CSV.

use std::io::{self, Write};

use crate::shard::{header_line, Currency};

/// A small deterministic generator (xorshift64*): the same seed gives the same users.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// `n` currencies named `C0..`, all on chain `ETH`.
pub fn currencies(n: usize) -> Vec<Currency> {
    (0..n)
        .map(|i| Currency {
            name: format!("C{i}"),
            chain: "ETH".into(),
        })
        .collect()
}

/// Writes a CSV of `users` users with `n_currencies` balances below 10^12 each.
/// Usernames are 8 random alphanumeric characters followed by the row number, so
/// they are unique.
pub fn write_csv<W: Write>(
    w: &mut W,
    users: u64,
    n_currencies: usize,
    seed: u64,
) -> io::Result<()> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = Rng::new(seed);
    writeln!(w, "{}", header_line(&currencies(n_currencies)))?;
    let mut line = Vec::with_capacity(128);
    for i in 0..users {
        line.clear();
        for _ in 0..8 {
            line.push(ALPHABET[(rng.next_u64() % ALPHABET.len() as u64) as usize]);
        }
        write!(line, "{i}")?;
        for _ in 0..n_currencies {
            write!(line, ",{}", rng.next_u64() % 1_000_000_000_000)?;
        }
        line.push(b'\n');
        w.write_all(&line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::read_entries;
    use crate::Params;

    #[test]
    fn generated_csv_is_a_valid_shard() {
        let mut csv = Vec::new();
        write_csv(&mut csv, 100, 3, 7).unwrap();
        let e = read_entries(&csv[..], "gen.csv", &Params::default(), None).unwrap();
        assert_eq!(e.len(), 100);
        assert_eq!(e.currencies, currencies(3));
        let mut again = Vec::new();
        write_csv(&mut again, 100, 3, 7).unwrap();
        assert_eq!(csv, again, "deterministic");
    }
}
