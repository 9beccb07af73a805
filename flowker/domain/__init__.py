"""Pure entities besides the workflow DSL: executor configurations and their authentication."""
