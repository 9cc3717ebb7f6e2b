//! The supported-country table of the number-addressed OTP and the SMS-then-call
//! fallback (used by the Signzy and iDenfy faces): which calling codes are accepted and how
//! many national digits each allows.
//!
//! The rules are Signzy's published table (its Send OTP page), kept as data rather than code:
//! `data/country_lengths.tsv` is generated from the seed by `tools/signzy_countries.py`,
//! row for row, quirks included (duplicate ISO codes, "st vincent & grenadines" under +783,
//! "republic of serbia … 8 12" read as 8 to 12). It is compiled in with `include_str!` and
//! parsed once, so there is no I/O at run time. A number is judged by its calling code
//! alone, so the lengths allowed for a code are the *union* of every row sharing it
//! (+7 allows 10 from Kazakhstan and 10 to 11 from Russia). A test re-parses the seed
//! independently and checks the file still matches it.
//!
//! Entry points: [`table`], given to [`crate::phone::PhoneNumber::parse`] as
//! [`crate::phone::ParseOptions::country_table`] (the parser reads the shapes, the table
//! judges calling code and length); [`national_lengths`] and [`rows`] for the table itself.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// The table, as generated from the seed.
const TSV: &str = include_str!("../data/country_lengths.tsv");
const HEADER: &str = "name\tiso\tcalling_code\tmin_len\tmax_len";

/// One row of Signzy's supported-country table, as the seed has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountryRow {
    /// Lower-cased, as in the seed (e.g. `côte d'ivoire`).
    pub name: &'static str,
    /// Two lower-case letters (e.g. `ci`). Not unique: some countries have two rows.
    pub iso: &'static str,
    /// The calling code without `+` (e.g. `225`).
    pub calling_code: u16,
    /// Fewest national digits allowed (after the calling code).
    pub min_len: u8,
    /// Most national digits allowed.
    pub max_len: u8,
}

/// Why the table refuses a number. No variant carries the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CountryError {
    #[error("country code is not supported")]
    UnknownCallingCode,
    #[error("phone number has the wrong number of digits for country code +{calling_code}")]
    WrongLength { calling_code: u16 },
}

/// The table: its rows, and per calling code the national lengths it allows.
pub struct CountryTable {
    rows: Vec<CountryRow>,
    /// Calling code → the sorted, distinct national lengths allowed by any of its rows.
    lengths: BTreeMap<u16, Vec<u8>>,
}

/// The table compiled into this build (parsed on first use).
pub fn table() -> &'static CountryTable {
    static TABLE: OnceLock<CountryTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let (rows, _malformed) = parse_tsv(TSV);
        let mut lengths: BTreeMap<u16, Vec<u8>> = BTreeMap::new();
        for row in &rows {
            lengths
                .entry(row.calling_code)
                .or_default()
                .extend(row.min_len..=row.max_len);
        }
        for allowed in lengths.values_mut() {
            allowed.sort_unstable();
            allowed.dedup();
        }
        CountryTable { rows, lengths }
    })
}

/// Parses the embedded TSV: `#` comments, one header line, then rows. A malformed line is
/// skipped and counted (a test asserts the count is zero), so nothing here can panic.
fn parse_tsv(tsv: &'static str) -> (Vec<CountryRow>, usize) {
    let mut rows = Vec::new();
    let mut malformed = 0;
    for line in tsv.lines() {
        if line.is_empty() || line.starts_with('#') || line == HEADER {
            continue;
        }
        match parse_row(line) {
            Some(row) => rows.push(row),
            None => malformed += 1,
        }
    }
    (rows, malformed)
}

fn parse_row(line: &'static str) -> Option<CountryRow> {
    let mut fields = line.split('\t');
    let name = fields.next()?;
    let iso = fields.next()?;
    let calling_code: u16 = fields.next()?.parse().ok()?;
    let min_len: u8 = fields.next()?.parse().ok()?;
    let max_len: u8 = fields.next()?.parse().ok()?;
    let well_formed = fields.next().is_none()
        && !name.is_empty()
        && iso.len() == 2
        && iso.bytes().all(|b| b.is_ascii_lowercase())
        && (1..=9999).contains(&calling_code)
        && 1 <= min_len
        && min_len <= max_len
        && max_len <= 15;
    well_formed.then_some(CountryRow {
        name,
        iso,
        calling_code,
        min_len,
        max_len,
    })
}

/// Every row of Signzy's table, in the seed's order (241 rows).
pub fn rows() -> &'static [CountryRow] {
    &table().rows
}

/// The national lengths (digits after the calling code) allowed for a calling code, sorted
/// and distinct: the union over every row with that code. `None` if Signzy does not list
/// the code. (Every union in the seed's table happens to be a contiguous range.)
pub fn national_lengths(calling_code: u16) -> Option<&'static [u8]> {
    table().lengths.get(&calling_code).map(Vec::as_slice)
}

impl fmt::Debug for CountryTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountryTable")
            .field("rows", &self.rows.len())
            .field("calling_codes", &self.lengths.len())
            .finish()
    }
}

