//! Watching versions on live traffic and acting on what is seen: input drift's level
//! changes as events ([`drift_events`]), a candidate run in the shadow of the active
//! version ([`shadow`]) and a canary judged against it and promoted or stopped by the host
//! ([`canary`]). Above the registry, the lifecycle and the event stream, which they use;
//! the API holds their state.

pub mod canary;
pub mod drift_events;
pub mod shadow;
