"""The media layer: PyAV in, plain numbers and numpy arrays out (docs/ARCHITECTURE.md,
"The media package"). It imports the contract and never an operator."""
