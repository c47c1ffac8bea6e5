"""The daemon: serve mode wiring, schedule, health, metrics, doorbell."""
