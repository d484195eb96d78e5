"""Herald's operator side: the `herald` CLI and the local emulator.

Never shipped to Lambda; it imports the core's contract from src/.
"""
