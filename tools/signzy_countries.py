#!/usr/bin/env python3
"""Extract Signzy's supported-country table from its Send OTP page into a TSV.

Usage: python3 tools/signzy_countries.py ../shared/seeds/003_dbd770b56cd4412b.txt \
           > crates/ringproof-core/data/country_lengths.tsv

The seed is a flattened, lower-cased web page; the table is one run-on paragraph between
"supported mobile number length" and "sample error". Each row is

    <name words...> <iso: 2 letters> <calling code: 1-4 digits> <length spec>

where the length spec is `N`, `N to M`, or (one quirk: "republic of serbia rs 381 8 12")
`N M`. A name may contain short words such as "of", "st" or "to", so the ISO code is
recognised only as a 2-letter token immediately followed by a digits token that is itself
followed by a digits token (the length). Rows are kept exactly as the seed has them,
duplicates and oddities included; ringproof-core's countries.rs takes the union per code.
"""

import re
import sys

START = "supported mobile number length"
END = "sample error"
EXPECTED_ROWS = 241  # checked by hand (rows afghanistan..zimbabwe) and by counting the runs of
#                     number tokens in the table text, one run per row

ISO = re.compile(r"^[a-z]{2}$")
CODE = re.compile(r"^[0-9]{1,4}$")
LEN = re.compile(r"^[0-9]{1,2}$")


def table_text(seed: str) -> str:
    start = seed.index(START) + len(START)
    end = seed.index(END, start)
    return seed[start:end]


def parse_rows(text: str):
    toks = text.split()
    rows, name, i = [], [], 0
    while i < len(toks):
        t = toks[i]
        if (
            name
            and ISO.match(t)
            and i + 2 < len(toks)
            and CODE.match(toks[i + 1])
            and LEN.match(toks[i + 2])
        ):
            code, lo = int(toks[i + 1]), int(toks[i + 2])
            i += 3
            hi = lo
            if i + 1 < len(toks) and toks[i] == "to" and LEN.match(toks[i + 1]):
                hi = int(toks[i + 1])
                i += 2
            elif i < len(toks) and LEN.match(toks[i]):
                # "8 12" with the "to" lost: read as a range.
                hi = int(toks[i])
                i += 1
            assert lo <= hi, (name, t, lo, hi)
            rows.append((" ".join(name), t, code, lo, hi))
            name = []
        else:
            assert not LEN.match(t) and not CODE.match(t), f"stray number {t!r} after {name!r}"
            name.append(t)
            i += 1
    assert not name, f"trailing words without a row: {name!r}"
    return rows


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        rows = parse_rows(table_text(f.read()))
    out = sys.stdout
    out.write("# Generated from Signzy's Send OTP page (../shared/seeds/003_dbd770b56cd4412b.txt) by tools/signzy_countries.py; do not edit.\n")
    out.write("name\tiso\tcalling_code\tmin_len\tmax_len\n")
    for name, iso, code, lo, hi in rows:
        out.write(f"{name}\t{iso}\t{code}\t{lo}\t{hi}\n")
    print(f"{len(rows)} rows", file=sys.stderr)
    assert len(rows) == EXPECTED_ROWS, f"expected {EXPECTED_ROWS} rows, got {len(rows)}"
    return 0


if __name__ == "__main__":
    sys.exit(main())
