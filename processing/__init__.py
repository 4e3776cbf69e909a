"""Pure logic over Article records: exact-duplicate keys and topic tagging."""
