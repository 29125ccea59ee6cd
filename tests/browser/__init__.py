"""Browser tests: Playwright driving Debian's Chromium (see docs/testing.md)."""
