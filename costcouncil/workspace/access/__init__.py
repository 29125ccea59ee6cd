"""Access: users, roles, API tokens and the audit log; dashboard sessions."""
