//! Chime's REST API, dashboard and recorder. Not built yet: see ARCHITECTURE.md.
