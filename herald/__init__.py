"""Herald's operator side: the local emulator and demo (the CLI follows). Never shipped to Lambda."""
