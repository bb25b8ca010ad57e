"""The projector side: moderngl + glfw. Never imports sounddevice."""
