"""ParameterStore: every controllable value, one address each (filled in by the control work)."""
