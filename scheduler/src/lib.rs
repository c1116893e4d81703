//! Chime's leader-elected scheduler: campaign for the lease, keep a timer
//! heap of next fire times, emit due ticks through the fenced emit script.
//! Not built yet: see ARCHITECTURE.md.
