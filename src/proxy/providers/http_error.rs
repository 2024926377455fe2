//! A provider call's failure, named apart from the client (`http`) so that its connection
//! pool, which the client uses, can report failures without depending on the client.

/// A failed call: the request could not be built or sent, or the answer not read.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    message: String,
    /// The upstream policy refused the address: nothing was sent.
    blocked: bool,
}

impl HttpError {
    pub(super) fn new(message: &str) -> Self {
        Self::from(message.to_string())
    }

    pub fn is_blocked(&self) -> bool {
        self.blocked
    }

    pub(super) fn from_chain(e: &(dyn std::error::Error + 'static)) -> Self {
        // hyper's errors say little at the top ("client error (Connect)"): add the causes.
        let mut message = e.to_string();
        let mut blocked = super::guard::is_blocked(e);
        let mut source = e.source();
        while let Some(s) = source {
            message = format!("{message}: {s}");
            blocked |= super::guard::is_blocked(s);
            source = s.source();
        }
        Self { message, blocked }
    }
}

impl From<String> for HttpError {
    fn from(message: String) -> Self {
        Self {
            message,
            blocked: false,
        }
    }
}
