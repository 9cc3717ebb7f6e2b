//! Placeholder: the supported-country table of the Signzy OTP face (being written).
