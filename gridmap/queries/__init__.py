"""SQL, one module per concern. Keyword-only functions, bound parameters always."""
