//! The integration tests of the observability config, one test binary (one link) with a module per
//! concern.

mod compose;
mod deploy;
mod event_targets;
mod grafana;
mod kibana;
mod prometheus_queries;
mod promtool;
mod supply_chain;
