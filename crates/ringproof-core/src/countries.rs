//! The country rules of the Signzy-compatible OTP face: which calling codes Signzy's
//! "Send OTP" API accepts and how many national digits each allows.
//!
//! The rules are Signzy's published table (its Send OTP page), kept as data rather than code:
//! `data/signzy_countries.tsv` is generated from the seed by `tools/signzy_countries.py`,
//! row for row, quirks included (duplicate ISO codes, "st vincent & grenadines" under +783,
//! "republic of serbia … 8 12" read as 8 to 12). It is compiled in with `include_str!` and
//! parsed once, so there is no I/O at run time. A number is judged by its calling code
//! alone, so the lengths allowed for a code are the *union* of every row sharing it
//! (+7 allows 10 from Kazakhstan and 10 to 11 from Russia). A test re-parses the seed
//! independently and checks the file still matches it.
//!
//! Entry points: [`parse_signzy_number`] for a `phoneNumber` field (`+1-9907676111`, or
//! plain E.164), [`national_lengths`] and [`rows`] for the table itself.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// The table, as generated from the seed.
const TSV: &str = include_str!("../data/signzy_countries.tsv");
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

/// Why a `phoneNumber` is not acceptable to the Signzy face. No variant carries the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CountryError {
    #[error("phone number must be '+', the country code, a hyphen and the digits (e.g. +1-9907676111), or E.164")]
    Malformed,
    #[error("country code is not supported")]
    UnknownCallingCode,
    #[error("phone number has the wrong number of digits for country code +{calling_code}")]
    WrongLength { calling_code: u16 },
}

/// A number accepted by the Signzy country table: calling code and national digits.
/// Its `Debug` masks the digits; [`SignzyNumber::e164`] is the explicit way out.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SignzyNumber {
    calling_code: u16,
    national: String,
}

impl SignzyNumber {
    pub fn calling_code(&self) -> u16 {
        self.calling_code
    }

    /// The national digits (without the calling code).
    pub fn national(&self) -> &str {
        &self.national
    }

    /// `+<calling code><national digits>`, e.g. `+19907676111`.
    pub fn e164(&self) -> String {
        format!("+{}{}", self.calling_code, self.national)
    }

    /// `+1******6111`: the calling code and the last four digits, for logs.
    pub fn masked(&self) -> String {
        let keep = self.national.len().min(4);
        let (hidden, shown) = self.national.split_at(self.national.len() - keep);
        format!("+{}{}{}", self.calling_code, "*".repeat(hidden.len()), shown)
    }
}

impl fmt::Debug for SignzyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SignzyNumber").field(&self.masked()).finish()
    }
}

