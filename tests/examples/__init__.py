"""The integrator kit (examples/) run against a real gateway."""
