"""Stream monitoring and control (issue 10)."""
