//! Chime's stateless executor: claim events from queue streams, run shell,
//! HTTP and event targets, heartbeat, reclaim dead executors' work, report
//! results. Not built yet: see ARCHITECTURE.md.
