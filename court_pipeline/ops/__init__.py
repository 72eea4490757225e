"""Operations: incident rows for failed runs."""
