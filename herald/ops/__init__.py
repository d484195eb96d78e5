"""What the `herald` operator CLI does, apart from parsing flags and printing: AWS targets, reading
and redriving dead letters. Operator side only; never shipped to Lambda."""
