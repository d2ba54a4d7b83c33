"""Tests of the set-based gradient mode and the successive halving over combinations."""
