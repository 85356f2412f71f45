"""Tests of the visitor counter service (counter/)."""
