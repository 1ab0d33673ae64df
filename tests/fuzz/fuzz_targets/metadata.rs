//! The three metadata documents (digest §2.7) parse from hostile JSON without panicking;
//! what parses serializes and parses back to the same document, and the identity check
//! (`agent`/`issuer`/`resource` equals the id it was fetched for) never panics.
#![no_main]

use aauth_core::{AgentMetadata, IssuerMetadata, ResourceMetadata};
use libfuzzer_sys::fuzz_target;

macro_rules! round_trip {
    ($ty:ty, $data:expr, $id:ident) => {
        if let Ok(m) = <$ty>::from_json($data) {
            let _ = m.check_id(&m.$id);
            let _ = m.check_id("https://other.example");
            let json = serde_json::to_vec(&m).expect("serializes");
            let again = <$ty>::from_json(&json).expect("own output parses");
            assert_eq!(again, m);
        }
    };
}

fuzz_target!(|data: &[u8]| {
    round_trip!(AgentMetadata, data, agent);
    round_trip!(IssuerMetadata, data, issuer);
    round_trip!(ResourceMetadata, data, resource);
});
