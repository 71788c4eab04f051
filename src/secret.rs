//! Secret values: never printed, compared in constant time.

use std::fmt;

use subtle::ConstantTimeEq;

/// A secret string. `Debug` and `Display` print a mask; comparison takes the same time
/// wherever the first difference is.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The clear value, for the few places that must send or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time equality with a presented value.
    pub fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    /// A new random secret of 32 bytes, hex encoded.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("••••")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("••••")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_and_compare_exactly() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "•••• ••••");
        assert!(secret.matches("hunter2"));
        assert!(!secret.matches("hunter3"));
        assert!(!secret.matches("hunter"));
        let generated = Secret::generate().expect("the OS has randomness");
        assert_eq!(generated.expose().len(), 64);
    }
}
