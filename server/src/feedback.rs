//! Ground truth: a client reports the true outcome of an earlier prediction
//! (`POST /feedback`), and the host compares it with what the model said, per model
//! version — a classifier's live accuracy, a regressor's live error, next to the card's
//! offline figures, and the way a canary and the active version are compared on real
//! traffic.
//!
//! The host remembers the last [`PredictionLog::capacity`] single-row predictions by
//! request ID (oldest forgotten first), so memory stays bounded however long it runs.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use thiserror::Error;

/// Single-row predictions remembered for feedback, by default.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// A prediction waiting for its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Remembered {
    /// The model that answered.
    pub model: String,
    /// Its version.
    pub version: String,
    /// What it predicted.
    pub said: Said,
}

/// What a remembered prediction said.
#[derive(Debug, Clone, PartialEq)]
pub enum Said {
    /// A classifier's label.
    Label(String),
    /// A regressor's value.
    Value(f64),
}

/// Why feedback cannot be taken.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FeedbackError {
    /// No remembered prediction has this request ID (never made, a batch, or forgotten).
    #[error(
        "no remembered single-row prediction has request ID {0:?} (the host keeps the last {1})"
    )]
    Unknown(String, usize),
    /// Feedback for this request was already given.
    #[error("feedback for request {0:?} was already given")]
    AlreadyGiven(String),
}

struct Entry {
    prediction: Remembered,
    answered: bool,
}

/// The remembered predictions.
pub struct PredictionLog {
    capacity: usize,
    inner: Mutex<(HashMap<String, Entry>, VecDeque<String>)>,
}

impl PredictionLog {
    /// A log remembering at most `capacity` predictions.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// How many predictions it remembers at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Remembers the prediction answered to `request_id`.
    pub fn remember(&self, request_id: &str, prediction: Remembered) {
        let mut inner = self.inner.lock().expect("prediction log lock");
        let (by_id, order) = &mut *inner;
        if by_id
            .insert(
                request_id.to_owned(),
                Entry {
                    prediction,
                    answered: false,
                },
            )
            .is_none()
        {
            order.push_back(request_id.to_owned());
        }
        while order.len() > self.capacity {
            if let Some(oldest) = order.pop_front() {
                by_id.remove(&oldest);
            }
        }
    }

    /// The prediction of `request_id`, if feedback can still be given for it.
    pub fn peek(&self, request_id: &str) -> Result<Remembered, FeedbackError> {
        let inner = self.inner.lock().expect("prediction log lock");
        let entry = inner
            .0
            .get(request_id)
            .ok_or_else(|| FeedbackError::Unknown(request_id.to_owned(), self.capacity))?;
        if entry.answered {
            return Err(FeedbackError::AlreadyGiven(request_id.to_owned()));
        }
        Ok(entry.prediction.clone())
    }

    /// The prediction of `request_id`, marked as answered: feedback counts once.
    pub fn take(&self, request_id: &str) -> Result<Remembered, FeedbackError> {
        let mut inner = self.inner.lock().expect("prediction log lock");
        let entry = inner
            .0
            .get_mut(request_id)
            .ok_or_else(|| FeedbackError::Unknown(request_id.to_owned(), self.capacity))?;
        if entry.answered {
            return Err(FeedbackError::AlreadyGiven(request_id.to_owned()));
        }
        entry.answered = true;
        Ok(entry.prediction.clone())
    }

    /// Predictions remembered now.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("prediction log lock").0.len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(label: &str) -> Remembered {
        Remembered {
            model: "m".into(),
            version: "1".into(),
            said: Said::Label(label.into()),
        }
    }

    #[test]
    fn feedback_counts_once_and_the_oldest_are_forgotten() {
        let log = PredictionLog::new(2);
        log.remember("a", said("yes"));
        log.remember("b", said("no"));
        assert_eq!(log.take("a"), Ok(said("yes")));
        assert_eq!(log.take("a"), Err(FeedbackError::AlreadyGiven("a".into())));
        log.remember("c", said("no"));
        assert_eq!(log.len(), 2, "bounded");
        assert_eq!(log.take("a"), Err(FeedbackError::Unknown("a".into(), 2)));
        assert_eq!(log.take("c"), Ok(said("no")));
    }
}
