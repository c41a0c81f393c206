//! berth's management REST API (`/api/v1`, with an OpenAPI document) and its web console (`/`).
