"""Test doubles of things that cannot exist on the test machines (Ascend hardware)."""
