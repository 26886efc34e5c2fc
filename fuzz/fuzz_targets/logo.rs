#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| proofsheet_fuzz::logo(data));