impl CountryTable {
    fn length_fits(&self, calling_code: u16, national: &str) -> Option<bool> {
        let allowed = self.lengths.get(&calling_code)?;
        Some(u8::try_from(national.len()).is_ok_and(|n| allowed.contains(&n)))
    }

    /// Judges a number given as calling code and national digits (the dashed form
    /// `+<cc>-<digits>`): the code must be listed and the digit count one it allows.
    pub fn check(&self, calling_code: u16, national: &str) -> Result<(), CountryError> {
        match self.length_fits(calling_code, national) {
            None => Err(CountryError::UnknownCallingCode),
            Some(false) => Err(CountryError::WrongLength { calling_code }),
            Some(true) => Ok(()),
        }
    }

    /// Judges the digits of a plain E.164 number (without its `+`) and splits them into
    /// calling code and national digits. The calling code is found by trying the table's
    /// codes that prefix the digits (1 to 4 digits) and keeping those whose length rule the
    /// rest fits; if several fit, the longest code wins (`7830000000` is +783 with 7 digits,
    /// `78301234567` is +7). A refusal names the longest listed code that prefixes them.
    pub fn split<'a>(&self, digits: &'a str) -> Result<(u16, &'a str), CountryError> {
        let mut known = None;
        for split in (1..=4.min(digits.len())).rev() {
            let (cc, national) = digits.split_at(split);
            if cc.starts_with('0') || !cc.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(calling_code) = cc.parse::<u16>() else {
                continue;
            };
            match self.length_fits(calling_code, national) {
                None => {}
                Some(false) => known = known.or(Some(calling_code)),
                Some(true) => return Ok((calling_code, national)),
            }
        }
        Err(match known {
            Some(calling_code) => CountryError::WrongLength { calling_code },
            None => CountryError::UnknownCallingCode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &'static str) -> CountryRow {
        let found: Vec<_> = rows().iter().filter(|r| r.name == name).collect();
        assert_eq!(found.len(), 1, "{name}");
        *found[0]
    }

    fn r(name: &'static str, iso: &'static str, cc: u16, min: u8, max: u8) -> CountryRow {
        CountryRow {
            name,
            iso,
            calling_code: cc,
            min_len: min,
            max_len: max,
        }
    }

    #[test]
    fn countries_embedded_tsv_is_well_formed() {
        let (parsed, malformed) = parse_tsv(TSV);
        assert_eq!(malformed, 0);
        assert_eq!(parsed.len(), 241);
        assert_eq!(rows().len(), 241);
        assert!(TSV.starts_with("# Generated from Signzy's Send OTP page"));
    }

    #[test]
    fn countries_exact_rows() {
        assert_eq!(rows()[0], r("afghanistan", "af", 93, 9, 10));
        assert_eq!(rows()[240], r("zimbabwe", "zw", 263, 9, 10));
        assert_eq!(row("republic of serbia"), r("republic of serbia", "rs", 381, 8, 12));
        assert_eq!(row("serbia"), r("serbia", "rs", 381, 8, 10));
        assert_eq!(row("côte d'ivoire"), r("côte d'ivoire", "ci", 225, 8, 10));
        assert_eq!(
            row("ivory coast (côte d'ivoire)"),
            r("ivory coast (côte d'ivoire)", "ci", 225, 8, 9)
        );
        assert_eq!(
            row("st vincent & grenadines"),
            r("st vincent & grenadines", "vc", 783, 7, 7)
        );
        assert_eq!(
            row("saint vincent and the grenadines"),
            r("saint vincent and the grenadines", "vc", 1, 10, 10)
        );
        assert_eq!(row("norfolk island"), r("norfolk island", "nf", 6723, 6, 6));
        assert_eq!(row("tonga"), r("tonga", "to", 676, 5, 5));
        assert_eq!(
            row("sao tome and principe"),
            r("sao tome and principe", "st", 239, 7, 7)
        );
        assert_eq!(
            row("micronesia, federated states of"),
            r("micronesia, federated states of", "fm", 691, 7, 7)
        );
        assert_eq!(
            row("virgin islands (u s )"),
            r("virgin islands (u s )", "vi", 1, 10, 10)
        );
    }

    #[test]
    fn countries_unions() {
        assert_eq!(national_lengths(1), Some(&[10][..]));
        assert_eq!(national_lengths(44), Some(&[10, 11, 12][..]));
        assert_eq!(national_lengths(7), Some(&[10, 11][..]));
        assert_eq!(national_lengths(381), Some(&[8, 9, 10, 11, 12][..]));
        assert_eq!(national_lengths(262), Some(&[9][..]));
        assert_eq!(national_lengths(47), Some(&[8, 9, 10, 11, 12][..]));
        assert_eq!(national_lengths(61), Some(&[9, 10, 11, 12][..]));
        assert_eq!(national_lengths(225), Some(&[8, 9, 10][..]));
        assert_eq!(national_lengths(783), Some(&[7][..]));
        assert_eq!(national_lengths(999), None);
        assert_eq!(national_lengths(0), None);
        assert_eq!(table().lengths.len(), 204);
        for (cc, allowed) in &table().lengths {
            let (first, last) = (allowed[0], allowed[allowed.len() - 1]);
            assert_eq!(usize::from(last - first) + 1, allowed.len(), "+{cc} not contiguous");
        }
    }

    #[test]
    fn countries_check_and_split() {
        let t = table();
        assert_eq!(t.check(1, "9907676111"), Ok(()));
        assert_eq!(t.split("19907676111"), Ok((1, "9907676111")));
        assert_eq!(t.check(44, "7911123456"), Ok(()));
        assert_eq!(t.split("447911123456"), Ok((44, "7911123456")));
        assert_eq!(t.split("6723123456"), Ok((6723, "123456")));
        // +7 against +783: the split whose length rule fits.
        assert_eq!(t.split("7830000000"), Ok((783, "0000000")));
        assert_eq!(t.split("78301234567"), Ok((7, "8301234567")));
        assert_eq!(t.check(381, "812345678901"), Ok(()));
        assert_eq!(t.split("919876543210"), Ok((91, "9876543210")));
        // Niue and Tokelau: four national digits.
        assert_eq!(t.split("6834002"), Ok((683, "4002")));
        assert_eq!(t.split("6907290"), Ok((690, "7290")));
    }

    #[test]
    fn countries_refusals() {
        use CountryError::*;
        let t = table();
        assert_eq!(t.check(999, "12345678"), Err(UnknownCallingCode));
        assert_eq!(t.split("99912345678"), Err(UnknownCallingCode));
        assert_eq!(t.check(1, "990767611"), Err(WrongLength { calling_code: 1 }));
        assert_eq!(t.check(1, "99076761111"), Err(WrongLength { calling_code: 1 }));
        assert_eq!(t.split("1990767611"), Err(WrongLength { calling_code: 1 }));
        assert_eq!(t.check(7, "123456789"), Err(WrongLength { calling_code: 7 }));
        assert_eq!(t.check(381, "1234567"), Err(WrongLength { calling_code: 381 }));
        assert_eq!(t.split("1"), Err(WrongLength { calling_code: 1 }));
        assert_eq!(t.split("9"), Err(UnknownCallingCode));
        assert_eq!(t.split(""), Err(UnknownCallingCode));
        let err = t.check(1, "990767611").unwrap_err();
        assert!(!err.to_string().contains("990767611"));
        assert!(!format!("{err:?}").contains("990767611"));
    }

    /// Re-derives the table from the seed, independently of the TSV and with a different
    /// method from the Python script: the table text is cut into alternating runs of words
    /// and numbers ("to" counts as a number only between two numbers); each number run is
    /// `cc len [len]`, and the last word before it is the ISO code.
    /// Runs where `../shared/seeds` is beside the repository and always under CI (`build.rs`).
    #[test]
    #[cfg_attr(
        not(ringproof_seeds),
        ignore = "needs Signzy's Send OTP page at ../shared/seeds/003_dbd770b56cd4412b.txt"
    )]
    fn countries_tsv_matches_seed() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seeds/003_dbd770b56cd4412b.txt");
        let seed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("Signzy's Send OTP page, {}: {e}", path.display()));
        let start = seed.find("supported mobile number length").unwrap() + 30;
        let end = start + seed[start..].find("sample error").unwrap();
        let toks: Vec<&str> = seed[start..end].split_whitespace().collect();
        let is_num = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let numeric: Vec<bool> = (0..toks.len())
            .map(|i| {
                is_num(toks[i])
                    || (toks[i] == "to" && i > 0 && is_num(toks[i - 1]) && toks.get(i + 1).is_some_and(|t| is_num(t)))
            })
            .collect();
        let mut expected = String::from(
            "# Generated from Signzy's Send OTP page (../shared/seeds/003_dbd770b56cd4412b.txt) by tools/signzy_countries.py; do not edit.\n",
        );
        expected.push_str(HEADER);
        expected.push('\n');
        let mut i = 0;
        let mut count = 0;
        while i < toks.len() {
            let words_start = i;
            while i < toks.len() && !numeric[i] {
                i += 1;
            }
            let nums_start = i;
            while i < toks.len() && numeric[i] {
                i += 1;
            }
            let words = &toks[words_start..nums_start];
            let nums: Vec<&str> = toks[nums_start..i].iter().copied().filter(|t| *t != "to").collect();
            assert!(words.len() >= 2, "{words:?}");
            let (iso, name) = words.split_last().unwrap();
            assert!(iso.len() == 2 && iso.bytes().all(|b| b.is_ascii_lowercase()));
            let (cc, lo, hi) = match nums[..] {
                [cc, lo] => (cc, lo, lo),
                [cc, lo, hi] => (cc, lo, hi),
                _ => panic!("bad number run {nums:?} after {words:?}"),
            };
            expected.push_str(&format!("{}\t{iso}\t{cc}\t{lo}\t{hi}\n", name.join(" ")));
            count += 1;
        }
        assert_eq!(count, 241);
        assert_eq!(TSV, expected);
    }
}
