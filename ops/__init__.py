"""The `meshfleet` command: offline plan, config schema."""
