"""Shared code of the "Dân vận khéo" portal: Vietnamese text, vocabularies, schema."""
