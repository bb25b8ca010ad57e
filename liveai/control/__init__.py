"""Control: OSC (python-osc lives only here); the ParameterStore and OSCQuery come later."""