struct Table {
    rows: Vec<CountryRow>,
    /// Calling code → the sorted, distinct national lengths allowed by any of its rows.
    lengths: BTreeMap<u16, Vec<u8>>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
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
        Table { rows, lengths }
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

fn length_fits(calling_code: u16, national: &str) -> Option<bool> {
    let allowed = national_lengths(calling_code)?;
    Some(u8::try_from(national.len()).is_ok_and(|n| allowed.contains(&n)))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses Signzy's `phoneNumber`: `+<cc>-<digits>` (the documented form, e.g.
/// `+1-9907676111`; one space instead of the hyphen is tolerated) or plain E.164
/// `+<cc><digits>`. The calling code must be in the table and the digit count within its
/// allowed lengths. No surrounding whitespace is accepted.
///
/// For plain E.164 the calling code is found by trying the table's codes that prefix the
/// digits (1 to 4 digits) and keeping those whose length rule the rest fits; if several
/// fit, the longest code wins (`+7830000000` is +783 with 7 digits, `+78301234567` is +7).
pub fn parse_signzy_number(s: &str) -> Result<SignzyNumber, CountryError> {
    let rest = s.strip_prefix('+').ok_or(CountryError::Malformed)?;
    if let Some((cc, national)) = rest.split_once(['-', ' ']) {
        if !all_digits(cc) || cc.len() > 4 || cc.starts_with('0') || !all_digits(national) {
            return Err(CountryError::Malformed);
        }
        let calling_code: u16 = cc.parse().map_err(|_| CountryError::Malformed)?;
        return match length_fits(calling_code, national) {
            None => Err(CountryError::UnknownCallingCode),
            Some(false) => Err(CountryError::WrongLength { calling_code }),
            Some(true) => Ok(SignzyNumber {
                calling_code,
                national: national.to_owned(),
            }),
        };
    }
    if !all_digits(rest) {
        return Err(CountryError::Malformed);
    }
    let mut known = None;
    for split in (1..=4.min(rest.len())).rev() {
        let (cc, national) = rest.split_at(split);
        if cc.starts_with('0') {
            continue;
        }
        let Ok(calling_code) = cc.parse::<u16>() else {
            continue;
        };
        match length_fits(calling_code, national) {
            None => {}
            Some(false) => known = known.or(Some(calling_code)),
            Some(true) => {
                return Ok(SignzyNumber {
                    calling_code,
                    national: national.to_owned(),
                });
            }
        }
    }
    Err(match known {
        Some(calling_code) => CountryError::WrongLength { calling_code },
        None => CountryError::UnknownCallingCode,
    })
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
    fn countries_parse_both_forms() {
        for s in ["+1-9907676111", "+1 9907676111", "+19907676111"] {
            let n = parse_signzy_number(s).unwrap();
            assert_eq!(n.calling_code(), 1);
            assert_eq!(n.national(), "9907676111");
            assert_eq!(n.e164(), "+19907676111");
        }
        let n = parse_signzy_number("+44-7911123456").unwrap();
        assert_eq!((n.calling_code(), n.e164().as_str()), (44, "+447911123456"));
        let n = parse_signzy_number("+447911123456").unwrap();
        assert_eq!((n.calling_code(), n.national()), (44, "7911123456"));
        let n = parse_signzy_number("+6723123456").unwrap();
        assert_eq!((n.calling_code(), n.national()), (6723, "123456"));
        // +7 against +783: the split whose length rule fits.
        let n = parse_signzy_number("+7830000000").unwrap();
        assert_eq!((n.calling_code(), n.national()), (783, "0000000"));
        let n = parse_signzy_number("+78301234567").unwrap();
        assert_eq!((n.calling_code(), n.national()), (7, "8301234567"));
        let n = parse_signzy_number("+381-812345678901").unwrap();
        assert_eq!(n.national().len(), 12);
        let n = parse_signzy_number("+919876543210").unwrap();
        assert_eq!((n.calling_code(), n.national()), (91, "9876543210"));
    }

    #[test]
    fn countries_rejections() {
        use CountryError::*;
        let cases = [
            ("+999-12345678", UnknownCallingCode),
            ("+99912345678", UnknownCallingCode),
            ("+1-990767611", WrongLength { calling_code: 1 }),
            ("+1-99076761111", WrongLength { calling_code: 1 }),
            ("+1990767611", WrongLength { calling_code: 1 }),
            ("+7-123456789", WrongLength { calling_code: 7 }),
            ("+381-1234567", WrongLength { calling_code: 381 }),
            ("+1-99076761ab", Malformed),
            ("+1-９９０７６７６１１１", Malformed),
            ("+abc", Malformed),
            ("19907676111", Malformed),
            ("1-9907676111", Malformed),
            ("", Malformed),
            ("+", Malformed),
            ("+1", WrongLength { calling_code: 1 }),
            ("+9", UnknownCallingCode),
            ("+1-", Malformed),
            ("+-9907676111", Malformed),
            ("+1--9907676111", Malformed),
            ("+1-990-767-6111", Malformed),
            ("+1  9907676111", Malformed),
            (" +1-9907676111", Malformed),
            ("+1-9907676111 ", Malformed),
            ("+01-9907676111", Malformed),
            ("+12345-123456", Malformed),
        ];
        for (input, want) in cases {
            assert_eq!(parse_signzy_number(input), Err(want), "{input:?}");
        }
    }

    #[test]
    fn countries_no_number_in_errors_or_debug() {
        let err = parse_signzy_number("+1-990767611").unwrap_err();
        assert!(!err.to_string().contains("990767611"));
        assert!(!format!("{err:?}").contains("990767611"));
        let n = parse_signzy_number("+1-9907676111").unwrap();
        assert_eq!(format!("{n:?}"), "SignzyNumber(\"+1******6111\")");
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
